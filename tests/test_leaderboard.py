"""Results files and leaderboards: validation messages, determinism, and that the committed
boards match their results and the results match a fresh scoring run."""

from __future__ import annotations

import copy
import csv
import json
import runpy
import shutil
from pathlib import Path

import pytest
from _trust import write_score_run
from typer.testing import CliRunner

from vbbench import leaderboard as boards
from vbbench.cli import app
from vbbench.results import ResultError, load_result, load_results, make_result, write_result
from vbbench.variants import VARIANTS

REPO = Path(__file__).resolve().parents[1]
COMMITTED = REPO / "leaderboards"
runner = CliRunner()


BUILD = REPO / "scripts" / "build_sample_board.py"
#: What CI rebuilds through the user's commands (the whole board, `build_sample_board.py --check`,
#: takes about 12 minutes on 2 cores): one baseline on every still variant, and the PyTorch and a
#: landscape MediaPipe baseline upright and in the call frame, 15 of the 72 results.
CHECKED_RUNS = (
    (("reference-onnx",), tuple(name for name in VARIANTS.names() if not VARIANTS[name].clips)),
    (("reference", "mediapipe-landscape"), ("original", "call16x9")),
)


def committed_result(model: str = "reference-onnx", variant: str = "original") -> dict:
    return json.loads((COMMITTED / "results" / "sample" / variant / f"{model}.json").read_text())


def test_committed_leaderboards_are_up_to_date():
    assert boards.check(COMMITTED / "results", COMMITTED) == []


def test_the_committed_board_has_every_baseline_on_every_variant_of_the_benchmark_sample():
    script = runpy.run_path(str(BUILD))
    results = load_results(COMMITTED / "results")
    found = {(r["model"]["name"], r["dataset"]["variant"]): r for r in results}
    assert set(found) == {(model, variant) for model in script["BASELINES"] for variant in VARIANTS.names()}
    split = list(csv.DictReader(open(REPO / "datasets" / "sample" / "split.csv")))
    test_ids = sorted(row["id"] for row in split if row["split"] == "test")
    assert len(test_ids) >= 150
    for (model, variant), result in found.items():
        assert not result["model"]["simulated"] and result["dataset"]["name"] == "sample"
        n = result["summary"]["scores"]["whole"]["mad"]["n"]
        if variant == "clips":
            assert result["per_unit"]["unit"] == "clip" and n == script["CLIP_COUNT"], model
        else:  # every portrait of the test split, none skipped
            assert sorted(result["per_unit"]["ids"]) == test_ids and n == len(test_ids), (model, variant)
    # The deployment runtimes carry speeds, on the call frame they were measured in.
    for model in script["TIMED"]:
        assert found[(model, "call16x9")]["model"]["speed"], model


@pytest.fixture(scope="session")
def board_data(tmp_path_factory):
    """The embedded sample prepared with every still variant, as the board has it."""
    data = tmp_path_factory.mktemp("board-data")
    variants = ",".join(CHECKED_RUNS[0][1])
    result = runner.invoke(
        app, ["prepare", "sample", "--data-dir", str(data), "--variants", variants, "--workers", "2", "--quiet"]
    )
    assert result.exit_code == 0, result.output
    return data


@pytest.mark.parametrize("models, variants", CHECKED_RUNS, ids=["every-still-variant", "runtimes"])
def test_committed_results_reproduce_through_the_users_commands(board_data, tmp_path, monkeypatch, capsys, models,
                                                                variants):  # fmt: skip
    """predict → score --dataset sample --variant V → add-result, run by build_sample_board.py, gives
    the committed files (baselines to 1e-5 relative: float kernels round per CPU)."""
    pytest.importorskip("onnxruntime", reason="the board's baselines need the model extra")
    pytest.importorskip("torch", reason="the board's baselines need the model extra")
    pytest.importorskip("ai_edge_litert", reason="the MediaPipe baselines need the mediapipe extra")
    monkeypatch.setenv("VBBENCH_HOME", str(tmp_path / "home"))  # a fresh ONNX export, not a cached one
    main = runpy.run_path(str(BUILD))["main"]
    arguments = ["--check", "--models", ",".join(models), "--variants", ",".join(variants), "--data", str(board_data)]
    status = main(arguments)
    output = capsys.readouterr()
    assert status == 0, output.err
    assert f"{len(models) * len(variants)} results rebuilt; 0 differ from the committed ones" in output.out


