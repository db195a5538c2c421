"""A resumable record of finished work: one JSON line per finished item.

An interrupted run (Ctrl-C, ``kill -9``, a full disk) loses nothing it had finished: the next
run with the same inputs and options reads the file, keeps every item whose input files are
unchanged and redoes only the rest.

The first line holds a fingerprint of everything that changes the results (folders, options,
conventions, the vbbench version); a file with another fingerprint is started afresh. Each
further line holds one item's result and the size and modification time of its input files, so an
input changed since is redone. A line cut off by the interruption is dropped.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

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

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp()); data = folder / "x"; _ = data.write_text("1")
    >>> saved = Checkpoint(folder / "done.jsonl", {"run": 1})
    >>> saved.add("x", [data], {"value": 1}); saved.close()
    >>> Checkpoint(folder / "done.jsonl", {"run": 1}).finished("x", [data])
    {'value': 1}
    """

    def __init__(self, path: str | Path, fingerprint: dict[str, Any]):
        self.path = Path(path)
        self.done: dict[str, dict[str, Any]] = {}
        header = json.dumps({"fingerprint": fingerprint}, sort_keys=True)
        if self.path.exists():
            lines = self.path.read_text(encoding="utf-8").splitlines()
            if lines and lines[0] == header:
                for line in lines[1:]:
                    try:
                        record = json.loads(line)
                        key, stamp, result = record["key"], record["stamp"], record["result"]
                    except (json.JSONDecodeError, KeyError, TypeError):
                        break  # a line cut off (or damaged): everything from here is redone
                    self.done[str(key)] = {"stamp": stamp, "result": result}
        kept = [header] + [json.dumps({"key": key, **record}) for key, record in self.done.items()]
        atomic_write_text(self.path, "\n".join(kept) + "\n")
        self.stream = self.path.open("a", encoding="utf-8")

    def finished(self, key: str, inputs: list[Path]) -> Any | None:
        """The recorded result of ``key`` if its input files are unchanged, else None."""
        record = self.done.get(key)
        if record is not None and record["stamp"] == file_stamp(inputs):
            return record["result"]
        return None

    def add(self, key: str, inputs: list[Path], result: Any) -> None:
        """Record one finished item (flushed at once)."""
        self.stream.write(json.dumps({"key": key, "stamp": file_stamp(inputs), "result": result}) + "\n")
        self.stream.flush()

    def close(self) -> None:
        self.stream.close()

    def remove(self) -> None:
        """Delete the record: call only once every output of the run is written."""
        self.close()
        self.path.unlink(missing_ok=True)
