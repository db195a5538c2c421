"""The reference U-Net's runners: its PyTorch weights and their ONNX, int8 and Core ML exports.

The shipped weights (:data:`vbbench.models.weights.WEIGHTS`, trained on the embedded synthetic
sample) run in PyTorch (``reference``), as an ONNX export (``reference-onnx``), as its
int8 QDQ quantization (``reference-onnx-int8``) and as an int8-weight Core ML package
(``reference-coreml-int8``). Exports are made on first use into ``$VBBENCH_HOME/models``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vbbench.models.runner import Runner, file_sha256
from vbbench.models.weights import SYNTHETIC_NOTE, WEIGHTS, reference_model

__all__ = [
    "torch_runner",
    "onnx_runner",
    "reference",
    "reference_onnx",
    "reference_onnx_int8",
    "reference_coreml_int8",
]


def _counted(runner: Runner, model) -> Runner:
    """``runner`` with the U-Net's parameters and MACs at the runner's input size."""
    from vbbench.models.unet import count_macs, count_parameters

    assert runner.input_width is not None and runner.input_height is not None
    runner.parameters = count_parameters(model)
    runner.macs = count_macs(model, runner.input_width, runner.input_height)
    return runner


def torch_runner(
    model, name: str, weights_sha256: str, width: int, height: int, threads: int, notes: str, synthetic: bool
) -> Runner:
    """A runner of a U-Net in PyTorch at the given input size."""
    import torch

    torch.set_num_threads(threads)

    def predict(batch: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return model(torch.from_numpy(batch))[:, 0].numpy()

    runner = Runner(name, width, height, f"pytorch {torch.__version__}", None, weights_sha256, predict, notes)
    runner.synthetic_weights = synthetic
    return _counted(runner, model)


def onnx_runner(path: Path, name: str, threads: int, notes: str = "") -> Runner:
    """A runner of an ONNX file taken as it is (ONNX Runtime, CPU): RGB in [0, 1], NCHW, output 0.

    The same runner a bare ``--model FILE.onnx`` gets (:func:`vbbench.models.tensor.card_runner`
    with the default card); the reference exports have a fixed input.
    """
    from vbbench.models.card import ModelCard
    from vbbench.models.tensor import card_runner, onnx_session

    return card_runner(onnx_session(Path(path), threads), ModelCard(), None, False, name=name, notes=notes)


# ---- the registered loaders (see vbbench.models.registry.MODELS) ----------------------------------


def reference(spec, input_size: tuple[int, int], threads: int) -> Runner:
    return torch_runner(
        reference_model(), spec.name, file_sha256(WEIGHTS), *input_size, threads, SYNTHETIC_NOTE, synthetic=True
    )


def reference_onnx(spec, input_size: tuple[int, int], threads: int) -> Runner:
    from vbbench.models.export import cached_onnx

    model = reference_model()
    path = cached_onnx(model, *input_size, file_sha256(WEIGHTS))
    runner = onnx_runner(path, spec.name, threads, notes=f"ONNX export of the reference weights ({SYNTHETIC_NOTE})")
    runner.synthetic_weights = True
    return _counted(runner, model)


def reference_onnx_int8(spec, input_size: tuple[int, int], threads: int) -> Runner:
    from vbbench.models.export import cached_onnx
    from vbbench.models.quantize import cached_onnx_int8
    from vbbench.models.train import sample_set

    model = reference_model()
    float_path = cached_onnx(model, *input_size, file_sha256(WEIGHTS))
    # Calibrated on the images the shipped weights were trained on (the sample pool, render seed 1).
    path = cached_onnx_int8(float_path, sample_set(16, seed=1).images, *input_size)
    notes = (
        "int8 static QDQ quantization (per-channel weights, min-max calibration on 16 sample training images) "
        "of the reference ONNX export"
    )
    runner = onnx_runner(path, spec.name, threads, notes=notes)
    runner.synthetic_weights = True
    return _counted(runner, model)


def reference_coreml_int8(spec, input_size: tuple[int, int], threads: int) -> Runner:
    import torch

    from vbbench.models.coreml import coreml_runner, export_coreml
    from vbbench.paths import models_cache_dir

    torch.set_num_threads(threads)
    model = reference_model()
    width, height = input_size
    path = models_cache_dir() / f"reference-{file_sha256(WEIGHTS)[:12]}-{width}x{height}-int8.mlpackage"
    if not path.exists():
        export_coreml(model, path, width, height)
    runner = coreml_runner(path, spec.name)
    runner.synthetic_weights = True
    return _counted(runner, model)
