"""Issue 11, "results files trusted as written": one test per reported case.

Each test runs ``vbbench leaderboard`` or ``vbbench add-result`` and asserts the exit code, the
message naming the file and the field, and that no input changed (hashes before and after).
"""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

import pytest
from _trust import cli, make_pairs, tree_hashes, write_score_run

from vbbench import leaderboard as boards
from vbbench import score as scoring
from vbbench.errors import ResultError
from vbbench.metrics import Conventions
from vbbench.results import load_result, load_results, make_result, per_unit_scores, write_result

COMMITTED = Path(__file__).resolve().parents[1] / "leaderboards" / "results"
GOOD = Path("sample") / "original" / "reference-onnx.json"


@pytest.fixture(scope="module")
def committed_board(tmp_path_factory) -> Path:
    """The board of the committed results, built once."""
    folder = tmp_path_factory.mktemp("board")
    boards.build(COMMITTED, folder)
    return folder


@pytest.fixture
def results(tmp_path) -> Path:
    """A copy of the committed results to edit."""
    folder = tmp_path / "results"
    shutil.copytree(COMMITTED, folder)
    return folder


def _edit(path: Path, change) -> None:
    document = json.loads(path.read_text())
    change(document)
    path.write_text(json.dumps(document))  # NaN is written as NaN, as a hand edit could


def _whole(document) -> dict:
    return document["summary"]["scores"]["whole"]


EDITS = {
    "MAD -1.0": (lambda d: _whole(d)["mad"].update(mean=-1.0), "summary.scores.whole.mad.mean", "must lie in [0, 1]"),
    "mean: true": (
        lambda d: _whole(d)["mad"].update(mean=True),
        "summary.scores.whole.mad.mean",
        "must be a finite number, found True",
    ),
    "NaN speed": (
        lambda d: d["model"].update(speed={"640x360": float("nan")}, speed_machine="box", speed_input="256x144"),
        "model.speed",
        "must map frame sizes to FPS numbers (finite, > 0); '640x360' is nan",
    ),
    "SAD below zero": (
        lambda d: _whole(d)["sad"]["ci95"].__setitem__(0, -3.0),
        "summary.scores.whole.sad.ci95",
        "must lie in [0, inf]",
    ),
    "a mean outside its interval": (
        lambda d: _whole(d)["mad"].update(mean=_whole(d)["mad"]["mean"] / 2),
        "summary.scores.whole.mad.mean",
        "must lie inside its own 95% interval",
    ),
    "n: true": (lambda d: _whole(d)["mad"].update(n=True), "summary.scores.whole.mad.n", "must be a positive number"),
    "scores: []": (lambda d: d["summary"].update(scores=[]), "summary.scores", "must be an object, found list"),
    "whole: 5": (
        lambda d: d["summary"]["scores"].update(whole=5),
        "summary.scores.whole",
        "must be an object of metrics, found 5",
    ),
    "an unknown convention value": (
        lambda d: d["summary"]["conventions"].update(conn_ties="diagonal"),
        "summary.conventions.conn_ties",
        "must be one of column-major, row-major, found 'diagonal'",
    ),
    "a non-reference convention called reference": (
        lambda d: d["summary"]["conventions"].update(conn_ties="row-major"),
        "summary.reference_conventions",
        "must be false: the conventions are not the reference ones",
    ),
    "an unknown metric": (
        lambda d: _whole(d).update(madd=_whole(d)["mad"]),
        "summary.scores.whole.madd",
        "is not a known metric",
    ),
    "a date that does not exist": (
        lambda d: d.update(date="2026-02-30"),
        "date",
        "must be a date that exists, found '2026-02-30' (day is out of range for month)",
    ),
}


@pytest.mark.parametrize("edit", EDITS)
def test_leaderboard_check_refuses_impossible_numbers_naming_file_and_field(results, tmp_path, committed_board, edit):
    # Reported: MAD -1.0 ranked first (shown as -1000.000), `mean: true` showed as 1000.000, NaN
    # speeds passed `leaderboard --check`, `scores: []` or `whole: 5` was an AttributeError.
    change, field, problem = EDITS[edit]
    path = results / GOOD
    _edit(path, change)
    board = tmp_path / "board"
    shutil.copytree(committed_board, board)
    before = tree_hashes(results, board)
    for args in (["--check"], []):
        result = cli("leaderboard", "--results", results, "--out", board, *args)
        assert result.exit_code == 1
        assert f"error: {path}: field '{field}' {problem}" in result.output
    assert tree_hashes(results, board) == before  # nothing rewritten from a bad file


