"""The clips generator: exact ground truth and motion, determinism, the layers behind a clip, and
the ``clips`` variant on disk (made, resumed, never silently replaced)."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from vbbench.clips import (
    ClipSpec,
    clips_complete,
    estimate_layers,
    flows_from_manifest,
    frame_layers,
    layered_flow,
    make_clip,
    motion_field,
    read_clip_manifest,
    sample_layers,
    write_clip,
)
from vbbench.errors import VariantError
from vbbench.metrics import flicker
from vbbench.metrics.motion import sample_forward
from vbbench.sample import render_layers
from vbbench.trimaps import make_trimap

SOURCE = "source"  # the portrait at its own size: small frames, fast tests


def _sample_layers(index=3, width=96, height=128):
    return render_layers(0, index, width, height)


def _texture(seed, height, width, sigma=2.0):
    rng = np.random.default_rng(seed)
    planes = [cv2.GaussianBlur(rng.random((height, width)).astype(np.float32) * 255, (0, 0), sigma) for _ in range(3)]
    layer = np.dstack(planes)
    return np.clip((layer - layer.mean()) * 4 + 128, 0, 255).astype(np.float32)


def _textured_layers(width=256, height=256):
    """Noise-textured foreground and background (Farneback needs texture) and a soft ellipse."""
    alpha = np.zeros((height, width), np.float32)
    cv2.ellipse(alpha, (width // 2, height // 2), (width // 4, height // 3), 0, 0, 360, 255, -1)
    alpha = np.rint(cv2.GaussianBlur(alpha, (0, 0), 1.5)).astype(np.uint8)
    return _texture(1, height, width), _texture(2, height, width), alpha


@pytest.fixture(scope="module")
def sample_clip():
    return make_clip(None, None, "sample_0003", ClipSpec(frames=8, framing=SOURCE), layers=_sample_layers())


@pytest.mark.parametrize("framing", ["source", "call16x9"])
def test_exact_motion_agrees_with_farneback_on_a_smooth_clip(framing):
    """Tolerance: on textured layers, ≥ 10 px from matte edges and frame borders, the end-point
    error between the exact layered field and Farneback flow of the rendered frames has median
    ≤ 0.05 px and 99th percentile ≤ 0.15 px (measured in the prototype: ≈ 0.02 and ≈ 0.09 px at
    256² and 600×800). The call frame is cut from a 600×800 portrait, as the sample's are, so its
    texture is not blurred by upscaling."""
    layers = _textured_layers() if framing == "source" else _textured_layers(600, 800)
    for shake in (False, True):
        clip = make_clip(
            None,
            None,
            "toy",
            ClipSpec(frames=4, camera_shake=shake, lighting=False, noise_codes=0.0, framing=framing),
            layers=layers,
        )
        for t in range(3):
            f0, f1 = clip.frames[t], clip.frames[t + 1]
            g0 = cv2.cvtColor(f0.image, cv2.COLOR_BGR2GRAY)
            g1 = cv2.cvtColor(f1.image, cv2.COLOR_BGR2GRAY)
            estimated = cv2.calcOpticalFlowFarneback(
                g0, g1, None, 0.5, 3, 15, 3, 7, 1.5, cv2.OPTFLOW_FARNEBACK_GAUSSIAN
            )
            exact = layered_flow(f0.params, f1.params, f0.alpha, f1.alpha)
            edge = ((f0.alpha > 0) & (f0.alpha < 255)).astype(np.uint8)
            far = cv2.distanceTransform(1 - edge, cv2.DIST_L2, 5) > 10
            keep = np.isfinite(exact).all(axis=2) & far
            keep[:10] = keep[-10:] = False
            keep[:, :10] = keep[:, -10:] = False
            epe = np.linalg.norm(estimated - exact, axis=2)[keep]
            magnitude = np.linalg.norm(exact, axis=2)[keep]
            assert np.median(magnitude) > 0.1  # there is motion to agree on
            assert np.median(epe) <= 0.05
            assert np.percentile(epe, 99) <= 0.15
            flipped = np.linalg.norm(estimated + exact, axis=2)[keep]
            assert np.median(flipped) > 2 * np.median(epe) + 0.1


def test_motion_field_moves_the_matte_onto_the_next_frame(sample_clip):
    for t in range(3):
        f0, f1 = sample_clip.frames[t], sample_clip.frames[t + 1]
        field = motion_field(f0.params, f1.params, f0.alpha.shape)
        person = f0.alpha > 0
        (moved,), valid = sample_forward([f1.alpha.astype(float)], field.foreground)
        (still,), valid0 = sample_forward([f1.alpha.astype(float)], np.zeros_like(field.foreground))
        error = np.abs(moved - f0.alpha)[person & valid].mean()
        error_without_motion = np.abs(still - f0.alpha)[person & valid0].mean()
        (back,), valid1 = sample_forward([f1.alpha.astype(float)], -field.foreground)
        error_reversed = np.abs(back - f0.alpha)[person & valid1].mean()
        assert error < 2.5  # codes: bilinear re-sampling of thin strands, nothing more
        assert error < 0.7 * error_without_motion and error < 0.5 * error_reversed


def test_layered_flow_marks_occlusions():
    a0 = np.zeros((1, 6), np.uint8)
    a0[0, 1:3] = 255
    a1 = np.zeros((1, 6), np.uint8)
    a1[0, 2:4] = 255
    p0 = {"camera": np.eye(3), "person": np.eye(3)}
    p1 = {"camera": np.eye(3), "person": [[1, 0, 1.0], [0, 1, 0], [0, 0, 1]]}
    flow = layered_flow(p0, p1, a0, a1)
    assert flow[0, :, 0].tolist()[:3] == [0.0, 1.0, 1.0]
    assert np.isnan(flow[0, 3]).all()  # background pixel 3 is covered at t + 1
    assert flow[0, 4:, 0].tolist() == [0.0, 0.0]


def test_clip_is_reproducible_byte_for_byte_and_seeded():
    layers = _sample_layers()
    one = make_clip(None, None, "sample_0003", ClipSpec(frames=5), layers=layers)
    two = make_clip(None, None, "sample_0003", ClipSpec(frames=5), layers=layers)
    longer = make_clip(None, None, "sample_0003", ClipSpec(frames=8), layers=layers)
    other_seed = make_clip(None, None, "sample_0003", ClipSpec(frames=5, seed=1), layers=layers)
    other_id = make_clip(None, None, "sample_0004", ClipSpec(frames=5), layers=layers)
    for a, b, c in zip(one.frames, two.frames, longer.frames):
        for field in ("image", "alpha", "trimap"):
            assert getattr(a, field).tobytes() == getattr(b, field).tobytes() == getattr(c, field).tobytes()
        assert json.dumps(a.params["camera"]) == json.dumps(b.params["camera"]) == json.dumps(c.params["camera"])
        assert a.params["person"] == c.params["person"]
    assert one.frames[1].image.tobytes() != other_seed.frames[1].image.tobytes()
    assert one.frames[1].params["person"] != other_id.frames[1].params["person"]


def test_clip_frames_are_exact_composites_of_the_layers():
    fg, bg, alpha = _textured_layers(64, 48)
    spec = ClipSpec(frames=3, lighting=False, noise_codes=0.0, framing=SOURCE)
    clip = make_clip(None, None, "toy", spec, layers=(fg, bg, alpha))
    for frame in clip.frames:
        person = np.asarray(frame.params["person"])[:2]
        camera = np.asarray(frame.params["camera"])[:2]
        size = (alpha.shape[1], alpha.shape[0])
        f = cv2.warpAffine(fg, person, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        b = cv2.warpAffine(bg, camera, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
        a = frame.alpha.astype(np.float32)[..., None] / 255
        expected = np.clip(np.rint(b + a * (f - b)), 0, 255).astype(np.uint8)
        assert np.abs(expected.astype(int) - frame.image).max() <= 1  # float32 evaluation order
        assert np.array_equal(frame.trimap, make_trimap(frame.alpha, spec.trimap_radius))


def test_static_stretch_holds_motion_but_not_noise():
    layers = _sample_layers()
    clip = make_clip(None, None, "sample_0003", ClipSpec(frames=8, static=(3, 7)), layers=layers)
    static = [f.params["static"] for f in clip.frames]
    assert static == [False, False, False, True, True, True, True, False]
    held = clip.frames[3:7]
    assert len({f.alpha.tobytes() for f in held}) == 1
    assert all(f.params["camera"] == held[0].params["camera"] for f in held)
    assert all(f.params["lighting"] == held[0].params["lighting"] for f in held)
    assert len({f.image.tobytes() for f in held}) == 4  # sensor noise goes on
    assert clip.frames[7].params["person"] != held[0].params["person"]  # and motion resumes
    gts = [f.alpha for f in clip.frames]
    assert flicker(gts, gts, static=static) == 0.0
    # A "model" that passes image noise into its matte flickers. Its matte is squeezed into
    # [0.25, 0.75] so the ±0.05 of noise stays inside [0, 1] without clipping.
    reactive = [
        0.25 + 0.5 * (g / 255.0) + (cv2.cvtColor(f.image, cv2.COLOR_BGR2GRAY) - 128.0) / 2550.0
        for g, f in zip(gts, clip.frames)
    ]
    assert flicker(reactive, gts, static=static) > 1e-4


def test_clip_spec_validation_and_record():
    with pytest.raises(VariantError, match="1 … 9999 frames"):
        ClipSpec(frames=0)
    with pytest.raises(VariantError, match=r"static=\(5, 40\) must be a range"):
        ClipSpec(static=(5, 40))
    with pytest.raises(VariantError, match="camera_move must be one of"):
        ClipSpec(camera_move="dolly")
    with pytest.raises(VariantError, match="framing must be one of call16x9, source"):
        ClipSpec(framing="square")
    assert ClipSpec(camera_move="pan").camera_move == "pan"
    assert ClipSpec(frames=4).static is None  # a third of 4 frames is too short to be a stretch
    spec = ClipSpec(frames=12, count=3)
    assert spec.static == (8, 12) and ClipSpec.from_record(json.loads(json.dumps(spec.record()))) == spec


@pytest.mark.slow
def test_clip_from_image_and_matte_uses_pymatting_and_cleans_the_plate():
    """Slow only the first time in an environment: pymatting's numba kernels compile (~1 min) and are
    cached next to pymatting (or in $NUMBA_CACHE_DIR); after that this takes about a second."""
    pytest.importorskip("pymatting", reason="clips of real portraits need the 'clips' extra")
    layers = _sample_layers(index=1, width=120, height=160)
    image, alpha = layers.composite(), layers.alpha
    foreground, plate, info = estimate_layers(image, alpha)
    assert info["layers"] == "estimated" and "pymatting" in info["foreground"]
    assert np.array_equal(plate[alpha == 0], image[alpha == 0].astype(np.float32))
    # Where the person stood (α > 0.5) near the silhouette (the band motion can uncover), the plate
    # is close to the true background, and far closer than the image (which shows the person).
    unseen = (alpha > 127).astype(np.uint8)
    band = (unseen > 0) & (cv2.distanceTransform(unseen, cv2.DIST_L2, 5) <= 8)
    plate_error = np.abs(plate - layers.background).mean(axis=2)[band].mean()
    image_error = np.abs(image.astype(np.float32) - layers.background).mean(axis=2)[band].mean()
    assert plate_error < 12 and plate_error < 0.4 * image_error
    # Foreground colour where the person is.
    assert np.abs(foreground - layers.foreground).mean(axis=2)[alpha > 127].mean() < 3
    clip = make_clip(image, alpha, "sample_0001", ClipSpec(frames=3))
    assert clip.params["layers"] == "estimated"
    # Framed as a call (the default), then separated at the call frame's size.
    assert clip.params["framing"] == "call16x9" and clip.params["crop_px"][2] == image.shape[1]
    assert clip.frames[0].image.shape == (360, 640, 3) and clip.frames[2].alpha.dtype == np.uint8


def test_call_framing_cuts_the_layers_as_the_call16x9_variant_cuts_the_portrait():
    from vbbench.variants import transform

    layers = render_layers(0, 5, 600, 800)
    image = layers.composite()
    foreground, background, alpha, framed_image, info = frame_layers(
        layers.foreground, layers.background, layers.alpha, image
    )
    variant_image, variant_alpha, _, params = transform(image, layers.alpha, "call16x9", "sample_0005")
    assert np.array_equal(alpha, variant_alpha) and np.array_equal(framed_image, variant_image)
    assert info["crop_px"] == params["crop_px"] and alpha.shape == (360, 640)
    # Premultiplied: inside the person the foreground is the plain resize; at the edge it is not
    # pulled towards the (meaningless) foreground colour outside the person.
    x0, y0, x1, y1 = info["crop_px"]
    plain = cv2.resize(layers.foreground[y0:y1, x0:x1], (640, 360), interpolation=cv2.INTER_AREA)
    inside = cv2.erode((alpha == 255).astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    assert np.abs(foreground - plain)[inside].max() < 0.01
    recomposed = background + alpha[..., None] / 255.0 * (foreground - background)
    assert np.abs(recomposed - variant_image).mean() < 1.0  # codes: the framed layers remake the frame


def test_sample_layers_are_checked_against_the_stored_image():
    layers = render_layers(0, 7, 60, 80)
    assert np.array_equal(sample_layers("sample_0007", layers.composite(), 0, 60, 80).alpha, layers.alpha)
    with pytest.raises(VariantError, match="the prepared sample is stale"):
        sample_layers("sample_0007", layers.composite(), 1, 60, 80)
    with pytest.raises(VariantError, match="not an id of the embedded sample"):
        sample_layers("training/00001", layers.composite(), 0, 60, 80)


# ---- the clips variant on disk ---------------------------------------------------------------------


def _files(data):
    from vbbench.prepared import PreparedDataset

    prepared = PreparedDataset("sample", data)
    return prepared, prepared.variant("clips")


def test_prepare_writes_clips_of_the_first_test_items_with_exact_mattes(prepared_clips):
    from vbbench.io import read_image, read_matte

    data, _ = prepared_clips
    prepared, files = _files(data)
    first_three = [pair.id for pair in prepared.split_pairs("test")][:3]
    clips = read_clip_manifest(files.manifest)
    assert sorted(clips) == first_three  # clip folders are the source ids (no '/' in sample ids)
    for name, rows in clips.items():
        assert [row["id"] for row in rows] == [f"{name}/{t:04d}" for t in range(6)]
        assert {row["source_id"] for row in rows} == {name} and {row["transform"] for row in rows} == {"clips"}
        assert [row["params"]["static"] for row in rows] == [False] * 4 + [True] * 2
        spec = ClipSpec.from_record(rows[0]["params"]["clip"]["spec"])
        assert spec == ClipSpec(frames=6, count=3) and "clip" not in rows[1]["params"]
        # Independently: re-render the portrait, frame it, warp its matte by the manifest's person
        # transform: the stored ground truth, bit for bit.
        layers = render_layers(0, int(name.split("_")[1]), 600, 800)
        _, _, framed, _, _ = frame_layers(None, None, layers.alpha)
        for row in rows:
            person = np.asarray(row["params"]["person"])[:2]
            warped = cv2.warpAffine(
                framed.astype(np.float32), person, (640, 360), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
            )
            image_path, alpha_path, trimap_path = files.files_of(row["id"])
            image, alpha, trimap = read_image(image_path), read_matte(alpha_path), read_matte(trimap_path)
            assert np.array_equal(alpha, np.clip(np.rint(warped), 0, 255).astype(np.uint8))
            assert np.array_equal(trimap, make_trimap(alpha)) and image.shape == (360, 640, 3)
        alphas = [read_matte(files.files_of(row["id"])[1]) for row in rows]
        assert alphas[4].tobytes() == alphas[5].tobytes()  # held still
        assert len(flows_from_manifest(rows, alphas)) == 5
    assert clips_complete(prepared, "clips", [pair.id for pair in prepared.split_pairs("test")])


def test_an_interrupted_clips_run_redoes_only_unfinished_clips(prepared_clips, tmp_path):
    import shutil

    from typer.testing import CliRunner

    from vbbench.cli import app

    source, args = prepared_clips
    data = tmp_path / "data"
    shutil.copytree(source, data)
    args = [str(data) if arg == str(source) else arg for arg in args]
    _, files = _files(data)
    clips = read_clip_manifest(files.manifest)
    kept, _, lost = sorted(clips)
    # As if killed while the second clip was being written: journal of the first, half of the second.
    journal = files.manifest.read_text().splitlines()
    files.journal.write_text("\n".join(line for line in journal if not line.startswith(f"{lost}/")) + "\n")
    files.manifest.unlink()
    (files.images / lost / "0003.png").unlink()
    stamps = {path: path.stat().st_mtime_ns for path in (files.images / kept).iterdir()}
    journal_text = "\n".join(journal) + "\n"
    result = CliRunner().invoke(app, [*args, "--variants", "clips", "--clip-frames", "6", "--clip-count", "3"])
    assert result.exit_code == 0, result.output
    assert {path: path.stat().st_mtime_ns for path in (files.images / kept).iterdir()} == stamps
    assert (files.images / lost / "0003.png").is_file() and not files.journal.exists()
    assert read_clip_manifest(files.manifest).keys() == clips.keys()
    assert files.manifest.read_text() == journal_text  # the same rows, byte for byte
    # Another spec never replaces clips silently; the default spec takes the clips that are there.
    other = CliRunner().invoke(app, [*args, "--variants", "clips", "--clip-frames", "8", "--clip-count", "3"])
    assert other.exit_code == 1
    assert "holds clips made with another spec (frames=6 instead of 8" in other.output
    assert f"delete {files.root}" in " ".join(other.output.split())
    again = CliRunner().invoke(app, [*args, "--variants", "clips"])
    assert again.exit_code == 0, again.output


def test_clips_are_made_on_request_and_the_error_says_how(prepared_clips, tmp_path):
    from vbbench.prepared import PreparedDataset
    from vbbench.variants import VARIANTS, default_variants, prepared_files

    assert "clips" not in default_variants() and VARIANTS["clips"].on_request and VARIANTS["clips"].landscape
    with pytest.raises(VariantError, match=r"run `vbbench prepare sample --data-dir .* --variants clips`"):
        prepared_files(PreparedDataset("sample", tmp_path), "clips")
    with pytest.raises(VariantError, match="clips is a family of clips"):
        VARIANTS["clips"].apply(np.zeros((4, 4, 3), np.uint8), np.zeros((4, 4), np.uint8), "x")


def test_write_clip_rows_and_names(tmp_path, sample_clip):
    from vbbench.clips import clip_name, group_clips
    from vbbench.errors import ScoreError
    from vbbench.prepared import PreparedDataset

    files = PreparedDataset("sample", tmp_path).variant("clips")
    rows = write_clip(sample_clip, files, clip_name("testing/00001"), group="g")
    assert [row["id"] for row in rows][:2] == ["testing+00001/0000", "testing+00001/0001"]
    assert all(path.is_file() for row in rows for path in files.files_of(row["id"]))
    assert json.loads(rows[0]["params"])["clip"]["source_id"] == "sample_0003" and rows[0]["group"] == "g"
    with pytest.raises(ScoreError, match="2 files are not frames of a clip"):
        group_clips(["a/0000", "loose", "a/b/0000"], "gt")
