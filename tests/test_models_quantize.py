"""int8 static QDQ quantization of the ONNX export: per-channel weights, close to the float model."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="needs the model extra: pip install torch==2.13.0 'vbbench[model]'")
onnx = pytest.importorskip("onnx", reason="needs the model extra: pip install 'vbbench[model]'")
ort = pytest.importorskip("onnxruntime", reason="needs the model extra: pip install 'vbbench[model]'")
pytestmark = pytest.mark.model

from vbbench.models.export import export_onnx  # noqa: E402
from vbbench.models.quantize import RANGE_GRID, calibration_batches, outward_range, quantize_onnx  # noqa: E402
from vbbench.models.train import sample_set  # noqa: E402
from vbbench.models.unet import CompactUNet, UNetConfig  # noqa: E402


@pytest.fixture(scope="module")
def float_and_int8(tmp_path_factory):
    folder = tmp_path_factory.mktemp("quantize")
    torch.manual_seed(0)
    model = CompactUNet(UNetConfig(stem=4, widths=(4, 8, 8))).eval()
    with torch.no_grad():
        # A random network's alpha sits near 0.5 everywhere; amplify the logits so the outputs
        # span (0, 1) and the comparison below measures something.
        last = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)][-1]
        last.weight.mul_(1000.0)
    float_path = export_onnx(model, folder / "float.onnx", 256, 144)
    images = sample_set(4, seed=1).images
    int8_path = quantize_onnx(float_path, folder / "int8.onnx", calibration_batches(images, 256, 144))
    return float_path, int8_path, images


def test_weights_are_int8_with_one_scale_per_output_channel(float_and_int8):
    float_path, int8_path, _ = float_and_int8
    graph = onnx.load(str(int8_path)).graph
    initializers = {tensor.name: tensor for tensor in graph.initializer}
    float_convs = [node for node in onnx.load(str(float_path)).graph.node if node.op_type == "Conv"]
    weight_dequantizers = [
        node
        for node in graph.node
        if node.op_type == "DequantizeLinear"
        and node.input[0] in initializers
        and initializers[node.input[0]].data_type == onnx.TensorProto.INT8
    ]
    assert len(weight_dequantizers) == len(float_convs)
    for node in weight_dequantizers:
        weight = initializers[node.input[0]]
        scale = initializers[node.input[1]]
        assert list(scale.dims) == [weight.dims[0]], node.name  # per output channel
    assert any(node.op_type == "QuantizeLinear" for node in graph.node)  # activations too (static)


def test_int8_output_is_close_to_float(float_and_int8):
    float_path, int8_path, images = float_and_int8
    batch = calibration_batches(images[:2], 256, 144)
    reference = ort.InferenceSession(str(float_path), providers=["CPUExecutionProvider"])
    quantized = ort.InferenceSession(str(int8_path), providers=["CPUExecutionProvider"])
    expected = np.concatenate([reference.run(None, {"image": x})[0] for x in batch])
    actual = np.concatenate([quantized.run(None, {"image": x})[0] for x in batch])
    assert expected.std() > 0.05  # the outputs vary, so closeness is informative
    assert np.abs(actual - expected).mean() < 0.02
    assert not np.array_equal(actual, expected)  # it really is a different (quantized) computation


def test_outward_range_snaps_to_the_grid_and_never_narrows():
    assert outward_range(-0.001, 5.999) == (-1 / 256, 6.0)
    assert outward_range(0.0, 6.0) == (0.0, 6.0)  # grid points stay
    assert outward_range(np.array([0.5]), np.array([0.50001])) == (0.5, 0.50390625)


def test_activation_scales_come_from_grid_ranges(float_and_int8):
    # uint8 activations: scale = (rmax − rmin)/255 with rmin ≤ 0 ≤ rmax on the 1/256 grid, so
    # scale·255 is a multiple of 1/256 up to float32 rounding.
    _, int8_path, _ = float_and_int8
    graph = onnx.load(str(int8_path)).graph
    initializers = {tensor.name: onnx.numpy_helper.to_array(tensor) for tensor in graph.initializer}
    scales = [initializers[node.input[1]] for node in graph.node if node.op_type == "QuantizeLinear"]
    assert len(scales) > 5
    for scale in scales:
        steps = float(scale) * 255 / RANGE_GRID
        assert abs(steps - round(steps)) < 1e-6 * max(1.0, steps), float(scale)  # float32 rounding only


def test_quantize_needs_calibration_images(float_and_int8, tmp_path):
    with pytest.raises(ValueError, match="float.onnx: int8 calibration needs at least one image"):
        quantize_onnx(float_and_int8[0], tmp_path / "x.onnx", [])


def test_registered_int8_baseline_follows_the_shipped_weights(tmp_path, monkeypatch):
    from vbbench.models.registry import load_runner

    monkeypatch.setenv("VBBENCH_HOME", str(tmp_path))
    int8 = load_runner("reference-onnx-int8", (256, 144))
    reference = load_runner("reference", (256, 144))
    assert (int8.input_width, int8.input_height) == (256, 144)
    assert list((tmp_path / "models").glob("*-256x144*-int8.onnx"))
    batch = np.stack(calibration_batches(sample_set(2, seed=5).images, 256, 144))[:, 0]
    difference = np.abs(int8.predict(batch) - reference.predict(batch))
    assert difference.mean() < 0.05  # measured 0.017 on rendered portraits