def test_check_lists_every_invalid_file_not_only_the_first(results, tmp_path):
    _edit(results / GOOD, lambda d: _whole(d)["mad"].update(mean=-1.0))
    other = results / "sample" / "original" / "mediapipe-general.json"
    _edit(other, lambda d: d["model"].update(speed={"640x360": True}))
    result = cli("leaderboard", "--results", results, "--out", tmp_path / "board", "--check")
    assert result.exit_code == 1
    assert f"2 results files under {results} are invalid:" in result.output
    assert f"{results / GOOD}: field 'summary.scores.whole.mad.mean'" in result.output
    assert f"{other}: field 'model.speed' must map frame sizes to FPS numbers (finite, > 0); '640x360' is True" in (
        result.output
    )


def test_consistently_halved_numbers_pass_validation_and_are_left_to_the_rescoring_hook(results, tmp_path):
    # Halving a whole row, per-image scores included, keeps every number in range, the mean inside
    # its interval and equal to the per-image mean: only scoring again can tell. `check` takes that
    # re-scoring as a hook (scripts/build_sample_board.py --check is the full one).
    def halve(document):
        for stats in _whole(document).values():
            stats.update(mean=stats["mean"] / 2, median=stats["median"] / 2, std=stats["std"] / 2)
            stats["ci95"] = [value / 2 for value in stats["ci95"]]
        for values in document["per_unit"]["scores"]["whole"].values():
            values[:] = [value / 2 for value in values]

    _edit(results / GOOD, halve)
    load_results(results)  # valid as data
    committed = {(r["model"]["name"], r["dataset"]["variant"]): r["summary"]["scores"] for r in load_results(COMMITTED)}

    def rescore(documents):
        return [
            f"{d['model']['name']} on {d['dataset']['variant']}: the scores differ from a fresh run"
            for d in documents
            if d["summary"]["scores"] != committed[(d["model"]["name"], d["dataset"]["variant"])]
        ]

    board = tmp_path / "board"
    boards.build(results, board)
    assert boards.check(results, board) == []
    with pytest.raises(
        ResultError, match=r"^1 results do not reproduce when scored again:\n  reference-onnx on original: the scores"
    ):
        boards.check(results, board, rescore=rescore)
    assert boards.check(COMMITTED, COMMITTED.parent, rescore=rescore) == []


def test_non_reference_results_are_never_ranked_beside_reference_ones(tmp_path):
    # Reported: results scored with a non-reference --convention passed `leaderboard --check` and
    # were ranked with the rest.
    make_pairs(tmp_path / "set", count=3)
    conventions = Conventions.parse(["conn_ties=row-major"])
    scored = scoring.score_directories(
        tmp_path / "set" / "pred", tmp_path / "set" / "gt", workers=1, progress=False, conventions=conventions
    )
    folder = tmp_path / "results"
    shutil.copytree(COMMITTED, folder)
    provenance = load_result(COMMITTED / GOOD)["dataset"]
    summary = copy.deepcopy(scored.summary)
    for stats in summary["scores"]["whole"].values():  # better than every model, to tempt the ranking
        stats.update(mean=0.0, median=0.0, std=0.0, ci95=[0.0, 0.0])
    per_unit = per_unit_scores([{**row, **dict.fromkeys(summary["options"]["metrics"], 0.0)} for row in scored.rows],
                               summary["options"]["metrics"])  # fmt: skip
    speed = {"speed": {"640x360": 999.0}, "speed_machine": "box", "speed_input": "256x144"}  # and to tempt the plot
    model = {"name": "row-major-net", **speed}
    write_result(make_result(summary, model, "2026-11-25", dataset=provenance, per_unit=per_unit), folder)
    outputs = boards.render(folder)
    readme = outputs["README.md"]
    reference = readme.split("### sample / original / whole\n")[1].split("\n### ")[0]
    apart = readme.split("### sample / original / whole (non-reference conventions: conn_ties=row-major)\n")[1]
    apart = apart.split("\n### ")[0]
    assert "row-major-net" not in reference and "| reference-onnx |" in reference
    assert "| row-major-net |" in apart and "reference-onnx" not in apart
    assert "not comparable with the reference tables" in apart
    rows = [line for line in outputs["leaderboard.csv"].splitlines() if ",row-major-net," in line]
    assert rows and all(line.endswith(",conn_ties=row-major") for line in rows)
    assert "accuracy_vs_speed-sample-original.png" not in outputs  # its speed is not plotted either


# ---- add-result ------------------------------------------------------------------------------


