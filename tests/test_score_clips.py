"""Scoring clips end to end: prepare the sample's clips, predict them, score them through the CLI;
every number checked against the clip functions called directly on the same frames."""

from __future__ import annotations

import csv
import json
import shutil

import numpy as np
import pytest
from typer.testing import CliRunner

from vbbench.cli import app
from vbbench.clips import flows_from_manifest, read_clip_manifest
from vbbench.io import read_matte, write_png
from vbbench.metrics import TEMPORAL_METRICS, dtssd, flicker, messddt, to_alpha
from vbbench.prepared import PreparedDataset
from vbbench.summary import bootstrap_ci

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def _clips(data):
    files = PreparedDataset("sample", data).variant("clips")
    return files, read_clip_manifest(files.manifest)


def _write_model(data, out, kind, seed=0):
    """Predictions for every frame: ``stable`` = the ground truth with one fixed error pattern,
    ``flickering`` = the same pattern's pixels shuffled anew in every frame (the same MAD)."""
    files, clips = _clips(data)
    rng = np.random.default_rng(seed)
    for name, rows in clips.items():
        shape = read_matte(files.files_of(rows[0]["id"])[1]).shape
        pattern = rng.integers(-12, 13, shape)
        for row in rows:
            gt = read_matte(files.files_of(row["id"])[1]).astype(int)
            error = pattern if kind == "stable" else rng.permutation(pattern.ravel()).reshape(shape)
            write_png(out / f"{row['id']}.png", np.clip(gt + error, 0, 255).astype(np.uint8))
    return out


def _score(pred, out, *extra):
    result = invoke("score", pred, "--workers", "2", "--quiet", "--out", out, *extra)
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    with open(out / "per_clip.csv") as stream:
        per_clip = list(csv.DictReader(stream))
    with open(out / "per_image.csv") as stream:
        per_frame = list(csv.DictReader(stream))
    return result, summary, per_clip, per_frame


@pytest.fixture(scope="module")
def scored(prepared_clips, tmp_path_factory):
    data, _ = prepared_clips
    root = tmp_path_factory.mktemp("scored")
    runs = {}
    for kind in ("stable", "flickering"):
        pred = _write_model(data, root / kind, kind)
        runs[kind] = (pred, *_score(pred, root / f"{kind}-scores", "--dataset", "sample", "--variant", "clips",
                                    "--data-dir", data))  # fmt: skip
    return data, runs


def test_clip_rows_equal_the_clip_functions_on_the_same_frames(scored):
    data, runs = scored
    files, clips = _clips(data)
    pred, _, summary, per_clip, per_frame = runs["flickering"]
    assert list(per_clip[0]) == [
        "clip", "region", "frames", "mad [alpha]", "mse [alpha²]", "sad [alpha·px]", "grad [grad²·px]",
        "conn [alpha·px]", "sobel_l2 [alpha/px]", "sobel_l1 [alpha/px]", "gauss_grad [alpha/px]",
        "dtssd [alpha/frame]", "messddt [alpha²]", "flicker [alpha]",
    ]  # fmt: skip
    assert sorted((row["clip"], row["region"]) for row in per_clip) == sorted(
        (name, region) for name in clips for region in ("whole", "unknown")
    )
    assert len(per_frame) == 3 * 6 * 2  # every frame, both regions, as still scoring writes them
    for row in per_clip:
        rows = clips[row["clip"]]
        gts = [read_matte(files.files_of(r["id"])[1]) for r in rows]
        preds = [read_matte(pred / f"{r['id']}.png") for r in rows]
        bands = [read_matte(files.files_of(r["id"])[2]) == 128 for r in rows] if row["region"] == "unknown" else None
        flows = flows_from_manifest(rows, gts)
        static = [r["params"]["static"] for r in rows]
        assert row["frames"] == "6"
        assert float(row["dtssd [alpha/frame]"]) == pytest.approx(dtssd(preds, gts, bands), rel=1e-12)
        assert float(row["messddt [alpha²]"]) == pytest.approx(messddt(preds, gts, flows, bands), rel=1e-12)
        band = None if bands is None else bands[-1]  # the static frames share one trimap
        assert float(row["flicker [alpha]"]) == pytest.approx(flicker(preds, gts, static, band), rel=1e-12)
        frames = [f for f in per_frame if f["image"].startswith(row["clip"] + "/") and f["region"] == row["region"]]
        assert float(row["mad [alpha]"]) == pytest.approx(np.mean([float(f["mad [alpha]"]) for f in frames]))
        whole = np.mean([np.abs(to_alpha(p) - to_alpha(g)).mean() for p, g in zip(preds, gts)])
        if row["region"] == "whole":
            assert float(row["mad [alpha]"]) == pytest.approx(whole, rel=1e-12)
    # The summary: over clips, n = 3, bootstrap over clips.
    for region in ("whole", "unknown"):
        values = [float(r["dtssd [alpha/frame]"]) for r in per_clip if r["region"] == region]
        stats = summary["scores"][region]["dtssd"]
        assert stats["n"] == 3 and stats["mean"] == pytest.approx(np.mean(values), rel=1e-12)
        assert stats["ci95"] == list(bootstrap_ci(values))
    assert summary["options"]["unit"] == "clip" and summary["counts"]["clips"] == 3
    assert summary["counts"]["scored"] == 18 and summary["clips"]["motion"] == "exact (manifest)"
    assert summary["clips"]["spec"]["frames"] == 6 and summary["dataset"]["variant"] == "clips"
    for name, spec in TEMPORAL_METRICS.items():
        assert summary["metrics"][name]["header"] == spec.header
        assert summary["metrics"][name]["display_key"] == spec.display_key
    assert summary["reference_conventions"] is True


