"""Baseline models: the seed paper's compact U-Net (PyTorch), its ONNX export, prediction over
prepared datasets and the real-time pipeline benchmark. Needs the ``model`` extra (torch, onnx,
onnxruntime); every module imports torch lazily or is only imported by commands that need it.
"""
