"""Suite-level check (issue 11): no command prints a traceback for an expected failure.

Every command of ``vbbench`` is driven with bad inputs (missing, unreadable or impossible paths,
outputs over inputs, unknown names, malformed values); each run must exit non-zero with an
``error:`` message (or click's usage error), never a traceback, and leave its inputs unchanged.
A command added to the CLI without bad-input cases here fails the coverage test.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from _trust import REPO, make_pairs, tree_hashes
from typer.testing import CliRunner

from vbbench.cli import app
from vbbench.io import write_png

runner = CliRunner()

#: command → bad argument lists; {t} is the test's folder (see the `bad` fixture).
CASES: dict[str, list[list[str]]] = {
    "score": [
        ["{t}/nowhere", "--gt", "{t}/gt"],
        ["{t}/pred", "--gt", "{t}/empty"],
        ["{t}/pred", "--gt", "{t}/gt", "--out", "{t}/notes.txt/scores"],
        ["{t}/pred", "--gt", "{t}/gt", "--out", "{t}/pred"],
        ["{t}/pred", "--gt", "{t}/gt", "--out", "{t}", "--error-maps"],
        ["{t}/pred", "--gt", "{t}/gt", "--metrics", "madd"],
        ["{t}/pred", "--gt", "{t}/gt", "--convention", "conn_ties=diagonal"],
        ["{t}/pred", "--gt", "{t}/gt", "--matte-channel", "red"],
        ["{t}/pred", "--gt", "{t}/gt", "--trimap", "{t}/gt"],
        ["{t}/pred", "--gt", "{t}/gt", "--trimap-unknown", "300"],
        ["{t}/broken", "--gt", "{t}/gt", "--workers", "1"],
        ["{t}/pred", "--dataset", "nope"],
        ["{t}/pred", "--dataset", "shen2016", "--data-dir", "{t}/empty"],
        ["{t}/pred"],
    ],
    "metrics": [["extra-argument"]],
    "demo": [["--out", "{t}/notes.txt/demo"], ["--count", "0"]],
    "sample": [["{t}/notes.txt"], ["{t}/notes.txt/sample"], ["{t}/s", "--count", "0"]],
    "prepare": [
        ["nope"],
        ["sample", "--data-dir", "{t}/notes.txt/data"],
        ["shen2016", "--from", "{t}/nowhere.zip", "--data-dir", "{t}/data"],
        ["shen2016", "aisegment", "--from", "{t}/nowhere.zip", "--data-dir", "{t}/data"],
    ],
    "verify": [["nope"], ["shen2016", "--data-dir", "{t}/empty"], ["sample", "--data-dir", "{t}/notes.txt/x"]],
    "train": [
        ["--dataset", "folders"],
        ["--dataset", "folders", "--images", "{t}/gt", "--alpha", "{t}/gt", "--out", "{t}/gt"],
        ["--dataset", "nope"],
        ["--input", "0x5"],
    ],
    "export": [["--to", "tflite"], ["--out", "{t}/notes.txt/model.onnx"]],
    "predict": [
        ["--model", "nope", "--images", "{t}/gt", "--out", "{t}/p"],
        ["--model", "reference-onnx", "--images", "{t}/gt", "--out", "{t}/gt"],
        ["--model", "reference-onnx", "--images", "{t}/gt", "--out", "{t}/notes.txt/p"],
        ["--model", "reference-onnx", "--out", "{t}/p"],
        ["--model", "reference-onnx", "--dataset", "shen2016", "--data-dir", "{t}/empty", "--out", "{t}/p"],
    ],
    "bench": [["--model", "nope"], ["--model", "reference-onnx", "--frames", "0"]],
    "composite": [["{t}/nowhere.mp4", "--background", "{t}/notes.txt", "--model", "nope"]],
    "browse": [["--runs", "{t}/nowhere"], ["--runs", "{t}/gt"]],
    "leaderboard": [
        ["--results", "{t}/nowhere", "--check"],
        ["--results", "{t}/results", "--out", "{t}/board"],
        ["--results", "{t}/results", "--out", "{t}/notes.txt/board"],
    ],
    "add-result": [
        ["{t}/nowhere.json", "--model", "m"],
        ["{t}/notes.txt", "--model", "m"],
        ["{t}/summary.json", "--model", "m", "--results", "{t}/results"],
        ["{t}/summary.json", "--model", "bad name/..", "--results", "{t}/r2"],
    ],
}


@pytest.fixture
def bad(tmp_path) -> Path:
    """Inputs that go wrong in every way the cases need."""
    make_pairs(tmp_path)
    (tmp_path / "empty").mkdir()
    (tmp_path / "notes.txt").write_text("not an image, not JSON\n")
    write_png(tmp_path / "broken" / "00.png", np.zeros((40, 32), np.uint8))
    (tmp_path / "broken" / "01.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    (tmp_path / "broken" / "02.png").write_bytes(b"")
    (tmp_path / "results" / "sample" / "generated").mkdir(parents=True)
    (tmp_path / "results" / "sample" / "generated" / "x.json").write_text('{"schema": "vbbench-result/1", "model": 5}')
    (tmp_path / "summary.json").write_text('{"schema": "vbbench-score/1", "scores": []}')
    return tmp_path


def test_every_command_has_bad_input_cases():
    commands = {command.name or command.callback.__name__.replace("_", "-") for command in app.registered_commands}
    assert commands == set(CASES), f"commands without cases: {sorted(commands - set(CASES))}"


@pytest.mark.parametrize(
    "command, args", [(command, args) for command, cases in CASES.items() for args in cases], ids=str
)
def test_no_command_prints_a_traceback_for_an_expected_failure(bad, command, args):
    if command == "browse":
        pytest.importorskip("fiftyone", reason="browse needs the app extra")
    argv = [command, *(arg.replace("{t}", str(bad)) for arg in args)]
    before = tree_hashes(bad / "pred", bad / "gt", bad / "notes.txt", bad / "results", bad / "summary.json")
    result = runner.invoke(app, argv)
    assert result.exit_code != 0, result.output
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception  # a bug, with its traceback
    assert "Traceback" not in result.output
    assert "error: " in result.output or "Usage: " in result.output, result.output
    assert tree_hashes(bad / "pred", bad / "gt", bad / "notes.txt", bad / "results", bad / "summary.json") == before


@pytest.mark.parametrize(
    "args",
    [
        ["score", "{t}/pred", "--gt", "{t}/gt", "--out", "{t}/notes.txt/scores"],
        ["score", "{t}/broken", "--gt", "{t}/gt", "--workers", "2"],
        ["predict", "--model", "reference-onnx", "--images", "{t}/gt", "--out", "{t}/gt"],
        ["add-result", "{t}/summary.json", "--model", "m", "--results", "{t}/results"],
    ],
    ids=lambda args: " ".join(args[:2]),
)
def test_the_installed_command_prints_one_error_line_and_no_traceback(bad, args):
    # The real entry point in its own process (worker processes included): what a user sees.
    command = [Path(sys.executable).with_name("vbbench"), *(arg.replace("{t}", str(bad)) for arg in args)]
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=120, env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO)}
    )
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr and "error: " in result.stderr
