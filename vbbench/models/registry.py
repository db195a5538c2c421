"""Registered baselines, found by name with did-you-mean errors, and the runners that execute them.

A runner takes a batch of float32 RGB CHW images in [0, 1] at its input size and returns alpha
(N, H, W) in [0, 1]. ``reference`` runs the shipped PyTorch weights; ``reference-onnx``,
``reference-onnx-int8`` and ``reference-coreml-int8`` their exports (made on first use into
``$VBBENCH_HOME/models``); ``mediapipe-general`` and ``mediapipe-landscape`` Google's selfie
segmentation models. A path to an ``.onnx`` file or ``.mlpackage`` runs that model. A missing
extra is an error that says what to install.
"""

from __future__ import annotations

import difflib
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["WEIGHTS", "RECORD", "ModelError", "Runner", "MODELS", "load_runner"]

WEIGHTS = Path(__file__).resolve().parent / "weights" / "reference-sample.pt"
RECORD = WEIGHTS.with_suffix(".json")


class ModelError(ValueError):
    """A model that cannot be loaded; the message says what to do."""


@dataclass
class Runner:
    """A loaded model: its metadata and a function from a batch to alpha."""

    name: str
    input_width: int
    input_height: int
    runtime: str
    parameters: int | None
    weights_sha256: str | None
    predict: Callable[[np.ndarray], np.ndarray]
    notes: str = ""
    #: Multiply-accumulates of one forward pass at the input size (convolutions; None if not counted).
    macs: int | None = None
    #: BGR uint8 image → the model's input (float32 RGB CHW in [0, 1] at input size). Area
    #: resizing by default; a production model brings its own runtime's resize (MediaPipe).
    to_input: Callable[[np.ndarray, int, int], np.ndarray] | None = None

    def prepare(self, image: np.ndarray) -> np.ndarray:
        """One BGR uint8 image as this model's input (float32 RGB CHW in [0, 1], input size)."""
        if self.to_input is not None:
            return self.to_input(image, self.input_width, self.input_height)
        from vbbench.models.train import to_input

        return to_input(image, self.input_width, self.input_height)

    def metadata(self) -> dict:
        return {
            "name": self.name,
            "input_size": f"{self.input_width}x{self.input_height}",
            "runtime": self.runtime,
            "parameters": self.parameters,
            "macs": self.macs,
            "weights_sha256": self.weights_sha256,
            "notes": self.notes,
        }


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _reference_model():
    import torch

    from vbbench.models.unet import CompactUNet, UNetConfig

    if not WEIGHTS.exists():
        raise ModelError(f"{WEIGHTS}: the shipped weights are missing; reinstall vbbench or train with `vbbench train`")
    config = json.loads(RECORD.read_text())["config"].get("unet") or {}
    model = CompactUNet(UNetConfig(**config))
    model.load_state_dict(torch.load(WEIGHTS, weights_only=True))
    return model.eval()


def _counted(runner: Runner, model) -> Runner:
    """``runner`` with the reference model's parameters and MACs at the runner's input size."""
    from vbbench.models.unet import count_macs, count_parameters

    runner.parameters = count_parameters(model)
    runner.macs = count_macs(model, runner.input_width, runner.input_height)
    return runner


