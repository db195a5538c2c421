"""Model files the tests make themselves: tiny ONNX graphs whose output is known by hand.

* :func:`normalised_onnx` — a dynamic-shape model that undoes a given mean/std normalisation of
  its first input channel: fed as its card says (BGR, mean, std), its alpha is exactly the
  image's blue channel / 255; fed any other way, it is something else. Outputs ``foreground``
  (the input itself) first and ``alpha`` (background, alpha channels) second, so the card must
  also name the output and its channel.
* :func:`recurrent_onnx` — RVM's interface in miniature: inputs ``src``, state ``r1i`` and
  ``downsample_ratio``; outputs ``pha`` = r1i · 4·ratio (the state, broadcast) and ``r1o`` = mean
  red of this frame. So frame k's alpha is the mean red of frame k − 1 and the first frame's is
  the initial state.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

OPSET = 17


def _constant(name: str, values, dtype=np.int64):
    from onnx import numpy_helper

    return numpy_helper.from_array(np.asarray(values, dtype=dtype), name)


def _save(graph, path: Path) -> Path:
    import onnx
    from onnx import helper

    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    path.write_bytes(model.SerializeToString())
    return path


def normalised_onnx(path: Path, mean, std, layout: str = "NCHW") -> Path:
    """Alpha = channel 0 · std₀ + mean₀ (the inverse of the card's normalisation), dynamic N, H, W."""
    from onnx import TensorProto, helper

    axis = 1 if layout == "NCHW" else 3
    shape = ["batch", 3, "height", "width"] if layout == "NCHW" else ["batch", "height", "width", 3]
    out_shape = ["batch", 2, "height", "width"] if layout == "NCHW" else ["batch", "height", "width", 2]
    nodes = [
        helper.make_node("Slice", ["image", "zero", "one", "axis"], ["first"]),
        helper.make_node("Mul", ["first", "std0"], ["scaled"]),
        helper.make_node("Add", ["scaled", "mean0"], ["matte"]),
        helper.make_node("Sub", ["unit", "matte"], ["background"]),
        helper.make_node("Concat", ["background", "matte"], ["alpha"], axis=axis),
        helper.make_node("Identity", ["image"], ["foreground"]),
    ]
    graph = helper.make_graph(
        nodes,
        "normalised",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, shape)],
        [
            helper.make_tensor_value_info("foreground", TensorProto.FLOAT, shape),
            helper.make_tensor_value_info("alpha", TensorProto.FLOAT, out_shape),
        ],
        initializer=[
            _constant("zero", [0]),
            _constant("one", [1]),
            _constant("axis", [axis]),
            _constant("std0", [std[0]], np.float32),
            _constant("mean0", [mean[0]], np.float32),
            _constant("unit", [1.0], np.float32),
        ],
    )
    return _save(graph, path)


def recurrent_onnx(path: Path) -> Path:
    """``pha`` = r1i · (4 · downsample_ratio) broadcast over the frame; ``r1o`` = mean of channel 0."""
    from onnx import TensorProto, helper

    nodes = [
        helper.make_node("Slice", ["src", "zero", "one", "one"], ["red"]),
        helper.make_node("ReduceMean", ["red"], ["r1o"], axes=[2, 3], keepdims=1),
        helper.make_node("Mul", ["downsample_ratio", "four"], ["gain"]),
        helper.make_node("Mul", ["r1i", "gain"], ["carried"]),
        helper.make_node("Mul", ["red", "nothing"], ["blank"]),
        helper.make_node("Add", ["blank", "carried"], ["pha"]),
    ]
    graph = helper.make_graph(
        nodes,
        "recurrent",
        [
            helper.make_tensor_value_info("src", TensorProto.FLOAT, ["batch", 3, "height", "width"]),
            helper.make_tensor_value_info("r1i", TensorProto.FLOAT, ["batch", 1, "rh", "rw"]),
            helper.make_tensor_value_info("downsample_ratio", TensorProto.FLOAT, [1]),
        ],
        [
            helper.make_tensor_value_info("pha", TensorProto.FLOAT, ["batch", 1, "height", "width"]),
            helper.make_tensor_value_info("r1o", TensorProto.FLOAT, ["batch", 1, 1, 1]),
        ],
        initializer=[
            _constant("zero", [0]),
            _constant("one", [1]),
            _constant("four", [4.0], np.float32),
            _constant("nothing", [0.0], np.float32),
        ],
    )
    return _save(graph, path)


RECURRENT_CARD = """\
path: {path}
output: pha
constants: {{downsample_ratio: [0.25]}}
state:
  - {{input: r1i, output: r1o, initial: 0.25, shape: [1, 1, 1, 1]}}
"""
