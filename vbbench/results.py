"""Leaderboard results files: one per (benchmark version, dataset, variant, model).

A results file wraps a ``vbbench score`` summary with the model's metadata and the data's
provenance, under the schema ``vbbench-result/1`` (documented in ``docs/leaderboard.md``)::

    {"schema": "vbbench-result/1", "benchmark_version": "1", "vbbench_version": "0.1.0",
     "date": "2026-11-25",
     "dataset": {"name", "variant", "revision", "split_sha256", "partial"},
     "model": {"name", "description", "simulated", "parameters", "macs", "input_size", "runtime",
               "weights_sha256", "speed": {"640x360": fps, ...} or null,
               "speed_machine": "CPU, cores, OS, threads" or null, "speed_input": "WxH" or null},
     "summary": {... the vbbench-score/1 summary ...}}

Files live at ``leaderboards/results/<dataset>/<variant>/<model>.json``; :func:`load_result`
validates on read and names the file and the field that is wrong.
"""

from __future__ import annotations

import copy
import json
import os
import re
from pathlib import Path
from typing import Any

from vbbench import __version__
from vbbench.errors import ResultError, ScoreError
from vbbench.io import atomic_write_text
from vbbench.summary import validate_summary

__all__ = [
    "add_result",
    "SCHEMA",
    "BENCHMARK_VERSION",
    "ResultError",
    "make_result",
    "write_result",
    "load_result",
    "load_results",
    "speed_from_bench",
    "bench_fields",
]

