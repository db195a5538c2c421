"""Checks every command makes before any work: its outputs can be written and touch no input.

A careless ``--out`` used to cost inputs (``predict --images D --out D`` replaced the images with
mattes; ``score --error-maps`` into the prediction folder overwrote the predictions) or a traceback
after the work was done (a read-only ``--out``). :func:`check_outputs` is the one call that
prevents both; commands call it first, before loading a model or reading a file:

* **writable**: each output folder, or the folder of each output file, is probed by creating and
  removing a hidden file in the nearest folder that exists (the output itself, or the parent it
  would be created in). A path below a file, a read-only or full disk, or a missing permission is
  an :class:`~vbbench.errors.OutputError` naming the path, before anything has run.
* **apart from the inputs**: no output folder may equal, lie inside or contain an input (a
  folder or a file), and no output file may equal or lie inside an input, compared after
  resolving symbolic links. Containing counts too: outputs written into a tree that holds an
  input are found with it on the next run (error maps read as extra predictions). The message
  names both paths.

Examples
--------
>>> import tempfile, pathlib
>>> root = pathlib.Path(tempfile.mkdtemp())
>>> check_outputs(folders={"--out": root / "scores"}, inputs={"PRED_DIR": root / "preds"})
>>> check_outputs(folders={"--out": root / "preds" / "scores"}, inputs={"PRED_DIR": root / "preds"})
Traceback (most recent call last):
...
vbbench.errors.OutputError: --out .../preds/scores lies inside PRED_DIR .../preds: outputs would be mixed with the inputs (and read as inputs on the next run); choose an --out outside it
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

from vbbench.errors import OutputError

__all__ = ["check_outputs", "check_writable", "check_apart"]

PathLike = str | os.PathLike


def _present(paths: Mapping[str, PathLike | None] | None) -> dict[str, Path]:
    return {label: Path(path) for label, path in (paths or {}).items() if path is not None}


def _shown(path: Path) -> str:
    """The path as the user gave it, absolute, with ``..`` folded (links not resolved)."""
    return os.path.abspath(path)


def _nearest_existing(path: Path) -> Path:
    for candidate in (path, *path.parents):
        if candidate.exists():
            return candidate
    return Path(path.anchor or ".")


def check_writable(path: PathLike, label: str = "--out", *, is_file: bool = False) -> None:
    """Raise :class:`OutputError` unless ``path`` (a folder, or with ``is_file`` a file) can be
    created or replaced: a hidden probe file is created and removed in the nearest folder that
    exists.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> blocker = pathlib.Path(tempfile.mkdtemp()) / "notes.txt"; _ = blocker.write_text("x")
    >>> check_writable(blocker / "scores")
    Traceback (most recent call last):
    ...
    vbbench.errors.OutputError: --out .../notes.txt/scores cannot be created: .../notes.txt is a file, not a folder
    """
    target = Path(os.path.abspath(path))  # ".." folded, so the walk up is the one the user means
    if is_file and target.is_dir():
        raise OutputError(f"{label} {target} is a folder; give the path of a file")
    folder = target.parent if is_file else target
    existing = _nearest_existing(folder)
    if not existing.is_dir():
        if existing == folder and not is_file:
            raise OutputError(f"{label} {target} exists and is not a folder; choose another {label}")
        raise OutputError(f"{label} {target} cannot be created: {existing} is a file, not a folder")
    try:
        handle, probe = tempfile.mkstemp(prefix=".vbbench-probe-", dir=existing)
        os.close(handle)
        os.unlink(probe)
    except OSError as problem:
        reason = problem.strerror or str(problem)
        where = "" if existing == folder else f" (it would be created in {existing})"
        raise OutputError(
            f"{label} {target} is not writable{where}: {reason}; choose a folder you can write to"
        ) from None


def _inside(inner: Path, outer: Path) -> bool:
    return inner == outer or outer in inner.parents


def check_apart(
    folders: Mapping[str, PathLike | None] | None = None,
    files: Mapping[str, PathLike | None] | None = None,
    inputs: Mapping[str, PathLike | None] | None = None,
) -> None:
    """Raise :class:`OutputError` naming both paths when an output overlaps an input.

    Output folders may not equal, lie inside or contain an input; output files may not equal or
    lie inside one. Paths are compared resolved (symbolic links followed, ``..`` removed).

    Parameters
    ----------
    folders, files : mapping of label to path
        Output folders and output files, keyed by how the user named them (``"--out"``);
        ``None`` values are skipped.
    inputs : mapping of label to path
        Input folders or files (``"PRED_DIR"``, ``"--gt"``).
    """
    sources = {label: path.resolve() for label, path in _present(inputs).items()}
    for label, output in _present(folders).items():
        resolved = output.resolve()
        for source_label, source in sources.items():
            if resolved == source:
                relation = "is"
            elif _inside(resolved, source):
                relation = "lies inside"
            elif _inside(source, resolved):
                relation = "contains"
            else:
                continue
            raise OutputError(
                f"{label} {_shown(output)} {relation} {source_label} {source}: outputs would be mixed with the "
                f"inputs (and read as inputs on the next run); choose an {label} outside it"
                if relation != "is"
                else f"{label} {_shown(output)} is {source_label} {source}: the outputs would overwrite the "
                f"inputs; choose another {label}"
            )
    for label, output in _present(files).items():
        resolved = output.resolve()
        for source_label, source in sources.items():
            if resolved == source:
                raise OutputError(
                    f"{label} {_shown(output)} is {source_label} {source}: the output would overwrite the "
                    f"input; choose another {label}"
                )
            if _inside(resolved, source):
                raise OutputError(
                    f"{label} {_shown(output)} lies inside {source_label} {source}: the output would be mixed "
                    f"with the inputs; choose an {label} outside it"
                )


def check_outputs(
    folders: Mapping[str, PathLike | None] | None = None,
    files: Mapping[str, PathLike | None] | None = None,
    inputs: Mapping[str, PathLike | None] | None = None,
) -> None:
    """The check every command makes before any work: :func:`check_apart`, then
    :func:`check_writable` for every output.

    Parameters
    ----------
    folders : mapping of label to path, optional
        Output folders (created if missing), e.g. ``{"--out": out}``.
    files : mapping of label to path, optional
        Output files, e.g. ``{"--json": report}``.
    inputs : mapping of label to path, optional
        Every input folder or file the command reads, e.g. ``{"--images": images}``.

    Raises
    ------
    OutputError
        Naming the output (and the input it overlaps), and what to do.
    """
    check_apart(folders, files, inputs)
    for label, folder in _present(folders).items():
        check_writable(folder, label)
    for label, file in _present(files).items():
        check_writable(file, label, is_file=True)
