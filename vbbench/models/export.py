"""ONNX export of the reference model, checked against PyTorch."""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np

from vbbench.errors import ModelError
from vbbench.io import atomic_write_bytes

__all__ = ["export_onnx", "export_weights", "fold_batch_norm", "max_abs_difference", "cached_onnx", "OPSET"]

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
    # The batch axis stays dynamic (predict runs batches); height and width are fixed. The
    # exporter's deprecation and tracer warnings are about itself, not this model (the U-Net's
    # only Python branch is its input-size check), and the file is checked against PyTorch below:
    # they would only clutter the first `predict` or `composite` that makes the export.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            folded,
            (example,),
            buffer,  # type: ignore[arg-type]  # torch accepts a file-like object; its stub says path
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
        raise ModelError(f"{path}: ONNX Runtime differs from PyTorch by {difference:.2e} (≥ {TOLERANCE})")
    return path


def max_abs_difference(model, path: str | Path, width: int, height: int, samples: int = 3) -> float:
    """Largest |ONNX Runtime − PyTorch| alpha over a few rendered portraits, at the model's input."""
    import onnxruntime as ort
    import torch

    from vbbench.models.runner import to_input
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
    from vbbench.paths import models_cache_dir

    path = models_cache_dir() / f"reference-{weights_sha256[:12]}-{width}x{height}-folded.onnx"
    if not path.exists():
        export_onnx(model, path, width, height)
    return path


def export_weights(to: str, out: str | Path, width: int, height: int, int8: bool = False, weights=None) -> list[str]:
    """``vbbench export``: the shipped (or given) U-Net weights as ONNX or an int8 Core ML package,
    each checked against PyTorch; returns one line per file written.

    Parameters
    ----------
    to : {"onnx", "coreml"}
        Format.
    out : path
        Output file (``.onnx``) or package (``.mlpackage``).
    width, height : int
        Fixed input size.
    int8 : bool
        With ONNX, also write ``OUT-int8.onnx`` (static QDQ, per-channel weights, calibrated on 16
        sample training images).
    weights : path, optional
        ``weights.pt`` from ``vbbench train`` (its ``record.json`` beside it gives the
        architecture), or the run folder holding it; default: the shipped reference weights.
    """
    from vbbench.models.runner import to_input
    from vbbench.models.train import sample_set
    from vbbench.models.weights import load_unet, reference_model

    if to not in ("onnx", "coreml"):
        from vbbench.errors import UsageError

        raise UsageError(f"--to {to}: choose onnx or coreml")
    if weights is not None and Path(weights).is_dir():  # a run folder of `vbbench train`
        weights = Path(weights) / "weights.pt"
    model = reference_model() if weights is None else load_unet(weights)
    out = Path(out)
    if to == "coreml":
        import torch

        from vbbench.models.coreml import EmulatedProgram, export_coreml

        path = export_coreml(model, out, width, height)
        program = EmulatedProgram(path)
        batch = np.stack([to_input(image, width, height) for image in sample_set(3, seed=3).images])
        with torch.no_grad():
            difference = float((program(torch.from_numpy(batch)) - model(torch.from_numpy(batch))).abs().max())
        return [
            f"wrote {path} (ML program, {program.int8_weights} int8 weight tensors, input {width}x{height}); "
            f"max |int8 emulated - PyTorch| = {difference:.2e}"
        ]
    from vbbench.models.unet import count_macs, count_parameters

    path = export_onnx(model, out, width, height)
    lines = [
        f"wrote {path} (opset {OPSET}, input {width}x{height}, {count_parameters(model):,} parameters, "
        f"{count_macs(model, width, height) / 1e6:.1f} M MACs per frame); "
        f"max |ONNX Runtime - PyTorch| = {max_abs_difference(model, path, width, height):.2e}"
    ]
    if int8:
        from vbbench.models.quantize import cached_onnx_int8

        quantized = path.with_name(f"{path.stem}-int8.onnx")
        quantized.unlink(missing_ok=True)  # a fresh export gets a fresh calibration
        cached_onnx_int8(path, sample_set(16, seed=1).images, width, height)
        lines.append(
            f"wrote {quantized} (int8 QDQ, per-channel weights; "
            f"max |int8 - PyTorch| = {max_abs_difference(model, quantized, width, height):.2e})"
        )
    return lines