SCHEMA = "vbbench-result/1"
#: Bumped when a change makes new numbers incomparable with old ones (metric definitions,
#: split or variants). Results of another benchmark version are listed separately.
BENCHMARK_VERSION = "1"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def make_result(
    summary: dict[str, Any], model: dict[str, Any], date: str, dataset: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Build a results document from a score summary and model metadata.

    Parameters
    ----------
    summary : dict
        A ``vbbench-score/1`` summary (``summary.json``).
    model : dict
        At least ``name``; optionally ``description``, ``simulated``, ``parameters``, ``macs``
        (multiply-accumulates per frame at ``input_size``), ``input_size``, ``runtime``, ``weights_sha256``, ``speed`` (FPS per frame size) and
        ``speed_machine`` and ``speed_input`` (where and at which model input the speed was
        measured, see :func:`speed_from_bench`).
    date : str
        ISO date of the run (YYYY-MM-DD). It also replaces the summary's ``created`` time, so
        the same inputs give the same file.
    dataset : dict, optional
        ``name``, ``variant``, ``revision``, ``split_sha256``; default the summary's ``dataset``.

    Returns
    -------
    dict

    Examples
    --------
    >>> summary = {"schema": "vbbench-score/1", "dataset": {"name": "sample", "variant": "original"}}
    >>> make_result(summary, {"name": "m"}, "2026-11-25")["model"]["simulated"]
    False
    """
    summary = copy.deepcopy(summary)
    summary["created"] = date
    provenance = dataset if dataset is not None else summary.get("dataset") or {}
    return {
        "schema": SCHEMA,
        "benchmark_version": BENCHMARK_VERSION,
        "vbbench_version": __version__,
        "date": date,
        "dataset": {
            **{key: provenance.get(key) for key in ("name", "variant", "revision", "split_sha256")},
            # a set prepared with --allow-partial; recorded by `score --dataset`, absent for --gt runs
            **({"partial": bool(provenance["partial"])} if "partial" in provenance else {}),
        },
        "model": {
            "name": model["name"],
            # `vbbench predict`'s model.json calls it notes.
            "description": model.get("description") or model.get("notes") or "",
            "simulated": bool(model.get("simulated", False)),
            "parameters": model.get("parameters"),
            "macs": model.get("macs"),
            "input_size": model.get("input_size"),
            "runtime": model.get("runtime"),
            "weights_sha256": model.get("weights_sha256"),
            "speed": model.get("speed"),
            "speed_machine": model.get("speed_machine"),
            "speed_input": model.get("speed_input"),
        },
        "summary": summary,
    }


def speed_from_bench(report: Any, where: str | os.PathLike) -> dict[str, float]:
    """Frames per second per frame size from a ``vbbench bench --json`` report.

    The report's ``machine`` line (CPU, cores, OS, threads) and ``model.input_size`` belong beside
    it in the results file as ``model.speed_machine`` and ``model.speed_input``; ``vbbench
    add-result --bench`` copies all three.

    Parameters
    ----------
    report : dict
        ``{"model": {...}, "frames": [{"size": "1280x720", "fps": 14.2, ...}, ...]}``.
    where : path
        Named in errors.

    Returns
    -------
    dict
        ``{"1280x720": 14.2, ...}``, the results file's ``model.speed``.

    Examples
    --------
    >>> speed_from_bench({"frames": [{"size": "640x360", "fps": 30.0}]}, "bench.json")
    {'640x360': 30.0}
    """
    frames = report.get("frames") if isinstance(report, dict) else None
    if not isinstance(frames, list) or not frames:
        raise ResultError(
            f"{where}: field 'frames' must list the frame sizes benchmarked (from `vbbench bench --json`)"
        )
    speed = {}
    for index, frame in enumerate(frames):
        if not (
            isinstance(frame, dict)
            and isinstance(frame.get("size"), str)
            and isinstance(frame.get("fps"), (int, float))
            and not isinstance(frame.get("fps"), bool)
        ):
            raise ResultError(f"{where}: field 'frames[{index}]' must have a 'size' (WxH) and a number 'fps'")
        speed[frame["size"]] = float(frame["fps"])
    return speed


def bench_fields(report: Any, where: str | os.PathLike) -> dict[str, Any]:
    """The results file's speed fields from a ``vbbench bench --json`` report.

    Parameters
    ----------
    report : dict
        ``{"model": {"input_size": ...}, "machine": "...", "frames": [...]}``.
    where : path
        Named in errors.

    Returns
    -------
    dict
        ``speed`` (see :func:`speed_from_bench`), ``speed_machine`` and ``speed_input``.

    Examples
    --------
    >>> bench_fields({"model": {"input_size": "256x144"}, "machine": "box",
    ...               "frames": [{"size": "640x360", "fps": 30.0}]}, "bench.json")
    {'speed': {'640x360': 30.0}, 'speed_machine': 'box', 'speed_input': '256x144'}
    """
    speed = speed_from_bench(report, where)
    if not isinstance(report.get("machine"), str):
        raise ResultError(f"{where}: field 'machine' is missing; rerun `vbbench bench --json` (it names the machine)")
    return {
        "speed": speed,
        "speed_machine": report["machine"],
        "speed_input": (report.get("model") or {}).get("input_size"),
    }


def _require(document: dict, dotted: str, kind, where: Path) -> Any:
    value: Any = document
    for part in dotted.split("."):
        if not isinstance(value, dict) or part not in value:
            raise ResultError(f"{where}: field '{dotted}' is missing")
        value = value[part]
    if kind is not None and not isinstance(value, kind):
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise ResultError(f"{where}: field '{dotted}' must be {names}, found {type(value).__name__}")
    return value


def validate_result(document: Any, where: Path) -> dict[str, Any]:
    """Check a results document; raise :class:`ResultError` naming ``where`` and the field."""
    if not isinstance(document, dict):
        raise ResultError(f"{where}: a results file must hold a JSON object")
    schema = document.get("schema")
    if schema != SCHEMA:
        raise ResultError(f"{where}: field 'schema' must be {SCHEMA!r}, found {schema!r}")
    for dotted in ("benchmark_version", "vbbench_version", "date", "dataset.name", "dataset.variant", "model.name"):
        _require(document, dotted, str, where)
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", document["date"]):
        raise ResultError(f"{where}: field 'date' must be an ISO date YYYY-MM-DD, found {document['date']!r}")
    for dotted in ("dataset.name", "dataset.variant", "model.name"):
        if not _NAME.match(_require(document, dotted, str, where)):
            raise ResultError(f"{where}: field '{dotted}' must be a plain name (letters, digits, . _ -)")
    _require(document, "model.simulated", bool, where)
    if not isinstance(document["dataset"].get("partial", False), bool):
        raise ResultError(f"{where}: field 'dataset.partial' must be true or false")
    speed = document["model"].get("speed")
    if speed is not None and not (isinstance(speed, dict) and all(isinstance(v, (int, float)) for v in speed.values())):
        raise ResultError(f"{where}: field 'model.speed' must map frame sizes to FPS numbers")
    for field in ("parameters", "macs"):
        count = document["model"].get(field)
        if count is not None and (isinstance(count, bool) or not isinstance(count, int) or count < 0):
            raise ResultError(f"{where}: field 'model.{field}' must be a non-negative integer, or null")
    machine = document["model"].get("speed_machine")
    if machine is not None and not isinstance(machine, str):
        raise ResultError(f"{where}: field 'model.speed_machine' must be a string naming the machine, or null")
    speed_input = document["model"].get("speed_input")
    if speed_input is not None and not (isinstance(speed_input, str) and re.fullmatch(r"\d+x\d+", speed_input)):
        raise ResultError(f"{where}: field 'model.speed_input' must be a model input size WxH, or null")
    summary = _require(document, "summary", dict, where)
    try:
        validate_summary(summary, str(where), prefix="summary.")
    except ScoreError as problem:
        raise ResultError(str(problem)) from None
    return document


def result_path(root: str | os.PathLike, document: dict[str, Any]) -> Path:
    """Where a results document belongs under ``root``."""
    return (
        Path(root) / document["dataset"]["name"] / document["dataset"]["variant"] / f"{document['model']['name']}.json"
    )


def write_result(document: dict[str, Any], root: str | os.PathLike) -> Path:
    """Validate and write a results document atomically; return its path."""
    path = result_path(root, document)
    validate_result(document, path)
    atomic_write_text(path, json.dumps(document, indent=1, ensure_ascii=False, sort_keys=True) + "\n")
    return path


def load_result(path: str | os.PathLike) -> dict[str, Any]:
    """Read and validate one results file; it must sit at the path its content names."""
    path = Path(path)
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as problem:
        raise ResultError(f"{path}: not a readable JSON file ({problem})") from None
    validate_result(document, path)
    expected = Path(document["dataset"]["name"]) / document["dataset"]["variant"] / f"{document['model']['name']}.json"
    if path.parts[-3:] != expected.parts:
        raise ResultError(f"{path}: a results file for {expected} must be stored as <results>/{expected}")
    return document


def load_results(root: str | os.PathLike) -> list[dict[str, Any]]:
    """Every results file under ``root`` (validated), sorted by path."""
    root = Path(root)
    if not root.is_dir():
        raise ResultError(f"{root}: no such results folder")
    return [load_result(path) for path in sorted(root.rglob("*.json"))]


def _read_json(path: Path, what: str) -> Any:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as problem:
        raise ResultError(f"{path}: cannot read the {what} ({problem.strerror or problem})") from None
    except json.JSONDecodeError as problem:
        raise ResultError(f"{path}: the {what} is not valid JSON ({problem})") from None


def add_result(
    summary_path: str | os.PathLike,
    model: str,
    results_dir: str | os.PathLike,
    *,
    meta: str | os.PathLike | None = None,
    bench: str | os.PathLike | None = None,
    date: str | None = None,
) -> Path:
    """``vbbench add-result``: a score summary plus model metadata as a results file.

    Parameters
    ----------
    summary_path : path
        ``summary.json`` written by ``vbbench score --dataset``.
    model : str
        Name on the board.
    results_dir : path
        Results folder (``<dataset>/<variant>/<model>.json`` inside).
    meta : path, optional
        ``model.json`` from ``vbbench predict``.
    bench : path, optional
        ``vbbench bench --json`` report (speed fields).
    date : str, optional
        ISO date of the run (default today, UTC).

    Returns
    -------
    Path
        The file written.
    """
    from datetime import datetime, timezone

    from vbbench.summary import load_summary

    loaded = load_summary(summary_path)
    if loaded.get("dataset") is None:
        raise ResultError(
            f"{summary_path}: scored with --gt, so it names no dataset; score with --dataset NAME --variant V"
        )
    metadata = _read_json(Path(meta), "model metadata") if meta else {}
    metadata["name"] = model
    if bench:
        metadata.update(bench_fields(_read_json(Path(bench), "bench report"), bench))
    day = date or datetime.now(timezone.utc).date().isoformat()
    return write_result(make_result(loaded, metadata, day), results_dir)
