"""The loaders of every kind of ``--model`` that is not a registered name.

Each function here is the ``loader`` of one :class:`vbbench.models.registry.ModelKind` and takes
one :class:`Request` (what the user asked for). They import their runtime inside themselves, so
loading the table costs nothing. ``docs/models.md`` shows a worked example of each kind.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vbbench.errors import ModelError
from vbbench.models.card import ModelCard
from vbbench.models.runner import Runner, file_sha256

__all__ = ["Request", "CALLABLE", "checkpoint", "onnx", "tflite", "coreml", "python_callable", "check_output"]

#: ``module:function`` or ``path/to/file.py:function`` (the function may be a dotted attribute).
CALLABLE = re.compile(r"^(?P<target>[^:]+\.py|[A-Za-z_][\w.]*):(?P<function>[A-Za-z_][\w]*(\.[A-Za-z_]\w*)*)$")


@dataclass(frozen=True)
class Request:
    """What ``--model``, ``--model-config``, ``--input`` and the frames ask for.

    Attributes
    ----------
    model : str
        The ``--model`` text (a name, a path, ``module:function``), or the card's ``path``.
    card : ModelCard
        The model card (a bare file gets the defaults).
    input_size : (int, int) or None
        ``--input`` as given; None when not given.
    landscape : bool
        The frames are 16:9: a model without a fixed input then runs at 256×144.
    threads : int
        Runtime threads.
    """

    model: str
    card: ModelCard
    input_size: tuple[int, int] | None
    landscape: bool
    threads: int

    @property
    def path(self) -> Path:
        return Path(self.model).expanduser()

    def size(self, fallback: tuple[int, int] | None = (256, 256)) -> tuple[int, int] | None:
        """``--input``, else the card's ``input_size``, else 256×144 for 16:9 frames, else ``fallback``."""
        if self.input_size is not None:
            return self.input_size
        if self.card.input_size is not None:
            return self.card.input_size
        return (256, 144) if self.landscape else fallback


def _existing(path: Path, what: str) -> Path:
    if not path.exists():
        raise ModelError(f"{path}: no such {what}")
    return path


# ---- a checkpoint of `vbbench train` ---------------------------------------------------------


def checkpoint(request: Request) -> Runner:
    """``weights.pt`` of ``vbbench train`` (``record.json`` beside it), or the run folder holding it.

    Runs in PyTorch at ``--input``, else the card's size, else 256×144 for 16:9 frames, else the
    size it was trained at. ``synthetic_weights`` is read from the record: weights trained on
    ``--dataset sample`` are synthetic-only.
    """
    from vbbench.models.reference import torch_runner
    from vbbench.models.weights import load_unet

    path = _existing(request.path, "checkpoint (weights.pt of `vbbench train`, or its run folder)")
    weights = path / "weights.pt" if path.is_dir() else path
    if not weights.is_file():
        finished = (
            " (training has not finished: run the same `vbbench train` again to resume)"
            if (path / "checkpoint.pt").is_file()
            else ""
        )
        raise ModelError(
            f"{path}: no weights.pt in this folder{finished}; `vbbench train --out DIR` writes DIR/weights.pt"
        )
    model = load_unet(weights)
    record_path = weights.with_name("record.json")
    record: dict = {}
    if record_path.is_file():
        try:
            record = json.loads(record_path.read_text(encoding="utf-8"))
        except ValueError as problem:
            raise ModelError(f"{record_path}: not a vbbench training record ({problem})") from None
    config = record.get("config", {})
    trained = (int(config.get("width", 256)), int(config.get("height", 256)))
    width, height = request.size(fallback=trained) or trained
    stride = model.config.stride
    if width % stride or height % stride:
        raise ModelError(f"{weights}: input {width}x{height}: both sides must be multiples of {stride} for this U-Net")
    data = str(record.get("data", "unknown data"))
    synthetic = request.card.synthetic_weights or data.startswith("sample(")
    notes = request.card.notes or (
        f"vbbench train checkpoint: {record.get('steps', '?')} steps on {data}" if record else "vbbench U-Net weights"
    )
    name = request.card.name or (weights.parent.name if weights.name == "weights.pt" else weights.stem)
    runner = torch_runner(model, name, file_sha256(weights), width, height, request.threads, notes, synthetic)
    runner.kind = "checkpoint"
    return runner


