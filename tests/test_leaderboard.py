"""Results files and leaderboards: validation messages, determinism, and that the committed
boards match their results and the results match a fresh scoring run."""

from __future__ import annotations

import copy
import json
import runpy
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from vbbench import leaderboard as boards
from vbbench.cli import app
from vbbench.results import ResultError, load_result, load_results, make_result, write_result

REPO = Path(__file__).resolve().parents[1]
COMMITTED = REPO / "leaderboards"
runner = CliRunner()


def committed_result(model: str = "sim-good") -> dict:
    return json.loads((COMMITTED / "results" / "sample" / "generated" / f"{model}.json").read_text())


def test_committed_leaderboards_are_up_to_date():
    assert boards.check(COMMITTED / "results", COMMITTED) == []


def test_every_committed_results_file_is_valid():
    results = load_results(COMMITTED / "results")
    assert {r["model"]["name"] for r in results} >= {"sim-good", "sim-holes"}


def test_committed_sample_results_reproduce_from_a_fresh_scoring_run(tmp_path, monkeypatch):
    pytest.importorskip("onnxruntime", reason="the board's baselines need the model extra")
    monkeypatch.setenv("VBBENCH_HOME", str(tmp_path / "home"))  # a fresh ONNX export, not a cached one
    reference = committed_result()
    sample_results = runpy.run_path(str(REPO / "scripts" / "make_sample_results.py"))["sample_results"]
    sample_results(tmp_path, reference["date"], workers=2)
    for path in sorted((COMMITTED / "results" / "sample" / "generated").glob("*.json")):
        fresh = json.loads((tmp_path / "sample" / "generated" / path.name).read_text())
        old = json.loads(path.read_text())
        # Simulated models are numpy on fixed inputs: the same bits on every machine. Baselines run
        # float kernels whose last bits depend on the CPU's instruction set, which moves a few
        # predicted pixels by one 8-bit level: measured 2e-7 relative between two CI machines.
        rel = 1e-5 if not old["model"]["simulated"] else 1e-12
        for region, by_metric in old["summary"]["scores"].items():
            for metric, stats in by_metric.items():
                new = fresh["summary"]["scores"][region][metric]
                for key in ("mean", "std", "median", "ci95"):
                    assert new[key] == pytest.approx(stats[key], rel=rel, abs=1e-15), (path.name, region, metric, key)
                    new[key] = stats[key]
        fresh["vbbench_version"] = old["vbbench_version"]
        fresh["model"]["speed"] = old["model"]["speed"]  # measured by `vbbench bench`, not reproducible
        fresh["model"]["speed_machine"] = old["model"]["speed_machine"]
        fresh["model"]["speed_input"] = old["model"]["speed_input"]
        fresh["summary"]["vbbench_version"] = old["summary"]["vbbench_version"]
        assert fresh == old  # the rest byte for byte: weights digests, metadata, options, counts


def test_build_is_deterministic_and_sorted_by_mad(tmp_path):
    first = boards.render(COMMITTED / "results")
    shuffled = tmp_path / "results"
    shutil.copytree(COMMITTED / "results", shuffled)
    assert boards.render(shuffled) == first
    table = first["README.md"].split("## sample / generated / whole")[1].split("## ")[0]
    mads = {r["model"]["name"]: r["summary"]["scores"]["whole"]["mad"]["mean"] for r in load_results(shuffled)}
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
        (lambda d: d.update(schema="other/2"), "field 'schema' must be 'vbbench-result/1', found 'other/2'"),
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
    path = tmp_path / "sample" / "generated" / "sim-good.json"
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
    path = tmp_path / "sample" / "original" / "sim-good.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(document))
    with pytest.raises(ResultError, match="must be stored as <results>/sample/generated/sim-good.json"):
        load_result(path)


def test_add_result_round_trip(tmp_path):
    summary = committed_result()["summary"]
    summary_path = tmp_path / "summary.json"
    summary_path.write_text(json.dumps(summary))
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
    written = load_result(tmp_path / "results" / "sample" / "generated" / "my-net.json")
    assert written["model"]["parameters"] == 123 and written["model"]["simulated"] is False
    assert written["summary"]["scores"] == summary["scores"]
    assert (
        make_result(
            summary,
            {"name": "my-net", "parameters": 123, "input_size": "256x144", "runtime": "onnxruntime"},
            "2026-11-25",
        )
        == written
    )
    path = write_result(written, tmp_path / "again")
    assert path == tmp_path / "again" / "sample" / "generated" / "my-net.json"


