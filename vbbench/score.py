"""Score predicted mattes against ground truth: pairing, per-image metrics, summary, outputs.

The unit of work is one image pair (:func:`score_pair`), so the same scoring runs in-process, on
a local process pool, or on a Dask distributed cluster. Outputs (see ``docs/scoring.md``):

* ``per_image.csv``: one row per (image, region), every metric in raw units;
* ``summary.json``: schema ``vbbench-score/1`` with the vbbench version, metric definitions and
  units, options, counts, and per region and metric the mean, median, standard deviation and a
  95 % percentile-bootstrap confidence interval of the mean;
* ``error_maps/<id>.png`` (with ``error_maps=True``): |p − g| as 8-bit PNG (value = round(255·|p−g|)).
"""

from __future__ import annotations

import dataclasses
import json
import math
import multiprocessing
import os
import warnings
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pandas as pd

from vbbench import __version__
from vbbench._memory import keep_freed_memory
from vbbench.io import IMAGE_SUFFIXES, LOSSY_SUFFIXES, MatteError, atomic_write_text, read_matte, write_png
from vbbench.metrics import METRICS, REFERENCE, Conventions, EmptyRegionError, evaluate, to_alpha

__all__ = [
    "SCHEMA",
    "ScoreError",
    "ScoreResult",
    "Pairing",
    "find_mattes",
    "pair_files",
    "score_pair",
    "score_directories",
    "summarize",
    "bootstrap_ci",
    "write_outputs",
    "load_summary",
    "validate_summary",
    "format_table",
]

SCHEMA = "vbbench-score/1"
REGION_DESCRIPTIONS = {"whole": "every pixel", "unknown": "trimap == 128 (the unknown band)"}
BOOTSTRAP_RESAMPLES = 2000
BOOTSTRAP_SEED = 0
_LISTED = 20  # how many offending files an error message lists before summarising


class ScoreError(ValueError):
    """Input that cannot be scored; the message names the files and what to do."""


def _listing(items: Sequence[str], what: str) -> str:
    shown = "\n  ".join(items[:_LISTED])
    more = f"\n  … and {len(items) - _LISTED} more" if len(items) > _LISTED else ""
    return f"{len(items)} {what}:\n  {shown}{more}"


# --------------------------------------------------------------------------------------------
# Pairing
# --------------------------------------------------------------------------------------------


