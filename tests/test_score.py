"""`vbbench score`: pairing, formats, outputs and every bad-input path, through the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import naive_metrics as naive
import numpy as np
import pandas as pd
import pytest
from _trust import make_pairs
from conftest import FLOAT64_REL
from typer.testing import CliRunner

from vbbench import score as scoring
from vbbench.cli import app
from vbbench.errors import ScoreError
from vbbench.io import read_matte, write_png
from vbbench.metrics import METRICS, evaluate
from vbbench.summary import bootstrap_ci, load_summary

runner = CliRunner()


def read_table(path):
    """per_image.csv as a DataFrame keyed by metric names (vbbench's reader, unit headers checked)."""
    return pd.DataFrame(scoring.read_per_image(path))


def make_set(root: Path, count: int = 4, shape=(60, 48), seed: int = 0, trimaps: bool = False):
    """Pairs as the trust tests make them, every odd id in a subfolder (nested ids are paired too)."""
    return make_pairs(root, count, shape, seed, trimaps, nested=True)


def run(*args):
    return runner.invoke(app, ["score", *map(str, args)])


def test_score_writes_csv_and_summary_with_exact_values(tmp_path):
    pairs = make_set(tmp_path, trimaps=True)
    result = run(
        tmp_path / "pred",
        "--gt",
        tmp_path / "gt",
        "--trimap",
        tmp_path / "trimap",
        "--out",
        tmp_path / "out",
        "--workers",
        1,
    )
    assert result.exit_code == 0, result.output
    header = pd.read_csv(tmp_path / "out" / "per_image.csv").columns
    assert list(header) == ["image", "region", *(f"{name} [{METRICS[name].unit_symbol}]" for name in METRICS)]
    assert list(header)[2:5] == ["mad [alpha]", "mse [alpha²]", "sad [alpha·px]"]
    table = read_table(tmp_path / "out" / "per_image.csv")
    assert len(table) == 2 * len(pairs)
    for _, row in table.iterrows():
        pred, gt = pairs[row["image"]]
        trimap = read_matte(tmp_path / "trimap" / f"{row['image']}.png")
        region = None if row["region"] == "whole" else trimap == 128
        reference = naive.all_metrics(pred, gt, 255, region)
        for name in METRICS:
            assert row[name] == pytest.approx(reference[name], rel=max(FLOAT64_REL[name], 1e-9), abs=1e-12)
    summary = load_summary(tmp_path / "out" / "summary.json")
    assert summary["schema"] == "vbbench-score/1"
    assert summary["counts"]["scored"] == 4
    assert set(summary["scores"]) == {"whole", "unknown"}
    whole = table[table.region == "whole"]
    for name in METRICS:
        stats = summary["scores"]["whole"][name]
        assert stats["mean"] == pytest.approx(whole[name].mean(), rel=1e-12)
        assert stats["median"] == pytest.approx(whole[name].median(), rel=1e-12)
        assert stats["ci95"][0] <= stats["mean"] <= stats["ci95"][1]
        assert summary["metrics"][name]["display_key"] == METRICS[name].display_key
    # the table prints paper units: SAD ÷1000
    sad_mean = summary["scores"]["whole"]["sad"]["mean"] / 1000
    assert f"{sad_mean:.4f}" in result.output


def test_pairs_by_relative_path_and_reads_16_bit_and_rgba(tmp_path):
    gt = np.zeros((20, 30), np.uint8)
    gt[5:15, 5:25] = 255
    pred8 = gt.copy()
    pred8[5:15, 5:10] = 128
    write_png(tmp_path / "gt" / "a" / "x.png", gt)
    rgba = np.zeros((20, 30, 4), np.uint8)
    rgba[:, :, 3] = pred8
    rgba[:, :, :3] = 77  # colour must be ignored
    write_png(tmp_path / "pred" / "a" / "x.png", rgba)
    write_png(tmp_path / "gt" / "b.png", gt)
    write_png(tmp_path / "pred" / "b.png", pred8.astype(np.uint16) * 257)  # 16-bit, same alpha
    result = scoring.score_directories(tmp_path / "pred", tmp_path / "gt", workers=1, progress=False)
    rows = result.per_image.set_index("image")
    expected = evaluate(pred8, gt)["whole"]
    for image_id in ("a/x", "b"):
        for name in METRICS:
            # same alpha: exact metrics agree exactly, float32 filters round 16-bit codes differently
            assert rows.loc[image_id, name] == pytest.approx(expected[name], rel=FLOAT64_REL[name], abs=1e-15)


def test_missing_predictions_are_listed(tmp_path):
    make_set(tmp_path)
    (tmp_path / "pred" / "00.png").unlink()
    (tmp_path / "pred" / "sub" / "03.png").unlink()
    result = run(tmp_path / "pred", "--gt", tmp_path / "gt")
    assert result.exit_code == 1
    assert "2 of 4 ground-truth mattes have no prediction" in result.output
    assert "00\n" in result.output and "sub/03" in result.output
    assert not (tmp_path / "pred-scores").exists()  # nothing written


def test_extra_predictions_warn(tmp_path):
    make_set(tmp_path)
    write_png(tmp_path / "pred" / "stray.png", np.zeros((60, 48), np.uint8))
    result = run(tmp_path / "pred", "--gt", tmp_path / "gt", "--workers", 1)
    assert result.exit_code == 0, result.output
    assert "1 predictions in" in result.output and "stray" in result.output
    summary = json.loads((tmp_path / "pred-scores" / "summary.json").read_text())
    assert summary["counts"]["extra_predictions"] == 1


def test_size_mismatch_is_an_error_unless_resize(tmp_path):
    gt = naive.random_soft_matte(np.random.default_rng(1), (40, 30))
    small = cv2.resize(gt, (15, 20), interpolation=cv2.INTER_AREA)
    write_png(tmp_path / "gt" / "a.png", gt)
    write_png(tmp_path / "pred" / "a.png", small)
    result = run(tmp_path / "pred", "--gt", tmp_path / "gt")
    assert result.exit_code == 1
    assert "a.png: size 15×20 differs from the ground truth" in result.output
    assert "--resize" in result.output
    resized = scoring.score_directories(tmp_path / "pred", tmp_path / "gt", resize=True, workers=1, progress=False)
    expected = cv2.resize(small / 255.0, (30, 40), interpolation=cv2.INTER_LINEAR)
    assert resized.per_image["mad"][0] == pytest.approx(np.abs(expected - gt / 255.0).mean(), rel=1e-12)


def test_unreadable_files_are_all_reported(tmp_path):
    make_set(tmp_path)
    data = (tmp_path / "pred" / "00.png").read_bytes()
    (tmp_path / "pred" / "00.png").write_bytes(data[: len(data) // 2])  # truncated
    (tmp_path / "pred" / "02.png").write_bytes(b"not a png at all")
    colour = np.zeros((60, 48, 3), np.uint8)
    colour[..., 1] = 40
    write_png(tmp_path / "pred" / "sub" / "01.png", colour)
    result = run(tmp_path / "pred", "--gt", tmp_path / "gt", "--workers", 1)
    assert result.exit_code == 1
    assert "3 files cannot be scored" in result.output
    assert "00.png: truncated PNG (no IEND chunk)" in result.output
    assert "02.png: not a PNG file (it lacks the PNG signature)" in result.output
    assert "01.png: 3 colour channels with different values; a matte must be single-channel grayscale" in result.output


def test_empty_folders_and_bad_options(tmp_path):
    (tmp_path / "gt").mkdir()
    (tmp_path / "pred").mkdir()
    result = run(tmp_path / "pred", "--gt", tmp_path / "gt")
    assert result.exit_code == 1 and "no ground-truth mattes found" in result.output
    result = run(tmp_path / "nowhere", "--gt", tmp_path / "gt")
    assert result.exit_code == 1
    make_set(tmp_path)
    result = run(tmp_path / "pred", "--gt", tmp_path / "gt", "--metrics", "mad,sadd")
    assert result.exit_code == 1 and "unknown metric 'sadd'; did you mean 'sad'?" in result.output
    result = run(tmp_path / "pred")
    assert result.exit_code == 1 and "give exactly one of --gt GT_DIR or --dataset NAME" in result.output


def test_trimap_without_unknown_pixels_is_an_error(tmp_path):
    make_set(tmp_path, count=1)
    write_png(tmp_path / "trimap" / "00.png", np.full((60, 48), 255, np.uint8))
    result = run(tmp_path / "pred", "--gt", tmp_path / "gt", "--trimap", tmp_path / "trimap")
    assert result.exit_code == 1
    assert "00.png: the trimap has no unknown pixels (value 128)" in result.output


def test_jpeg_predictions_are_scored_with_a_warning(tmp_path):
    pairs = make_set(tmp_path, count=2)
    for image_id, (pred, _) in pairs.items():
        path = tmp_path / "pred" / f"{image_id}.png"
        path.unlink()
        cv2.imwrite(str(path.with_suffix(".jpg")), pred)
    result = run(tmp_path / "pred", "--gt", tmp_path / "gt", "--workers", 1)
    assert result.exit_code == 0, result.output
    assert "2 predictions are lossy (JPEG/WebP)" in result.output


def test_metric_subset_error_maps_and_no_partial_files(tmp_path):
    pairs = make_set(tmp_path, count=2)
    out = tmp_path / "out"
    result = run(
        tmp_path / "pred",
        "--gt",
        tmp_path / "gt",
        "--metrics",
        "conn,mad",
        "--error-maps",
        "--out",
        out,
        "--workers",
        1,
    )
    assert result.exit_code == 0, result.output
    assert list(pd.read_csv(out / "per_image.csv").columns) == ["image", "region", "conn [alpha·px]", "mad [alpha]"]
    pred, gt = pairs["sub/01"]
    error_map = read_matte(out / "error_maps" / "sub" / "01.png")
    assert np.array_equal(error_map, np.abs(pred.astype(int) - gt.astype(int)).astype(np.uint8))
    assert not list(out.rglob("*.part"))


def test_process_pool_gives_the_same_numbers(tmp_path):
    make_set(tmp_path, count=2 * scoring.PAIRS_PER_WORKER)  # enough pairs for two workers
    one = scoring.score_directories(tmp_path / "pred", tmp_path / "gt", workers=1, progress=False)
    two = scoring.score_directories(tmp_path / "pred", tmp_path / "gt", workers=2, progress=False)
    pd.testing.assert_frame_equal(one.per_image, two.per_image, check_exact=True)


def test_one_worker_per_few_pairs():
    per_worker = scoring.PAIRS_PER_WORKER
    assert [scoring.pool_size(2, n) for n in (0, 1, 2 * per_worker - 1, 2 * per_worker, 1000)] == [1, 1, 1, 2, 2]
    assert scoring.pool_size(8, 3 * per_worker) == 3 and scoring.pool_size(1, 1000) == 1


def test_pool_workers_start_with_the_metric_kernels_loaded():
    """The scoring pool's forkserver loads the compiled kernels once; workers forked from it have
    them before their first pair (a fresh process, so that no earlier forkserver is reused)."""
    code = (
        "from vbbench.parallel import pool; from vbbench.score import POOL_PRELOAD;"
        "from vbbench.metrics.warm import loaded_kernels;"
        "executor = pool(1, POOL_PRELOAD); print(executor.submit(loaded_kernels).result(), loaded_kernels());"
        "executor.shutdown()"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    in_worker, in_parent = (int(word) for word in done.stdout.split())
    assert in_worker > 10 and in_parent == 0


def test_dask_cluster_gives_the_same_numbers(tmp_path):
    distributed = pytest.importorskip("distributed")
    make_set(tmp_path, count=4)
    local = scoring.score_directories(tmp_path / "pred", tmp_path / "gt", workers=1, progress=False)
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None, host="127.0.0.1"
    ) as cluster:
        remote = scoring.score_directories(
            tmp_path / "pred", tmp_path / "gt", scheduler=cluster.scheduler_address, progress=False
        )
    pd.testing.assert_frame_equal(local.per_image, remote.per_image, check_exact=True)


def test_bootstrap_interval_is_reproducible_and_sane():
    rng = np.random.default_rng(0)
    values = rng.normal(5.0, 1.0, 400)
    low, high = bootstrap_ci(values)
    assert (low, high) == bootstrap_ci(values)
    standard_error = values.std(ddof=1) / np.sqrt(values.size)
    # percentile bootstrap of a normal mean ≈ mean ± 1.96·SE
    assert low == pytest.approx(values.mean() - 1.96 * standard_error, abs=0.25 * standard_error)
    assert high == pytest.approx(values.mean() + 1.96 * standard_error, abs=0.25 * standard_error)


def test_load_summary_names_the_bad_field(tmp_path):
    make_set(tmp_path, count=2)
    result = scoring.score_directories(tmp_path / "pred", tmp_path / "gt", workers=1, progress=False)
    _, path = scoring.write_outputs(result, tmp_path / "out")
    summary = json.loads(path.read_text())
    summary["scores"]["whole"]["conn"]["mean"] = "low"
    path.write_text(json.dumps(summary))
    with pytest.raises(ScoreError, match=r"summary.json: field 'scores.whole.conn.mean' must be a finite number"):
        load_summary(path)
    path.write_text(json.dumps({"schema": "other/9"}))
    with pytest.raises(ScoreError, match="field 'schema' must be 'vbbench-score/1', found 'other/9'"):
        load_summary(path)


def test_help_and_score_do_not_import_heavy_libraries(tmp_path):
    make_set(tmp_path, count=1)
    code = (
        "import sys; from typer.testing import CliRunner; from vbbench.cli import app; r = CliRunner();"
        "assert r.invoke(app, ['--help']).exit_code == 0;"
        f"res = r.invoke(app, ['score', {str(tmp_path / 'pred')!r}, '--gt', {str(tmp_path / 'gt')!r}, '--workers', '1']);"
        "assert res.exit_code == 0, res.output;"
        "heavy = [m for m in ('torch', 'fiftyone', 'onnxruntime', 'coremltools', 'distributed') if m in sys.modules];"
        "print(heavy)"
    )
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert output.strip().endswith("[]")


def test_conventions_are_applied_and_recorded(tmp_path):
    pairs = make_set(tmp_path, count=2)
    out = tmp_path / "out"
    result = run(
        tmp_path / "pred",
        "--gt",
        tmp_path / "gt",
        "--convention",
        "conn_ties=row-major",
        "--convention",
        "conn_thresholds=float64",
        "--out",
        out,
        "--workers",
        1,
    )
    assert result.exit_code == 0, result.output
    assert "NOT the reference definitions: conn_thresholds=float64, conn_ties=row-major" in result.output
    summary = load_summary(out / "summary.json")
    assert summary["reference_conventions"] is False
    assert summary["conventions"]["conn_ties"] == "row-major"
    table = read_table(out / "per_image.csv").set_index("image")
    pred, gt = pairs["00"]
    assert table.loc["00", "conn"] == pytest.approx(naive.conn(pred, gt, 255, thresholds="float64", ties="row-major"))
    bad = run(tmp_path / "pred", "--gt", tmp_path / "gt", "--convention", "conn_ties=diagonal")
    assert bad.exit_code == 1 and "convention conn_ties='diagonal' is not one of" in bad.output


def test_an_interrupted_run_resumes_where_it_stopped(tmp_path, monkeypatch):
    make_set(tmp_path, count=5)
    clean = scoring.score_directories(tmp_path / "pred", tmp_path / "gt", workers=1, progress=False)
    checkpoint = tmp_path / "out" / "per_image.partial.jsonl"
    real_score_pair = scoring.score_pair
    scored = []

    def interrupted(task):
        if len(scored) == 3:
            raise KeyboardInterrupt
        scored.append(task.image_id)
        return real_score_pair(task)

    monkeypatch.setattr(scoring, "score_pair", interrupted)
    with pytest.raises(KeyboardInterrupt):
        scoring.score_directories(tmp_path / "pred", tmp_path / "gt", workers=1, progress=False, checkpoint=checkpoint)
    assert len(checkpoint.read_text().splitlines()) == 1 + 3
    with checkpoint.open("a") as stream:
        stream.write('{"key": "sub/01", "sta')  # a line cut off by the interruption
    # one finished prediction changes after the interruption: it must be scored again
    changed = tmp_path / "pred" / "00.png"
    write_png(changed, np.zeros((60, 48), np.uint8))
    os.utime(changed, ns=(10**18, 10**18))

    def counting(task):
        scored.append(task.image_id)
        return real_score_pair(task)

    scored.clear()
    monkeypatch.setattr(scoring, "score_pair", counting)
    resumed = scoring.score_directories(
        tmp_path / "pred", tmp_path / "gt", workers=1, progress=False, checkpoint=checkpoint
    )
    # pairs run in id order: 00, 02, 04 finished before the interruption; 00 changed since
    assert sorted(scored) == ["00", "sub/01", "sub/03"]
    assert checkpoint.exists()  # kept until every output is written
    scoring.write_outputs(resumed, tmp_path / "out")
    assert not checkpoint.exists()
    expected = scoring.score_directories(tmp_path / "pred", tmp_path / "gt", workers=1, progress=False)
    pd.testing.assert_frame_equal(resumed.per_image, expected.per_image, check_exact=True)
    assert not clean.per_image.equals(expected.per_image)  # the changed file did change the scores


def test_an_image_too_small_for_a_metric_names_the_file_and_the_way_out(tmp_path):
    write_png(tmp_path / "gt" / "tiny.png", np.full((6, 7), 255, np.uint8))
    write_png(tmp_path / "pred" / "tiny.png", np.full((6, 7), 200, np.uint8))
    result = run(tmp_path / "pred", "--gt", tmp_path / "gt", "--workers", 1)
    assert result.exit_code == 1
    assert "tiny.png: gauss_grad needs images larger than 8×8 pixels" in result.output
    assert "leave that metric out with --metrics" in result.output
    ok = run(tmp_path / "pred", "--gt", tmp_path / "gt", "--workers", 1, "--metrics", "mad,sad,grad,conn")
    assert ok.exit_code == 0, ok.output
    table = read_table(tmp_path / "pred-scores" / "per_image.csv")
    assert table.loc[0, "sad"] == pytest.approx(42 * 55 / 255)


def test_metrics_command_lists_every_metric_with_its_unit():
    result = runner.invoke(app, ["metrics"])
    assert result.exit_code == 0
    for spec in METRICS.values():
        assert f"{spec.name}: {spec.title}" in result.output
    assert "tables show SAD (×10³) (key sad_in_1e3)" in result.output
    assert result.output.rstrip().endswith("12.3 stands for 0.0123.")