def test_the_check_names_a_result_that_does_not_reproduce(tmp_path):
    script = runpy.run_path(str(BUILD))
    fresh, committed = tmp_path / "fresh", tmp_path / "committed"
    document = committed_result()
    write_result(document, fresh)
    changed = copy.deepcopy(document)
    changed["summary"]["scores"]["whole"]["mad"]["mean"] *= 1 + 1e-4
    path = committed / "sample" / "original" / "reference-onnx.json"  # written as is: validation would refuse it
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(changed))
    write_result(committed_result(variant="rot30"), committed)
    problems = script["differences"](fresh, committed, complete=False)
    mean = changed["summary"]["scores"]["whole"]["mad"]["mean"]
    fresh_mean = document["summary"]["scores"]["whole"]["mad"]["mean"]
    assert problems == [f"{path}: summary.scores.whole.mad.mean is {mean!r}, a fresh build gives {fresh_mean!r}"]
    assert script["differences"](fresh, committed)[0] == (
        f"{committed / 'sample' / 'rot30' / 'reference-onnx.json'}: not made by a fresh build"
    )


def test_build_is_deterministic_and_sorted_by_mad(tmp_path):
    first = boards.render(COMMITTED / "results")
    shuffled = tmp_path / "results"
    shutil.copytree(COMMITTED / "results", shuffled)
    assert boards.render(shuffled) == first
    table = first["README.md"].split("### sample / original / whole")[1].split("## ")[0]
    mads = {
        r["model"]["name"]: r["summary"]["scores"]["whole"]["mad"]["mean"]
        for r in load_results(shuffled)
        if r["dataset"]["variant"] == "original"
    }
    models = [
        cell
        for cell in (line.split("|")[1].strip() for line in table.splitlines() if line.startswith("| "))
        if cell in mads
    ]
    assert models == sorted(mads, key=lambda name: (mads[name], name))
    assert {"reference", "reference-onnx"} <= set(models)  # the shipped baselines are on the board
    assert "| MAD (×10⁻³) |" in table and "| SAD (×10³) |" in table
    good = committed_result()["summary"]["scores"]["whole"]["mad"]
    assert f"{good['mean'] * 1e3:.3f} [{good['ci95'][0] * 1e3:.3f}, {good['ci95'][1] * 1e3:.3f}]" in table


def test_check_names_a_stale_output(tmp_path):
    boards.build(COMMITTED / "results", tmp_path)
    (tmp_path / "leaderboard.csv").write_text("edited by hand\n")
    assert boards.check(COMMITTED / "results", tmp_path) == [str(tmp_path / "leaderboard.csv")]
    result = runner.invoke(
        app, ["leaderboard", "--results", str(COMMITTED / "results"), "--out", str(tmp_path), "--check"]
    )
    assert result.exit_code == 1 and "stale leaderboard outputs" in result.output and "leaderboard.csv" in result.output


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda d: d["model"].pop("name"), "field 'model.name' is missing"),
        (lambda d: d.update(schema="other/2"), "field 'schema' must be 'vbbench-result/2', found 'other/2'"),
        (lambda d: d.update(date="25/11/2026"), "field 'date' must be an ISO date YYYY-MM-DD"),
        (lambda d: d["model"].update(simulated="yes"), "field 'model.simulated' must be bool, found str"),
        (
            lambda d: d["summary"]["scores"]["whole"]["conn"].update(mean=None),
            "field 'summary.scores.whole.conn.mean' must be a finite number",
        ),
        (lambda d: d["model"].update(speed={"1280x720": "fast"}), "field 'model.speed' must map frame sizes to FPS"),
        (
            lambda d: d["model"].update(speed_machine=2),
            "field 'model.speed_machine' must be a string naming the machine, or null",
        ),
        (lambda d: d["model"].update(macs=-1), "field 'model.macs' must be a non-negative integer, or null"),
        (
            lambda d: d["model"].update(speed_input="256"),
            "field 'model.speed_input' must be a model input size WxH, or null",
        ),
        (
            lambda d: d["model"].update(parameters="35k"),
            "field 'model.parameters' must be a non-negative integer, or null",
        ),
    ],
)
def test_invalid_results_name_file_and_field(tmp_path, edit, message):
    document = copy.deepcopy(committed_result())
    edit(document)
    path = tmp_path / "sample" / "original" / "reference-onnx.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(document))
    with pytest.raises(ResultError) as caught:
        load_result(path)
    assert str(caught.value).startswith(f"{path}: ")
    assert message in str(caught.value)
    result = runner.invoke(app, ["leaderboard", "--results", str(tmp_path), "--out", str(tmp_path / "out")])
    assert result.exit_code == 1 and message in result.output


def test_a_results_file_must_sit_where_its_content_says(tmp_path):
    document = committed_result()
    path = tmp_path / "sample" / "rot30" / "reference-onnx.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(document))
    with pytest.raises(ResultError, match="must be stored as <results>/sample/original/reference-onnx.json"):
        load_result(path)


