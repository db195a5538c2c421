"""Any ONNX or TFLite file as a :class:`~vbbench.models.runner.Runner`, described by a model card.

The two runtimes sit behind one small :class:`Session` (inputs, outputs, ``run``), so the card's
rules apply the same way to both:

* **input** — the image input is the card's ``input`` or the first input that is neither state
  nor a constant; every other input must be one of those (the error lists what is missing). Its
  layout is the card's, else read from the shape (3 channels on axis 1: NCHW; on axis 3: NHWC;
  neither fixed: NCHW for ONNX, NHWC for TFLite, each runtime's convention). Fixed H and W are
  the model's own; dynamic ones come from ``--input``, else the card's ``input_size``, else
  256×256 (256×144 for 16:9 frames).
* **pixels** — area resize to the input, the card's channel order, then
  ``x = (p·scale − mean) / std`` in float32 (``p / 255`` when ``scale`` is 1/255, the correctly
  rounded value, so a bare file gets the same bits as the reference runners); a uint8 input
  takes ``p`` itself.
* **output** — the card's ``output`` (name or index), its ``output_channel`` along the channel
  axis (axis 1 for NCHW, 3 for NHWC, or whichever of the two is small), the ``activation``, uint8
  outputs divided by 255, clipped to [0, 1]. Outputs far outside [0, 1] without an activation
  print one warning (they look like logits).
* **state** — for each card ``state`` entry the output is fed back as the input of the next
  frame; frames then go through one at a time, and :attr:`Runner.reset` restores the initial
  values (RVM's ``r1i…r4i`` with ``initial: 0`` and ``shape: [1, 1, 1, 1]``).

A batch dimension fixed at 1 (most TFLite files) runs one image per call.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vbbench.errors import ModelError
from vbbench.models.card import ModelCard
from vbbench.models.runner import Runner, file_sha256

__all__ = ["Tensor", "Session", "onnx_session", "tflite_session", "card_runner", "alpha_from_output"]

_DTYPES = {
    "tensor(float)": np.float32,
    "tensor(float16)": np.float16,
    "tensor(double)": np.float64,
    "tensor(uint8)": np.uint8,
    "tensor(int8)": np.int8,
    "tensor(int32)": np.int32,
    "tensor(int64)": np.int64,
    "tensor(bool)": np.bool_,
}


@dataclass(frozen=True)
class Tensor:
    """A model input or output: name, shape (None for a dynamic axis) and numpy dtype."""

    name: str
    shape: tuple[int | None, ...]
    dtype: type


@dataclass
class Session:
    """One loaded model file, whatever the runtime: its tensors and ``run(feeds) → outputs``."""

    path: Path
    runtime: str
    inputs: list[Tensor]
    outputs: list[Tensor]
    run: Callable[[dict[str, np.ndarray]], list[np.ndarray]]
    default_layout: str


def onnx_session(path: Path, threads: int) -> Session:
    """An ONNX Runtime CPU session of ``path``."""
    try:
        import onnxruntime as ort
    except ImportError:
        raise ModelError("ONNX models need onnxruntime: pip install 'vbbench[model]'") from None
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    # Idle intra-op threads sleep instead of spinning: in the video pipeline decode and encode run
    # on their own threads, and spinning inference threads took their cores (1080p FPS fell by a
    # third); single-threaded callers lose nothing measurable.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    try:
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as problem:  # onnxruntime raises its own exception types
        raise ModelError(f"{path}: not a loadable ONNX model ({problem})") from None

    def tensor(node) -> Tensor:
        shape = tuple(size if isinstance(size, int) and size > 0 else None for size in node.shape)
        return Tensor(node.name, shape, _DTYPES.get(node.type, np.float32))

    def run(feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        return session.run(None, feeds)

    return Session(
        path,
        f"onnxruntime {ort.__version__}",
        [tensor(node) for node in session.get_inputs()],
        [tensor(node) for node in session.get_outputs()],
        run,
        "NCHW",
    )


def tflite_session(path: Path, threads: int) -> Session:
    """A LiteRT (TFLite) interpreter of ``path``; dynamic input axes are resized per call."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        raise ModelError(
            f"{path}: .tflite files run on the TFLite runtime: pip install 'vbbench[mediapipe]' (ai-edge-litert)"
        ) from None
    try:
        interpreter = Interpreter(model_path=str(path), num_threads=threads)
        interpreter.allocate_tensors()
    except (ValueError, RuntimeError) as problem:
        raise ModelError(f"{path}: not a loadable TFLite model ({problem})") from None
    sources, targets = interpreter.get_input_details(), interpreter.get_output_details()

    def tensor(detail) -> Tensor:
        signature = detail.get("shape_signature", detail["shape"])
        return Tensor(detail["name"], tuple(int(s) if s > 0 else None for s in signature), detail["dtype"])

    shapes = {detail["name"]: tuple(int(s) for s in detail["shape"]) for detail in sources}

    def run(feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        resized = False
        for detail in sources:
            shape = feeds[detail["name"]].shape
            if shape != shapes[detail["name"]]:
                interpreter.resize_tensor_input(detail["index"], list(shape))
                shapes[detail["name"]] = shape
                resized = True
        if resized:
            interpreter.allocate_tensors()
        for detail in sources:
            interpreter.set_tensor(detail["index"], feeds[detail["name"]])
        interpreter.invoke()
        return [interpreter.get_tensor(detail["index"]).copy() for detail in targets]

    return Session(
        path, "ai-edge-litert (TFLite)", [tensor(d) for d in sources], [tensor(d) for d in targets], run, "NHWC"
    )


def _layout(shape: tuple[int | None, ...], card: ModelCard, session: Session, name: str) -> str:
    if len(shape) != 4:
        raise ModelError(
            f"{session.path}: image input {name!r} has shape {list(shape)}; expected 4 axes (N, C, H, W or N, H, W, C)"
        )
    if card.layout is not None:
        layout = card.layout
    elif shape[1] == 3 and shape[3] != 3:
        layout = "NCHW"
    elif shape[3] == 3 and shape[1] != 3:
        layout = "NHWC"
    else:
        layout = session.default_layout
    channels = shape[1] if layout == "NCHW" else shape[3]
    if channels not in (3, None):
        raise ModelError(
            f"{session.path}: image input {name!r} has shape {list(shape)}: {channels} channels on the {layout} "
            "channel axis, expected 3 (set layout: NCHW or NHWC in a model card if it is the other one)"
        )
    return layout


def alpha_from_output(output: np.ndarray, layout: str, channel: int, where: str = "model") -> np.ndarray:
    """A model output as (N, h, w): picks ``channel`` along the channel axis of a 4-D output.

    The channel axis is axis 1 for NCHW and 3 for NHWC, unless that axis is large and the other
    candidate has at most 4 entries (an NHWC output of an NCHW model, or the other way round).

    Examples
    --------
    >>> alpha_from_output(np.zeros((2, 1, 4, 5)), "NCHW", 0).shape
    (2, 4, 5)
    >>> nhwc = np.arange(2 * 5 * 6 * 2).reshape(2, 5, 6, 2)   # (N, H, W, 2) from an "NCHW" model
    >>> alpha_from_output(nhwc, "NCHW", 1)[0, 0].tolist()
    [1, 3, 5, 7, 9, 11]
    """
    if output.ndim == 2:
        return output[None]
    if output.ndim == 3:
        return output
    if output.ndim != 4:
        raise ModelError(f"{where}: output of shape {list(output.shape)}; expected (N, h, w) or 4 axes with channels")
    axis = 1 if layout == "NCHW" else 3
    other = 4 - axis
    if output.shape[axis] > 4 and output.shape[other] <= 4:
        axis = other
    if channel >= output.shape[axis]:
        raise ModelError(
            f"{where}: output_channel {channel} but the output has {output.shape[axis]} channels "
            f"(shape {list(output.shape)})"
        )
    return np.take(output, channel, axis=axis)


def card_runner(
    session: Session,
    card: ModelCard,
    input_size: tuple[int, int] | None,
    landscape: bool,
    *,
    name: str | None = None,
    kind: str = "onnx",
    notes: str = "",
) -> Runner:
    """A runner of ``session`` under the rules of ``card`` (see the module docstring).

    Parameters
    ----------
    session : Session
        From :func:`onnx_session` or :func:`tflite_session`.
    card : ModelCard
        The model card (defaults for a bare file).
    input_size : (int, int) or None
        ``--input`` as given (None: not given).
    landscape : bool
        The frames are 16:9 (default input 256×144 for a dynamic model).
    """
    path = session.path
    state_inputs = {spec.input for spec in card.state}
    by_name = {tensor.name: tensor for tensor in session.inputs}
    for named in [*state_inputs, *card.constants, *([card.input] if card.input else [])]:
        if named not in by_name:
            raise ModelError(
                f"{path}: {card.label} names input {named!r}, the model has {', '.join(by_name) or 'none'}"
            )
    outputs = [tensor.name for tensor in session.outputs]
    for spec in card.state:
        if spec.output not in outputs:
            raise ModelError(
                f"{path}: {card.label} names state output {spec.output!r}, the model has {', '.join(outputs)}"
            )
    if card.input is not None:
        image = by_name[card.input]
    else:
        free = [t for t in session.inputs if t.name not in state_inputs and t.name not in card.constants]
        if not free:
            raise ModelError(f"{path}: every input is state or a constant; which one is the image? (set input:)")
        image = free[0]
    missing = [t.name for t in session.inputs if t is not image and t.name not in state_inputs | set(card.constants)]
    if missing:
        raise ModelError(
            f"{path}: the model has inputs besides the image {image.name!r} that nothing gives: {', '.join(missing)}; "
            "declare them in a model card (--model-config) under state (recurrent inputs) or constants"
        )
    if isinstance(card.output, int):
        if not 0 <= card.output < len(outputs):
            raise ModelError(
                f"{path}: output {card.output}, but the model has {len(outputs)} outputs ({', '.join(outputs)})"
            )
        output_index = card.output
    elif card.output in outputs:
        output_index = outputs.index(card.output)
    else:
        raise ModelError(f"{path}: {card.label} names output {card.output!r}, the model has {', '.join(outputs)}")

    layout = _layout(image.shape, card, session, image.name)
    fixed_height, fixed_width = (
        (image.shape[2], image.shape[3]) if layout == "NCHW" else (image.shape[1], image.shape[2])
    )
    chosen = input_size or card.input_size or ((256, 144) if landscape else (256, 256))
    if fixed_width is not None and fixed_height is not None:
        if input_size is not None and input_size != (fixed_width, fixed_height):
            warnings.warn(
                f"{path.name} has a fixed input {fixed_width}x{fixed_height}; --input "
                f"{input_size[0]}x{input_size[1]} does not apply",
                stacklevel=2,
            )
        width, height = fixed_width, fixed_height
    else:
        width, height = fixed_width or chosen[0], fixed_height or chosen[1]
    one_at_a_time = bool(card.state) or image.shape[0] == 1

    constants: dict[str, np.ndarray] = {}
    for key, value in card.constants.items():
        array: np.ndarray = np.asarray(value, dtype=by_name[key].dtype)
        if array.ndim == 0 and by_name[key].shape:  # a number for a shaped input, e.g. RVM's [1] ratio
            array = array.reshape([size or 1 for size in by_name[key].shape])
        constants[key] = array
    initial = {
        spec.input: spec.initial_value(list(by_name[spec.input].shape), by_name[spec.input].dtype)
        for spec in card.state
    }
    state = {key: value.copy() for key, value in initial.items()}
    feedback = [(outputs.index(spec.output), spec.input) for spec in card.state]

    pixel_dtype = image.dtype
    bgr = card.channels == "BGR"
    inverse = 1.0 / card.scale
    exact_divisor = abs(inverse - round(inverse)) < 1e-9
    mean = np.asarray(card.mean, np.float32)
    std = np.asarray(card.std, np.float32)
    plain = not np.any(mean) and bool(np.all(std == 1.0))
    warned: list[bool] = []

    def from_pixels(resized: np.ndarray) -> np.ndarray:
        pixels = resized if bgr else resized[:, :, ::-1]
        if pixel_dtype == np.uint8:
            item = np.ascontiguousarray(pixels)
        else:
            values = pixels.astype(np.float32)
            values = values / np.float32(round(inverse)) if exact_divisor else values * np.float32(card.scale)
            if not plain:
                values = (values - mean) / std
            item = values.astype(pixel_dtype, copy=False)
        return np.ascontiguousarray(item.transpose(2, 0, 1) if layout == "NCHW" else item)

    def run(batch: np.ndarray) -> np.ndarray:
        feeds = {image.name: np.ascontiguousarray(batch), **constants, **state}
        try:
            results = session.run(feeds)
        except ModelError:
            raise
        except Exception as problem:  # the runtimes raise their own types
            raise ModelError(
                f"{path}: {session.runtime} could not run input {list(batch.shape)} ({str(problem).splitlines()[0]}); "
                "a dynamic model may need other sides, e.g. multiples of 32: try --input"
            ) from None
        for index, key in feedback:
            state[key] = results[index]
        alpha = alpha_from_output(np.asarray(results[output_index]), layout, card.output_channel, str(path))
        if alpha.dtype == np.uint8:
            return alpha.astype(np.float32) / np.float32(255.0)
        alpha = alpha.astype(np.float32, copy=False)
        if card.activation == "sigmoid":
            alpha = 1.0 / (1.0 + np.exp(-alpha))
        elif not warned and alpha.size and (float(alpha.min()) < -0.05 or float(alpha.max()) > 1.05):
            warned.append(True)
            warnings.warn(
                f"{path.name}: outputs range over [{float(alpha.min()):.3g}, {float(alpha.max()):.3g}], not [0, 1]; "
                "if they are logits, set activation: sigmoid in a model card (--model-config)",
                stacklevel=2,
            )
        return np.clip(alpha, 0.0, 1.0)

    def predict(batch: np.ndarray) -> np.ndarray:
        if not one_at_a_time:
            return run(batch)
        return np.concatenate([run(batch[index : index + 1]) for index in range(len(batch))])

    def reset() -> None:
        state.update({key: value.copy() for key, value in initial.items()})

    description = card.notes or notes
    if card.state:
        description = (description + "; " if description else "") + f"recurrent ({len(card.state)} state tensors)"
    return Runner(
        card.name or name or path.stem,
        width,
        height,
        session.runtime,
        None,
        file_sha256(path),
        predict,
        description,
        synthetic_weights=card.synthetic_weights,
        from_pixels=from_pixels,
        reset=reset if card.state else None,
        kind=kind,
    )
