"""The shared plumbing: one unit notation, one registry, one process pool, file modes, one error root."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from vbbench import units
from vbbench.errors import ModelError, ScoreError, UsageError, VbbenchError
from vbbench.io import atomic_write_text
from vbbench.parallel import process_map
from vbbench.registry import Registry
from vbbench.score import PAIRS_PER_WORKER

REPO = Path(__file__).resolve().parents[1]


def test_one_notation_for_every_scale():
    # the papers' way: the header names the unit the shown number is counted in
    assert [units.header("MAD", scale) for scale in (1e3, 1e2, 1.0, 1e-3)] == [
        "MAD (×10⁻³)",
        "MAD (×10⁻²)",
        "MAD",
        "MAD (×10³)",
    ]
    assert [units.key("sad", scale) for scale in (1e-3, 1e3, 1.0)] == ["sad_in_1e3", "sad_in_1e-3", "sad"]
    with pytest.raises(ValueError, match="power of ten"):
        units.exponent(3.0)
    # 12.3 under MAD (×10⁻³) is 0.0123: displayed = raw × scale, raw = displayed × 10^exponent
    assert 12.3 * 10.0 ** units.exponent(1e3) == pytest.approx(0.0123)


def test_registry_lookup_and_did_you_mean():
    @dataclass(frozen=True)
    class Thing:
        name: str

    things = Registry("thing", [Thing("alpha"), Thing("beta")], error=ModelError)
    assert things.names() == ("alpha", "beta") and "beta" in things and len(things) == 2
    with pytest.raises(ModelError, match=r"^unknown thing 'alpah'; did you mean 'alpha'\? \(known: alpha, beta\)$"):
        things["alpah"]
    with pytest.raises(ValueError, match="declared twice"):
        Registry("thing", [Thing("a"), Thing("a")])


def test_every_error_has_one_root_and_an_exit_code():
    for kind in (UsageError, ScoreError, ModelError):
        assert issubclass(kind, VbbenchError) and kind.exit_code == 1
    from vbbench.errors import ManualDownloadRequired

    assert ManualDownloadRequired.exit_code == 3


def _square(value: int) -> int:
    return value * value


def test_process_pool_keeps_order_and_equals_one_process():
    tasks = list(range(50))
    assert list(process_map(_square, tasks, workers=2)) == list(process_map(_square, tasks, workers=1))
    assert list(process_map(_square, tasks, workers=2)) == [t * t for t in tasks]


def _process_id(_: object) -> int:
    return os.getpid()


def test_always_pool_uses_a_worker_even_for_one_task():
    assert list(process_map(_process_id, [None], workers=1)) == [os.getpid()]
    (worker,) = process_map(_process_id, [None], workers=1, always_pool=True)
    assert worker != os.getpid()
    assert list(process_map(_process_id, [], workers=2, always_pool=True)) == []


@pytest.mark.parametrize("umask", [0o022, 0o002, 0o077])
def test_atomic_writes_keep_the_umask_mode(tmp_path, umask):
    previous = os.umask(umask)
    try:
        atomic_write_text(tmp_path / "shared.txt", "x")
        with open(tmp_path / "plain.txt", "w") as stream:
            stream.write("x")
    finally:
        os.umask(previous)
    mode = stat.S_IMODE((tmp_path / "shared.txt").stat().st_mode)
    assert mode == 0o666 & ~umask == stat.S_IMODE((tmp_path / "plain.txt").stat().st_mode)


def test_score_works_from_a_folder_holding_a_vbbench_directory(tmp_path):
    # The parent of a clone, or an empty `mkdir vbbench`: Python 3.11's forkserver imported it
    # instead of the package and every worker died (BrokenProcessPool). Enough pairs that score
    # uses two workers (fewer are scored in this process).
    (tmp_path / "vbbench").mkdir()
    vbbench = Path(sys.executable).with_name("vbbench")
    sample = subprocess.run(
        [vbbench, "sample", "s", "--count", str(2 * PAIRS_PER_WORKER), "--width", "48", "--height", "64", "--workers", "1"],
        cwd=tmp_path, capture_output=True, text=True,
    )  # fmt: skip
    assert sample.returncode == 0, sample.stderr
    scored = subprocess.run(
        [vbbench, "score", "s/predictions/sim-good", "--gt", "s/alpha", "--workers", "2", "--quiet"],
        cwd=tmp_path, capture_output=True, text=True,
    )  # fmt: skip
    assert scored.returncode == 0, scored.stderr
    assert "Traceback" not in scored.stderr and (tmp_path / "s" / "predictions" / "sim-good-scores").is_dir()


def test_workers_exit_when_the_run_is_killed(tmp_path):
    script = textwrap.dedent(
        """
        import os, sys, time
        from vbbench.parallel import process_map

        def slow(value):
            print(os.getpid(), flush=True)
            time.sleep(60)
            return value

        if __name__ == "__main__":
            list(process_map(slow, range(4), workers=2, chunksize=1))
        """
    )
    (tmp_path / "run.py").write_text(script)
    run = subprocess.Popen([sys.executable, str(tmp_path / "run.py")], stdout=subprocess.PIPE, text=True)
    workers = {int(run.stdout.readline()) for _ in range(2)}
    run.send_signal(signal.SIGKILL)
    run.wait()
    deadline = time.monotonic() + 10
    alive = set(workers)
    while alive and time.monotonic() < deadline:
        alive = {pid for pid in alive if _running(pid)}
        time.sleep(0.1)
    assert not alive, f"workers {sorted(alive)} outlived the killed run"


def _running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stream:
            return stream.read().split(") ")[1][0] != "Z"
    except FileNotFoundError:
        return False


def test_the_wheel_ships_every_package_and_every_data_file():
    """A plain `pip install .` (the README's first command) installs what pyproject.toml lists: every
    vbbench package and every file of datasets/ must be in it (vbbench.leaderboard once was not)."""
    import fnmatch

    import tomllib

    repo = Path(__file__).resolve().parents[1]
    setup = tomllib.loads((repo / "pyproject.toml").read_text())["tool"]["setuptools"]
    packages = {".".join(path.parent.relative_to(repo).parts) for path in (repo / "vbbench").rglob("__init__.py")}
    assert packages <= set(setup["packages"])
    patterns = setup["package-data"]["vbbench_datasets"]
    data = [path.relative_to(repo / "datasets").as_posix() for path in (repo / "datasets").rglob("*") if path.is_file()]
    unshipped = [name for name in data if not any(fnmatch.fnmatch(name, pattern) for pattern in patterns)]
    assert unshipped == []
