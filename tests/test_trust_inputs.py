"""Issue 11, "inputs destroyed" and "plausible but wrong numbers": one test per reported case.

Each test runs the command as a user would, and asserts the exit code, that the message names the
file, and that no input changed (SHA-256 of every input file before and after).
"""

from __future__ import annotations

import json
import os

import cv2
import naive_metrics as naive
import numpy as np
import pytest
from _trust import cli, make_pairs, tree_hashes
from PIL import Image

from vbbench import metrics
from vbbench import score as scoring
from vbbench.errors import MatteError, OutputError
from vbbench.io import read_matte, write_png
from vbbench.metrics import evaluate, to_alpha
from vbbench.summary import load_summary

# ---- inputs destroyed ------------------------------------------------------------------------


@pytest.mark.parametrize("where", ["the images folder", "inside the images", "around the images"])
def test_predict_never_writes_into_its_images(tmp_path, where):
    # Reported: `vbbench predict --images DIR --out DIR` replaced the input images with mattes [0].
    images = tmp_path / "photos"
    rng = np.random.default_rng(0)
    for index in range(2):
        write_png(images / f"{index}.png", rng.integers(0, 256, (24, 32, 3), dtype=np.uint8))
    out = {"the images folder": images, "inside the images": images / "mattes", "around the images": tmp_path}[where]
    before = tree_hashes(images)
    result = cli("predict", "--model", "reference-onnx", "--images", images, "--out", out)
    assert result.exit_code == 1
    relation = {"the images folder": "is", "inside the images": "lies inside", "around the images": "contains"}[where]
    assert f"error: --out {out} {relation} --images {images}" in result.output
    assert tree_hashes(images) == before
    assert not (out / "model.json").exists()


def test_score_error_maps_never_overwrite_the_predictions(tmp_path):
    # Reported: with O/error_maps the prediction folder, the error maps overwrote the predictions
    # and the rerun scored MAD 0.416 instead of 0.0016 [0]; with --out the prediction folder the
    # error maps were counted as extra predictions on the rerun.
    make_pairs(tmp_path)
    run = tmp_path / "run"
    run.mkdir()
    predictions = run / "error_maps"
    (tmp_path / "pred").rename(predictions)
    before = tree_hashes(predictions, tmp_path / "gt")
    result = cli("score", predictions, "--gt", tmp_path / "gt", "--out", run, "--error-maps", "--workers", 1)
    assert result.exit_code == 1
    assert f"error: --out {run} contains PRED_DIR {predictions}" in result.output
    result = cli("score", predictions, "--gt", tmp_path / "gt", "--out", predictions, "--workers", 1)
    assert result.exit_code == 1
    assert f"error: --out {predictions} is PRED_DIR {predictions}: the outputs would overwrite the inputs" in (
        result.output
    )
    # The library refuses it as well, before scoring anything.
    with pytest.raises(OutputError, match=f"error_maps_dir {predictions} is pred_dir {predictions}"):
        scoring.score_directories(predictions, tmp_path / "gt", error_maps_dir=predictions, workers=1, progress=False)
    assert tree_hashes(predictions, tmp_path / "gt") == before
    assert sorted(path.name for path in run.iterdir()) == ["error_maps"]


# ---- plausible but wrong numbers -------------------------------------------------------------


@pytest.mark.parametrize("mode", ["RGBA", "LA"])
def test_an_opaque_alpha_over_a_matte_in_the_colour_channels_is_refused(tmp_path, mode):
    # Reported: such a prediction scored as all-foreground, MAD 0.75 on a matte that is right [0].
    pairs = make_pairs(tmp_path, count=1)
    pred, gt = pairs["00"]
    path = tmp_path / "pred" / "00.png"
    opaque = np.full_like(pred, 255)
    pixels = np.dstack([pred, pred, pred, opaque]) if mode == "RGBA" else np.dstack([pred, opaque])
    Image.fromarray(pixels, mode=mode).save(path)
    before = tree_hashes(tmp_path / "pred", tmp_path / "gt")
    result = cli("score", tmp_path / "pred", "--gt", tmp_path / "gt", "--workers", 1)
    assert result.exit_code == 1
    assert f"{path}: the alpha channel is fully opaque (255 everywhere) while the colour channels are not" in (
        result.output
    )
    assert "pass --matte-channel gray" in result.output
    assert not (tmp_path / "pred-scores" / "summary.json").exists()
    # Told where the matte is, it scores the matte; told to take the alpha, it scores all-foreground.
    expected = {"gray": naive.mad(pred / 255.0, gt / 255.0), "alpha": naive.mad(np.ones(gt.shape), gt / 255.0)}
    for channel, mad in expected.items():
        out = tmp_path / f"scores-{channel}"
        ok = cli("score", tmp_path / "pred", "--gt", tmp_path / "gt", "--matte-channel", channel, "--out", out)
        assert ok.exit_code == 0, ok.output
        summary = load_summary(out / "summary.json")
        assert summary["scores"]["whole"]["mad"]["mean"] == pytest.approx(mad, rel=1e-12)
        assert summary["options"]["matte_channel"] == channel
    assert tree_hashes(tmp_path / "pred", tmp_path / "gt") == before


