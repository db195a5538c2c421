"""MediaPipe selfie segmentation: models taken out of the mediapipe wheel, verified, run under LiteRT."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest

from vbbench.models import mediapipe

pytestmark = pytest.mark.model

CATALOGUE = mediapipe.catalogue()["models"]


def _fake_wheel(path, members: dict[str, bytes]):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    path.write_bytes(buffer.getvalue())
    return path


def test_extract_refuses_a_model_whose_sha256_differs(tmp_path):
    members = {entry["member"]: b"not the recorded model" for entry in CATALOGUE.values()}
    wheel = _fake_wheel(tmp_path / "mediapipe-0.10.21-fake.whl", members)
    first = next(iter(CATALOGUE.values()))
    with pytest.raises(ValueError, match=f"{first['member']} has sha256 [0-9a-f]{{64}}, expected {first['sha256']}"):
        mediapipe.extract_models(wheel, tmp_path / "out")
    assert not list((tmp_path / "out").glob("*.tflite"))


def test_extract_names_the_missing_member_and_the_release(tmp_path):
    wheel = _fake_wheel(tmp_path / "mediapipe-0.11.0-fake.whl", {"mediapipe/__init__.py": b""})
    with pytest.raises(ValueError, match="has no mediapipe/modules/selfie_segmentation/selfie_segmentation.tflite; "
                                         "mediapipe==0.10.21 is the release"):
        mediapipe.extract_models(wheel, tmp_path / "out")
    with pytest.raises(ValueError, match="not a readable wheel"):
        mediapipe.extract_models(_fake_wheel(tmp_path / "x.whl", {}).with_name("missing.whl"), tmp_path / "out")


@pytest.fixture(scope="module")
def model_files():
    """The real models: from the cache, else fetched from PyPI with `pip download` (skip if impossible)."""
    pytest.importorskip("ai_edge_litert", reason="needs the mediapipe extra: pip install 'vbbench[mediapipe]'")
    try:
        return {name: mediapipe.model_file(name) for name in CATALOGUE}
    except RuntimeError as problem:
        pytest.skip(f"MediaPipe models are not cached and the mediapipe wheel could not be fetched: {problem}")


def test_cached_models_match_the_recorded_sha256(model_files):
    import hashlib

    for name, path in model_files.items():
        assert hashlib.sha256(path.read_bytes()).hexdigest() == CATALOGUE[name]["sha256"]
        assert path.stat().st_size == CATALOGUE[name]["bytes"]


@pytest.mark.parametrize(("name", "size"), [("mediapipe-general", (256, 256)), ("mediapipe-landscape", (256, 144))])
def test_runner_input_size_and_output_range(model_files, name, size):
    from vbbench.models.registry import load_runner

    runner = load_runner(name)
    assert (runner.input_width, runner.input_height) == size
    assert runner.weights_sha256 == CATALOGUE[name]["sha256"]
    batch = np.random.default_rng(0).random((2, 3, size[1], size[0]), dtype=np.float32)
    alpha = runner.predict(batch)
    assert alpha.shape == (2, size[1], size[0])
    assert alpha.dtype == np.float32 and alpha.min() >= 0.0 and alpha.max() <= 1.0
    # Each image is run on its own: the batch gives what the single images give.
    np.testing.assert_array_equal(runner.predict(batch[1:]), alpha[1:])


def test_predict_landscape_writes_mattes_at_ground_truth_resolution(model_files, tmp_path):
    from vbbench.io import read_matte, write_png
    from vbbench.models.predict import predict_folder
    from vbbench.models.registry import load_runner

    images = tmp_path / "images"
    rng = np.random.default_rng(1)
    shapes = {"a": (360, 640), "sub/b": (101, 77)}
    for image_id, (height, width) in shapes.items():
        write_png(images / f"{image_id}.png", rng.integers(0, 256, (height, width, 3), dtype=np.uint8))
    summary = predict_folder(load_runner("mediapipe-landscape"), images, tmp_path / "preds", progress=False)
    assert summary["predicted"] == 2 and summary["model"]["input_size"] == "256x144"
    for image_id, shape in shapes.items():
        assert read_matte(tmp_path / "preds" / f"{image_id}.png").shape == shape


def test_landscape_model_segments_the_sample_portraits(model_files):
    """Input convention check (RGB, [0, 1], NHWC): a wrong one makes the person vanish or invert."""
    import cv2

    from vbbench.models.registry import load_runner
    from vbbench.models.train import to_input
    from vbbench.sample import render_portrait

    runner = load_runner("mediapipe-landscape")
    errors = []
    for index in (0, 1):
        image, alpha = render_portrait(0, index, 640, 360)
        predicted = runner.predict(to_input(image, runner.input_width, runner.input_height)[None])[0]
        errors.append(np.abs(cv2.resize(predicted, (640, 360)) - alpha / 255.0).mean())
    # Measured 0.009 and 0.007 mean absolute alpha error; an all-background guess scores 0.17 and 0.13.
    assert max(errors) < 0.03, errors