def test_a_flickering_model_scores_worse_than_a_stable_one_with_the_same_mad(scored):
    _, runs = scored
    stable, flickering = runs["stable"][2]["scores"]["whole"], runs["flickering"][2]["scores"]["whole"]
    assert flickering["mad"]["mean"] == pytest.approx(stable["mad"]["mean"], rel=0.02)  # clipping at 0 and 1 aside
    for name in ("dtssd", "flicker"):
        assert flickering[name]["mean"] > 5 * stable[name]["mean"], name
    assert stable["flicker"]["mean"] == 0.0  # the same error every frame: no flicker at all
    # The stable model's error sits still while the content moves, so MESSDdt (which follows the
    # content) sees it change too, only less than the error that jumps every frame.
    assert flickering["messddt"]["mean"] > 1.2 * stable["messddt"]["mean"]


def test_the_table_shows_clip_metrics_in_their_units(scored, tmp_path):
    data, runs = scored
    pred = runs["stable"][0]
    result = invoke("score", pred, "--dataset", "sample", "--variant", "clips", "--data-dir", data, "--workers", "1",
                    "--out", tmp_path / "again", "--metrics", "mad,dtssd")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "region: whole (every pixel), n = 3 clips" in result.output
    assert "dtSSD (×10⁻²)" in result.output and "Flicker" not in result.output and "Conn" not in result.output
    summary = json.loads((tmp_path / "again" / "summary.json").read_text())
    assert summary["options"]["metrics"] == ["mad", "dtssd"]
    assert summary["scores"]["whole"]["dtssd"] == runs["stable"][2]["scores"]["whole"]["dtssd"]


def test_clips_of_any_folder_with_gt(scored, tmp_path):
    """--clips --gt: no manifest, so MESSDdt needs Farneback flow and static stretches are the runs of
    identical ground truth (here the same frames the manifest marks)."""
    data, runs = scored
    files, _ = _clips(data)
    pred, _, with_manifest, _, _ = runs["flickering"]
    shutil.copytree(files.alpha, tmp_path / "gt")
    result, summary, per_clip, _ = _score(pred, tmp_path / "s", "--gt", tmp_path / "gt", "--clips")
    assert "warning: MESSDdt needs the clips' motion" in " ".join(result.output.split())
    assert summary["options"]["temporal_metrics"] == ["dtssd", "flicker"] and "messddt [alpha²]" not in per_clip[0]
    assert summary["clips"]["static"] == "runs of identical ground truth"
    for name in ("dtssd", "flicker"):
        assert summary["scores"]["whole"][name] == with_manifest["scores"]["whole"][name]
    result, summary, _, _ = _score(
        pred, tmp_path / "f", "--gt", tmp_path / "gt", "--clips", "--convention", "messddt_flow=farneback"
    )
    assert summary["conventions"]["messddt_flow"] == "farneback" and summary["reference_conventions"] is False
    assert summary["scores"]["whole"]["messddt"]["mean"] > 0
    table = invoke("score", pred, "--gt", tmp_path / "gt", "--clips", "--workers", "1", "--out", tmp_path / "t",
                   "--convention", "dtssd_first_frame=zero")  # fmt: skip
    assert "NOT the reference definitions: dtssd_first_frame=zero" in table.output


