"""Model cards: how a model file wants its input and gives its output, in a small YAML file.

A model card (``--model-config FILE.yaml``, or ``--model FILE.yaml``) describes an ONNX or
TFLite file vbbench has not seen before: where it is, the input size it should run at, the
tensor layout and channel order it expects, the normalisation ``x = (p·scale − mean) / std`` of
the 8-bit pixel value ``p`` (``mean`` and ``std`` per channel in the card's channel order, in the
units after ``scale``, as torchvision writes them), which output holds alpha, whether that
output still needs a sigmoid, and — for recurrent (RVM-style) models — which inputs are state
fed back from which outputs, with their initial values. Every key is optional except where the
model needs it; :data:`KEYS` lists them with their meaning and default (``docs/models.md`` shows
a card per model kind).

Examples
--------
>>> card = card_from_mapping({"path": "modnet.onnx", "input_size": "512x512", "mean": 0.5, "std": 0.5})
>>> card.input_size, card.mean, card.channels
((512, 512), (0.5, 0.5, 0.5), 'RGB')
>>> card_from_mapping({"layuot": "NHWC"}, "m.yaml")
Traceback (most recent call last):
...
vbbench.errors.ModelError: m.yaml: unknown key 'layuot'; did you mean 'layout'? (a model card has: path, name, input_size, layout, channels, scale, mean, std, input, output, output_channel, activation, state, constants, synthetic_weights, notes)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from vbbench.errors import ModelError
from vbbench.registry import did_you_mean

__all__ = ["KEYS", "StateSpec", "ModelCard", "card_from_mapping", "load_card", "parse_size"]

#: Every key of a model card: what it says, and its default.
KEYS: dict[str, tuple[str, str]] = {
    "path": ("the model file (.onnx, .tflite, weights.pt, …), relative to the card", "--model"),
    "name": ("the name shown in results", "the file's stem"),
    "input_size": ("`WxH` the model runs at, for a dynamic input", "256x256 (256x144 for 16:9 frames)"),
    "layout": ("`NCHW` or `NHWC`", "read from the input's shape"),
    "channels": ("`RGB` or `BGR`, the order the model expects", "RGB"),
    "scale": ("factor on the 8-bit value before mean/std", "1/255"),
    "mean": ("subtracted after scale; one number or one per channel", "0"),
    "std": ("divides after mean; one number or one per channel", "1"),
    "input": ("name of the image input", "the first input that is not state or a constant"),
    "output": ("name or index of the alpha output", "0"),
    "output_channel": ("channel of that output holding alpha", "0"),
    "activation": ("`none` or `sigmoid`, applied to the output", "none"),
    "state": (
        "recurrent state: a list of {input, output, initial, shape}; each output is fed back to its input",
        "none (not recurrent)",
    ),
    "constants": ("other inputs and their fixed values, e.g. {downsample_ratio: [0.25]}", "none"),
    "synthetic_weights": ("true if the weights were trained on synthetic data only", "false"),
    "notes": ("one line about the model, kept in model.json", "empty"),
}

_LAYOUTS = ("NCHW", "NHWC")
_CHANNELS = ("RGB", "BGR")
_ACTIVATIONS = ("none", "sigmoid")


def parse_size(text: Any, where: str = "input_size") -> tuple[int, int]:
    """``"256x144"`` or ``[256, 144]`` → (width, height).

    Examples
    --------
    >>> parse_size("512X288"), parse_size([256, 144])
    ((512, 288), (256, 144))
    """
    try:
        if isinstance(text, str):
            width, height = (int(part) for part in text.lower().split("x"))
        else:
            width, height = (int(part) for part in text)
    except (TypeError, ValueError):
        raise ModelError(f"{where}: expected WIDTHxHEIGHT, e.g. 256x144, found {text!r}") from None
    if width < 1 or height < 1:
        raise ModelError(f"{where}: width and height must be positive, found {text!r}")
    return width, height


@dataclass(frozen=True)
class StateSpec:
    """One recurrent state tensor: ``output`` of one frame becomes ``input`` of the next.

    Attributes
    ----------
    input, output : str
        Tensor names in the model.
    initial : float or list
        The value before the first frame of a clip (a number fills ``shape``; a nested list is
        the tensor itself).
    shape : tuple of int or None
        Shape of the initial tensor; default the input's declared shape when it is fixed.
    """

    input: str
    output: str
    initial: Any = 0.0
    shape: tuple[int, ...] | None = None

    def initial_value(self, declared: list[int | None], dtype) -> np.ndarray:
        """The initial tensor, of the input's ``dtype``."""
        value = np.asarray(self.initial, dtype=dtype)
        if value.ndim > 0:
            return value.copy()
        shape = self.shape
        if shape is None:
            if any(size is None for size in declared):
                raise ModelError(
                    f"state {self.input}: its declared shape {declared} is not fixed; give the initial "
                    "tensor's shape in the card, e.g. shape: [1, 1, 1, 1]"
                )
            shape = tuple(int(size) for size in declared if size is not None)
        return np.full(shape, value, dtype=dtype)


