"""ONNX export of the reference model, checked against PyTorch."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from vbbench.io import atomic_write_bytes

__all__ = ["export_onnx", "fold_batch_norm", "max_abs_difference", "cached_onnx", "OPSET"]

OPSET = 17
TOLERANCE = 1e-4


def fold_batch_norm(model):
    """A copy of ``model`` in eval mode with every BatchNorm folded into the convolution before it.

    For a convolution with weights W and bias b followed by BatchNorm (γ, β, running mean μ and
    variance σ², ε), the folded convolution has ``W' = W·γ/√(σ²+ε)`` per output channel and
    ``b' = β + (b − μ)·γ/√(σ²+ε)``. The arithmetic is float64 in numpy, rounded once to float32:
    elementwise IEEE operations give the same bits on every CPU, whereas the exporter's own fold
    runs vectorised float32 kernels whose last bits depend on the instruction set, so the same
    weights exported on two machines gave two ONNX files (and two int8 calibrations).

    Parameters
    ----------
    model : torch.nn.Module
        Any module; ``Conv2d`` directly followed by ``BatchNorm2d`` inside a ``Sequential`` is folded.

    Returns
    -------
    torch.nn.Module
        The folded copy (the BatchNorm layers become ``Identity``); ``model`` is left unchanged.

    Example
    -------
    >>> from vbbench.models.unet import CompactUNet      # doctest: +SKIP
    >>> folded = fold_batch_norm(CompactUNet())           # doctest: +SKIP
    """
    import copy

    import torch
    from torch import nn

    folded = copy.deepcopy(model).eval()
    for module in folded.modules():
        if not isinstance(module, nn.Sequential):
            continue
        for index in range(len(module) - 1):
            conv, norm = module[index], module[index + 1]
            if not (isinstance(conv, nn.Conv2d) and isinstance(norm, nn.BatchNorm2d)):
                continue
            weight = conv.weight.detach().cpu().numpy().astype(np.float64)
            bias = (
                conv.bias.detach().cpu().numpy().astype(np.float64)
                if conv.bias is not None
                else np.zeros(weight.shape[0])
            )
            gamma = norm.weight.detach().cpu().numpy().astype(np.float64)
            beta = norm.bias.detach().cpu().numpy().astype(np.float64)
            mean = norm.running_mean.detach().cpu().numpy().astype(np.float64)
            variance = norm.running_var.detach().cpu().numpy().astype(np.float64)
            factor = gamma / np.sqrt(variance + norm.eps)
            fused = nn.Conv2d(
                conv.in_channels,
                conv.out_channels,
                conv.kernel_size,
                conv.stride,
                conv.padding,
                conv.dilation,
                conv.groups,
                bias=True,
                padding_mode=conv.padding_mode,
            )
            with torch.no_grad():
                fused.weight.copy_(torch.from_numpy((weight * factor[:, None, None, None]).astype(np.float32)))
                fused.bias.copy_(torch.from_numpy((beta + (bias - mean) * factor).astype(np.float32)))
            module[index] = fused.eval()
            module[index + 1] = nn.Identity()
    return folded


def export_onnx(model, path: str | Path, width: int, height: int) -> Path:
    """Export ``model`` for inputs (N, 3, height, width) at opset 17 and check it.

    BatchNorm is folded first by :func:`fold_batch_norm`, so the file's weights are the same bits
    on every machine; the check compares against the unfolded ``model``.

    Raises
    ------
    ValueError
        If ONNX Runtime's output differs from PyTorch's by ``TOLERANCE`` (1e-4) or more.
    """
    import torch

    model = model.eval()
    folded = fold_batch_norm(model)
    buffer = io.BytesIO()
    example = torch.rand(1, 3, height, width, generator=torch.Generator().manual_seed(0))
    # The batch axis stays dynamic (predict runs batches); height and width are fixed.
    torch.onnx.export(
        folded,
        (example,),
        buffer,
        opset_version=OPSET,
        input_names=["image"],
        output_names=["alpha"],
        dynamic_axes={"image": {0: "batch"}, "alpha": {0: "batch"}},
        dynamo=False,
    )
    path = Path(path)
    atomic_write_bytes(path, buffer.getvalue())
    difference = max_abs_difference(model, path, width, height)
    if difference >= TOLERANCE:
        path.unlink()
        raise ValueError(f"{path}: ONNX Runtime differs from PyTorch by {difference:.2e} (≥ {TOLERANCE})")
    return path


def max_abs_difference(model, path: str | Path, width: int, height: int, samples: int = 3) -> float:
    """Largest |ONNX Runtime − PyTorch| alpha over a few rendered portraits, at the model's input."""
    import onnxruntime as ort
    import torch

    from vbbench.models.train import to_input
    from vbbench.sample import render_portrait

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    worst = 0.0
    for index in range(samples):
        image, _ = render_portrait(3, index, 300, 400)
        batch = to_input(image, width, height)[None]
        with torch.no_grad():
            expected = model(torch.from_numpy(batch)).numpy()
        actual = session.run(None, {"image": batch})[0]
        worst = max(worst, float(np.abs(actual - expected).max()))
    return worst


def cached_onnx(model, width: int, height: int, weights_sha256: str) -> Path:
    """The ONNX export of the given weights at W×H, made once into ``$VBBENCH_HOME/models``."""
    from vbbench.sources import vbbench_home

    path = Path(vbbench_home()) / "models" / f"reference-{weights_sha256[:12]}-{width}x{height}-folded.onnx"
    if not path.exists():
        export_onnx(model, path, width, height)
    return path