@pytest.mark.parametrize("value", [127, 50])
def test_a_trimap_marking_the_band_with_another_value_is_refused_with_its_counts(tmp_path, value):
    # Reported: a band of 127 or 50 read as all-known: band SAD 0.039 instead of 9.57 [0].
    pairs = make_pairs(tmp_path, count=1)
    pred, gt = pairs["00"]
    band = (gt > 0) & (gt < 255)
    trimap = np.where(gt == 255, 255, 0).astype(np.uint8)
    trimap[band] = value
    path = tmp_path / "trimap" / "00.png"
    write_png(path, trimap)
    inputs = (tmp_path / "pred", tmp_path / "gt", tmp_path / "trimap")
    before = tree_hashes(*inputs)
    result = cli("score", tmp_path / "pred", "--gt", tmp_path / "gt", "--trimap", tmp_path / "trimap")
    assert result.exit_code == 1
    counts = f"0 ×{int((trimap == 0).sum())}, 255 ×{int((trimap == 255).sum())}"
    assert (
        f"{path}: {int(band.sum())} of {gt.size} pixels hold values other than 0 (background), 128 (unknown) "
        f"and 255 (foreground): {value} ×{int(band.sum())} (and {counts}); if your trimaps mark the unknown "
        f"band with {value}, pass --trimap-unknown {value}"
    ) in result.output
    assert tree_hashes(*inputs) == before
    out = tmp_path / "scores"
    ok = cli(
        "score", tmp_path / "pred", "--gt", tmp_path / "gt", "--trimap", tmp_path / "trimap",
        "--trimap-unknown", value, "--out", out,
    )  # fmt: skip
    assert ok.exit_code == 0, ok.output
    sad = load_summary(out / "summary.json")["scores"]["unknown"]["sad"]["mean"]
    assert sad == pytest.approx(naive.sad(pred / 255.0, gt / 255.0, band), rel=1e-12)
    assert sad > 1.0  # the band's real error, not a few stray pixels'


def test_every_ground_truth_entry_is_scored_or_listed_as_refused(tmp_path):
    # Reported: ground truth in .gif / .jp2 or in a symlinked subfolder was dropped; the count just
    # shrank, and only the predictions got a side warning [0].
    rng = np.random.default_rng(3)
    gt, pred = tmp_path / "gt", tmp_path / "pred"
    mattes = {name: naive.random_soft_matte(rng, (30, 20), 255, 3.0) for name in ("a", "b", "c", "d")}
    write_png(gt / "a.png", mattes["a"])
    Image.fromarray(mattes["b"]).save(gt / "b.gif")
    (gt / "c.jp2").write_bytes(b"\x00\x00\x00\x0cjP  \r\n\x87\n")  # a JPEG 2000 signature
    (gt / "notes.txt").write_text("from the annotation team\n")
    (gt / ".DS_Store").write_bytes(b"\0")
    write_png(tmp_path / "elsewhere" / "sub" / "d.png", mattes["d"])
    (gt / "linked").symlink_to(tmp_path / "elsewhere" / "sub", target_is_directory=True)
    (gt / "loop").symlink_to(gt, target_is_directory=True)
    (gt / "gone.png").symlink_to(tmp_path / "nowhere.png")
    for image_id in ("a", "b", "c", "linked/d"):
        write_png(pred / f"{image_id}.png", mattes[image_id.split("/")[-1]])
    before = tree_hashes(gt, pred, tmp_path / "elsewhere")
    out = tmp_path / "scores"
    result = cli("score", pred, "--gt", gt, "--out", out, "--workers", 1)
    assert result.exit_code == 0, result.output
    reasons = [
        ".DS_Store: hidden file",
        "b.gif: .gif is an image format vbbench does not read as a matte; convert it to PNG",
        "c.jp2: .jp2 is an image format vbbench does not read as a matte; convert it to PNG",
        f"gone.png: a broken symbolic link (to {tmp_path / 'nowhere.png'})",
        "loop: a link to a folder already searched (a loop, or the same folder twice)",
        "notes.txt: not an image file (.txt); vbbench reads .png, .jpg, .jpeg, .tif, .tiff, .bmp, .webp",
    ]
    assert f"warning: 6 entries of the ground truth {gt} are not mattes and are not scored:" in result.output
    for reason in reasons:
        assert f"  {gt}/{reason}\n" in result.output
    summary = load_summary(out / "summary.json")
    assert summary["counts"]["scored"] == 2 and summary["counts"]["refused_ground_truth"] == 6
    assert summary["refused_ground_truth"] == reasons
    assert {row["image"] for row in scoring.read_per_image(out / "per_image.csv")} == {"a", "linked/d"}
    assert tree_hashes(gt, pred, tmp_path / "elsewhere") == before


