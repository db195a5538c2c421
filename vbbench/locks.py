"""One writer per folder: :class:`FolderLock`, a lock file holding the owner's PID.

Two ``vbbench prepare`` runs on the same data folder, or two ``vbbench score --out`` runs into
the same output folder, would interleave their writes (one renames a temporary file the other has
just removed). Each such command holds a :class:`FolderLock` on its folder for as long as it
writes; a second one stops at once with a :class:`vbbench.errors.BusyError` that names the folder
and the PID (and command) of the run that holds it.

How: the lock file ``<folder>/.vbbench.lock`` is locked with ``fcntl.flock`` (released by the
operating system when the holder exits, however it exits, so a killed run never leaves a stale
lock) and holds the holder's PID, command and start time for the message. On systems without
``fcntl`` (Windows) the file is created exclusively instead, and a file whose PID is no longer
running is taken over. The lock is re-entrant within one process (a command that locks a folder
can call a function that locks it again).

Examples
--------
>>> import tempfile
>>> folder = tempfile.mkdtemp()
>>> with FolderLock(folder) as lock:
...     holder = lock.holder()
>>> holder["pid"] == os.getpid()
True
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

from vbbench.errors import BusyError, OutputError

__all__ = ["FolderLock", "LOCK_NAME"]

#: Name of the lock file inside the locked folder.
LOCK_NAME = ".vbbench.lock"

try:  # POSIX
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

_held: dict[str, list[Any]] = {}  # lock file path -> [open file descriptor, depth] in this process
_held_guard = threading.Lock()


def _pid_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    except OSError:
        return False
    return True


class FolderLock:
    """Hold ``<folder>/<name>`` while a command writes into ``folder``.

    Parameters
    ----------
    folder : path
        The folder to lock (created if missing).
    name : str
        File name of the lock inside ``folder``; default :data:`LOCK_NAME`. Give another name to
        lock one file of a shared folder (a download in the archive cache).
    what : str
        What the holder is doing, shown to a second run (default: the command line).

    A folder the lock had to create is removed again on release if it is still empty.

    Raises
    ------
    vbbench.errors.BusyError
        On entry, when another process holds the lock: ``<folder> is in use by PID N (<what>,
        since <time>); wait for it to finish …``.
    """

    def __init__(self, folder: str | os.PathLike, *, name: str = LOCK_NAME, what: str = ""):
        self.folder = Path(folder)
        self.path = self.folder / name
        self.what = what or " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]).strip() or "python"
        self._created = False

    # ---- holder record -------------------------------------------------------------------------

    def holder(self) -> dict[str, Any] | None:
        """``{"pid", "what", "since"}`` of the process holding (or that last held) the lock file."""
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError):
            return None
        if not lines or not lines[0].strip().isdigit():
            return None
        return {
            "pid": int(lines[0]),
            "what": lines[1] if len(lines) > 1 else "",
            "since": lines[2] if len(lines) > 2 else "",
        }

    def _busy(self) -> BusyError:
        holder = self.holder() or {"pid": "unknown", "what": "", "since": ""}
        doing = ", ".join(
            part for part in (holder["what"], f"since {holder['since']}" if holder["since"] else "") if part
        )
        return BusyError(
            f"{self.folder} is in use by PID {holder['pid']}" + (f" ({doing})" if doing else "") + "; wait for it "
            f"to finish and run the command again (if no such process is running, delete {self.path})"
        )

    def _record(self, fd: int) -> None:
        text = f"{os.getpid()}\n{self.what}\n{time.strftime('%Y-%m-%d %H:%M:%S')}\n"
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, text.encode("utf-8"))
        with contextlib.suppress(OSError):
            os.fsync(fd)

    # ---- acquire / release ---------------------------------------------------------------------

    def _acquire_flock(self) -> int:
        while True:
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
            except OSError as problem:
                raise OutputError(f"{self.path}: cannot create the lock file ({problem.strerror or problem})") from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                raise self._busy() from None
            # The holder unlinks the file on release: if that happened between our open and our
            # flock, we hold a lock on a file nobody else can see; start again with the new one.
            try:
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                return fd
            os.close(fd)

    def _acquire_exclusive(self) -> int:  # pragma: no cover - systems without fcntl
        for _ in range(2):
            try:
                return os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o666)
            except FileExistsError:
                holder = self.holder()
                if holder is not None and holder["pid"] != os.getpid() and _pid_running(holder["pid"]):
                    raise self._busy() from None
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(self.path)  # left by a run that is gone
        raise self._busy()

    def __enter__(self) -> FolderLock:
        self._created = not self.folder.exists()
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as problem:
            raise OutputError(f"{self.folder}: cannot create the folder ({problem.strerror or problem})") from None
        key = os.path.realpath(self.path)
        with _held_guard:
            if key in _held:
                _held[key][1] += 1
                return self
            fd = self._acquire_flock() if fcntl is not None else self._acquire_exclusive()
            self._record(fd)
            _held[key] = [fd, 1]
        return self

    def __exit__(self, *exc: object) -> None:
        key = os.path.realpath(self.path)
        with _held_guard:
            entry = _held.get(key)
            if entry is None:
                return
            entry[1] -= 1
            if entry[1]:
                return
            del _held[key]
            # unlink first, while still holding the lock, so no one locks a file about to vanish
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path)
            if fcntl is not None:
                fcntl.flock(entry[0], fcntl.LOCK_UN)
            os.close(entry[0])
        if self._created:  # leave no empty folder behind (a prepare that found no data)
            with contextlib.suppress(OSError):
                self.folder.rmdir()
