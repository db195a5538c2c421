"""ONNX export of the reference model, checked against PyTorch."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from vbbench.io import atomic_write_bytes

__all__ = ["export_onnx", "max_abs_difference", "cached_onnx", "OPSET"]

OPSET = 17
TOLERANCE = 1e-4


def export_onnx(model, path: str | Path, width: int, height: int) -> Path:
    """Export ``model`` for inputs (N, 3, height, width) at opset 17 and check it.

    Raises
    ------
    ValueError
        If ONNX Runtime's output differs from PyTorch's by ``TOLERANCE`` (1e-4) or more.
    """
    import torch

    model = model.eval()
    buffer = io.BytesIO()
    example = torch.rand(1, 3, height, width, generator=torch.Generator().manual_seed(0))
    # The batch axis stays dynamic (predict runs batches); height and width are fixed.
    torch.onnx.export(model, (example,), buffer, opset_version=OPSET, input_names=["image"],
                      output_names=["alpha"], dynamic_axes={"image": {0: "batch"}, "alpha": {0: "batch"}},
                      dynamo=False)
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

    path = Path(vbbench_home()) / "models" / f"reference-{weights_sha256[:12]}-{width}x{height}-nbatch.onnx"
    if not path.exists():
        export_onnx(model, path, width, height)
    return path
