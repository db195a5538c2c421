"""A folder lock: one vbbench process at a time writes into a folder.

Two ``vbbench score`` runs into the same ``--out`` used to crash one of them (the first removed
the checkpoint the second was appending to) and lose its results. :class:`FolderLock` holds an
exclusive ``flock`` on a hidden file inside the folder, with the holder's PID written in it; a
second process stops at once with :class:`~vbbench.errors.BusyError` "… in use by PID N".

Why ``flock`` on a file rather than "create the lock file exclusively": the kernel releases the
lock when the holder dies, ``kill -9`` included, so a crashed run never leaves a stale lock that
a user must delete by hand. The lock file is removed on release while still locked; a process
that opened the old file meanwhile notices (its file is no longer the one at the path) and tries
again, so two processes never both believe they hold the folder.
"""

from __future__ import annotations

import errno
import fcntl
import os
from pathlib import Path
from types import TracebackType

from vbbench.errors import BusyError, OutputError

__all__ = ["FolderLock", "LOCK_NAME"]

#: The lock file inside a locked folder (hidden, so folder scans never take it for a matte).
LOCK_NAME = ".vbbench.lock"


class FolderLock:
    """Hold ``path`` (a folder, created if missing) for this process; a context manager.

    Parameters
    ----------
    path : path
        The folder to hold.

    Raises
    ------
    BusyError
        On entry, if another process holds the folder; the message names its PID.
    OutputError
        If the folder or its lock file cannot be created.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp()) / "scores"
    >>> with FolderLock(folder):
    ...     with FolderLock(folder):
    ...         pass
    Traceback (most recent call last):
    ...
    vbbench.errors.BusyError: .../scores: in use by PID ... (another vbbench run writes there); wait for it to finish, or choose another folder
    >>> with FolderLock(folder):  # released on exit
    ...     pass
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.lock_file = self.path / LOCK_NAME
        self._handle: int | None = None
        self._created: list[Path] = []  # folders this lock made, removed on release if still empty

    def __enter__(self) -> FolderLock:
        self.acquire()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.release()

    def acquire(self) -> None:
        """Take the lock or raise :class:`BusyError` at once (no waiting)."""
        if self._handle is not None:
            raise RuntimeError(f"{self.path}: this FolderLock is already held")
        self._make_folder()
        while True:
            try:
                handle = os.open(self.lock_file, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
            except FileNotFoundError:  # the folder went with another holder's release: make it again
                self._make_folder()
                continue
            except OSError as problem:
                raise OutputError(
                    f"{self.lock_file}: cannot create the lock file ({problem.strerror or problem})"
                ) from None
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as problem:
                holder = _read_pid(handle)
                os.close(handle)
                if problem.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    raise OutputError(f"{self.lock_file}: cannot be locked ({problem.strerror or problem})") from None
                who = f"PID {holder}" if holder else "another process (PID not yet written)"
                raise BusyError(
                    f"{self.path}: in use by {who} (another vbbench run writes there); wait for it to finish, "
                    "or choose another folder"
                ) from None
            try:
                same = os.stat(self.lock_file).st_ino == os.fstat(handle).st_ino
            except FileNotFoundError:
                same = False
            if not same:  # the holder removed it while we waited for it: lock the new one
                os.close(handle)
                continue
            os.ftruncate(handle, 0)
            os.write(handle, f"{os.getpid()}\n".encode())
            self._handle = handle
            return

    def _make_folder(self) -> None:
        missing = [folder for folder in (self.path, *self.path.parents) if not folder.exists()]
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as problem:
            raise OutputError(f"{self.path}: cannot create the folder ({problem.strerror or problem})") from None
        self._created = self._created or missing

    def release(self) -> None:
        """Remove the lock file and let the folder go (no-op if not held). Folders the lock
        created are removed again if nothing was written into them, so a run that failed on its
        inputs leaves nothing behind."""
        if self._handle is None:
            return
        try:
            self.lock_file.unlink(missing_ok=True)
        finally:
            os.close(self._handle)
            self._handle = None
        for folder in self._created:  # deepest first
            try:
                folder.rmdir()
            except OSError:
                break
        self._created = []


def _read_pid(handle: int) -> int | None:
    try:
        text = os.pread(handle, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None
