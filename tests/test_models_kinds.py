"""Every kind of --model end to end through `vbbench predict` → `vbbench score`, on files the tests make.

Each model is built so that fed correctly its mattes are known by hand, and the ground truth is
made to equal them: the score is then exactly 0, and a loader that gets the channel order, the
normalisation, the output, the state or the size wrong scores far from it (some tests show that
too).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from _model_files import RECURRENT_CARD, normalised_onnx, recurrent_onnx
from typer.testing import CliRunner

pytest.importorskip("onnxruntime", reason="needs the model extra: pip install 'vbbench[model]'")
pytest.importorskip("onnx", reason="needs the model extra: pip install 'vbbench[model]'")
pytestmark = pytest.mark.model

from vbbench.cli import app  # noqa: E402
from vbbench.errors import ModelError  # noqa: E402
from vbbench.io import file_sha256, read_matte, write_png  # noqa: E402
from vbbench.models.registry import KINDS, kind_of, load_runner  # noqa: E402

cli = CliRunner()
MEAN, STD = (0.2, 0.4, 0.6), (0.5, 0.25, 0.125)


def _invoke(*arguments: str) -> str:
    result = cli.invoke(app, [str(a) for a in arguments])
    assert result.exit_code == 0, result.output
    return result.output


def _score(preds: Path, gt: Path, out: Path) -> dict:
    _invoke("score", preds, "--gt", gt, "--metrics", "mad,mse", "--workers", "1", "--out", out, "--quiet")
    return json.loads((out / "summary.json").read_text())["scores"]["whole"]


def _images(folder: Path, shapes: dict[str, tuple[int, int]], seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    images = {}
    for image_id, (height, width) in shapes.items():
        images[image_id] = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
        write_png(folder / f"{image_id}.png", images[image_id])
    return images


def _hashes(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): file_sha256(p) for p in sorted(folder.rglob("*")) if p.is_file()}


def test_the_kinds_table_routes_every_form_and_the_error_names_them(tmp_path):
    (tmp_path / "run").mkdir()
    assert kind_of("mediapipe-landscape").name == "registered"
    assert kind_of("m.yaml").name == "card"
    assert kind_of("pkg.module:segment").name == "callable"
    assert kind_of("code/seg.py:Model.matte").name == "callable"
    assert kind_of("x.mlpackage").name == "coreml"
    assert kind_of(str(tmp_path / "run")).name == "checkpoint"
    assert kind_of("w.pth").name == "checkpoint"
    assert kind_of("m.onnx").name == "onnx" and kind_of("m.TFLITE").name == "tflite"
    with pytest.raises(ModelError) as unknown:
        kind_of("model.h5")
    message = str(unknown.value)
    assert message.startswith("unknown model 'model.h5'; --model takes a registered name (reference, ")
    for kind in KINDS.values():
        assert kind.form in message
    with pytest.raises(ModelError, match="did you mean 'mediapipe-general'"):
        kind_of("mediapipe-generl")


def test_dynamic_onnx_with_mean_std_bgr_named_output_and_channel(tmp_path):
    """The image's blue channel is the ground truth; the model undoes the card's normalisation."""
    normalised_onnx(tmp_path / "norm.onnx", MEAN, STD)
    card = tmp_path / "norm.yaml"
    card.write_text(
        "path: norm.onnx\nname: tiny-norm\ninput_size: 64x48\nchannels: BGR\n"
        f"mean: {list(MEAN)}\nstd: {list(STD)}\noutput: alpha\noutput_channel: 1\n"
    )
    images = _images(tmp_path / "images", {"a": (48, 64), "b": (48, 64), "sub/c": (48, 64)})
    for image_id, image in images.items():
        write_png(tmp_path / "gt" / f"{image_id}.png", image[:, :, 0])
    before = _hashes(tmp_path / "images")
    output = _invoke("predict", "--model-config", card, "--images", tmp_path / "images", "--out", tmp_path / "preds")
    assert "(tiny-norm, input 64x48)" in output
    for image_id, image in images.items():  # at its own size, alpha = blue / 255 exactly
        np.testing.assert_array_equal(read_matte(tmp_path / "preds" / f"{image_id}.png"), image[:, :, 0])
    scores = _score(tmp_path / "preds", tmp_path / "gt", tmp_path / "scores")
    assert scores["mad"]["mean"] == 0.0 and scores["mse"]["mean"] == 0.0
    assert _hashes(tmp_path / "images") == before
    meta = json.loads((tmp_path / "preds" / "model.json").read_text())
    assert meta["kind"] == "onnx" and meta["input_size"] == "64x48" and meta["synthetic_weights"] is False
    assert meta["weights_sha256"] == file_sha256(tmp_path / "norm.onnx")

    # The same model fed RGB (the default) sees red first: far from the truth.
    wrong = tmp_path / "rgb.yaml"
    wrong.write_text(card.read_text().replace("channels: BGR\n", ""))
    _invoke("predict", "--model-config", wrong, "--images", tmp_path / "images", "--out", tmp_path / "wrong")
    assert _score(tmp_path / "wrong", tmp_path / "gt", tmp_path / "wrong-scores")["mad"]["mean"] > 0.2


def test_dynamic_onnx_input_size_default_16_9_and_nhwc(tmp_path):
    normalised_onnx(tmp_path / "nchw.onnx", (0.0,) * 3, (1.0,) * 3)
    normalised_onnx(tmp_path / "nhwc.onnx", (0.0,) * 3, (1.0,) * 3, layout="NHWC")
    assert load_runner(str(tmp_path / "nchw.onnx")).input_label == "256x256"
    assert load_runner(str(tmp_path / "nchw.onnx"), landscape=True).input_label == "256x144"
    assert load_runner(str(tmp_path / "nchw.onnx"), (320, 192), landscape=True).input_label == "320x192"
    image = np.random.default_rng(3).integers(0, 256, (30, 40, 3), dtype=np.uint8)
    alphas = []
    for name in ("nchw", "nhwc"):  # channel 0 is red (RGB): the two layouts agree, the layout read from the shape
        runner = load_runner(str(tmp_path / f"{name}.onnx"), (40, 30), config=None)
        card = tmp_path / f"{name}.yaml"
        card.write_text(f"path: {name}.onnx\noutput: 1\noutput_channel: 1\n")
        runner = load_runner(None, (40, 30), config=card)
        assert runner.prepare(image).shape == ((3, 30, 40) if name == "nchw" else (30, 40, 3))
        alphas.append(runner.predict(runner.prepare(image)[None])[0])
    np.testing.assert_array_equal(alphas[0], alphas[1])
    np.testing.assert_allclose(alphas[0], image[:, :, 2] / 255.0, atol=1e-7)


def test_sigmoid_activation_and_the_logits_warning(tmp_path):
    normalised_onnx(tmp_path / "logit.onnx", (-4.0,) * 3, (8.0,) * 3)  # alpha = 8·x − 4: logits in [−4, 4]
    image = np.random.default_rng(4).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    card = tmp_path / "logit.yaml"
    card.write_text("path: logit.onnx\noutput: alpha\noutput_channel: 1\nactivation: sigmoid\n")
    runner = load_runner(None, (16, 16), config=card)
    expected = 1 / (1 + np.exp(-(8 * (image[:, :, 2] / 255.0) - 4)))
    np.testing.assert_allclose(runner.predict(runner.prepare(image)[None])[0], expected, atol=1e-6)
    plain = tmp_path / "plain.yaml"
    plain.write_text("path: logit.onnx\noutput: alpha\noutput_channel: 1\n")
    runner = load_runner(None, (16, 16), config=plain)
    with pytest.warns(
        UserWarning, match=r"logit.onnx: outputs range over \[-4, 3.9\d\], not \[0, 1\]; if they are logits"
    ):
        runner.predict(runner.prepare(image)[None])


def test_recurrent_onnx_state_reset_per_image_and_carried_within_a_clip(tmp_path):
    """Frame k's alpha is frame k−1's mean red; the first frame of every clip gets the initial 0.25."""
    recurrent_onnx(tmp_path / "rvm.onnx")
    card = tmp_path / "rvm.yaml"
    card.write_text(RECURRENT_CARD.format(path="rvm.onnx"))
    reds = {
        "single-a": 40,
        "single-b": 90,
        "clip1/0001": 10,
        "clip1/0002": 200,
        "clip1/0003": 30,
        "clip2/0001": 120,
        "clip2/0002": 60,
    }
    for image_id, red in reds.items():
        frame = np.full((36, 48, 3), 7, np.uint8)
        frame[:, :, 2] = red
        write_png(tmp_path / "images" / f"{image_id}.png", frame)
    initial = round(0.25 * 255)
    expected = {
        "single-a": initial, "single-b": initial,
        "clip1/0001": initial, "clip1/0002": 10, "clip1/0003": 200,
        "clip2/0001": initial, "clip2/0002": 120,
    }  # fmt: skip
    for image_id, value in expected.items():
        write_png(tmp_path / "gt" / f"{image_id}.png", np.full((36, 48), value, np.uint8))
    output = _invoke(
        "predict", "--model-config", card, "--images", tmp_path / "images", "--out", tmp_path / "preds", "--batch", "2"
    )
    assert "4 clips with the state reset at each" in output
    for image_id, value in expected.items():
        assert set(np.unique(read_matte(tmp_path / "preds" / f"{image_id}.png"))) == {value}, image_id
    assert _score(tmp_path / "preds", tmp_path / "gt", tmp_path / "scores")["mad"]["mean"] == 0.0
    assert json.loads((tmp_path / "preds" / "model.json").read_text())["recurrent"] is True

    # Resume: a missing last frame is re-made from its clip's first frame, to the same bytes.
    finished = file_sha256(tmp_path / "preds" / "clip1" / "0003.png")
    (tmp_path / "preds" / "clip1" / "0003.png").unlink()
    untouched = (tmp_path / "preds" / "clip1" / "0001.png").stat().st_mtime_ns
    output = _invoke("predict", "--model-config", card, "--images", tmp_path / "images", "--out", tmp_path / "preds")
    assert "predicted 1 images, kept 6 finished ones" in output and "1 clips" in output
    assert file_sha256(tmp_path / "preds" / "clip1" / "0003.png") == finished
    assert (tmp_path / "preds" / "clip1" / "0001.png").stat().st_mtime_ns == untouched


def test_recurrent_card_errors_name_what_is_missing(tmp_path):
    recurrent_onnx(tmp_path / "rvm.onnx")
    with pytest.raises(ModelError) as bare:
        load_runner(str(tmp_path / "rvm.onnx"))
    assert str(bare.value) == (
        f"{tmp_path / 'rvm.onnx'}: the model has inputs besides the image 'src' that nothing gives: r1i, "
        "downsample_ratio; declare them in a model card (--model-config) under state (recurrent inputs) or constants"
    )
    card = tmp_path / "c.yaml"
    card.write_text("path: rvm.onnx\nstate: [{input: r1i, output: r2o}]\nconstants: {downsample_ratio: 0.25}\n")
    with pytest.raises(ModelError, match="names state output 'r2o', the model has pha, r1o"):
        load_runner(None, config=card)
    card.write_text("path: rvm.onnx\nstate: [{input: r1i, output: r1o}]\nconstants: {downsample_ratio: 0.25}\n")
    with pytest.raises(ModelError, match=r"state r1i: its declared shape \[None, 1, None, None\] is not fixed"):
        load_runner(None, config=card)


def test_card_errors(tmp_path):
    normalised_onnx(tmp_path / "m.onnx", MEAN, STD)
    card = tmp_path / "m.yaml"
    for text, message in [
        ("path: m.onnx\nmaen: 0.5\n", "unknown key 'maen'; did you mean 'mean'?"),
        ("path: m.onnx\nlayout: NWHC\n", "layout: expected one of NCHW, NHWC, found 'NWHC'"),
        ("path: m.onnx\nstd: [1, 0, 1]\n", "std: must not be 0"),
        ("path: m.onnx\nmean: [1, 2]\n", "mean: expected one number or three"),
        ("path: m.onnx\noutput: beta\n", "names output 'beta', the model has foreground, alpha"),
        ("path: m.onnx\ninput_size: 64\n", "input_size: expected WIDTHxHEIGHT"),
        ("name: x\n", "the model card has no path; add `path: FILE` or give --model"),
        ("path: missing.onnx\n", "missing.onnx: no such ONNX file"),
        ("- a list\n", "a model card is a YAML mapping"),
    ]:
        card.write_text(text)
        with pytest.raises(ModelError, match=message.replace("[", r"\[").replace("?", r"\?")):
            load_runner(None, config=card)
    card.write_text("mean: 0.5\n")
    with pytest.raises(ModelError, match="mean does not apply to a checkpoint of vbbench train"):
        load_runner(str(tmp_path), config=card)
    with pytest.raises(ModelError, match="reference is a registered model; a model card describes a file"):
        load_runner("reference", config=card)
    (tmp_path / "images").mkdir()
    result = cli.invoke(app, ["predict", "--images", str(tmp_path / "images"), "--out", str(tmp_path / "p")])
    assert (
        result.exit_code == 1
        and "no model: give --model, or a model card (--model-config) with a path" in result.output
    )


CALLABLE = """\
import numpy as np

