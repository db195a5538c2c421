"""Issue 11, "finished work lost, or a traceback instead of an error": one test per reported case.

Each test asserts the exit code, the message naming the file, and that no input changed.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _trust import REPO, cli, make_pairs, run_restricted, tree_hashes

from vbbench import score as scoring
from vbbench.io import write_png
from vbbench.locks import LOCK_NAME

VBBENCH = Path(sys.executable).with_name("vbbench")


def _environment() -> dict:
    return {**os.environ, "PYTHONPATH": str(REPO)}


def test_a_failed_write_keeps_the_checkpoint_and_the_rerun_rescores_nothing(tmp_path, monkeypatch):
    # Reported: the checkpoint was deleted before the outputs were written, so a write failure
    # after scoring (summary.json blocked) left per_image.csv alone and forced a full rescore.
    make_pairs(tmp_path)
    out = tmp_path / "out"
    (out / "summary.json").mkdir(parents=True)  # blocks the summary's rename
    before = tree_hashes(tmp_path / "pred", tmp_path / "gt")
    result = cli("score", tmp_path / "pred", "--gt", tmp_path / "gt", "--out", out, "--workers", 1, "--quiet")
    assert result.exit_code == 1
    checkpoint = out / "per_image.partial.jsonl"
    assert (
        f"error: {out / 'summary.json'}: cannot be written (Is a directory); the scores are kept in {checkpoint}"
        in (result.output)
    )
    assert "run the same command again (nothing is rescored)" in result.output
    assert len(checkpoint.read_text().splitlines()) == 1 + 3
    (out / "summary.json").rmdir()
    scored = []
    real = scoring.score_pair
    monkeypatch.setattr(scoring, "score_pair", lambda task: scored.append(task.image_id) or real(task))
    again = cli("score", tmp_path / "pred", "--gt", tmp_path / "gt", "--out", out, "--workers", 1, "--quiet")
    assert again.exit_code == 0, again.output
    assert scored == []  # every pair came from the checkpoint
    assert not checkpoint.exists()
    fresh = scoring.score_directories(tmp_path / "pred", tmp_path / "gt", workers=1, progress=False)
    assert json.loads((out / "summary.json").read_text())["scores"] == fresh.summary["scores"]
    assert tree_hashes(tmp_path / "pred", tmp_path / "gt") == before


def test_a_second_run_into_the_same_out_stops_with_the_holders_pid(tmp_path):
    # Reported: two `vbbench score` runs into one --out crashed one of them
    # (FileNotFoundError: per_image.partial.jsonl) and lost its results.
    make_pairs(tmp_path)
    out = tmp_path / "out"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time\nfrom vbbench.locks import FolderLock\n"
         "with FolderLock(sys.argv[1]):\n    print('held', flush=True)\n    time.sleep(120)\n", str(out)],
        stdout=subprocess.PIPE, text=True, env=_environment(),
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "held"
        before = tree_hashes(tmp_path / "pred", tmp_path / "gt")
        result = cli("score", tmp_path / "pred", "--gt", tmp_path / "gt", "--out", out, "--workers", 1)
        assert result.exit_code == 1
        assert f"error: {out} is in use by PID {holder.pid} (" in result.output
        assert not (out / "summary.json").exists() and not (out / "per_image.partial.jsonl").exists()
    finally:
        holder.send_signal(signal.SIGKILL)  # as `kill -9` would: the kernel releases the lock
        holder.wait()
    assert (out / LOCK_NAME).exists()  # left behind by the killed holder, with its PID ...
    result = cli("score", tmp_path / "pred", "--gt", tmp_path / "gt", "--out", out, "--workers", 1)
    assert result.exit_code == 0, result.output  # ... and no obstacle to the next run
    assert sorted(os.listdir(out)) == ["per_image.csv", "summary.json"]
    assert tree_hashes(tmp_path / "pred", tmp_path / "gt") == before


def test_two_real_runs_into_one_out_never_crash_or_lose_results(tmp_path):
    make_pairs(tmp_path, count=12, shape=(160, 120))
    out = tmp_path / "out"
    command = [VBBENCH, "score", tmp_path / "pred", "--gt", tmp_path / "gt", "--out", out, "--workers", "1", "-q"]
    runs = [subprocess.Popen(command, stderr=subprocess.PIPE, text=True, env=_environment()) for _ in range(2)]
    outcomes = [(run.wait(timeout=300), run.stderr.read()) for run in runs]
    for code, stderr in outcomes:
        assert "Traceback" not in stderr
        assert code == 0 or (code == 1 and "in use by PID" in stderr), stderr
    assert 0 in [code for code, _ in outcomes]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["counts"]["scored"] == 12 and not (out / "per_image.partial.jsonl").exists()


@pytest.mark.parametrize("command", ["score", "predict"])
@pytest.mark.parametrize("problem", ["read-only", "below a file"])
def test_an_out_that_cannot_be_written_is_an_error_before_any_work(tmp_path, command, problem):
    # Reported: a read-only or impossible --out was a PermissionError / NotADirectoryError traceback.
    make_pairs(tmp_path)
    read_only = tmp_path / "read-only"
    read_only.mkdir()
    read_only.chmod(0o555)
    (tmp_path / "notes.txt").write_text("x")
    out = read_only / "scores" if problem == "read-only" else tmp_path / "notes.txt" / "scores"
    args = {
        "score": ["score", tmp_path / "pred", "--gt", tmp_path / "gt", "--out", out, "--workers", 1],
        "predict": ["predict", "--model", "reference-onnx", "--images", tmp_path / "gt", "--out", out],
    }[command]
    before = tree_hashes(tmp_path / "pred", tmp_path / "gt")
    try:
        result = run_restricted(args, cwd=tmp_path)
    finally:
        read_only.chmod(0o755)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    if problem == "read-only":
        expected = f"error: --out {out} is not writable (it would be created in {read_only}): Permission denied"
    else:
        expected = f"error: --out {out} cannot be created: {tmp_path / 'notes.txt'} is a file, not a folder"
    assert expected in result.stderr
    assert tree_hashes(tmp_path / "pred", tmp_path / "gt") == before
    assert list(read_only.iterdir()) == []


# ---- Dask ------------------------------------------------------------------------------------


def test_dask_scores_relative_paths_given_where_the_workers_are_not(tmp_path, monkeypatch):
    # Reported: --scheduler with relative paths failed on every file (the workers resolved them
    # in their own folder).
    distributed = pytest.importorskip("distributed")
    make_pairs(tmp_path)
    local = scoring.score_directories(tmp_path / "pred", tmp_path / "gt", workers=1, progress=False)
    before = tree_hashes(tmp_path / "pred", tmp_path / "gt")
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None, host="127.0.0.1"
    ) as cluster:
        monkeypatch.chdir(tmp_path)  # the workers stay in the folder the suite started in
        result = cli("score", "pred", "--gt", "gt", "--out", "out", "--scheduler", cluster.scheduler_address, "-q")
    assert result.exit_code == 0, result.output
    remote = pd.DataFrame(scoring.read_per_image(tmp_path / "out" / "per_image.csv"))
    pd.testing.assert_frame_equal(remote, local.per_image, check_exact=True)
    assert tree_hashes(tmp_path / "pred", tmp_path / "gt") == before


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_an_unreachable_scheduler_or_one_without_workers_is_a_clear_error(tmp_path, monkeypatch):
    distributed = pytest.importorskip("distributed")
    make_pairs(tmp_path, count=2)
    monkeypatch.setattr(scoring, "DASK_CONNECT_TIMEOUT_S", 2.0)
    address = f"tcp://127.0.0.1:{_free_port()}"
    result = cli("score", tmp_path / "pred", "--gt", tmp_path / "gt", "--scheduler", address, "-q")
    assert result.exit_code == 1
    assert f"error: cannot reach the Dask scheduler at {address}" in result.output
    assert "check that `dask scheduler` runs there and that its port is open from this machine" in result.output
    with distributed.LocalCluster(n_workers=0, dashboard_address=None, host="127.0.0.1") as cluster:
        address = cluster.scheduler_address
        result = cli("score", tmp_path / "pred", "--gt", tmp_path / "gt", "--scheduler", address, "-q")
    assert result.exit_code == 1
    assert f"error: the Dask scheduler at {address} has no worker" in result.output
    assert f"start some with `dask worker {address}`" in result.output


def _cannot_import(task):
    raise ModuleNotFoundError("No module named 'vbbench'")


def test_a_worker_that_cannot_run_vbbench_is_a_clear_error(tmp_path, monkeypatch):
    distributed = pytest.importorskip("distributed")
    make_pairs(tmp_path, count=2)
    monkeypatch.setattr(scoring, "score_pair", _cannot_import)  # what a worker without vbbench meets
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None
    ) as cluster:
        result = cli("score", tmp_path / "pred", "--gt", tmp_path / "gt", "--scheduler", cluster.scheduler_address)
    assert result.exit_code == 1
    assert (
        f"error: a Dask worker failed on {tmp_path / 'pred' / '00.png'}: ModuleNotFoundError: No module named "
        "'vbbench'; check that every worker has vbbench"
    ) in result.output


# ---- checkpoint and workers ------------------------------------------------------------------

CORRUPTIONS = {
    "cut off": lambda record: json.dumps(record)[:25],
    "not JSON": lambda record: "\x00\x13garbage",
    "a JSON list": lambda record: json.dumps([record["key"], record["stamp"]]),
    "a JSON string": lambda record: json.dumps(record["key"]),
    "null": lambda record: "null",
    "no result": lambda record: json.dumps({"key": record["key"], "stamp": record["stamp"]}),
    "a result of text": lambda record: json.dumps({**record, "result": "rows"}),
    "rows without a metric": lambda record: json.dumps(
        {**record, "result": [{k: v for k, v in row.items() if k != "mad"} for row in record["result"]]}
    ),
    "a NaN score": lambda record: json.dumps(
        {**record, "result": [{**row, "mad": float("nan")} for row in record["result"]]}
    ),
    "a true score": lambda record: json.dumps({**record, "result": [{**row, "mad": True} for row in record["result"]]}),
    "another image's rows": lambda record: json.dumps(
        {**record, "result": [{**row, "image": "02"} for row in record["result"]]}
    ),
    "a stamp of text": lambda record: json.dumps({**record, "stamp": [str(v) for v in record["stamp"]]}),
}


@pytest.mark.parametrize("corruption", CORRUPTIONS)
def test_a_corrupted_checkpoint_line_is_scored_again_never_trusted(tmp_path, monkeypatch, corruption):
    # Reported: a corrupted checkpoint line was a TypeError traceback.
    make_pairs(tmp_path)
    out = tmp_path / "out"
    checkpoint = out / "per_image.partial.jsonl"
    clean = scoring.score_directories(
        tmp_path / "pred", tmp_path / "gt", workers=1, progress=False, checkpoint=checkpoint
    )  # finished, outputs not yet written: the checkpoint holds every pair
    header, *records = checkpoint.read_text().splitlines()
    records = [json.loads(line) for line in records]
    damaged = [CORRUPTIONS[corruption](record) if record["key"] == "01" else json.dumps(record) for record in records]
    checkpoint.write_text("\n".join([header, *damaged]) + "\n")
    before = tree_hashes(tmp_path / "pred", tmp_path / "gt")
    scored = []
    real = scoring.score_pair
    monkeypatch.setattr(scoring, "score_pair", lambda task: scored.append(task.image_id) or real(task))
    result = cli("score", tmp_path / "pred", "--gt", tmp_path / "gt", "--out", out, "--workers", 1, "-q")
    assert result.exit_code == 0, result.output
    assert scored == ["01"]
    table = pd.DataFrame(scoring.read_per_image(out / "per_image.csv"))
    pd.testing.assert_frame_equal(table, clean.per_image, check_exact=True)
    assert tree_hashes(tmp_path / "pred", tmp_path / "gt") == before


def _descendants(pid: int) -> dict[int, int]:
    """Every living descendant of ``pid`` with its depth (1 = child), read from /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stream:
                    parent = int(stream.read().rsplit(") ", 1)[1].split()[1])
            except (FileNotFoundError, ProcessLookupError, IndexError):
                continue
            children.setdefault(parent, []).append(int(entry))
    found: dict[int, int] = {}
    todo = [(pid, 0)]
    while todo:
        parent, depth = todo.pop()
        for child in children.get(parent, []):
            found[child] = depth + 1
            todo.append((child, depth + 1))
    return found


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stream:
            return stream.read().rsplit(") ", 1)[1][0] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads the process tree from /proc")