# ---- ONNX, TFLite, Core ML files --------------------------------------------------------------


def onnx(request: Request) -> Runner:
    """An ONNX file, fixed or dynamic input, under its model card (:mod:`vbbench.models.tensor`)."""
    from vbbench.models.tensor import card_runner, onnx_session

    path = _existing(request.path, "ONNX file")
    return card_runner(
        onnx_session(path, request.threads), request.card, request.input_size, request.landscape, kind="onnx"
    )


#: Card keys that change how a tensor model is fed or read; a MediaPipe file given any of them
#: runs under the card instead of MediaPipe's own input warp.
_TENSOR_KEYS = {
    "layout",
    "channels",
    "scale",
    "mean",
    "std",
    "input",
    "output",
    "output_channel",
    "activation",
    "state",
}


def tflite(request: Request) -> Runner:
    """A ``.tflite`` file under the TFLite runtime (extra ``mediapipe``).

    MediaPipe's selfie segmentation files (recognised by sha256) get MediaPipe's own input warp,
    as their registered names do; any other file (or a card that sets how to feed it) runs under
    the card's rules.
    """
    from vbbench.models.mediapipe import catalogue, mediapipe_runner
    from vbbench.models.tensor import card_runner, tflite_session

    path = _existing(request.path, "TFLite file")
    digest = file_sha256(path)
    known = [name for name, entry in catalogue()["models"].items() if entry["sha256"] == digest]
    if known and not (request.card.given & _TENSOR_KEYS):
        runner = mediapipe_runner(known[0], request.threads, path=path)
        runner.name = request.card.name or path.stem
        runner.kind = "tflite"
        return runner
    return card_runner(
        tflite_session(path, request.threads), request.card, request.input_size, request.landscape, kind="tflite"
    )


def coreml(request: Request) -> Runner:
    """An ``.mlpackage`` (Core ML on macOS, emulated elsewhere; extra ``coreml``)."""
    from vbbench.models.coreml import coreml_runner

    path = _existing(request.path, "Core ML package")
    runner = coreml_runner(path, request.card.name or path.stem)
    runner.kind = "coreml"
    runner.synthetic_weights = request.card.synthetic_weights
    return runner


# ---- a Python callable -------------------------------------------------------------------------


@contextlib.contextmanager
def _on_path(folder: Path):
    """``folder`` first on ``sys.path`` while the user's module imports (its siblings import too)."""
    entry = str(folder)
    sys.path.insert(0, entry)
    try:
        yield
    finally:
        with contextlib.suppress(ValueError):
            sys.path.remove(entry)


def _import_target(target: str, spec: str):
    if target.endswith(".py"):
        file = Path(target).expanduser()
        if not file.is_file():
            raise ModelError(f"{spec}: no such file {file}")
        name = "vbbench_user_" + re.sub(r"\W", "_", file.stem)
        loader_spec = importlib.util.spec_from_file_location(name, file)
        assert loader_spec is not None and loader_spec.loader is not None
        module = importlib.util.module_from_spec(loader_spec)
        with _on_path(file.resolve().parent):
            try:
                loader_spec.loader.exec_module(module)
            except Exception as problem:  # the user's code: any error is theirs, shown in one line
                raise ModelError(f"{spec}: importing {file} failed ({type(problem).__name__}: {problem})") from None
        return module, file
    with _on_path(Path.cwd()):
        try:
            module = importlib.import_module(target)
        except ImportError as problem:
            raise ModelError(
                f"{spec}: cannot import {target} ({problem}); run from its folder or give file.py:function"
            ) from None
        except Exception as problem:
            raise ModelError(f"{spec}: importing {target} failed ({type(problem).__name__}: {problem})") from None
    source = getattr(module, "__file__", None)
    return module, Path(source) if source else None