def red(rgb):
    assert rgb.dtype == np.uint8 and rgb.ndim == 3 and rgb.shape[2] == 3, (rgb.dtype, rgb.shape)
    with open(__file__ + ".sizes", "a") as log:
        log.write(f"{rgb.shape[1]}x{rgb.shape[0]}\\n")
    return rgb[:, :, 0]          # uint8 alpha: the red channel

def green(rgb):
    return rgb[::2, ::2, 1] / 255.0   # float alpha at half size

def broken(rgb):
    return rgb                   # not a matte
"""


def test_python_callable_by_file_and_by_module(tmp_path, monkeypatch):
    code = tmp_path / "code" / "segment.py"
    code.parent.mkdir()
    code.write_text(CALLABLE)
    shapes = {"a": (30, 40), "b": (45, 17), "c": (30, 40)}
    images = _images(tmp_path / "images", shapes, seed=5)
    for image_id, image in images.items():
        write_png(tmp_path / "gt" / f"{image_id}.png", image[:, :, 2])  # red, in BGR order
    output = _invoke("predict", "--model", f"{code}:red", "--images", tmp_path / "images", "--out", tmp_path / "preds")
    assert "(red, input native)" in output
    assert sorted(Path(f"{code}.sizes").read_text().split()) == ["17x45", "40x30", "40x30"]  # each at its own size
    assert _score(tmp_path / "preds", tmp_path / "gt", tmp_path / "scores")["mad"]["mean"] == 0.0
    meta = json.loads((tmp_path / "preds" / "model.json").read_text())
    assert meta["kind"] == "callable" and meta["weights_sha256"] == file_sha256(code)

    monkeypatch.chdir(code.parent)
    runner = load_runner("segment:green", (20, 10))
    assert runner.input_label == "20x10"
    image = images["a"]
    alpha = runner.predict(runner.prepare(image)[None])[0]
    import cv2

    np.testing.assert_allclose(
        alpha, cv2.resize(image, (20, 10), interpolation=cv2.INTER_AREA)[::2, ::2, 1] / 255.0, atol=1e-7
    )
    broken = load_runner("segment:broken")
    with pytest.raises(ModelError, match=r"segment:broken returned shape \[30, 40, 3\]; expected alpha \(h, w\)"):
        broken.predict(broken.prepare(image)[None])
    with pytest.raises(ModelError, match=r"segment has no blue \(its callables: broken, green, red\)"):
        load_runner("segment:blue")
    with pytest.raises(ModelError, match="nosuchmodule:f: cannot import nosuchmodule"):
        load_runner("nosuchmodule:f")


def test_checkpoint_of_vbbench_train_and_its_export(tmp_path):
    """`vbbench train --steps 2` → predict by weights.pt and by run folder, equal to PyTorch run by hand;
    `vbbench export --weights` of it → ONNX → predict, within an 8-bit level of PyTorch."""
    import torch

    from vbbench.models.runner import to_input
    from vbbench.models.weights import load_unet
    from vbbench.sample import render_portrait

    run = tmp_path / "run"
    _invoke(
        "train",
        "--steps",
        "2",
        "--batch",
        "2",
        "--pool",
        "4",
        "--input",
        "32x32",
        "--validate-every",
        "1",
        "--out",
        run,
    )
    images, gts = {}, {}
    for index in range(3):
        images[f"p{index}"], gts[f"p{index}"] = render_portrait(7, index, 48, 64)
        write_png(tmp_path / "images" / f"p{index}.png", images[f"p{index}"])
        write_png(tmp_path / "gt" / f"p{index}.png", gts[f"p{index}"])
    output = _invoke("predict", "--model", run, "--images", tmp_path / "images", "--out", tmp_path / "by-folder")
    assert "(run, input 32x32)" in output  # the size it was trained at
    _invoke("predict", "--model", run / "weights.pt", "--images", tmp_path / "images", "--out", tmp_path / "by-file")
    model = load_unet(run / "weights.pt")
    import cv2

    for image_id, image in images.items():
        with torch.no_grad():
            alpha = model(torch.from_numpy(to_input(image, 32, 32)[None]))[0, 0].numpy()
        expected = np.round(np.clip(cv2.resize(alpha, (48, 64), interpolation=cv2.INTER_LINEAR), 0, 1) * 255)
        np.testing.assert_array_equal(read_matte(tmp_path / "by-folder" / f"{image_id}.png"), expected)
        np.testing.assert_array_equal(read_matte(tmp_path / "by-file" / f"{image_id}.png"), expected)
    meta = json.loads((tmp_path / "by-folder" / "model.json").read_text())
    assert meta["kind"] == "checkpoint" and meta["synthetic_weights"] is True  # trained on --dataset sample
    assert meta["weights_sha256"] == file_sha256(run / "weights.pt")
    scores = _score(tmp_path / "by-folder", tmp_path / "gt", tmp_path / "scores")
    by_hand = np.mean(
        [np.abs(read_matte(tmp_path / "by-folder" / f"{i}.png") / 255.0 - gts[i] / 255.0).mean() for i in gts]
    )
    assert scores["mad"]["mean"] == pytest.approx(by_hand, rel=1e-12)

    output = _invoke("export", "--weights", run, "--input", "32x32", "--out", tmp_path / "mine.onnx")
    assert "input 32x32" in output
    _invoke("predict", "--model", tmp_path / "mine.onnx", "--images", tmp_path / "images", "--out", tmp_path / "onnx")
    for image_id in images:
        difference = read_matte(tmp_path / "onnx" / f"{image_id}.png").astype(int) - read_matte(
            tmp_path / "by-file" / f"{image_id}.png"
        )
        assert np.abs(difference).max() <= 1
    with pytest.raises(ModelError, match="both sides must be multiples of 16"):
        load_runner(str(run), (40, 40))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelError, match="empty: no weights.pt in this folder"):
        load_runner(str(tmp_path / "empty"))


@pytest.fixture(scope="module")
def landscape_tflite():
    """MediaPipe's landscape model: from the cache, else out of the mediapipe wheel (skip if impossible)."""
    pytest.importorskip("ai_edge_litert", reason="needs the mediapipe extra: pip install 'vbbench[mediapipe]'")
    from vbbench.models import mediapipe

    try:
        return mediapipe.model_file("mediapipe-landscape")
    except ModelError as problem:
        pytest.skip(f"the MediaPipe model is not cached and the mediapipe wheel could not be fetched: {problem}")


