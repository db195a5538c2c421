"""MediaPipe selfie segmentation: models taken out of the mediapipe wheel, verified, run under LiteRT."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import Path

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
    with pytest.raises(
        ValueError,
        match="has no mediapipe/modules/selfie_segmentation/selfie_segmentation.tflite; "
        "mediapipe==0.10.21 is the release",
    ):
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
    from vbbench.models.runner import to_input
    from vbbench.sample import render_portrait

    runner = load_runner("mediapipe-landscape")
    errors = []
    for index in (0, 1):
        image, alpha = render_portrait(0, index, 640, 360)
        predicted = runner.predict(to_input(image, runner.input_width, runner.input_height)[None])[0]
        errors.append(np.abs(cv2.resize(predicted, (640, 360)) - alpha / 255.0).mean())
    # Measured 0.009 and 0.007 mean absolute alpha error; an all-background guess scores 0.17 and 0.13.
    assert max(errors) < 0.03, errors


REFERENCE = Path(__file__).resolve().parent / "data" / "mediapipe"


def _our_masks(name: str, images: list[Path], to_input=None) -> dict[str, np.ndarray]:
    """vbbench's path for one model: the runner's input preparation, LiteRT, bilinear resize back."""
    import cv2

    from vbbench.io import read_image

    runner = mediapipe.mediapipe_runner(name)
    masks = {}
    for path in images:
        image = read_image(path)
        prepared = (
            runner.prepare(image) if to_input is None else to_input(image, runner.input_width, runner.input_height)
        )
        alpha = runner.predict(prepared[None])[0]
        masks[path.name] = cv2.resize(alpha, (image.shape[1], image.shape[0]), interpolation=cv2.INTER_LINEAR)
    return masks


def _reference_masks(folder: Path, name: str) -> dict[str, np.ndarray]:
    from vbbench.io import read_matte

    return {path.name: read_matte(path) / 65535.0 for path in sorted((folder / "masks" / name).glob("*.png"))}


@pytest.mark.parametrize("name", sorted(CATALOGUE))
def test_masks_match_mediapipes_own_runtime(model_files, name):
    """tests/data/mediapipe holds masks made by mediapipe 0.10.21 itself (scripts/mediapipe_reference.py)
    on portraits (600×800) and call frames (640×360). vbbench's runner agrees to within 2e-4 (the
    16-bit coding of the reference is 8e-6); with plain area resizing it would not."""
    from vbbench.models.runner import to_input

    record = json.loads((REFERENCE / "reference.json").read_text())
    assert record["mediapipe"] == "0.10.21"
    images = sorted((REFERENCE / "images").glob("*.png"))
    assert {path.name: hashlib.sha256(path.read_bytes()).hexdigest() for path in images} == record["images"]
    reference, ours = _reference_masks(REFERENCE, name), _our_masks(name, images)
    assert sorted(reference) == sorted(ours) and len(ours) == 4
    for image_name, expected in reference.items():
        difference = np.abs(ours[image_name] - expected)
        assert difference.max() < 2e-4, (image_name, float(difference.max()))
        assert difference.mean() < 1e-5, (image_name, float(difference.mean()))
    area = _our_masks(name, images, to_input=to_input)  # what a generic resize would give instead
    assert max(float(np.abs(area[k] - reference[k]).max()) for k in reference) > 0.3


def test_masks_match_a_live_mediapipe_run(model_files, tmp_path):
    """Re-make the reference masks now with mediapipe 0.10.21 itself and check that they equal the
    committed ones. Its Python: $VBBENCH_MEDIAPIPE_PYTHON, else the .venv-mediapipe that
    scripts/install-test-deps.sh makes (mediapipe pins numpy < 2, so it gets its own environment)."""
    import os
    import shutil
    import subprocess

    repo = Path(__file__).resolve().parents[1]
    python = os.environ.get("VBBENCH_MEDIAPIPE_PYTHON") or str(repo / ".venv-mediapipe" / "bin" / "python")
    if not Path(python).exists():
        pytest.skip(
            f"{python} does not exist: run scripts/install-test-deps.sh, or set VBBENCH_MEDIAPIPE_PYTHON to a "
            "Python with mediapipe==0.10.21 (the committed masks are still checked by "
            "test_masks_match_mediapipes_own_runtime)"
        )
    shutil.copytree(REFERENCE / "images", tmp_path / "images")
    made = subprocess.run(
        [python, str(repo / "scripts" / "mediapipe_reference.py"), str(tmp_path)], capture_output=True, text=True
    )
    assert made.returncode == 0, made.stderr[-2000:]
    for name in CATALOGUE:
        live, committed = _reference_masks(tmp_path, name), _reference_masks(REFERENCE, name)
        assert sorted(live) == sorted(committed)
        for image_name in live:
            # The same mediapipe on another CPU rounds its float kernels' last bits differently:
            # between two VMs its masks differed by 1.5e-4 at single edge pixels (mean ~1e-7), the
            # size of the difference vbbench's runner is held to; a real change moves far more.
            difference = np.abs(live[image_name] - committed[image_name])
            assert difference.max() < 2e-4, (name, image_name, float(difference.max()))
            assert difference.mean() < 1e-6, (name, image_name, float(difference.mean()))