def _torch_runner(width: int, height: int, threads: int) -> Runner:
    import torch

    torch.set_num_threads(threads)
    model = _reference_model()

    def predict(batch: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return model(torch.from_numpy(batch))[:, 0].numpy()

    return _counted(
        Runner(
            "reference",
            width,
            height,
            f"pytorch {torch.__version__}",
            None,
            _sha256(WEIGHTS),
            predict,
            "trained on the synthetic sample set",
        ),
        model,
    )


def _onnx_runner(path: Path, name: str, threads: int, notes: str = "") -> Runner:
    try:
        import onnxruntime as ort
    except ImportError:
        raise ModelError("ONNX models need onnxruntime: pip install 'vbbench[model]'") from None
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    try:
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as problem:  # onnxruntime raises its own exception types
        raise ModelError(f"{path}: not a loadable ONNX model ({problem})") from None
    spec = session.get_inputs()[0]
    shape = spec.shape
    if len(shape) != 4 or not all(isinstance(v, int) for v in shape[2:]) or shape[1] != 3:
        raise ModelError(f"{path}: expected an input of shape (N, 3, H, W) with fixed H and W, found {shape}")

    def predict(batch: np.ndarray) -> np.ndarray:
        output = session.run(None, {spec.name: batch})[0]
        return output.reshape(output.shape[0], *output.shape[-2:])

    return Runner(name, shape[3], shape[2], f"onnxruntime {ort.__version__}", None, _sha256(path), predict, notes)


def _reference_onnx(width: int, height: int, threads: int) -> Runner:
    from vbbench.models.export import cached_onnx

    model = _reference_model()
    path = cached_onnx(model, width, height, _sha256(WEIGHTS))
    return _counted(
        _onnx_runner(
            path,
            "reference-onnx",
            threads,
            notes="ONNX export of the reference weights (trained on the synthetic sample set)",
        ),
        model,
    )


def _reference_onnx_int8(width: int, height: int, threads: int) -> Runner:
    from vbbench.models.export import cached_onnx
    from vbbench.models.quantize import cached_onnx_int8
    from vbbench.models.train import sample_set

    model = _reference_model()
    float_path = cached_onnx(model, width, height, _sha256(WEIGHTS))
    # Calibrated on the images the shipped weights were trained on (the sample pool, render seed 1).
    path = cached_onnx_int8(float_path, sample_set(16, seed=1).images, width, height)
    return _counted(
        _onnx_runner(
            path,
            "reference-onnx-int8",
            threads,
            notes="int8 static QDQ quantization (per-channel weights, min-max calibration on "
            "16 sample training images) of the reference ONNX export",
        ),
        model,
    )


def _reference_coreml_int8(width: int, height: int, threads: int) -> Runner:
    import torch

    from vbbench.models.coreml import coreml_runner, export_coreml
    from vbbench.sources import vbbench_home

    torch.set_num_threads(threads)
    model = _reference_model()
    path = Path(vbbench_home()) / "models" / f"reference-{_sha256(WEIGHTS)[:12]}-{width}x{height}-int8.mlpackage"
    if not path.exists():
        export_coreml(model, path, width, height)
    return _counted(coreml_runner(path, "reference-coreml-int8"), model)


_MEDIAPIPE = ("mediapipe-general", "mediapipe-landscape")
MODELS = ("reference", "reference-onnx", "reference-onnx-int8", "reference-coreml-int8", *_MEDIAPIPE)


def load_runner(name_or_path: str, input_size: tuple[int, int] = (256, 256), threads: int = 2) -> Runner:
    """Load a registered baseline by name, or an ONNX file or Core ML package by path.

    Raises
    ------
    ModelError
        Unknown names (with the closest registered names), baselines not available in this build,
        unreadable files.
    """
    width, height = input_size
    if name_or_path == "reference":
        return _torch_runner(width, height, threads)
    if name_or_path == "reference-onnx":
        return _reference_onnx(width, height, threads)
    if name_or_path == "reference-onnx-int8":
        return _reference_onnx_int8(width, height, threads)
    if name_or_path == "reference-coreml-int8":
        return _reference_coreml_int8(width, height, threads)
    if name_or_path in _MEDIAPIPE:
        from vbbench.models.mediapipe import mediapipe_runner

        # MediaPipe models have a fixed input (256×256, or 256×144 for landscape); input_size is ignored.
        return mediapipe_runner(name_or_path, threads)
    path = Path(name_or_path)
    if path.suffix == ".mlpackage":
        from vbbench.models.coreml import coreml_runner

        return coreml_runner(path, path.stem)
    if path.suffix == ".onnx":
        if not path.is_file():
            raise ModelError(f"{path}: no such ONNX file")
        return _onnx_runner(path, path.stem, threads)
    close = difflib.get_close_matches(name_or_path, MODELS, n=3)
    hint = f"; did you mean {' or '.join(close)}?" if close else ""
    raise ModelError(
        f"unknown model {name_or_path!r}{hint}. Registered: {', '.join(MODELS)}; "
        "or a path to an .onnx file or .mlpackage"
    )