def _summary_file(tmp_path: Path, change=None, source: Path = GOOD) -> Path:
    """A score run (summary and per-image scores) of a committed result, its summary changed."""
    document = load_result(COMMITTED / source)
    if change:
        change(document["summary"])
    return write_score_run(tmp_path / "scores", document)


ADD_RESULT_CASES = {
    "dataset as a string": (
        lambda s: s.update(dataset="sample"),
        None,
        [],
        "{summary}: field 'dataset' must be null or an object with 'name' and 'variant', found 'sample'",
    ),
    "no variant": (
        lambda s: s["dataset"].pop("variant"),
        None,
        [],
        "{summary}: field 'dataset.variant' is missing or not a string; score with --dataset NAME --variant V",
    ),
    "--meta a JSON list": (None, "[1, 2]", [], "{meta}: the model metadata must be a JSON object, found list"),
    "--meta not JSON": (None, "{parameters: 12", [], "{meta}: the model metadata is not valid JSON (Expecting"),
    "--meta with a bad field": (
        None,
        '{"parameters": "35k"}',
        [],
        "(made from {summary}, {meta}): field 'model.parameters' must be a non-negative integer, or null",
    ),
    "--date 2026-13-45": (
        None,
        None,
        ["--date", "2026-13-45"],
        "--date 2026-13-45: '2026-13-45' is not a date that exists (month must be in 1..12)",
    ),
}


@pytest.mark.parametrize("case", ADD_RESULT_CASES)
def test_add_result_refuses_unusable_input_naming_the_file(tmp_path, case):
    # Reported: dataset as a string, no variant or --meta as a JSON list were tracebacks; invalid
    # --meta JSON did not name the file; --date 2026-13-45 was accepted.
    change, meta_text, extra, message = ADD_RESULT_CASES[case]
    summary = _summary_file(tmp_path, change)
    args = ["add-result", summary, "--model", "my-net", "--results", tmp_path / "results", *extra]
    meta = tmp_path / "model.json"
    if meta_text is not None:
        meta.write_text(meta_text)
        args += ["--meta", meta]
    inputs = [summary] + ([meta] if meta_text is not None else [])
    before = tree_hashes(*inputs)
    result = cli(*args)
    assert result.exit_code == 1
    assert message.format(summary=summary, meta=meta) in result.output
    assert not (tmp_path / "results").exists() or not any((tmp_path / "results").rglob("*.json"))
    assert tree_hashes(*inputs) == before


def test_add_result_never_overwrites_without_replace_and_keeps_what_it_does_not_replace(tmp_path):
    # Reported: re-adding a result with the same --model silently overwrote it and dropped its
    # recorded speed.
    summary = _summary_file(tmp_path)
    bench = tmp_path / "bench.json"
    bench.write_text(json.dumps({"model": {"input_size": "256x144"}, "machine": "box, 2 CPUs",
                                 "frames": [{"size": "640x360", "fps": 31.5}]}))  # fmt: skip
    results = tmp_path / "results"
    base = ["add-result", summary, "--model", "my-net", "--results", results, "--date", "2026-11-25"]
    assert cli(*base, "--bench", bench).exit_code == 0
    path = results / "sample" / "original" / "my-net.json"
    first = path.read_bytes()
    # the same model again, with new scores (another model's run on the same images): refused,
    # the file left as it was
    newer = _summary_file(tmp_path, source=Path("sample") / "original" / "mediapipe-general.json")
    before = tree_hashes(newer, bench)
    result = cli(*base[:-2], "--date", "2026-11-26")
    assert result.exit_code == 1
    assert f"error: {path}: a result of my-net on sample/original exists already; pass --replace" in result.output
    assert path.read_bytes() == first
    # with --replace: the new scores and date, the recorded speed kept
    result = cli(*base[:-2], "--date", "2026-11-26", "--replace")
    assert result.exit_code == 0, result.output
    replaced = load_result(path)
    assert replaced["date"] == "2026-11-26"
    assert replaced["summary"]["scores"] == json.loads(newer.read_text())["scores"]
    assert replaced["model"]["speed"] == {"640x360": 31.5}
    assert replaced["model"]["speed_machine"] == "box, 2 CPUs" and replaced["model"]["speed_input"] == "256x144"
    # new metadata replaces the metadata it names, and only that
    meta = tmp_path / "model.json"
    meta.write_text(json.dumps({"parameters": 1234, "notes": "a compact net"}))
    assert cli(*base[:-2], "--date", "2026-11-27", "--replace", "--meta", meta).exit_code == 0
    model = load_result(path)["model"]
    assert model["parameters"] == 1234 and model["description"] == "a compact net"
    assert model["speed"] == {"640x360": 31.5}
    assert tree_hashes(newer, bench) == before