def find_mattes(folder: str | os.PathLike) -> dict[str, Path]:
    """Map each image file under ``folder`` to its id, the relative path without extension.

    Files starting with ``.`` (e.g. macOS ``._*`` forks) and non-image files are ignored.

    Parameters
    ----------
    folder : path
        Folder searched recursively.

    Returns
    -------
    dict of str to Path
        Sorted by id; ids use ``/`` as separator.

    Raises
    ------
    ScoreError
        If the folder does not exist or two files share an id (``a.png`` and ``a.jpg``).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> root = pathlib.Path(tempfile.mkdtemp()); (root / "x").mkdir()
    >>> _ = (root / "x" / "01.png").write_bytes(b"")
    >>> {key: path.name for key, path in find_mattes(root).items()}
    {'x/01': '01.png'}
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise ScoreError(f"{folder}: no such folder")
    found: dict[str, Path] = {}
    clashes: list[str] = []
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if any(part.startswith(".") for part in relative.parts):
            continue
        if not path.is_file() or path.suffix.lower() not in IMAGE_SUFFIXES:
            continue
        key = relative.with_suffix("").as_posix()
        if key in found:
            clashes.append(f"{found[key]} and {path}")
        found[key] = path
    if clashes:
        raise ScoreError(f"{folder}: " + _listing(clashes, "ids with more than one file") + "\nkeep one file per id")
    return dict(sorted(found.items()))


@dataclass(frozen=True)
class Pairing:
    """Ground truth matched with predictions (and trimaps) by id."""

    pairs: list[tuple[str, Path, Path, Path | None]]
    extra_predictions: list[str]


def pair_files(
    pred_dir: str | os.PathLike, gt_dir: str | os.PathLike, trimap_dir: str | os.PathLike | None = None
) -> Pairing:
    """Pair predictions with ground truth (and trimaps) by relative path without extension.

    Parameters
    ----------
    pred_dir, gt_dir : path
        Folders of predicted and ground-truth mattes.
    trimap_dir : path, optional
        Folder of trimaps with the ground truth's ids.

    Returns
    -------
    Pairing
        ``pairs`` as (id, pred, gt, trimap-or-None), sorted by id; ``extra_predictions`` lists
        prediction ids without ground truth (scored nowhere; the caller warns).

    Raises
    ------
    ScoreError
        Empty ground-truth or prediction folder, missing predictions or missing trimaps (listed).
    """
    ground_truth = find_mattes(gt_dir)
    if not ground_truth:
        raise ScoreError(f"{gt_dir}: no ground-truth mattes found (looked for {', '.join(IMAGE_SUFFIXES)})")
    predictions = find_mattes(pred_dir)
    if not predictions:
        raise ScoreError(f"{pred_dir}: no predicted mattes found (looked for {', '.join(IMAGE_SUFFIXES)})")
    missing = [key for key in ground_truth if key not in predictions]
    if missing:
        raise ScoreError(
            f"{pred_dir}: "
            + _listing(missing, f"of {len(ground_truth)} ground-truth mattes have no prediction")
            + f"\npredictions are matched to {gt_dir} by relative path without extension"
        )
    trimaps: dict[str, Path] = {}
    if trimap_dir is not None:
        trimaps = find_mattes(trimap_dir)
        missing_trimaps = [key for key in ground_truth if key not in trimaps]
        if missing_trimaps:
            raise ScoreError(f"{trimap_dir}: " + _listing(missing_trimaps, "ground-truth mattes have no trimap"))
    pairs = [(key, predictions[key], gt, trimaps.get(key)) for key, gt in ground_truth.items()]
    extra = [key for key in predictions if key not in ground_truth]
    return Pairing(pairs, extra)


# --------------------------------------------------------------------------------------------
# One pair
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PairTask:
    """Everything a worker needs to score one pair (picklable)."""

    image_id: str
    pred: Path
    gt: Path
    trimap: Path | None
    metrics: tuple[str, ...]
    resize: bool = False
    error_map: Path | None = None
    conventions: Conventions = REFERENCE


def _resize_to(pred: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Bilinear resize of a prediction to the ground truth's (H, W), in float alpha, as MMNet's
    evaluation resizes its outputs."""
    return cv2.resize(to_alpha(pred), (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR)


def score_pair(task: PairTask) -> dict[str, Any]:
    """Score one pair; never raises for bad input, returns ``{"error": message}`` instead.

    Returns
    -------
    dict
        ``{"rows": [{"image", "region", metric: raw value, …}, …]}`` or ``{"error": str}``.
    """
    try:
        gt = read_matte(task.gt)
        pred = read_matte(task.pred)
        if pred.shape != gt.shape:
            if not task.resize:
                raise MatteError(
                    f"{task.pred}: size {pred.shape[1]}×{pred.shape[0]} differs from the ground "
                    f"truth {task.gt} ({gt.shape[1]}×{gt.shape[0]}); pass --resize to resize "
                    "predictions bilinearly to the ground truth"
                )
            pred = _resize_to(pred, gt.shape)
        regions: dict[str, np.ndarray | None] = {"whole": None}
        if task.trimap is not None:
            trimap = read_matte(task.trimap)
            if trimap.shape != gt.shape:
                raise MatteError(
                    f"{task.trimap}: trimap size {trimap.shape[1]}×{trimap.shape[0]} differs from "
                    f"the ground truth {task.gt} ({gt.shape[1]}×{gt.shape[0]})"
                )
            if trimap.dtype != np.uint8:
                raise MatteError(f"{task.trimap}: a trimap must be 8-bit (0 / 128 / 255)")
            regions["unknown"] = trimap == 128
            if not regions["unknown"].any():
                raise MatteError(
                    f"{task.trimap}: the trimap has no unknown pixels (value 128), so the unknown-band "
                    "means are undefined"
                )
        try:
            scores = evaluate(pred, gt, regions, list(task.metrics), task.conventions)
        except ValueError as problem:  # e.g. an image too small for a metric's filter
            raise MatteError(f"{task.pred}: {problem}; leave that metric out with --metrics") from None
        if task.error_map is not None:
            error = np.abs(to_alpha(pred) - to_alpha(gt))
            write_png(task.error_map, np.round(error * 255.0).astype(np.uint8))
    except (MatteError, EmptyRegionError, ValueError) as problem:
        return {"error": str(problem)}
    return {"rows": [{"image": task.image_id, "region": region, **values} for region, values in scores.items()]}


# --------------------------------------------------------------------------------------------
# Summary statistics
# --------------------------------------------------------------------------------------------


def bootstrap_ci(
    values: Sequence[float], resamples: int = BOOTSTRAP_RESAMPLES, seed: int = BOOTSTRAP_SEED, level: float = 0.95
) -> tuple[float, float]:
    """Percentile-bootstrap confidence interval of the mean.

    Resamples images with replacement ``resamples`` times (generator ``numpy.random.default_rng(
    seed)``, so the interval is reproducible) and takes the (1 ± level)/2 quantiles of the
    resampled means.

    Parameters
    ----------
    values : sequence of float
        One value per image.
    resamples : int
        Number of bootstrap resamples.
    seed : int
        Seed of the resampling generator.
    level : float
        Confidence level.

    Returns
    -------
    (low, high) : tuple of float
        Equal to (v, v) for a single value.

    Examples
    --------
    >>> bootstrap_ci([1.0, 1.0, 1.0])
    (1.0, 1.0)
    """
    data = np.asarray(values, dtype=np.float64)
    if data.size == 0:
        raise ValueError("bootstrap of an empty sample")
    rng = np.random.default_rng(seed)
    means = np.empty(resamples)
    chunk = max(1, min(resamples, 2_000_000 // data.size))  # bounded memory at 30k+ images
    for start in range(0, resamples, chunk):
        stop = min(resamples, start + chunk)
        means[start:stop] = data[rng.integers(0, data.size, size=(stop - start, data.size))].mean(axis=1)
    tail = (1.0 - level) / 2.0
    low, high = np.quantile(means, [tail, 1.0 - tail])
    return float(low), float(high)


def metric_definitions(names: Iterable[str]) -> dict[str, dict[str, Any]]:
    """The ``metrics`` block of a summary: definition, units and reference of each metric."""
    return {
        name: {
            "title": METRICS[name].title,
            "definition": METRICS[name].definition,
            "reduction": METRICS[name].reduction,
            "raw_unit": METRICS[name].raw_unit,
            "display_scale": METRICS[name].display_scale,
            "display_key": METRICS[name].display_key,
            "border": METRICS[name].border,
            "reference": METRICS[name].reference,
        }
        for name in names
    }


def summarize(per_image: pd.DataFrame, metrics: Sequence[str]) -> dict[str, dict[str, dict[str, Any]]]:
    """Per region and metric: n, mean, median, std and 95 % bootstrap CI, in raw units."""
    scores: dict[str, dict[str, dict[str, Any]]] = {}
    for region, rows in per_image.groupby("region", sort=False):
        scores[str(region)] = {}
        for name in metrics:
            values = rows[name].to_numpy(dtype=np.float64)
            low, high = bootstrap_ci(values)
            scores[str(region)][name] = {
                "n": int(values.size),
                "mean": float(values.mean()),
                "median": float(np.median(values)),
                "std": float(values.std(ddof=1)) if values.size > 1 else 0.0,
                "ci95": [low, high],
            }
    return scores


# --------------------------------------------------------------------------------------------
# A whole folder
# --------------------------------------------------------------------------------------------


@dataclass
class ScoreResult:
    """Outcome of :func:`score_directories`."""

    per_image: pd.DataFrame
    summary: dict[str, Any]
    warnings: list[str] = field(default_factory=list)


def _init_worker() -> None:
    keep_freed_memory()
    cv2.setNumThreads(1)  # one process per core already; OpenCV's own threads would oversubscribe


class _Checkpoint:
    """Finished pairs appended to a JSON-lines file as they complete, so an interrupted run
    resumes where it stopped.

    The first line holds a fingerprint of everything that changes the numbers (folders, metrics,
    conventions, options, vbbench version); a file with another fingerprint is started afresh.
    Each further line holds one pair's rows and the size and modification time of its files, so
    a file changed since is scored again. A line cut off by the interruption is dropped.
    """

    def __init__(self, path: Path, fingerprint: dict[str, Any]):
        self.path = path
        self.done: dict[str, dict[str, Any]] = {}
        header = json.dumps({"fingerprint": fingerprint}, sort_keys=True)
        if path.exists():
            lines = path.read_text(encoding="utf-8").splitlines()
            if lines and lines[0] == header:
                for line in lines[1:]:
                    try:
                        record = json.loads(line)
                    except json.JSONDecodeError:
                        break
                    self.done[record["image"]] = record
        kept = [header] + [json.dumps(record) for record in self.done.values()]
        atomic_write_text(path, "\n".join(kept) + "\n")
        self.stream = path.open("a", encoding="utf-8")

    @staticmethod
    def stamp(task: PairTask) -> list[int]:
        files = [task.pred, task.gt] + ([task.trimap] if task.trimap else [])
        stats = [path.stat() for path in files]  # one stat call per file
        return [value for stat in stats for value in (stat.st_size, stat.st_mtime_ns)]

    def finished(self, task: PairTask) -> dict[str, Any] | None:
        record = self.done.get(task.image_id)
        if record is not None and record["stamp"] == self.stamp(task):
            return {"rows": record["rows"]}
        return None

    def add(self, task: PairTask, outcome: dict[str, Any]) -> None:
        if "rows" in outcome:
            record = {"image": task.image_id, "stamp": self.stamp(task), "rows": outcome["rows"]}
            self.stream.write(json.dumps(record) + "\n")
            self.stream.flush()

    def close(self, finished: bool) -> None:
        self.stream.close()
        if finished:
            self.path.unlink()


def _run_tasks(
    tasks: list[PairTask],
    workers: int,
    scheduler: str | None,
    progress: bool,
    label: str = "scoring",
    on_result=lambda task, outcome: None,
) -> list[dict]:
    from tqdm import tqdm

    bar = dict(total=len(tasks), desc=label, unit="image", disable=not progress, leave=False)
    if scheduler is not None:
        try:
            from distributed import Client
        except ImportError:
            raise ScoreError("--scheduler needs Dask distributed: pip install 'vbbench[dist]'") from None
        try:
            client = Client(scheduler, timeout="10s", set_as_default=False)
        except (OSError, TimeoutError) as problem:
            raise ScoreError(f"cannot reach the Dask scheduler at {scheduler}: {problem}") from None
        with client:
            futures = client.map(score_pair, tasks, pure=False)
            # Collected in submission order: the results keep the pairs' order.
            return [_report(task, future.result(), on_result) for task, future in zip(tasks, tqdm(futures, **bar))]
    if workers <= 1 or len(tasks) == 1:
        keep_freed_memory()
        return [_report(task, score_pair(task), on_result) for task in tqdm(tasks, **bar)]
    # forkserver, not fork: forking a process that already runs threads (tqdm's monitor, a Dask
    # client, BLAS) can copy a held lock into the child and hang the pool.
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["vbbench.score"])  # workers start without re-importing
    with ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_init_worker) as pool:
        chunk = max(1, min(8, len(tasks) // (workers * 4)))
        outcomes = tqdm(pool.map(score_pair, tasks, chunksize=chunk), **bar)
        return [_report(task, outcome, on_result) for task, outcome in zip(tasks, outcomes)]


def _report(task: PairTask, outcome: dict, on_result) -> dict:
    on_result(task, outcome)
    return outcome


def score_directories(
    pred_dir: str | os.PathLike,
    gt_dir: str | os.PathLike,
    trimap_dir: str | os.PathLike | None = None,
    metrics: Sequence[str] | None = None,
    workers: int | None = None,
    resize: bool = False,
    error_maps_dir: str | os.PathLike | None = None,
    scheduler: str | None = None,
    dataset: dict[str, Any] | None = None,
    progress: bool = True,
    conventions: Conventions = REFERENCE,
    checkpoint: str | os.PathLike | None = None,
) -> ScoreResult:
    """Score every ground-truth matte in ``gt_dir`` against its prediction in ``pred_dir``.

    Parameters
    ----------
    pred_dir, gt_dir : path
        Predicted and ground-truth mattes, paired by relative path without extension.
    trimap_dir : path, optional
        Trimaps; adds the region ``unknown`` (trimap == 128) beside ``whole``.
    metrics : sequence of str, optional
        Metric names (default: all of :data:`vbbench.metrics.METRICS`).
    workers : int, optional
        Processes (default: all cores; 1 = in this process).
    resize : bool
        Resize predictions of another size to the ground truth (bilinear) instead of failing.
    error_maps_dir : path, optional
        Where to write |p − g| maps as ``<id>.png``.
    scheduler : str, optional
        Address of a Dask distributed scheduler to run the pairs on.
    dataset : dict, optional
        Provenance recorded in the summary (name, variant, revision, split_sha256).
    progress : bool
        Show a progress bar.
    conventions : Conventions
        Reproduce another implementation's choices (default: the reference definitions).
    checkpoint : path, optional
        JSON-lines file where finished pairs are recorded; a rerun with the same inputs and
        options skips them (an interrupted run resumes). Removed once the run completes.

    Returns
    -------
    ScoreResult

    Raises
    ------
    ScoreError
        Any input problem, listing every offending file; nothing is scored partially.
    """
    names = list(METRICS) if metrics is None else list(dict.fromkeys(metrics))
    unknown = [name for name in names if name not in METRICS]
    if unknown:
        raise ScoreError(f"unknown metric(s) {', '.join(unknown)}; choose from {', '.join(METRICS)}")
    pairing = pair_files(pred_dir, gt_dir, trimap_dir)
    notes: list[str] = []
    if pairing.extra_predictions:
        notes.append(
            _listing(pairing.extra_predictions, f"predictions in {pred_dir} have no ground truth and are not scored")
        )
    lossy = [str(pred) for _, pred, _, _ in pairing.pairs if pred.suffix.lower() in LOSSY_SUFFIXES]
    if lossy:
        notes.append(_listing(lossy, "predictions are lossy (JPEG/WebP); compression artefacts count as errors"))
    error_root = Path(error_maps_dir) if error_maps_dir is not None else None
    tasks = [
        PairTask(
            key,
            pred,
            gt,
            trimap,
            tuple(names),
            resize,
            error_root / f"{key}.png" if error_root else None,
            conventions,
        )
        for key, pred, gt, trimap in pairing.pairs
    ]
    saved = None
    if checkpoint is not None:
        fingerprint = {
            "vbbench_version": __version__,
            "pred_dir": str(Path(pred_dir).resolve()),
            "gt_dir": str(Path(gt_dir).resolve()),
            "trimap_dir": None if trimap_dir is None else str(Path(trimap_dir).resolve()),
            "metrics": names,
            "resize": resize,
            "error_maps": None if error_root is None else str(error_root.resolve()),
            "conventions": dataclasses.asdict(conventions),
        }
        saved = _Checkpoint(Path(checkpoint), fingerprint)
    earlier = {task.image_id: saved.finished(task) for task in tasks} if saved else {}
    pending = [task for task in tasks if earlier.get(task.image_id) is None]
    try:
        fresh = _run_tasks(
            pending,
            workers or os.cpu_count() or 1,
            scheduler,
            progress,
            f"scoring {Path(pred_dir).name}",
            saved.add if saved else (lambda task, outcome: None),
        )
    finally:
        if saved:
            saved.stream.close()
    fresh_by_id = {task.image_id: outcome for task, outcome in zip(pending, fresh)}
    outcomes = [earlier.get(task.image_id) or fresh_by_id[task.image_id] for task in tasks]
    problems = [outcome["error"] for outcome in outcomes if "error" in outcome]
    if problems:
        kept = "; the pairs already scored are kept for the next run" if saved else ""
        raise ScoreError(_listing(problems, "files cannot be scored") + f"\nfix or remove them and run again{kept}")
    if saved:
        saved.close(finished=True)
    rows = [row for outcome in outcomes for row in outcome["rows"]]
    per_image = pd.DataFrame(rows, columns=["image", "region", *names])
    summary = {
        "schema": SCHEMA,
        "vbbench_version": __version__,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "options": {
            "pred_dir": str(pred_dir),
            "gt_dir": str(gt_dir),
            "trimap_dir": None if trimap_dir is None else str(trimap_dir),
            "resize": resize,
            "metrics": names,
            "bootstrap_resamples": BOOTSTRAP_RESAMPLES,
            "bootstrap_seed": BOOTSTRAP_SEED,
        },
        # Non-reference settings reproduce other published implementations; such numbers are not
        # comparable with reference results, and "reference_conventions" says so.
        "conventions": dataclasses.asdict(conventions),
        "reference_conventions": not conventions.differences(),
        "dataset": dataset,
        "counts": {
            "ground_truth": len(pairing.pairs),
            "predictions": len(pairing.pairs) + len(pairing.extra_predictions),
            "scored": len(pairing.pairs),
            "extra_predictions": len(pairing.extra_predictions),
            "lossy_predictions": len(lossy),
        },
        "metrics": metric_definitions(names),
        "regions": {region: REGION_DESCRIPTIONS[region] for region in per_image["region"].unique()},
        "scores": summarize(per_image, names),
    }
    for note in notes:
        warnings.warn(note, stacklevel=2)
    return ScoreResult(per_image, summary, notes)


# --------------------------------------------------------------------------------------------
# Outputs
# --------------------------------------------------------------------------------------------


def write_outputs(result: ScoreResult, out_dir: str | os.PathLike) -> tuple[Path, Path]:
    """Write ``per_image.csv`` and ``summary.json`` atomically; return their paths."""
    out_dir = Path(out_dir)
    csv_path, json_path = out_dir / "per_image.csv", out_dir / "summary.json"
    atomic_write_text(csv_path, result.per_image.to_csv(index=False, float_format="%.17g"))
    atomic_write_text(json_path, json.dumps(result.summary, indent=1, ensure_ascii=False) + "\n")
    return csv_path, json_path


def load_summary(path: str | os.PathLike) -> dict[str, Any]:
    """Read a ``summary.json`` and check it with :func:`validate_summary`.

    Raises
    ------
    ScoreError
        Unreadable JSON, another schema, or a missing / mistyped field, naming file and field.
    """
    path = Path(path)
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as problem:
        raise ScoreError(f"{path}: not a readable JSON file ({problem})") from None
    return validate_summary(summary, str(path))


def validate_summary(summary: Any, where: str, prefix: str = "") -> dict[str, Any]:
    """Check a summary's schema and fields; errors read ``<where>: field '<prefix><field>' …``."""
    if not isinstance(summary, dict) or summary.get("schema") != SCHEMA:
        found = summary.get("schema") if isinstance(summary, dict) else type(summary).__name__
        raise ScoreError(f"{where}: field '{prefix}schema' must be {SCHEMA!r}, found {found!r}")
    for key in ("vbbench_version", "created", "options", "conventions", "counts", "metrics", "regions", "scores"):
        if key not in summary:
            raise ScoreError(f"{where}: field '{prefix}{key}' is missing")
    for region, by_metric in summary["scores"].items():
        for name, stats in by_metric.items():
            for key in ("n", "mean", "median", "ci95"):
                field_name = f"{prefix}scores.{region}.{name}.{key}"
                if key not in stats:
                    raise ScoreError(f"{where}: field '{field_name}' is missing")
                value = stats[key]
                if key == "ci95" and (not isinstance(value, list) or len(value) != 2):
                    raise ScoreError(f"{where}: field '{field_name}' must be a [low, high] pair")
                numbers = value if key == "ci95" else [value]
                if not all(isinstance(v, (int, float)) and math.isfinite(v) for v in numbers):
                    raise ScoreError(f"{where}: field '{field_name}' must be a finite number")
            if name not in summary["metrics"]:
                raise ScoreError(f"{where}: field '{prefix}metrics.{name}' is missing")
    return summary


def format_table(summary: dict[str, Any]) -> str:
    """A plain-text table of a summary in display units (what papers print)."""
    lines = []
    changed = {k: v for k, v in summary.get("conventions", {}).items() if v != getattr(REFERENCE, k, v)}
    if changed:
        lines.append("NOT the reference definitions: " + ", ".join(f"{k}={v}" for k, v in changed.items()))
    for region, by_metric in summary["scores"].items():
        lines.append(f"region: {region} ({summary['regions'][region]}), n = {next(iter(by_metric.values()))['n']}")
        lines.append(f"  {'metric':<22} {'shown as':<9} {'mean':>12} {'median':>12}   95% CI of the mean")
        for name, stats in by_metric.items():
            scale = summary["metrics"][name]["display_scale"]
            unit = METRICS[name].display_unit if name in METRICS else f"raw×{scale:g}"
            low, high = (value * scale for value in stats["ci95"])
            lines.append(
                f"  {name:<22} {unit:<9} {stats['mean'] * scale:>12.4f} {stats['median'] * scale:>12.4f}"
                f"   [{low:.4f}, {high:.4f}]"
            )
    return "\n".join(lines)