def test_the_api_range_checks_floats_and_reads_arrays_as_it_reads_files(tmp_path):
    # Reported: mad(p.astype(float), g.astype(float)) returned 7.97, (H, W, 1) arrays were refused
    # and 3-channel grey predictions refused although 3-equal-channel ground truth was accepted.
    rng = np.random.default_rng(5)
    p, g = (naive.random_soft_matte(rng, (24, 20), 255, 3.0) for _ in range(2))
    truth = naive.mad(p / 255.0, g / 255.0)
    with pytest.raises(MatteError, match=r"^pred: float alpha must lie in \[0, 1\], but this matte spans \[0, 255\]"):
        metrics.mad(p.astype(float), g.astype(float))
    with pytest.raises(MatteError, match=r"^gt: float alpha must lie in \[0, 1\], but this matte spans \[-0.5, 1\]"):
        metrics.mad(p / 255.0, np.where(g == 0, -0.5, g / 255.0))
    assert metrics.mad(to_alpha(p.astype(float), float_scale=255), g) == pytest.approx(truth, rel=1e-12)
    assert metrics.mad(np.minimum(p / 255.0 + 1e-7, 1 + 1e-7), g) >= 0  # a float32 model's overshoot
    # The same forms are accepted in arrays and files, with the same numbers.
    opaque = np.full_like(p, 255)
    alpha_over_grey = np.dstack([np.full_like(p, 90), p])  # grey+alpha: the alpha is the matte
    forms = {
        "(H, W)": p,
        "(H, W, 1)": p[:, :, None],
        "three equal channels": np.dstack([p, p, p]),
        "grey+alpha": alpha_over_grey,
        "colour+alpha": np.dstack([rng.integers(0, 256, p.shape, dtype=np.uint8)] * 3 + [p]),
    }
    for name, array in forms.items():
        path = tmp_path / f"{name}.png"
        if name == "grey+alpha":
            Image.fromarray(array, mode="LA").save(path)
        else:
            write_png(path, array)
        assert metrics.mad(array, g) == pytest.approx(truth, rel=1e-12), name
        assert np.array_equal(read_matte(path), p), name
        assert evaluate(array, g[:, :, None], metrics=["mad"])["whole"]["mad"] == pytest.approx(truth, rel=1e-12)
    # ... and the same forms are refused in both.
    colour = np.dstack([p, g, p])
    refused = {"colour": colour, "opaque alpha over grey": np.dstack([p, p, p, opaque])}
    for name, array in refused.items():
        path = tmp_path / f"refused {name}.png"
        write_png(path, array)
        with pytest.raises(MatteError) as from_array:
            metrics.mad(array, g)
        with pytest.raises(MatteError) as from_file:
            read_matte(path)
        assert str(from_file.value) == str(from_array.value).replace("pred", str(path), 1), name
    # Through the command line a 3-channel grey prediction scores like its single-channel self.
    make_pairs(tmp_path / "set", count=2)
    grey = tmp_path / "set" / "pred" / "01.png"
    single = read_matte(grey)
    cv2.imwrite(str(grey), np.dstack([single] * 3))
    result = cli("score", tmp_path / "set" / "pred", "--gt", tmp_path / "set" / "gt", "--out", tmp_path / "o")
    assert result.exit_code == 0, result.output
    row = next(r for r in scoring.read_per_image(tmp_path / "o" / "per_image.csv") if r["image"] == "01")
    assert row["mad"] == pytest.approx(
        naive.mad(single / 255.0, read_matte(tmp_path / "set" / "gt" / "01.png") / 255.0)
    )


def test_the_summary_records_how_files_were_read_and_the_run_leaves_only_its_outputs(tmp_path):
    make_pairs(tmp_path, count=1, trimaps=True)
    out = tmp_path / "scores"
    result = cli("score", tmp_path / "pred", "--gt", tmp_path / "gt", "--trimap", tmp_path / "trimap", "--out", out)
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["options"]["matte_channel"] == "auto" and summary["options"]["trimap_unknown"] == 128
    assert summary["counts"]["refused_ground_truth"] == 0 and summary["refused_ground_truth"] == []
    assert sorted(os.listdir(out)) == ["per_image.csv", "summary.json"]  # no lock, no checkpoint left
