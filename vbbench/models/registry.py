"""Every model vbbench can run: registered names in :data:`MODELS`, the other kinds in :data:`KINDS`.

``--model`` takes any of the kinds declared in :data:`KINDS`, tried in order: a registered name
(one :class:`ModelSpec` in :data:`MODELS` each), a model card ``FILE.yaml``, a Python callable
``module:function`` or ``file.py:function``, a Core ML ``.mlpackage``, a checkpoint of
``vbbench train`` (``weights.pt``, or its run folder), an ``.onnx`` file (fixed or dynamic
input) or a ``.tflite`` file. ``--model-config FILE.yaml`` adds a model card
(:mod:`vbbench.models.card`) to a file. Every loader is named as ``"module:function"`` and
imported only when used, so these tables (and ``vbbench --help``) need nothing heavy and no
module imports the registry back.

Adding a baseline is one :class:`ModelSpec` entry (see ``docs/architecture.md``); a new kind of
model file is one :class:`ModelKind` entry and its loader.

Examples
--------
>>> MODELS["mediapipe-landscape"].fixed_input
(256, 144)
>>> kind_of("runs/train/weights.pt").name, kind_of("segment.py:matte").name, kind_of("rvm.onnx").name
('checkpoint', 'callable', 'onnx')
>>> load_runner("referense")
Traceback (most recent call last):
...
vbbench.errors.ModelError: unknown model 'referense'; did you mean 'reference'? --model takes a registered name (reference, reference-onnx, reference-onnx-int8, reference-coreml-int8, mediapipe-general, mediapipe-landscape), a model card FILE.yaml, a Python callable module:function or file.py:function, a Core ML package PATH.mlpackage, a checkpoint of vbbench train (weights.pt or its run folder), an ONNX file PATH.onnx or a TFLite file PATH.tflite (docs/models.md)
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from vbbench.errors import ModelError
from vbbench.models.runner import Runner
from vbbench.registry import Registry, did_you_mean

__all__ = ["ModelSpec", "MODELS", "ModelKind", "KINDS", "kind_of", "load_runner", "model_help"]


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
        runner = build(self, self.fixed_input or input_size, threads)
        runner.kind = "registered"
        return runner


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


def _suffix(*suffixes: str) -> Callable[[str], bool]:
    return lambda model: Path(model).suffix.lower() in suffixes


def _is_callable(model: str) -> bool:
    from vbbench.models.loaders import CALLABLE

    return CALLABLE.match(model) is not None


def _is_checkpoint(model: str) -> bool:
    path = Path(model).expanduser()
    return path.suffix.lower() in (".pt", ".pth") or (path.is_dir() and path.suffix.lower() != ".mlpackage")


@dataclass(frozen=True)
class ModelKind:
    """One kind of thing ``--model`` can name.

    Attributes
    ----------
    name : str
        The kind (``onnx``); runners record it as :attr:`Runner.kind`.
    form : str
        What ``--model`` looks like, for help and errors.
    matches : callable
        ``--model text → bool``; the first kind in :data:`KINDS` that matches loads it.
    loader : str
        ``"module:function"`` called as ``function(Request) → Runner`` (:class:`vbbench.models.loaders.Request`).
    extra : str
        The ``pip install 'vbbench[extra]'`` it needs ("" for none).
    card_keys : frozenset of str
        Model-card keys that mean something for this kind (others are refused by name).
    example : str
        A ``--model`` value of this kind.
    """

    name: str
    form: str
    matches: Callable[[str], bool]
    loader: str
    extra: str
    card_keys: frozenset[str]
    example: str

    def load(self, request) -> Runner:
        module, _, function = self.loader.partition(":")
        try:
            build = getattr(importlib.import_module(module), function)
        except ImportError as problem:
            raise ModelError(
                f"{request.model}: {self.name} models need the '{self.extra}' extra: "
                f"pip install 'vbbench[{self.extra}]' ({problem})"
            ) from None
        return build(request)


_ALL_KEYS = frozenset(
    "path name input_size layout channels scale mean std input output output_channel activation state constants "
    "synthetic_weights notes".split()
)
_FILE_KEYS = frozenset({"path", "name", "synthetic_weights", "notes"})

#: Every kind of ``--model``, tried in this order (``docs/models.md`` has a worked example of each).
KINDS: Registry[ModelKind] = Registry(
    "model kind",
    [
        ModelKind(
            "registered", "a registered name", lambda model: model in MODELS, "", "", frozenset(), "mediapipe-landscape"
        ),
        ModelKind("card", "a model card FILE.yaml", _suffix(".yaml", ".yml"), "", "", _ALL_KEYS, "modnet.yaml"),
        ModelKind(
            "callable",
            "a Python callable module:function or file.py:function",
            _is_callable,
            "vbbench.models.loaders:python_callable",
            "",
            _FILE_KEYS | {"input_size", "channels"},
            "segment.py:matte",
        ),
        ModelKind(
            "coreml",
            "a Core ML package PATH.mlpackage",
            _suffix(".mlpackage"),
            "vbbench.models.loaders:coreml",
            "coreml",
            _FILE_KEYS,
            "reference-int8.mlpackage",
        ),
        ModelKind(
            "checkpoint",
            "a checkpoint of vbbench train (weights.pt or its run folder)",
            _is_checkpoint,
            "vbbench.models.loaders:checkpoint",
            "model",
            _FILE_KEYS | {"input_size"},
            "runs/train/weights.pt",
        ),
        ModelKind(
            "onnx",
            "an ONNX file PATH.onnx",
            _suffix(".onnx"),
            "vbbench.models.loaders:onnx",
            "model",
            _ALL_KEYS,
            "modnet.onnx",
        ),
        ModelKind(
            "tflite",
            "a TFLite file PATH.tflite",
            _suffix(".tflite"),
            "vbbench.models.loaders:tflite",
            "mediapipe",
            _ALL_KEYS,
            "selfie_segmentation_landscape.tflite",
        ),
    ],
    error=ModelError,
)


def _forms() -> str:
    forms = [kind.form for kind in KINDS.values()]
    forms[0] = f"{forms[0]} ({', '.join(MODELS)})"
    return ", ".join(forms[:-1]) + f" or {forms[-1]}"


def kind_of(model: str) -> ModelKind:
    """The first kind in :data:`KINDS` whose ``matches`` accepts ``model``.

    Raises
    ------
    ModelError
        Nothing matches: names the closest registered model and every form ``--model`` takes.
    """
    for kind in KINDS.values():
        if kind.matches(model):
            return kind
    hint = did_you_mean(model, MODELS) or ";"
    raise ModelError(f"unknown model {model!r}{hint} --model takes {_forms()} (docs/models.md)")


def model_help() -> str:
    """The ``--model`` help text, from the tables."""
    return f"The model: {_forms()} (docs/models.md)."


def load_runner(
    model: str | None,
    input_size: tuple[int, int] | None = None,
    threads: int = 2,
    *,
    landscape: bool = False,
    config: str | Path | None = None,
) -> Runner:
    """Load any kind of model (:data:`KINDS`).

    Parameters
    ----------
    model : str or None
        A registered name, a path, or ``module:function``; None to take the card's ``path``.
    input_size : (int, int), optional
        ``--input`` (width, height) as given; None lets each model choose (its fixed input, the
        card's ``input_size``, 256×144 for 16:9 frames, else 256×256; a callable: each image's
        own size).
    threads : int
        Runtime threads.
    landscape : bool
        The frames are 16:9.
    config : path, optional
        A model card (``--model-config``); its ``path`` is the model unless ``model`` is given.

    Raises
    ------
    ModelError
        Unknown names (with the closest registered names and every accepted form), missing files
        or extras, card keys that do not apply to the model's kind, unloadable files.
    """
    from vbbench.models.card import ModelCard, load_card
    from vbbench.models.loaders import Request

    card = ModelCard()
    if model is not None and KINDS["card"].matches(model) and config is None:
        config, model = model, None
    if config is not None:
        card = load_card(config)
    if model is None:
        if card.path is None:
            raise ModelError(
                "no model: give --model, or a model card (--model-config) with a path"
                if config is None
                else f"{config}: the model card has no path; add `path: FILE` or give --model"
            )
        model = str(card.path)
    kind = kind_of(model)
    if kind.name == "registered":
        if config is not None:
            raise ModelError(
                f"{config}: {model} is a registered model; a model card describes a file, drop --model-config"
            )
        # A registered model with a fixed input takes it whatever --input says (as it always has:
        # scripts pass one size for every baseline).
        return MODELS[model].load(input_size or ((256, 144) if landscape else (256, 256)), threads)
    if kind.name == "card":
        raise ModelError(f"{model}: give a model card with --model-config, not as the model of another card")
    unused = sorted(card.given - kind.card_keys)
    if unused:
        raise ModelError(
            f"{card.label}: {', '.join(unused)} do{'es' if len(unused) == 1 else ''} not apply to {kind.form} "
            f"(its card keys: {', '.join(sorted(kind.card_keys))})"
        )
    return kind.load(Request(model, card, input_size, landscape, threads))
