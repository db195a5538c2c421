"""Core ML int8 export and its PyTorch emulation of the MIL program (Linux)."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="needs the model extra: pip install torch==2.13.0 'vbbench[model]'")
pytest.importorskip("coremltools", reason="needs the coreml extra: pip install 'vbbench[coreml]' (coremltools==9.0)")
pytestmark = pytest.mark.model

from vbbench.models.coreml import EMULATED, EmulatedProgram, coreml_runner, export_coreml  # noqa: E402
from vbbench.models.registry import ModelError, load_runner  # noqa: E402
from vbbench.models.unet import CompactUNet, UNetConfig  # noqa: E402


@pytest.fixture(scope="module")
def tiny_model():
    torch.manual_seed(0)
    model = CompactUNet(UNetConfig(stem=4, widths=(4, 8, 8))).eval()
    with torch.no_grad():
        # Spread the random network's alpha over (0, 1) so the comparisons measure something.
        [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)][-1].weight.mul_(1000.0)
    return model


@pytest.fixture(scope="module")
def inputs():
    return np.random.default_rng(0).random((2, 3, 144, 256), dtype=np.float32)


def _torch_alpha(model, batch):
    with torch.no_grad():
        return model(torch.from_numpy(batch))[:, 0].numpy()


def test_float_package_emulation_reproduces_pytorch(tiny_model, inputs, tmp_path):
    """With float32 weights, the op-by-op MIL interpreter must agree with PyTorch: this checks the
    emulator itself (padding, dilation, groups, upsampling, concatenation order)."""
    path = export_coreml(tiny_model, tmp_path / "float.mlpackage", 256, 144, int8=False)
    program = EmulatedProgram(path)
    assert program.int8_weights == 0 and (program.width, program.height) == (256, 144)
    emulated = program(torch.from_numpy(inputs))[:, 0].numpy()
    assert np.abs(emulated - _torch_alpha(tiny_model, inputs)).max() < 1e-4


def test_float16_package_emulation_reproduces_pytorch_half(tiny_model, inputs, tmp_path):
    """A float16 ML program stores every tensor in float16. PyTorch's own half-precision run of the
    same network (BatchNorm folded, as the converter folds it) is an independent reference: each
    op computes in float32 and rounds its output to float16, as the emulator does."""
    from vbbench.models.export import fold_batch_norm

    path = export_coreml(tiny_model, tmp_path / "half.mlpackage", 256, 144, int8=False, float16=True)
    batch = torch.from_numpy(inputs)
    with torch.no_grad():
        half = fold_batch_norm(tiny_model).half()(batch.half()).float()[:, 0].numpy()
    emulated = EmulatedProgram(path)(batch)[:, 0].numpy()
    in_float32 = EmulatedProgram(path, float16=False)(batch)[:, 0].numpy()
    assert np.abs(emulated - half).max() < 1e-3 and np.abs(emulated - half).mean() < 1e-5  # measured: 0 on both
    # Ignoring the float16 types is a visible error: measured mean 2.4e-4, max 5.4e-3.
    assert np.abs(in_float32 - half).mean() > 1e-4


def test_int8_package_is_close_to_pytorch_and_says_emulated(tiny_model, inputs, tmp_path):
    path = export_coreml(tiny_model, tmp_path / "int8.mlpackage", 256, 144)
    convolutions = sum(isinstance(m, torch.nn.Conv2d) for m in tiny_model.modules())
    runner = coreml_runner(path)
    # weight_threshold=1 quantizes every convolution but the 8-weight output layer, which
    # coremltools 9.0 leaves in float16 (observed; int8 plus a scale would not be smaller).
    assert EmulatedProgram(path).int8_weights == convolutions - 1
    alpha = runner.predict(inputs)
    expected = _torch_alpha(tiny_model, inputs)
    assert alpha.shape == (2, 144, 256)
    assert expected.std() > 0.1
    assert np.abs(alpha - expected).mean() < 0.02  # measured 0.003
    assert not np.array_equal(alpha, expected)
    assert runner.notes == EMULATED == "CoreML int8 weights, emulated"
    assert runner.metadata()["notes"] == "CoreML int8 weights, emulated"


def test_a_folder_that_is_not_a_package_is_refused(tmp_path):
    (tmp_path / "fake.mlpackage").mkdir()
    with pytest.raises(ModelError, match="fake.mlpackage: not an .mlpackage \\(no Manifest.json\\)"):
        load_runner(str(tmp_path / "fake.mlpackage"))


def test_registered_coreml_baseline_follows_the_shipped_weights(tmp_path, monkeypatch):
    from vbbench.models.runner import to_input
    from vbbench.models.train import sample_set

    monkeypatch.setenv("VBBENCH_HOME", str(tmp_path))
    coreml = load_runner("reference-coreml-int8", (256, 144))
    reference = load_runner("reference", (256, 144))
    assert (coreml.input_width, coreml.input_height) == (256, 144) and coreml.notes == EMULATED
    batch = np.stack([to_input(image, 256, 144) for image in sample_set(2, seed=5).images])
    assert np.abs(coreml.predict(batch) - reference.predict(batch)).mean() < 0.02  # measured 0.0025


def test_package_digest_is_the_same_for_the_same_conversion(tiny_model, tmp_path):
    """Two exports differ byte for byte (random UUIDs in Manifest.json, an unordered metadata map)
    but are the same model: the recorded weights_sha256 must agree, and change with the weights."""
    from vbbench.models.coreml import package_sha256

    first = export_coreml(tiny_model, tmp_path / "a.mlpackage", 256, 144)
    second = export_coreml(tiny_model, tmp_path / "b.mlpackage", 256, 144)
    assert (first / "Manifest.json").read_bytes() != (second / "Manifest.json").read_bytes()
    assert package_sha256(first) == package_sha256(second)
    assert coreml_runner(first).weights_sha256 == package_sha256(first)
    changed = CompactUNet(UNetConfig(stem=4, widths=(4, 8, 8))).eval()  # other random weights
    assert package_sha256(export_coreml(changed, tmp_path / "c.mlpackage", 256, 144)) != package_sha256(first)
    with pytest.raises(ModelError, match="no Data/\\*/model.mlmodel inside"):
        package_sha256(tmp_path)
