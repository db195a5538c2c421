"""Leaderboard results files: one per (benchmark version, dataset, variant, model).

A results file wraps a ``vbbench score`` summary with the model's metadata, the data's
provenance and every per-image (per-clip, for clips) score, under the schema
``vbbench-result/2`` (documented in ``docs/leaderboard.md``)::

    {"schema": "vbbench-result/2", "benchmark_version": "2", "vbbench_version": "0.1.0",
     "date": "2026-11-25",
     "dataset": {"name", "variant", "revision", "split_sha256", "partial"},
     "model": {"name", "description", "simulated", "parameters", "macs", "input_size", "runtime",
               "weights_sha256", "speed": {"640x360": fps, ...} or null,
               "speed_machine": "CPU, cores, OS, threads" or null, "speed_input": "WxH" or null},
     "summary": {... the vbbench-score/1 summary ...},
     "per_unit": {"unit": "image" or "clip", "ids": [...],
                  "scores": {region: {metric: [one raw value per id]}}}}

The per-unit scores are what makes two results comparable later, image by image
(:mod:`vbbench.compare`); their means must equal the summary's, so an edited number is caught.

Files live at ``leaderboards/results/<dataset>/<variant>/<model>.json``; :func:`load_result`
validates on read and names the file and the field that is wrong. Validation is of the data, not
only its shape (:func:`validate_result`): numbers are finite reals in their metric's range, dates
exist, conventions are known. :func:`add_result` never overwrites a result unless asked to, and
then keeps what it is not given again (a recorded speed, the model's metadata).
"""

from __future__ import annotations

import copy
import datetime
import json
import os
import re
from pathlib import Path
from typing import Any

from vbbench import __version__
from vbbench.errors import ResultError, ScoreError, listing
from vbbench.io import atomic_write_text
from vbbench.summary import is_number, validate_summary

__all__ = [
    "add_result",
    "SCHEMA",
    "BENCHMARK_VERSION",
    "ResultError",
    "make_result",
    "write_result",
    "load_result",
    "load_results",
    "validate_result",
    "parse_date",
    "is_reference",
    "speed_from_bench",
    "bench_fields",
    "per_unit_scores",
]

SCHEMA = "vbbench-result/2"
#: Bumped when a change makes new numbers incomparable with old ones (metric definitions,
#: split or variants). Results of another benchmark version are listed separately. Version 2:
#: the benchmark-size sample (its own split) and the float32 / exact-integer metrics core.
BENCHMARK_VERSION = "2"
#: Relative agreement required between a summary's means and the means of its per-unit scores.
PER_UNIT_TOLERANCE = 1e-9
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
#: The model fields of a results file (besides ``name``), in the order they are written.
MODEL_FIELDS = (
    "description", "simulated", "parameters", "macs", "input_size", "runtime", "weights_sha256",
    "speed", "speed_machine", "speed_input",
)  # fmt: skip