@dataclass(frozen=True)
class ModelCard:
    """A parsed model card (see :data:`KEYS`); every field has the default a bare file gets."""

    path: Path | None = None
    name: str | None = None
    input_size: tuple[int, int] | None = None
    layout: str | None = None
    channels: str = "RGB"
    scale: float = 1 / 255
    mean: tuple[float, float, float] = (0.0, 0.0, 0.0)
    std: tuple[float, float, float] = (1.0, 1.0, 1.0)
    input: str | None = None
    output: str | int = 0
    output_channel: int = 0
    activation: str = "none"
    state: tuple[StateSpec, ...] = ()
    constants: dict[str, Any] = field(default_factory=dict)
    synthetic_weights: bool = False
    notes: str = ""
    source: Path | None = None
    given: frozenset[str] = frozenset()

    @property
    def label(self) -> str:
        """The card file, for messages."""
        return str(self.source) if self.source is not None else "model card"


def _choice(value: Any, choices: tuple[str, ...], key: str, where: str) -> str:
    text = str(value)
    for choice in choices:
        if text.lower() == choice.lower():
            return choice
    raise ModelError(f"{where}: {key}: expected one of {', '.join(choices)}, found {value!r}")


def _number(value: Any, key: str, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ModelError(f"{where}: {key}: expected a number, found {value!r}")
    return float(value)


def _per_channel(value: Any, key: str, where: str) -> tuple[float, float, float]:
    values = value if isinstance(value, (list, tuple)) else [value]
    numbers = [_number(v, key, where) for v in values]
    if len(numbers) == 1:
        numbers *= 3
    if len(numbers) != 3:
        raise ModelError(f"{where}: {key}: expected one number or three (one per channel), found {value!r}")
    return numbers[0], numbers[1], numbers[2]


def _state(value: Any, where: str) -> tuple[StateSpec, ...]:
    if not isinstance(value, list):
        raise ModelError(f"{where}: state: expected a list of {{input, output, initial, shape}}, found {value!r}")
    specs = []
    for index, entry in enumerate(value):
        if not isinstance(entry, dict) or not {"input", "output"} <= set(entry):
            raise ModelError(f"{where}: state[{index}]: needs an input and an output name, found {entry!r}")
        unknown = set(entry) - {"input", "output", "initial", "shape"}
        if unknown:
            raise ModelError(
                f"{where}: state[{index}]: unknown key {sorted(unknown)[0]!r} (has: input, output, initial, shape)"
            )
        shape = entry.get("shape")
        if shape is not None:
            if not isinstance(shape, list) or not all(isinstance(s, int) and s > 0 for s in shape):
                raise ModelError(
                    f"{where}: state[{index}].shape: expected a list of positive integers, found {shape!r}"
                )
            shape = tuple(shape)
        try:
            np.asarray(entry.get("initial", 0.0), dtype=np.float64)
        except (TypeError, ValueError):
            raise ModelError(
                f"{where}: state[{index}].initial: expected a number or a nested list of numbers"
            ) from None
        specs.append(StateSpec(str(entry["input"]), str(entry["output"]), entry.get("initial", 0.0), shape))
    return tuple(specs)


def card_from_mapping(mapping: Any, where: str = "model card", base: Path | None = None) -> ModelCard:
    """A :class:`ModelCard` from a parsed YAML mapping, every value checked.

    Parameters
    ----------
    mapping : dict
        The card's keys (:data:`KEYS`).
    where : str
        The card's file, for messages.
    base : path, optional
        Folder ``path`` is relative to (the card's folder).

    Raises
    ------
    ModelError
        Naming the key and what it should be.
    """
    if mapping is None:
        mapping = {}
    if not isinstance(mapping, dict):
        raise ModelError(f"{where}: a model card is a YAML mapping of {', '.join(KEYS)}")
    for key in mapping:
        if key not in KEYS:
            raise ModelError(
                f"{where}: unknown key {key!r}{did_you_mean(str(key), KEYS)} (a model card has: {', '.join(KEYS)})"
            )
    values: dict[str, Any] = {}
    if "path" in mapping:
        path = Path(str(mapping["path"])).expanduser()
        values["path"] = path if path.is_absolute() or base is None else base / path
    if "name" in mapping:
        values["name"] = str(mapping["name"])
    if "input_size" in mapping:
        values["input_size"] = parse_size(mapping["input_size"], f"{where}: input_size")
    if "layout" in mapping:
        values["layout"] = _choice(mapping["layout"], _LAYOUTS, "layout", where)
    if "channels" in mapping:
        values["channels"] = _choice(mapping["channels"], _CHANNELS, "channels", where)
    if "scale" in mapping:
        values["scale"] = _number(mapping["scale"], "scale", where)
    for key in ("mean", "std"):
        if key in mapping:
            values[key] = _per_channel(mapping[key], key, where)
    if "std" in values and 0.0 in values["std"]:
        raise ModelError(f"{where}: std: must not be 0")
    if "input" in mapping:
        values["input"] = str(mapping["input"])
    if "output" in mapping:
        output = mapping["output"]
        values["output"] = output if isinstance(output, int) and not isinstance(output, bool) else str(output)
    if "output_channel" in mapping:
        channel = mapping["output_channel"]
        if isinstance(channel, bool) or not isinstance(channel, int) or channel < 0:
            raise ModelError(f"{where}: output_channel: expected a channel index ≥ 0, found {channel!r}")
        values["output_channel"] = channel
    if "activation" in mapping:
        values["activation"] = _choice(mapping["activation"], _ACTIVATIONS, "activation", where)
    if "state" in mapping:
        values["state"] = _state(mapping["state"], where)
    if "constants" in mapping:
        constants = mapping["constants"]
        if not isinstance(constants, dict):
            raise ModelError(f"{where}: constants: expected a mapping of input name → value, found {constants!r}")
        values["constants"] = {str(name): value for name, value in constants.items()}
    if "synthetic_weights" in mapping:
        if not isinstance(mapping["synthetic_weights"], bool):
            raise ModelError(f"{where}: synthetic_weights: expected true or false")
        values["synthetic_weights"] = mapping["synthetic_weights"]
    if "notes" in mapping:
        values["notes"] = str(mapping["notes"])
    return ModelCard(**values, source=Path(where) if where != "model card" else None, given=frozenset(mapping))


def load_card(path: str | Path) -> ModelCard:
    """Read and check a model card file (YAML).

    Raises
    ------
    ModelError
        The file is missing or not YAML, or a key is unknown or has a bad value.
    """
    import yaml

    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as problem:
        raise ModelError(f"{path}: cannot read the model card ({problem.strerror or problem})") from None
    try:
        mapping = yaml.safe_load(text)
    except yaml.YAMLError as problem:
        raise ModelError(f"{path}: not valid YAML ({str(problem).splitlines()[0]})") from None
    return card_from_mapping(mapping, str(path), path.parent)