def test_add_result_round_trip(tmp_path):
    committed = committed_result()
    summary = committed["summary"]
    summary_path = write_score_run(tmp_path / "scores", committed)
    meta = tmp_path / "model.json"
    meta.write_text(json.dumps({"parameters": 123, "input_size": "256x144", "runtime": "onnxruntime"}))
    result = runner.invoke(
        app,
        [
            "add-result",
            str(summary_path),
            "--model",
            "my-net",
            "--meta",
            str(meta),
            "--date",
            "2026-11-25",
            "--results",
            str(tmp_path / "results"),
        ],
    )
    assert result.exit_code == 0, result.output
    written = load_result(tmp_path / "results" / "sample" / "original" / "my-net.json")
    assert written["model"]["parameters"] == 123 and written["model"]["simulated"] is False
    assert written["summary"]["scores"] == summary["scores"]
    assert written["per_unit"] == committed["per_unit"]  # read back from the per_image.csv
    assert (
        make_result(
            summary,
            {"name": "my-net", "parameters": 123, "input_size": "256x144", "runtime": "onnxruntime"},
            "2026-11-25",
            per_unit=committed["per_unit"],
        )
        == written
    )
    path = write_result(written, tmp_path / "again")
    assert path == tmp_path / "again" / "sample" / "original" / "my-net.json"


def test_plots_are_deterministic_and_a_left_over_plot_is_stale(tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    boards.build(COMMITTED / "results", first)
    boards.build(COMMITTED / "results", second)
    plots = sorted(path.name for path in first.glob("*.png"))
    assert {"robustness-sample.png", "accuracy_vs_speed-sample-call16x9.png"} <= set(plots)
    readme = (first / "README.md").read_text()
    for name in plots:
        png = (first / name).read_bytes()
        assert png.startswith(b"\x89PNG\r\n\x1a\n") and png == (second / name).read_bytes(), name
        assert b"Software" not in png and b"matplotlib" not in png  # no version stamp to go stale
        assert f"({name})" in readme, name
    # Results without speeds: the speed plot and its links are stale; rebuilding removes the plot.
    bare = tmp_path / "bare"
    shutil.copytree(COMMITTED / "results", bare)
    for path in bare.rglob("*.json"):
        document = json.loads(path.read_text())
        document["model"]["speed"] = document["model"]["speed_machine"] = document["model"]["speed_input"] = None
        path.write_text(json.dumps(document))
    stale = boards.check(bare, first)
    assert str(first / "accuracy_vs_speed-sample-call16x9.png") in stale and str(first / "README.md") in stale
    boards.build(bare, first)
    assert not (first / "accuracy_vs_speed-sample-call16x9.png").exists() and boards.check(bare, first) == []


def test_add_result_takes_speeds_from_a_bench_report(tmp_path):
    summary_path = write_score_run(tmp_path / "scores", committed_result())
    bench = tmp_path / "bench.json"
    bench.write_text(
        json.dumps(
            {
                "model": {"input_size": "256x144"},
                "machine": "box (AVX2), 4 logical CPUs, Linux x86_64, 2 runtime threads",
                "frames": [{"size": "1280x720", "fps": 12.5}],
            }
        )
    )
    result = runner.invoke(
        app,
        [
            "add-result",
            str(summary_path),
            "--model",
            "fast-net",
            "--bench",
            str(bench),
            "--date",
            "2026-11-25",
            "--results",
            str(tmp_path / "results"),
        ],
    )
    assert result.exit_code == 0, result.output
    model = load_result(tmp_path / "results" / "sample" / "original" / "fast-net.json")["model"]
    assert model["speed"] == {"1280x720": 12.5}
    assert model["speed_machine"] == "box (AVX2), 4 logical CPUs, Linux x86_64, 2 runtime threads"
    assert model["speed_input"] == "256x144"
    bench.write_text(json.dumps({"model": {}, "frames": [{"size": "1280x720", "fps": 12.5}]}))
    result = runner.invoke(
        app,
        [
            "add-result",
            str(summary_path),
            "--model",
            "fast-net",
            "--bench",
            str(bench),
            "--results",
            str(tmp_path / "results"),
        ],
    )
    assert result.exit_code == 1
    assert f"{bench}: field 'machine' is missing; rerun `vbbench bench --json` (it names the machine)" in result.output
    bench.write_text("{}")
    result = runner.invoke(
        app,
        [
            "add-result",
            str(summary_path),
            "--model",
            "fast-net",
            "--bench",
            str(bench),
            "--results",
            str(tmp_path / "results"),
        ],
    )
    assert result.exit_code == 1 and f"{bench}: field 'frames' must list" in result.output
