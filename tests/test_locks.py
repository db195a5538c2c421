"""FolderLock: one writer per folder; the second names the first one's PID; no stale locks."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from vbbench.errors import BusyError
from vbbench.locks import LOCK_NAME, FolderLock

HOLD = textwrap.dedent(
    """
    import sys, time
    from vbbench.locks import FolderLock
    lock = FolderLock(sys.argv[1], what="vbbench prepare shen2016")
    lock.__enter__()
    print("held", flush=True)
    time.sleep(60)
    """
)


@pytest.fixture
def holder(tmp_path):
    """Another process that holds the lock on tmp_path/data until it is killed."""
    folder = tmp_path / "data"
    process = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(folder)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    assert process.stdout is not None and process.stdout.readline().strip() == "held"
    yield folder, process
    process.kill()
    process.wait()


def test_a_second_holder_is_told_the_pid_of_the_first(holder):
    folder, process = holder
    with pytest.raises(BusyError) as caught:
        with FolderLock(folder):
            pass
    message = str(caught.value)
    assert message.startswith(f"{folder} is in use by PID {process.pid} (vbbench prepare shen2016, since ")
    assert message.endswith(
        f"; wait for it to finish and run the command again (if no such process is running, delete {folder / LOCK_NAME})"
    )


def test_a_killed_holder_leaves_no_stale_lock(holder):
    folder, process = holder
    process.kill()
    process.wait()
    assert (folder / LOCK_NAME).is_file()  # its record is still there, its flock is not
    with FolderLock(folder) as lock:
        assert lock.holder()["pid"] == os.getpid()
    assert not (folder / LOCK_NAME).exists()


def test_the_lock_is_reentrant_in_one_process_and_tidies_up(tmp_path):
    folder = tmp_path / "new"
    with FolderLock(folder, what="outer"):
        with FolderLock(folder, what="inner") as inner:
            assert inner.holder()["what"] == "outer"
        assert (folder / LOCK_NAME).is_file()  # still held by the outer one
    assert not folder.exists()  # it made the folder, and the folder stayed empty
    kept = tmp_path / "kept"
    with FolderLock(kept):
        (kept / "result.csv").write_text("x")
    assert sorted(p.name for p in kept.iterdir()) == ["result.csv"]


def test_a_named_lock_guards_one_file_of_a_shared_folder(tmp_path):
    with FolderLock(tmp_path, name=".a.zip.lock"):
        with FolderLock(tmp_path, name=".b.zip.lock"):  # another file: no conflict
            assert sorted(p.name for p in tmp_path.iterdir()) == [".a.zip.lock", ".b.zip.lock"]