def test_speed_numbers_give_a_deterministic_accuracy_versus_speed_plot(tmp_path):
    def without_speeds(folder):
        shutil.copytree(COMMITTED / "results", folder)
        for result in folder.rglob("*.json"):
            document = json.loads(result.read_text())
            document["model"]["speed"] = document["model"]["speed_machine"] = document["model"]["speed_input"] = None
            result.write_text(json.dumps(document))
        return folder

    results = without_speeds(tmp_path / "results")
    bare = without_speeds(tmp_path / "bare")
    path = results / "sample" / "generated" / "sim-good.json"
    document = json.loads(path.read_text())
    document["model"]["speed"] = {"640x360": 31.5, "1280x720": 12.25}
    document["model"]["speed_machine"] = "test box, 2 logical CPUs"
    document["model"]["speed_input"] = "256x144"
    path.write_text(json.dumps(document))
    first, second = tmp_path / "first", tmp_path / "second"
    boards.build(results, first)
    boards.build(results, second)
    png = (first / boards.PLOT).read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and png == (second / boards.PLOT).read_bytes()
    assert b"Software" not in png and b"matplotlib" not in png  # no version stamp to go stale
    readme = (first / "README.md").read_text()
    assert f"![accuracy versus speed]({boards.PLOT})" in readme
    # The speed table: frame sizes smallest first, the machine beside the numbers.
    assert (
        "| model | dataset/variant | parameters | model input | FPS at 640x360 | FPS at 1280x720 | measured on |"
        "\n|---|---|---|---|---|---|---|\n"
        "| sim-good | sample/generated | — | 256x144 | 31.5 | 12.2 | test box, 2 logical CPUs |\n"
    ) in readme
    page = (first / "index.html").read_text()
    assert f'<img src="{boards.PLOT}"' in page
    assert (
        "<td>sim-good</td><td>sample/generated</td><td>—</td><td>256x144</td><td>31.5</td><td>12.2</td>"
        "<td>test box, 2 logical CPUs</td>"
    ) in page
    assert boards.check(results, first) == []
    # The plot's points: one per frame size, MAD in display units (×1e-3).
    mad = document["summary"]["scores"]["whole"]["mad"]["mean"] * 1e3
    assert boards._speed_points(load_results(results)) == {
        "1280x720": [("sim-good (sample/generated)", 12.25, mad)],
        "640x360": [("sim-good (sample/generated)", 31.5, mad)],
    }
    # Results without speeds: the plot's link and a left-over plot are stale; rebuilding removes it.
    assert boards.check(bare, first) == [str(first / name) for name in ("README.md", "index.html", boards.PLOT)]
    boards.build(bare, first)
    assert not (first / boards.PLOT).exists() and boards.check(bare, first) == []


def test_shen_set_also_gets_the_seed_papers_table1_units(tmp_path):
    document = committed_result()
    document["dataset"].update(name="shen2016", variant="original")
    document["summary"]["dataset"] = dict(document["dataset"])
    write_result(document, tmp_path)
    readme = boards.render(tmp_path)["README.md"]
    table = readme.split("## shen2016 / original: the seed paper's Table 1 units")[1].split("## ")[0]
    assert "| model | MAD (×10⁻²) | Gradient (×10⁻³) |" in table
    mad = document["summary"]["scores"]["whole"]["mad"]
    low, high = (value * 100 for value in mad["ci95"])
    assert f"| sim-good | {mad['mean'] * 100:.3f} [{low:.3f}, {high:.3f}] |" in table
    # Other sets get no such table.
    assert "Table 1" not in boards.render(COMMITTED / "results")["README.md"]


def test_add_result_takes_speeds_from_a_bench_report(tmp_path):
    summary_path = tmp_path / "summary.json"
    summary_path.write_text(json.dumps(committed_result()["summary"]))
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
    model = load_result(tmp_path / "results" / "sample" / "generated" / "fast-net.json")["model"]
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