def check_output(value, spec: str) -> np.ndarray:
    """A callable's return value as float32 alpha (h, w) in [0, 1], or a ModelError saying why not.

    Accepted: float in [0, 1] or uint8 (0–255), shaped (h, w), (h, w, 1) or (1, h, w).

    Examples
    --------
    >>> check_output(np.array([[0, 255]], np.uint8), "f").tolist()
    [[0.0, 1.0]]
    >>> check_output(np.full((2, 2), 3.0), "seg:fn")
    Traceback (most recent call last):
    ...
    vbbench.errors.ModelError: seg:fn returned values in [3, 3]; alpha must be float in [0, 1] or uint8
    """
    array = np.asarray(value)
    if array.ndim == 3 and 1 in (array.shape[0], array.shape[2]):
        array = array.reshape(array.shape[1:] if array.shape[0] == 1 else array.shape[:2])
    if array.ndim != 2:
        raise ModelError(f"{spec} returned shape {list(array.shape)}; expected alpha (h, w), float in [0, 1] or uint8")
    if array.dtype == np.uint8:
        return array.astype(np.float32) / np.float32(255.0)
    if array.dtype == np.bool_:
        return array.astype(np.float32)
    if not np.issubdtype(array.dtype, np.floating):
        raise ModelError(f"{spec} returned {array.dtype} alpha; expected float in [0, 1] or uint8")
    array = array.astype(np.float32, copy=False)
    low, high = (float(array.min()), float(array.max())) if array.size else (0.0, 0.0)
    if not (np.isfinite(low) and np.isfinite(high)) or low < -1e-3 or high > 1 + 1e-3:
        raise ModelError(f"{spec} returned values in [{low:.3g}, {high:.3g}]; alpha must be float in [0, 1] or uint8")
    return np.clip(array, 0.0, 1.0)


def python_callable(request: Request) -> Runner:
    """``module:function`` or ``file.py:function``: the user's code, any framework.

    The function takes one RGB uint8 (H, W, 3) image — the frame at its own size, or resized to
    ``--input`` (or the card's ``input_size``) when given — and returns alpha (h, w) as float in
    [0, 1] or uint8, at any size (it is resized to the frame). If the function has a ``reset``
    attribute that is callable, the model is recurrent: ``reset()`` is called at every new clip.
    """
    import cv2

    spec = request.model
    match = CALLABLE.match(spec)
    if match is None:
        raise ModelError(f"{spec}: expected module:function or path/to/file.py:function")
    module, source = _import_target(match["target"], spec)
    function = module
    for attribute in match["function"].split("."):
        if not hasattr(function, attribute):
            public = sorted(n for n in dir(module) if callable(getattr(module, n)) and not n.startswith("_"))
            raise ModelError(
                f"{spec}: {match['target']} has no {match['function']} (its callables: {', '.join(public) or 'none'})"
            )
        function = getattr(function, attribute)
    if not callable(function):
        raise ModelError(f"{spec}: {match['function']} is a {type(function).__name__}, not a function")
    size = request.input_size or request.card.input_size
    bgr = request.card.channels == "BGR"

    def from_pixels(resized: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(resized if bgr else cv2.cvtColor(resized, cv2.COLOR_BGR2RGB))

    def predict(batch: np.ndarray) -> np.ndarray:
        return np.stack([check_output(function(np.ascontiguousarray(image)), spec) for image in batch])

    reset = getattr(function, "reset", None)
    return Runner(
        request.card.name or match["function"].split(".")[-1],
        size[0] if size else None,
        size[1] if size else None,
        f"python callable {spec} (Python {sys.version.split()[0]})",
        None,
        file_sha256(source) if source is not None and source.is_file() else None,
        predict,
        request.card.notes or f"Python callable {spec}",
        synthetic_weights=request.card.synthetic_weights,
        from_pixels=from_pixels,
        reset=reset if callable(reset) else None,
        kind="callable",
    )
