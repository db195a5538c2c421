"""Every model vbbench can run by name, declared once in :data:`MODELS`, and :func:`load_runner`.

A :class:`ModelSpec` names its loader as ``"module:function"`` and the extra it needs; the loader
is imported only when the model is loaded, so this table (and ``vbbench --help``) needs nothing
heavy and no module imports the registry back. Besides a registered name, ``--model`` takes a
path to an ``.onnx`` file or an ``.mlpackage``.

Adding a baseline is one :class:`ModelSpec` entry (see ``docs/architecture.md``).

Examples
--------
>>> MODELS["mediapipe-landscape"].fixed_input
(256, 144)
>>> load_runner("referense")
Traceback (most recent call last):
...
vbbench.errors.ModelError: unknown model 'referense'; did you mean 'reference'? (known: reference, reference-onnx, reference-onnx-int8, reference-coreml-int8, mediapipe-general, mediapipe-landscape); or a path to an .onnx file or .mlpackage
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path

from vbbench.errors import ModelError
from vbbench.models.runner import Runner
from vbbench.registry import Registry

__all__ = ["ModelSpec", "MODELS", "load_runner", "model_help"]


@dataclass(frozen=True)
class ModelSpec:
    """One registered model.

    Attributes
    ----------
    name : str
        ``--model`` name.
    loader : str
        ``"module:function"`` called as ``function(spec, (width, height), threads) → Runner``.
    extra : str
        The ``pip install 'vbbench[extra]'`` it needs.
    fixed_input : tuple of int or None
        The model's own input (width, height), or None when ``--input`` chooses it.
    notes : str
        One line for listings.
    """

    name: str
    loader: str
    extra: str
    fixed_input: tuple[int, int] | None
    notes: str

    def load(self, input_size: tuple[int, int], threads: int) -> Runner:
        module, _, function = self.loader.partition(":")
        try:
            build = getattr(importlib.import_module(module), function)
        except ImportError as problem:
            raise ModelError(
                f"{self.name} needs the '{self.extra}' extra: pip install 'vbbench[{self.extra}]' ({problem})"
            ) from None
        return build(self, self.fixed_input or input_size, threads)


MODELS: Registry[ModelSpec] = Registry(
    "model",
    [
        ModelSpec(
            "reference",
            "vbbench.models.reference:reference",
            "model",
            None,
            "the seed's compact U-Net in PyTorch, shipped weights (synthetic sample)",
        ),
        ModelSpec(
            "reference-onnx", "vbbench.models.reference:reference_onnx", "model", None, "its ONNX export (ONNX Runtime)"
        ),
        ModelSpec(
            "reference-onnx-int8",
            "vbbench.models.reference:reference_onnx_int8",
            "model",
            None,
            "its int8 QDQ quantization",
        ),
        ModelSpec(
            "reference-coreml-int8",
            "vbbench.models.reference:reference_coreml_int8",
            "coreml",
            None,
            "its int8-weight Core ML package (emulated off macOS)",
        ),
        ModelSpec(
            "mediapipe-general",
            "vbbench.models.mediapipe:registered",
            "mediapipe",
            (256, 256),
            "Google MediaPipe selfie segmentation, 256×256",
        ),
        ModelSpec(
            "mediapipe-landscape",
            "vbbench.models.mediapipe:registered",
            "mediapipe",
            (256, 144),
            "Google MediaPipe selfie segmentation, landscape 256×144",
        ),
    ],
    error=ModelError,
)


def model_help() -> str:
    """The ``--model`` help text, from the table."""
    return f"A registered model ({', '.join(MODELS)}) or a path to an .onnx file or .mlpackage."


def load_runner(name_or_path: str, input_size: tuple[int, int] = (256, 256), threads: int = 2) -> Runner:
    """Load a registered model by name, or an ONNX file or Core ML package by path.

    Parameters
    ----------
    name_or_path : str
        A name in :data:`MODELS`, or a path.
    input_size : (int, int)
        Model input (width, height) for models without a fixed one.
    threads : int
        Runtime threads.

    Raises
    ------
    ModelError
        Unknown names (with the closest registered names), missing extras, unreadable files.
    """
    if name_or_path in MODELS:
        return MODELS[name_or_path].load(input_size, threads)
    path = Path(name_or_path)
    if path.suffix == ".mlpackage":
        from vbbench.models.coreml import coreml_runner

        return coreml_runner(path, path.stem)
    if path.suffix == ".onnx":
        if not path.is_file():
            raise ModelError(f"{path}: no such ONNX file")
        from vbbench.models.reference import onnx_runner

        return onnx_runner(path, path.stem, threads)
    try:
        MODELS[name_or_path]
    except ModelError as problem:
        raise ModelError(f"{problem}; or a path to an .onnx file or .mlpackage") from None
    raise AssertionError("unreachable")