def test_mediapipe_tflite_by_path_equals_the_registered_model(landscape_tflite, tmp_path):
    model = tmp_path / "selfie_segmentation_landscape.tflite"
    shutil.copy(landscape_tflite, model)
    frames = Path(__file__).resolve().parent / "data" / "mediapipe" / "images"
    images = tmp_path / "images"
    images.mkdir()
    for name in ("call-640x360-a.png", "call-640x360-b.png"):
        shutil.copy(frames / name, images / name)
    _invoke("predict", "--model", model, "--images", images, "--out", tmp_path / "by-path")
    _invoke("predict", "--model", "mediapipe-landscape", "--images", images, "--out", tmp_path / "registered")
    assert _hashes(tmp_path / "by-path").keys() == _hashes(tmp_path / "registered").keys()
    for name in ("call-640x360-a.png", "call-640x360-b.png"):
        assert file_sha256(tmp_path / "by-path" / name) == file_sha256(tmp_path / "registered" / name)
    # Scored against MediaPipe's own masks of these frames (mediapipe 0.10.21, 16-bit): MAD within its rounding.
    truth = frames.parent / "masks" / "mediapipe-landscape"
    gt = tmp_path / "gt"
    gt.mkdir()
    for name in ("call-640x360-a.png", "call-640x360-b.png"):
        shutil.copy(truth / name, gt / name)
    assert _score(tmp_path / "by-path", gt, tmp_path / "scores")["mad"]["mean"] < 2.5e-3  # 8-bit rounding: ≤ 1/510
    meta = json.loads((tmp_path / "by-path" / "model.json").read_text())
    assert meta["kind"] == "tflite" and meta["name"] == "selfie_segmentation_landscape"

    # With a card that says how to feed it, the same file runs as a generic TFLite model (area resize).
    card = tmp_path / "card.yaml"
    card.write_text(f"path: {model}\nlayout: NHWC\noutput: 0\n")
    generic = load_runner(None, config=card)
    registered = load_runner("mediapipe-landscape", (512, 288))
    assert registered.input_label == "256x144"  # its own input, whatever --input says
    from vbbench.io import read_image
    from vbbench.models.runner import to_input

    image = read_image(images / "call-640x360-a.png")
    np.testing.assert_array_equal(
        generic.predict(generic.prepare(image)[None]), registered.predict(to_input(image, 256, 144)[None])
    )