def test_clip_scoring_errors_name_the_problem(scored, tmp_path):
    data, runs = scored
    files, _ = _clips(data)
    pred = runs["stable"][0]
    still = invoke("score", pred, "--gt", files.alpha, "--convention", "dtssd_first_frame=zero", "--out", tmp_path)
    assert still.exit_code == 1
    assert "--convention 'dtssd_first_frame=zero' is a clip metric's: score clips (--clips)" in still.output
    loose = tmp_path / "gt"
    shutil.copytree(files.alpha, loose)
    shutil.copy(files.files_of(next(iter(_clips(data)[1])) + "/0000")[1], loose / "stray.png")
    (pred / "stray.png").write_bytes((loose / "stray.png").read_bytes())
    try:
        bad = invoke("score", pred, "--gt", loose, "--clips", "--out", tmp_path / "out", "--workers", "1")
    finally:
        (pred / "stray.png").unlink()
    assert bad.exit_code == 1 and "1 files are not frames of a clip" in bad.output and "stray" in bad.output
    dask = invoke("score", pred, "--gt", files.alpha, "--clips", "--scheduler", "tcp://127.0.0.1:1", "--out", tmp_path)
    assert dask.exit_code == 1 and "clips are scored on this machine's processes" in dask.output
    missing = invoke("score", pred, "--gt", files.alpha, "--clips", "--metrics", "dtsd", "--out", tmp_path)
    assert missing.exit_code == 1 and "unknown metric 'dtsd'" in missing.output


def test_an_interrupted_clip_scoring_resumes_with_the_clips_it_had(scored, tmp_path, monkeypatch):
    import vbbench.score_clips as scoring

    data, runs = scored
    files, _ = _clips(data)
    pred = runs["stable"][0]
    real = scoring.score_clip
    calls = []

    def crash_on_second(task):
        calls.append(task.clip)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(task)

    monkeypatch.setattr(scoring, "score_clip", crash_on_second)
    arguments = ["score", pred, "--gt", files.alpha, "--trimap", files.trimaps, "--clips", "--workers", "1"]
    interrupted = invoke(*arguments, "--quiet", "--out", tmp_path)
    assert interrupted.exit_code == 130 and (tmp_path / "per_clip.partial.jsonl").is_file()
    calls.clear()
    monkeypatch.setattr(scoring, "score_clip", lambda task: calls.append(task.clip) or real(task))
    resumed = invoke(*arguments, "--quiet", "--out", tmp_path)
    assert resumed.exit_code == 0, resumed.output
    assert len(calls) == 2 and not (tmp_path / "per_clip.partial.jsonl").exists()
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["scores"]["unknown"]["mad"]["n"] == 3


def test_a_clip_summary_becomes_a_results_file(scored, tmp_path):
    from vbbench.results import load_result

    _, runs = scored
    summary_path = runs["flickering"][0].parent / "flickering-scores" / "summary.json"
    result = invoke("add-result", summary_path, "--model", "sim-flicker", "--results", tmp_path, "--date", "2026-01-02")
    assert result.exit_code == 0, result.output
    document = load_result(tmp_path / "sample" / "clips" / "sim-flicker.json")
    assert document["summary"]["scores"]["whole"]["dtssd"]["n"] == 3


def test_predict_then_score_a_prepared_clips_variant(prepared_clips, tmp_path, monkeypatch):
    """The whole path: clip frames predicted in id order (clip by clip, frames in order) at the model's
    16:9 input, then scored."""
    pytest.importorskip("onnxruntime", reason="the reference model needs the model extra")
    monkeypatch.setenv("VBBENCH_HOME", str(tmp_path / "home"))
    data, _ = prepared_clips
    out = tmp_path / "pred"
    result = invoke("predict", "--model", "reference-onnx", "--dataset", "sample", "--variant", "clips",
                    "--data-dir", data, "--out", out)  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "predicted 18 images, kept 0 finished ones (reference-onnx, input 256x144)" in result.output
    files, clips = _clips(data)
    for rows in clips.values():
        for row in rows:
            assert read_matte(out / f"{row['id']}.png").shape == (360, 640)
    _, summary, per_clip, _ = _score(out, tmp_path / "scores", "--dataset", "sample", "--variant", "clips",
                                     "--data-dir", data)  # fmt: skip
    whole = summary["scores"]["whole"]
    assert whole["dtssd"]["n"] == 3 and 0 < whole["dtssd"]["mean"] < 0.2 and whole["flicker"]["mean"] >= 0
    assert 0 < whole["mad"]["mean"] < 0.5


def test_clip_commands_import_no_optional_codec_or_matting_library():
    """PyAV and pymatting load only inside the h264 degradation and the real-set clip maker."""
    import subprocess
    import sys

    code = (
        "import sys, vbbench.cli, vbbench.variants, vbbench.score_clips, vbbench.clips;"
        "print([m for m in ('av', 'pymatting', 'numba') if m in sys.modules])"
    )
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert output.strip() == "[]"