def parse_date(text: Any, where: str) -> str:
    """``text`` if it is an ISO date YYYY-MM-DD that exists, else :class:`ResultError`.

    Examples
    --------
    >>> parse_date("2026-11-25", "--date")
    '2026-11-25'
    >>> parse_date("2026-13-45", "--date")
    Traceback (most recent call last):
    ...
    vbbench.errors.ResultError: --date: '2026-13-45' is not a date that exists (month must be in 1..12); use YYYY-MM-DD
    """
    if not isinstance(text, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        raise ResultError(f"{where}: must be an ISO date YYYY-MM-DD, found {text!r}")
    try:
        datetime.date.fromisoformat(text)
    except ValueError as problem:
        raise ResultError(f"{where}: {text!r} is not a date that exists ({problem}); use YYYY-MM-DD") from None
    return text


def is_reference(document: dict[str, Any]) -> bool:
    """Whether a (validated) results document was scored under the reference conventions;
    others are listed apart on the board, never ranked beside reference results."""
    return bool(document["summary"].get("reference_conventions", True))


def per_unit_scores(rows: list[dict[str, Any]], metrics: list[str], unit: str = "image") -> dict[str, Any]:
    """The ``per_unit`` block from per-image (or per-clip) rows: ids in order, one list per region
    and metric.

    Examples
    --------
    >>> rows = [{"image": "a", "region": "whole", "mad": 0.1}, {"image": "b", "region": "whole", "mad": 0.3}]
    >>> per_unit_scores(rows, ["mad"])
    {'unit': 'image', 'ids': ['a', 'b'], 'scores': {'whole': {'mad': [0.1, 0.3]}}}
    """
    key = "clip" if unit == "clip" else "image"
    ids = list(dict.fromkeys(str(row[key]) for row in rows))
    position = {item: index for index, item in enumerate(ids)}
    scores: dict[str, dict[str, list[float]]] = {}
    for row in rows:
        region = scores.setdefault(str(row["region"]), {name: [float("nan")] * len(ids) for name in metrics})
        for name in metrics:
            region[name][position[str(row[key])]] = float(row[name])
    return {"unit": key, "ids": ids, "scores": scores}


def make_result(
    summary: dict[str, Any],
    model: dict[str, Any],
    date: str,
    dataset: dict[str, Any] | None = None,
    per_unit: dict[str, Any] | None = None,
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
        ``name``, ``variant``, ``revision``, ``split_sha256``, ``partial``; default the summary's
        ``dataset``.
    per_unit : dict, optional
        The per-image (or per-clip) scores, :func:`per_unit_scores`.

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
        "per_unit": per_unit,
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


def _require(document: dict, dotted: str, kind, where: str | os.PathLike) -> Any:
    value: Any = document
    for part in dotted.split("."):
        if not isinstance(value, dict) or part not in value:
            raise ResultError(f"{where}: field '{dotted}' is missing")
        value = value[part]
    if kind is not None and not isinstance(value, kind):
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise ResultError(f"{where}: field '{dotted}' must be {names}, found {type(value).__name__}")
    return value


def validate_result(document: Any, where: str | os.PathLike) -> dict[str, Any]:
    """Check a results document as data; raise :class:`ResultError` naming ``where`` and the field.

    Checked beyond the fields' presence and types: the date exists, names are plain, counts are
    non-negative integers, speeds finite positive numbers (``true`` and ``NaN`` are not), and the
    summary as :func:`vbbench.summary.validate_summary` checks it (every statistic finite and in its
    metric's range, conventions known and ``reference_conventions`` true exactly for reference ones).
    """
    if not isinstance(document, dict):
        raise ResultError(f"{where}: a results file must hold a JSON object")
    schema = document.get("schema")
    if schema != SCHEMA:
        raise ResultError(f"{where}: field 'schema' must be {SCHEMA!r}, found {schema!r}")
    for dotted in ("benchmark_version", "vbbench_version", "date", "dataset.name", "dataset.variant", "model.name"):
        _require(document, dotted, str, where)
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", document["date"]):
        raise ResultError(f"{where}: field 'date' must be an ISO date YYYY-MM-DD, found {document['date']!r}")
    try:
        datetime.date.fromisoformat(document["date"])
    except ValueError as problem:
        raise ResultError(
            f"{where}: field 'date' must be a date that exists, found {document['date']!r} ({problem})"
        ) from None
    for dotted in ("dataset.name", "dataset.variant", "model.name"):
        if not _NAME.match(_require(document, dotted, str, where)):
            raise ResultError(f"{where}: field '{dotted}' must be a plain name (letters, digits, . _ -)")
    for key in ("revision", "split_sha256"):
        value = document["dataset"].get(key)
        if value is not None and not isinstance(value, str):
            raise ResultError(f"{where}: field 'dataset.{key}' must be a string or null, found {value!r}")
    model = _require(document, "model", dict, where)
    _require(document, "model.simulated", bool, where)
    for key in ("description", "input_size", "runtime", "weights_sha256"):
        value = model.get(key)
        if value is not None and not isinstance(value, str):
            raise ResultError(f"{where}: field 'model.{key}' must be a string or null, found {value!r}")
    speed = model.get("speed")
    if speed is not None:
        if not isinstance(speed, dict) or not all(isinstance(size, str) for size in speed):
            raise ResultError(f"{where}: field 'model.speed' must map frame sizes to FPS numbers")
        for size, fps in speed.items():
            if not is_number(fps) or fps <= 0:
                raise ResultError(
                    f"{where}: field 'model.speed' must map frame sizes to FPS numbers (finite, > 0); "
                    f"'{size}' is {fps!r}"
                )
    for field in ("parameters", "macs"):
        count = model.get(field)
        if count is not None and (isinstance(count, bool) or not isinstance(count, int) or count < 0):
            raise ResultError(f"{where}: field 'model.{field}' must be a non-negative integer, or null")
    machine = model.get("speed_machine")
    if machine is not None and not isinstance(machine, str):
        raise ResultError(f"{where}: field 'model.speed_machine' must be a string naming the machine, or null")
    speed_input = model.get("speed_input")
    if speed_input is not None and not (isinstance(speed_input, str) and re.fullmatch(r"\d+x\d+", speed_input)):
        raise ResultError(f"{where}: field 'model.speed_input' must be a model input size WxH, or null")
    partial = document["dataset"].get("partial", False)
    if not isinstance(partial, bool):
        raise ResultError(f"{where}: field 'dataset.partial' must be true or false, found {partial!r}")
    summary = _require(document, "summary", dict, where)
    try:
        validate_summary(summary, str(where), prefix="summary.")
    except ScoreError as problem:
        raise ResultError(str(problem)) from None
    _validate_per_unit(document, where)
    return document


def _validate_per_unit(document: dict[str, Any], where: str | os.PathLike) -> None:
    """The per-unit scores exist, fit the summary (same regions, metrics and counts) and average
    to its means."""
    import math

    per_unit = _require(document, "per_unit", dict, where)
    unit = per_unit.get("unit")
    if unit not in ("image", "clip"):
        raise ResultError(f"{where}: field 'per_unit.unit' must be 'image' or 'clip', found {unit!r}")
    ids = per_unit.get("ids")
    if not isinstance(ids, list) or not ids or not all(isinstance(item, str) for item in ids):
        raise ResultError(f"{where}: field 'per_unit.ids' must list the scored {unit}s' ids")
    if len(set(ids)) != len(ids):
        raise ResultError(f"{where}: field 'per_unit.ids' lists an id twice")
    scores = per_unit.get("scores")
    summary_scores = document["summary"]["scores"]
    if not isinstance(scores, dict) or set(scores) != set(summary_scores):
        raise ResultError(
            f"{where}: field 'per_unit.scores' must have the summary's regions ({', '.join(summary_scores)})"
        )
    for region, by_metric in summary_scores.items():
        given = scores[region]
        if not isinstance(given, dict) or set(given) != set(by_metric):
            raise ResultError(f"{where}: field 'per_unit.scores.{region}' must have the summary's metrics")
        for name, stats in by_metric.items():
            field = f"per_unit.scores.{region}.{name}"
            values = given[name]
            if not isinstance(values, list) or len(values) != stats["n"] or len(values) > len(ids):
                raise ResultError(f"{where}: field '{field}' must hold {stats['n']} values, one per {unit}")
            if not all(is_number(value) for value in values):
                raise ResultError(f"{where}: field '{field}' must hold finite numbers")
            mean = math.fsum(values) / len(values)
            if abs(mean - stats["mean"]) > PER_UNIT_TOLERANCE * max(abs(mean), abs(stats["mean"])) + 1e-15:
                raise ResultError(
                    f"{where}: field '{field}' averages to {mean!r}, but 'summary.scores.{region}.{name}.mean' "
                    f"is {stats['mean']!r}: the numbers were changed after scoring; score again"
                )


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
    """Every results file under ``root``, each validated, sorted by path.

    Raises
    ------
    ResultError
        Listing every file that does not validate (each with its field), not only the first.
    """
    root = Path(root)
    if not root.is_dir():
        raise ResultError(f"{root}: no such results folder")
    results, problems = [], []
    for path in sorted(root.rglob("*.json")):
        try:
            results.append(load_result(path))
        except ResultError as problem:
            problems.append(str(problem))
    if len(problems) == 1:
        raise ResultError(problems[0])
    if problems:
        raise ResultError(listing(problems, f"results files under {root} are invalid"))
    return results


def _per_unit_beside(summary_path: Path, summary: dict[str, Any]) -> dict[str, Any]:
    """The per-image (or, for clips, per-clip) scores written beside a ``summary.json``."""
    from vbbench.score import read_per_image

    clips = summary["options"].get("unit") == "clip"
    path = summary_path.with_name("per_clip.csv" if clips else "per_image.csv")
    if not path.is_file():
        raise ResultError(
            f"{path}: missing; add-result keeps every {'clip' if clips else 'image'}'s scores with the result, "
            "so give the summary.json of a complete `vbbench score --out` folder"
        )
    try:
        if clips:
            from vbbench.score_clips import read_per_clip

            rows = read_per_clip(path)
        else:
            rows = read_per_image(path)
    except ScoreError as problem:
        raise ResultError(str(problem)) from None
    return per_unit_scores(rows, summary["options"]["metrics"], "clip" if clips else "image")


def _read_json(path: Path, what: str) -> dict[str, Any]:
    """A JSON object from ``path``; anything else is a :class:`ResultError` naming the file."""
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as problem:
        raise ResultError(f"{path}: cannot read the {what} ({problem.strerror or problem})") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as problem:
        raise ResultError(f"{path}: the {what} is not valid JSON ({problem})") from None
    if not isinstance(document, dict):
        raise ResultError(f"{path}: the {what} must be a JSON object, found {type(document).__name__}")
    return document


def add_result(
    summary_path: str | os.PathLike,
    model: str,
    results_dir: str | os.PathLike,
    *,
    meta: str | os.PathLike | None = None,
    bench: str | os.PathLike | None = None,
    date: str | None = None,
    replace: bool = False,
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
    replace : bool
        Replace an existing results file of this model, dataset and variant. Its model fields
        that this call does not give again are kept: without ``bench`` its recorded speed (and
        machine and input), without ``meta`` its metadata.

    Returns
    -------
    Path
        The file written.

    Raises
    ------
    ResultError
        An existing file without ``replace`` (left as it was), an unusable summary, metadata or
        date, naming the file.
    """
    from vbbench.summary import load_summary

    try:
        loaded = load_summary(summary_path)
    except ScoreError as problem:
        raise ResultError(str(problem)) from None
    if loaded.get("dataset") is None:
        raise ResultError(
            f"{summary_path}: scored with --gt, so it names no dataset; score with --dataset NAME --variant V"
        )
    per_unit = _per_unit_beside(Path(summary_path), loaded)
    given = _read_json(Path(meta), "model metadata") if meta else {}
    if bench:
        given.update(bench_fields(_read_json(Path(bench), "bench report"), bench))
    metadata = {**given, "name": model}
    if date is not None:
        parse_date(date, f"--date {date}")
    day = date or datetime.datetime.now(datetime.timezone.utc).date().isoformat()
    document = make_result(loaded, metadata, day, per_unit=per_unit)
    path = result_path(results_dir, document)
    sources = ", ".join(str(source) for source in (summary_path, meta, bench) if source)
    validate_result(document, f"{path} (made from {sources})")
    if path.exists():
        if not replace:
            raise ResultError(
                f"{path}: a result of {model} on {document['dataset']['name']}/{document['dataset']['variant']} "
                "exists already; pass --replace to replace its scores (its speed and metadata are kept unless "
                "--bench or --meta give new ones), or choose another --model name"
            )
        try:
            earlier = load_result(path)["model"]
        except ResultError:
            earlier = {}  # an invalid file is replaced whole
        # `vbbench predict`'s model.json calls the description "notes".
        supplied = set(given) | ({"description"} if "notes" in given else set())
        for key in MODEL_FIELDS:
            if key not in supplied and key in earlier:
                document["model"][key] = earlier[key]
    return write_result(document, results_dir)
