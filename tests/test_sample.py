"""The generated sample: determinism, exact alpha and composite, trimaps, variety, the simulated
models' ranking, resuming, and the `vbbench sample` command. Small frames keep it fast."""

from __future__ import annotations

import hashlib
import json
import math

import cv2
import numpy as np
import pytest
from scipy import ndimage
from typer.testing import CliRunner

from vbbench import sample
from vbbench.cli import app
from vbbench.io import read_image, read_matte
from vbbench.metrics import mad
from vbbench.sample import (
    SIMULATED_MODELS,
    generate_sample,
    make_trimap,
    render_layers,
    render_portrait,
    simulate_prediction,
)

runner = CliRunner()
SMALL = {"width": 96, "height": 128}


def _tree(root):
    """{relative path: bytes} of every file under ``root``."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _files_of(index, models=SIMULATED_MODELS):
    name = f"sample_{index:04d}.png"
    return {f"images/{name}", f"alpha/{name}", f"trimaps/{name}"} | {f"predictions/{m}/{name}" for m in models}


# ---- determinism and layout -----------------------------------------------------------------


def test_same_seed_same_bytes_serial_and_parallel_and_manifest_hashes(tmp_path):
    first = generate_sample(tmp_path / "a", count=3, seed=5, progress=False, **SMALL)
    second = generate_sample(tmp_path / "b", count=3, seed=5, workers=2, progress=False, **SMALL)
    assert first == tmp_path / "a"
    files_a, files_b = _tree(first), _tree(second)
    assert files_a == files_b
    expected = set().union(*(_files_of(i) for i in range(3))) | {"sample.json"}
    assert set(files_a) == expected  # nothing else, no leftover temporary or in-progress files

    manifest = json.loads(files_a["sample.json"])
    assert manifest["schema"] == "vbbench-sample/1"
    assert (manifest["seed"], manifest["count"], manifest["width"], manifest["height"]) == (5, 3, 96, 128)
    assert manifest["models"] == list(SIMULATED_MODELS)
    assert manifest["generator_version"] == sample.GENERATOR_VERSION
    assert manifest["trimap_radius_px"] == 10
    assert manifest["files"] == {
        path: hashlib.sha256(data).hexdigest() for path, data in files_a.items() if path != "sample.json"
    }
    # The files hold what the public functions compute.
    image, alpha = render_portrait(5, 2, **SMALL)
    assert np.array_equal(read_image(first / "images/sample_0002.png"), image)
    assert np.array_equal(read_matte(first / "alpha/sample_0002.png"), alpha)
    assert np.array_equal(read_matte(first / "trimaps/sample_0002.png"), make_trimap(alpha))
    for model in SIMULATED_MODELS:
        stored = read_matte(first / f"predictions/{model}/sample_0002.png")
        assert np.array_equal(stored, simulate_prediction(alpha, model, 5, 2)), model


def test_image_i_does_not_depend_on_count_and_seeds_differ(tmp_path):
    three = _tree(generate_sample(tmp_path / "three", count=3, progress=False, **SMALL))
    five = _tree(generate_sample(tmp_path / "five", count=5, progress=False, **SMALL))
    for index in range(3):
        for path in _files_of(index):
            assert three[path] == five[path], path
    assert json.loads(five["sample.json"])["count"] == 5
    assert not np.array_equal(render_portrait(0, 0, **SMALL)[1], render_portrait(1, 0, **SMALL)[1])
    assert not np.array_equal(render_portrait(0, 0, **SMALL)[1], render_portrait(0, 1, **SMALL)[1])


def test_per_image_stream_is_the_seed_sequence_spawn():
    # Documented: image i uses SeedSequence(seed).spawn(n)[i], whatever n is.
    child = np.random.SeedSequence(7).spawn(4)[3]
    assert sample.render._rng(7, 3).random() == np.random.default_rng(child).random()


# ---- the matte and the composite ------------------------------------------------------------


def test_alpha_has_opaque_core_transparent_background_and_thin_soft_hair():
    with_strands = 0
    for index in range(6):
        layers = render_layers(0, index, 240, 320)
        alpha = layers.alpha
        assert alpha.dtype == np.uint8 and alpha.shape == (320, 240)
        assert (alpha == 255).mean() > 0.15, f"opaque core, image {index}"
        assert (alpha == 0).mean() > 0.25, f"transparent background, image {index}"
        soft = (alpha > 0) & (alpha < 255)
        assert soft.mean() > 0.005, f"a soft band of meaningful size, image {index}"
        assert (soft & (alpha < 64)).sum() > 100 and (soft & (alpha > 192)).sum() > 50, "values across the range"
        # Thin semi-transparent strands: partial alpha more than 6 px from any opaque pixel and
        # outside the head ellipse grown by 20 %.
        cx, cy, rx, ry, tilt = layers.head
        y, x = np.mgrid[0:320, 0:240].astype(np.float64)
        u = (x - cx) * math.cos(tilt) + (y - cy) * math.sin(tilt)
        v = -(x - cx) * math.sin(tilt) + (y - cy) * math.cos(tilt)
        outside_head = (u / (1.2 * rx)) ** 2 + (v / (1.2 * ry)) ** 2 > 1
        far_from_core = ndimage.distance_transform_edt(alpha < 255) > 6
        strands = soft & outside_head & far_from_core
        assert strands.sum() >= 10, f"stray hairs, image {index}"
        assert np.median(alpha[strands]) < 128, "strands are mostly faint"
        with_strands += strands.sum() > 300
    assert with_strands >= 4  # a buzz cut has only short strands


@pytest.mark.parametrize("index", range(12))  # covers defocused, noisy and hand-raising subjects
def test_composite_is_alpha_blend_of_foreground_and_background(index):
    layers = render_layers(2, index, 150, 200)
    image, alpha = render_portrait(2, index, 150, 200)
    assert np.array_equal(alpha, layers.alpha)
    assert np.array_equal(image, layers.composite())
    for layer in (layers.foreground, layers.background):
        assert layer.shape == (200, 150, 3) and layer.min() >= 0 and layer.max() <= 255
    a = alpha.astype(np.float64)[..., None] / 255
    exact = a * layers.foreground.astype(np.float64) + (1 - a) * layers.background.astype(np.float64)
    assert np.abs(image - exact).max() <= 0.5 + 1e-3
    # Where alpha is 0 the image is the background; where 255, the foreground.
    assert np.array_equal(image[alpha == 0], np.rint(layers.background[alpha == 0]).astype(np.uint8))
    assert np.array_equal(image[alpha == 255], np.rint(layers.foreground[alpha == 255]).astype(np.uint8))


def test_composite_cases_include_defocus_and_sensor_noise():
    renders = [render_layers(2, index, 150, 200) for index in range(12)]  # the images checked above
    assert any(layers.defocus_px > 0 for layers in renders)
    assert any(layers.sensor_noise_codes > 0 for layers in renders)
    assert any(layers.defocus_px == 0 and layers.sensor_noise_codes == 0 for layers in renders)


def test_images_vary_in_subject_and_background():
    renders = [render_layers(0, index, 120, 160) for index in range(8)]
    centroids, areas, backgrounds = [], [], []
    for layers in renders:
        weight = layers.alpha.astype(np.float64) / 255
        y, x = np.mgrid[0:160, 0:120]
        centroids.append(((weight * x).sum() / weight.sum(), (weight * y).sum() / weight.sum()))
        areas.append(weight.sum())
        image = layers.composite()
        backgrounds.append(image[layers.alpha == 0].mean(axis=0))
    for i in range(8):
        for j in range(i + 1, 8):
            moved = np.hypot(*np.subtract(centroids[i], centroids[j]))
            resized = abs(areas[i] - areas[j]) / max(areas[i], areas[j])
            assert moved > 1 or resized > 0.02, (i, j)
            assert np.abs(backgrounds[i] - backgrounds[j]).max() > 3, (i, j)
    heads = np.array([layers.head for layers in renders])
    assert np.ptp(heads[:, 0]) > 10 and np.ptp(heads[:, 2]) > 2 and np.ptp(heads[:, 4]) > 0.1
    assert len({layers.hair_style for layers in renders}) >= 3
    assert len({layers.background_kind for layers in renders}) >= 3


def test_scene_scales_with_the_frame():
    large, small = render_layers(4, 1, 600, 800), render_layers(4, 1, 150, 200)
    # Same scene in miniature: the head sits at the same relative place with the same relative size.
    assert np.allclose(np.array(large.head[:4]) / 4, small.head[:4], rtol=1e-9)
    assert abs((large.alpha == 255).mean() - (small.alpha == 255).mean()) < 0.03


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="seed must be a non-negative integer, got -1"):
        render_portrait(-1, 0)
    with pytest.raises(ValueError, match="width and height must be at least 32 px, got 16×64"):
        render_portrait(0, 0, 16, 64)


# ---- trimaps --------------------------------------------------------------------------------


@pytest.mark.parametrize("radius", [0, 3, 10])
def test_trimap_is_the_euclidean_band_around_soft_and_boundary_pixels(radius):
    alpha = render_portrait(1, 2, 120, 160)[1]
    trimap = make_trimap(alpha, radius)
    assert set(np.unique(trimap)) <= {0, 128, 255}
    # Independent definition: known iff the nearest pixel of another kind is farther than radius.
    known_foreground = ndimage.distance_transform_edt(alpha == 255) > radius
    known_background = ndimage.distance_transform_edt(alpha == 0) > radius
    assert np.array_equal(trimap == 255, known_foreground)
    assert np.array_equal(trimap == 0, known_background)
    soft = (alpha > 0) & (alpha < 255)
    assert (trimap[soft] == 128).all()
    assert (alpha[trimap == 255] == 255).all() and (alpha[trimap == 0] == 0).all()


def test_trimap_hand_worked_and_frame_edge_is_not_a_boundary():
    alpha = np.zeros((5, 9), np.uint8)
    alpha[:, 5:] = 255
    alpha[:, 4] = 100
    expected_row = [0, 0, 128, 128, 128, 128, 128, 255, 255]
    assert make_trimap(alpha, radius=2).tolist() == [expected_row] * 5
    with pytest.raises(ValueError, match=r"alpha must be a 2-D uint8 or uint16 matte, got shape \(5, 9\) and float64"):
        make_trimap(alpha.astype(float))


# ---- simulated models -----------------------------------------------------------------------


def test_simulated_models_rank_by_mad_as_documented():
    errors = np.array(
        [
            [mad(simulate_prediction(alpha, model, 0, index), alpha) for model in SIMULATED_MODELS]
            for index in range(6)
            for alpha in [render_portrait(0, index, 240, 320)[1]]
        ]
    )
    means = errors.mean(axis=0)
    # Best first, each clearly worse than the one before (at least 20 % on the mean).
    assert (means[1:] > 1.2 * means[:-1]).all(), dict(zip(SIMULATED_MODELS, means))
    assert means[0] < 0.005 and means[-1] > 0.03


def test_simulated_models_do_what_they_say():
    alpha = render_portrait(3, 1, 120, 160)[1]
    thresholded = simulate_prediction(alpha, "sim-thresholded", 3, 1)
    assert np.array_equal(thresholded, np.where(alpha >= 128, 255, 0).astype(np.uint8))
    blurred = simulate_prediction(alpha, "sim-blurred", 3, 1)
    sigma = 6 * math.sqrt(120 * 160 / (600 * 800))
    reference = ndimage.gaussian_filter(alpha.astype(np.float64), sigma, mode="reflect", truncate=4)
    interior = np.s_[10:-10, 10:-10]  # the two blurs differ only in how they pad the edge
    assert np.abs(blurred[interior].astype(float) - reference[interior]).max() <= 1.5
    shifted = simulate_prediction(alpha, "sim-shifted", 3, 1).astype(float)
    # Some integer shift of 1-3 px (7-11 px at 600×800, ×0.2 here) explains it better than none.
    best = min(
        np.abs(np.roll(alpha.astype(float), (dy, dx), (0, 1)) - shifted)[interior].mean()
        for dy in range(-3, 4)
        for dx in range(-3, 4)
    )
    assert best < 0.5 * np.abs(alpha.astype(float) - shifted)[interior].mean()
    for model in SIMULATED_MODELS:
        prediction = simulate_prediction(alpha, model, 3, 1)
        assert prediction.dtype == np.uint8 and prediction.shape == alpha.shape
        assert np.array_equal(prediction, simulate_prediction(alpha, model, 3, 1)), "deterministic"
        assert not np.array_equal(prediction, alpha) or model == "sim-thresholded"


def test_unknown_model_suggests_the_closest_name():
    alpha = np.zeros((8, 8), np.uint8)
    with pytest.raises(ValueError, match=r"unknown simulated model 'sim-god'; did you mean 'sim-good'\?"):
        simulate_prediction(alpha, "sim-god", 0, 0)
    with pytest.raises(ValueError, match="unknown simulated model 'sim-god'"):
        generate_sample("unused", models=["sim-god"], progress=False)
    with pytest.raises(ValueError, match="count must be an integer ≥ 1, got 0"):
        generate_sample("unused", count=0, progress=False)


# ---- resuming -------------------------------------------------------------------------------


def test_resume_rewrites_only_the_missing_or_damaged_files(tmp_path):
    root = generate_sample(tmp_path / "s", count=2, progress=False, **SMALL)
    before = _tree(root)
    stats = {path: (root / path).stat() for path in before}
    missing, damaged = "predictions/sim-coarse/sample_0001.png", "alpha/sample_0000.png"
    (root / missing).unlink()
    (root / damaged).write_bytes(before[damaged][:-20])  # cut off: no IEND chunk
    damaged_stat = (root / damaged).stat()
    generate_sample(root, count=2, progress=False, **SMALL)
    assert _tree(root) == before
    for path, stat in stats.items():
        now = (root / path).stat()
        if path in (missing, damaged, "sample.json"):
            continue
        assert (now.st_ino, now.st_mtime_ns) == (stat.st_ino, stat.st_mtime_ns), f"{path} was rewritten"
    assert (root / damaged).stat().st_ino != damaged_stat.st_ino


def test_interrupted_run_resumes_and_refuses_other_parameters(tmp_path, monkeypatch):
    reference = _tree(generate_sample(tmp_path / "reference", count=3, progress=False, **SMALL))
    original = sample.render_portrait

    def fail_on_second(seed, index, width, height):
        if index == 1:
            raise KeyboardInterrupt
        return original(seed, index, width, height)

    monkeypatch.setattr(sample.writer, "render_portrait", fail_on_second)
    root = tmp_path / "interrupted"
    with pytest.raises(KeyboardInterrupt):
        generate_sample(root, count=3, progress=False, **SMALL)
    assert not (root / "sample.json").exists() and (root / "images/sample_0000.png").exists()
    monkeypatch.setattr(sample.writer, "render_portrait", original)
    with pytest.raises(
        ValueError,
        match=f"{root} already holds a sample generated with seed=0, not seed=1; "
        "choose another output folder or delete it",
    ):
        generate_sample(root, count=3, seed=1, progress=False, **SMALL)
    generate_sample(root, count=3, progress=False, **SMALL)
    assert _tree(root) == reference
    with pytest.raises(ValueError, match="already holds a sample generated with width=96, not width=64"):
        generate_sample(root, count=3, progress=False, width=64, height=128)


# ---- the command ----------------------------------------------------------------------------


def test_cli_writes_the_sample_and_says_how_to_score_it(tmp_path):
    out = tmp_path / "demo"
    result = runner.invoke(
        app, ["sample", str(out), "--count", "2", "--seed", "3", "--width", "64", "--height", "96", "--workers", "1"]
    )
    assert result.exit_code == 0, result.output
    assert (
        f"vbbench score {out / 'predictions' / 'sim-good'} --gt {out / 'alpha'} --trimap {out / 'trimaps'}"
        in result.output
    )
    manifest = json.loads((out / "sample.json").read_text())
    assert (manifest["count"], manifest["seed"], manifest["width"], manifest["height"]) == (2, 3, 64, 96)
    assert cv2.imread(str(out / "images/sample_0001.png")).shape == (96, 64, 3)
    assert _tree(out) == _tree(generate_sample(tmp_path / "api", count=2, seed=3, width=64, height=96, progress=False))

    again = runner.invoke(app, ["sample", str(out), "--count", "2", "--seed", "4", "--width", "64", "--height", "96"])
    assert again.exit_code == 1
    assert "already holds a sample generated with seed=3, not seed=4" in again.output
    too_small = runner.invoke(app, ["sample", str(tmp_path / "x"), "--width", "8"])
    assert too_small.exit_code == 2 and "--width" in too_small.output


def test_smaller_count_in_an_existing_folder_warns_about_the_files_left_over(tmp_path):
    root = generate_sample(tmp_path / "s", count=3, progress=False, **SMALL)
    with pytest.warns(
        UserWarning,
        match=r"9 files beyond --count 2 \(e.g. alpha/sample_0002.png\) are left "
        r"from an earlier run and are not part of this sample",
    ):
        generate_sample(root, count=2, progress=False, **SMALL)
    manifest = json.loads((root / "sample.json").read_text())
    assert manifest["count"] == 2 and not any("sample_0002" in path for path in manifest["files"])
    assert (root / "images/sample_0002.png").exists()


def test_cli_reports_an_output_path_that_is_a_file(tmp_path):
    target = tmp_path / "taken"
    target.write_text("not a folder")
    result = runner.invoke(app, ["sample", str(target), "--count", "1", "--width", "64", "--height", "96"])
    assert result.exit_code == 1
    assert f"{target}: exists and is not a folder; choose a folder for the sample" in result.output


def test_some_subjects_enclose_background_and_some_are_close_ups():
    # Hands on hips and raised hands leave background enclosed by the subject (a matting case
    # in its own right); close-ups fill the frame.
    enclosed, widest_head = 0, 0.0
    for index in range(30):
        layers = render_layers(0, index, 120, 160)
        count, labels, stats, _ = cv2.connectedComponentsWithStats((layers.alpha == 0).astype(np.uint8), connectivity=4)
        touching = set(np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]])))
        enclosed += any(stats[k, cv2.CC_STAT_AREA] >= 30 for k in range(1, count) if k not in touching)
        widest_head = max(widest_head, 2 * layers.head[2] / 120)
    assert enclosed >= 3
    assert widest_head > 0.36  # head width over frame width