def test_kill_9_of_score_with_two_workers_leaves_no_process_behind(tmp_path):
    # Reported: `kill -9` of `score --workers 2` left orphaned worker processes.
    rng = np.random.default_rng(0)
    for index in range(40):
        matte = rng.integers(0, 256, (300, 240), dtype=np.uint8)
        write_png(tmp_path / "gt" / f"{index:02d}.png", matte)
        write_png(tmp_path / "pred" / f"{index:02d}.png", matte[::-1].copy())
    run = subprocess.Popen(
        [VBBENCH, "score", tmp_path / "pred", "--gt", tmp_path / "gt", "--workers", "2", "-q"],
        env=_environment(), stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    family: dict[int, int] = {}
    # the run's forkserver (a child) forks the workers: grandchildren of the run
    while time.monotonic() < deadline and sum(depth >= 2 for depth in family.values()) < 2:
        time.sleep(0.05)
        family = _descendants(run.pid)
    assert sum(depth >= 2 for depth in family.values()) >= 2, f"the workers never started: {family}"
    assert run.poll() is None, "the run finished before it could be killed; give it more work"
    run.send_signal(signal.SIGKILL)
    run.wait()
    deadline = time.monotonic() + 15
    alive = set(family)
    while alive and time.monotonic() < deadline:
        alive = {pid for pid in alive if _alive(pid)}
        time.sleep(0.1)
    assert not alive, f"processes {sorted(alive)} outlived the killed run"
