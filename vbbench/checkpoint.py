"""A resumable record of finished work: one JSON line per finished item.

An interrupted run (Ctrl-C, ``kill -9``, a full disk) loses nothing it had finished: the next
run with the same inputs and options reads the file, keeps every item whose input files are
unchanged and redoes only the rest.

The first line holds a fingerprint of everything that changes the results (folders, options,
conventions, the vbbench version); a file with another fingerprint is started afresh. Each
further line holds one item's result and the size and modification time of its input files, so an
input changed since is redone. A line that is not such a record — cut off by the interruption,
not JSON, JSON of another shape, or a result the caller's ``valid`` check refuses — is dropped
(that item is redone), never trusted: a checkpoint is a cache, and a damaged cache costs time,
not correctness.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from vbbench.errors import OutputError
from vbbench.io import atomic_write_text

__all__ = ["Checkpoint", "file_stamp"]


def file_stamp(paths: list[Path]) -> list[int]:
    """Size and modification time (ns) of each file, flattened: what "unchanged" means here."""
    stats = [path.stat() for path in paths]
    return [value for stat in stats for value in (stat.st_size, stat.st_mtime_ns)]


class Checkpoint:
    """Finished items appended to ``path`` as they complete.

    Parameters
    ----------
    path : path
        The JSON-lines file.
    fingerprint : dict
        Everything that changes the results; another fingerprint starts afresh.
    valid : callable, optional
        ``valid(key, result) -> bool``: whether a recorded result has the shape the caller
        needs; records it refuses are dropped (redone).

    Raises
    ------
    OutputError
        If the file cannot be read or written (e.g. a folder of that name, a read-only disk).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp()); data = folder / "x"; _ = data.write_text("1")
    >>> saved = Checkpoint(folder / "done.jsonl", {"run": 1})
    >>> saved.add("x", [data], {"value": 1}); saved.close()
    >>> Checkpoint(folder / "done.jsonl", {"run": 1}).finished("x", [data])
    {'value': 1}
    """

    def __init__(self, path: str | Path, fingerprint: dict[str, Any], valid: Callable[[str, Any], bool] | None = None):
        self.path = Path(path)
        self.done: dict[str, dict[str, Any]] = {}
        #: Lines of an earlier run that were damaged or of the wrong shape and were dropped.
        self.dropped = 0
        header = json.dumps({"fingerprint": fingerprint}, sort_keys=True)
        try:
            lines = self.path.read_text(encoding="utf-8", errors="replace").splitlines() if self.path.exists() else []
        except OSError as problem:
            raise OutputError(f"{self.path}: the checkpoint cannot be read ({problem.strerror or problem})") from None
        if lines and lines[0] == header:
            for line in lines[1:]:
                record = _record(line)
                if record is None or (valid is not None and not valid(record[0], record[2])):
                    self.dropped += 1
                    continue
                key, stamp, result = record
                self.done[key] = {"stamp": stamp, "result": result}
        kept = [header] + [json.dumps({"key": key, **record}) for key, record in self.done.items()]
        try:
            atomic_write_text(self.path, "\n".join(kept) + "\n")
            self.stream = self.path.open("a", encoding="utf-8")
        except OSError as problem:
            raise OutputError(
                f"{self.path}: the checkpoint cannot be written ({problem.strerror or problem})"
            ) from None

    def finished(self, key: str, inputs: list[Path]) -> Any | None:
        """The recorded result of ``key`` if its input files are unchanged, else None."""
        record = self.done.get(key)
        if record is not None and record["stamp"] == file_stamp(inputs):
            return record["result"]
        return None

    def add(self, key: str, inputs: list[Path], result: Any) -> None:
        """Record one finished item (flushed at once)."""
        try:
            self.stream.write(json.dumps({"key": key, "stamp": file_stamp(inputs), "result": result}) + "\n")
            self.stream.flush()
        except OSError as problem:
            raise OutputError(
                f"{self.path}: the checkpoint cannot be written ({problem.strerror or problem})"
            ) from None

    def close(self) -> None:
        self.stream.close()

    def remove(self) -> None:
        """Delete the record: call only once every output of the run is written."""
        self.close()
        self.path.unlink(missing_ok=True)


def _record(line: str) -> tuple[str, list[int], Any] | None:
    """``(key, stamp, result)`` of a well-formed record line, else None (the line is dropped)."""
    try:
        record = json.loads(line)
    except ValueError:
        return None
    if not isinstance(record, dict) or not {"key", "stamp", "result"} <= record.keys():
        return None
    key, stamp = record["key"], record["stamp"]
    if not isinstance(key, str) or not isinstance(stamp, list):
        return None
    if not all(isinstance(value, int) and not isinstance(value, bool) for value in stamp):
        return None
    return key, stamp, record["result"]
