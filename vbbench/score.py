"""Score predicted mattes against ground truth: one pair at a time, then the whole folder.

The unit of work is one image pair (:func:`score_pair`), so the same scoring runs in-process, on
the local process pool (:mod:`vbbench.parallel`) or on a Dask distributed cluster. Outputs (see
``docs/scoring.md``):

* ``per_image.csv``: one row per (image, region), every metric in raw units, each column headed
  with its unit (``mad [alpha]``);
* ``summary.json``: schema ``vbbench-score/1`` (:mod:`vbbench.summary`);
* ``error_maps/<id>.png`` (with ``error_maps=True``): |p − g| as 8-bit PNG (value = round(255·|p−g|)).

What a file means is decided, never guessed: which plane of a prediction is the matte
(:func:`vbbench.metrics.alpha.matte_plane`, ``matte_channel``), which trimap value is the unknown
band (:func:`vbbench.trimaps.unknown_band`, ``trimap_unknown``), and every entry of the
ground-truth tree is scored or listed as refused with its reason (warned, and counted in the
summary). No output may overlap an input (:mod:`vbbench.guards`), and the checkpoint lives until
every output is written.
"""

from __future__ import annotations

import dataclasses
import json
import os
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from vbbench import __version__
from vbbench.checkpoint import Checkpoint
from vbbench.errors import MatteError, OutputError, ScoreError, listing
from vbbench.guards import check_apart
from vbbench.io import LOSSY_SUFFIXES, atomic_write_text, csv_text, read_matte, write_png
from vbbench.metrics import MATTE_CHANNELS, METRICS, REFERENCE, Conventions, evaluate, to_alpha
from vbbench.pairing import pair_files
from vbbench.parallel import process_map, start
from vbbench.summary import (
    BOOTSTRAP_RESAMPLES,
    BOOTSTRAP_SEED,
    REGION_DESCRIPTIONS,
    SCHEMA,
    metric_definitions,
    summarize,
)
from vbbench.trimaps import UNKNOWN, unknown_band

__all__ = [
    "PairTask",
    "ScoreResult",
    "score_pair",
    "score_directories",
    "write_outputs",
    "per_image_columns",
    "read_per_image",
    "DASK_CONNECT_TIMEOUT_S",
]

#: How long to wait for a Dask scheduler to answer, and for it to have a worker.
DASK_CONNECT_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class PairTask:
    """Everything a worker needs to score one pair (picklable; paths are absolute so that a
    worker on another machine or in another folder finds the same files)."""

    image_id: str
    pred: Path
    gt: Path
    trimap: Path | None
    metrics: tuple[str, ...]
    resize: bool = False
    error_map: Path | None = None
    conventions: Conventions = REFERENCE
    #: Which plane of a prediction file is its matte (:func:`vbbench.metrics.alpha.matte_plane`).
    matte_channel: str = "auto"
    #: The trimap value of the unknown band (:func:`vbbench.trimaps.unknown_band`).
    trimap_unknown: int = UNKNOWN

    def inputs(self) -> list[Path]:
        return [self.pred, self.gt] + ([self.trimap] if self.trimap else [])


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
        gt = read_matte(task.gt, option=None)
        pred = read_matte(task.pred, task.matte_channel)
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
            regions["unknown"] = unknown_band(trimap, str(task.trimap), task.trimap_unknown)
        try:
            scores = evaluate(pred, gt, regions, list(task.metrics), task.conventions)
        except ValueError as problem:  # e.g. an image too small for a metric's filter
            raise MatteError(f"{task.pred}: {problem}; leave that metric out with --metrics") from None
        if task.error_map is not None:
            error = np.abs(to_alpha(pred) - to_alpha(gt))
            write_png(task.error_map, np.round(error * 255.0).astype(np.uint8))
    except (MatteError, ValueError) as problem:
        return {"error": str(problem)}
    return {"rows": [{"image": task.image_id, "region": region, **values} for region, values in scores.items()]}


@dataclass
class ScoreResult:
    """Outcome of :func:`score_directories`: per-image rows (raw units) and the summary."""

    rows: list[dict[str, Any]]
    summary: dict[str, Any]
    notes: list[str] = field(default_factory=list)
    #: The record of finished pairs; :func:`write_outputs` removes it once every output is written.
    checkpoint: Path | None = None

    @property
    def per_image(self):
        """The rows as a pandas DataFrame (columns ``image``, ``region`` and metric names)."""
        import pandas as pd

        return pd.DataFrame(self.rows, columns=["image", "region", *self.summary["options"]["metrics"]])


def _on_dask(tasks: list[PairTask], scheduler: str, bar: dict) -> list[dict]:
    from tqdm import tqdm

    try:
        from distributed import Client
    except ImportError:
        raise ScoreError("--scheduler needs Dask distributed: pip install 'vbbench[dist]'") from None
    try:
        client = Client(scheduler, timeout=f"{DASK_CONNECT_TIMEOUT_S}s", set_as_default=False)
    except (OSError, TimeoutError, ValueError) as problem:
        raise ScoreError(
            f"cannot reach the Dask scheduler at {scheduler} ({problem}); check that `dask scheduler` runs "
            "there and that its port is open from this machine"
        ) from None
    with client:
        try:
            client.wait_for_workers(1, timeout=DASK_CONNECT_TIMEOUT_S)
        except (OSError, TimeoutError) as problem:
            raise ScoreError(
                f"the Dask scheduler at {scheduler} has no worker ({type(problem).__name__} after "
                f"{DASK_CONNECT_TIMEOUT_S:g} s); start some with `dask worker {scheduler}` on machines that "
                f"have vbbench {__version__} and can read the files"
            ) from None
        futures = client.map(score_pair, tasks, pure=False)
        outcomes = []
        # Collected in submission order: the results keep the pairs' order.
        for future in tqdm(futures, **bar):
            try:
                outcomes.append(future.result())
            except Exception as problem:  # a worker's own failure (e.g. it cannot import vbbench)
                raise ScoreError(
                    f"a Dask worker failed on {tasks[len(outcomes)].pred}: {type(problem).__name__}: {problem}; "
                    f"check that every worker has vbbench {__version__} installed and can read the files"
                ) from None
        return outcomes


#: What the pool's forkserver imports before it forks the workers, so that none pays for it
#: itself: the command line (a worker re-runs the command's script as ``__mp_main__``, and the
#: ``vbbench`` script's first line imports ``vbbench.cli``: ~0.3 s per worker otherwise), this
#: module and the compiled metric kernels (``vbbench.metrics._preload``: numba's start-up, ~0.8 s).
POOL_PRELOAD = ("vbbench.cli", "vbbench.score", "vbbench.metrics._preload")

#: Pairs a worker must have to be worth its start: forking one more worker from the warm
#: forkserver costs about as much as scoring 2–3 pairs (docs/scoring.md, "Speed and scale").
PAIRS_PER_WORKER = 4


def pool_size(workers: int, pairs: int) -> int:
    """How many worker processes score ``pairs`` pairs when ``workers`` are allowed: one per
    :data:`PAIRS_PER_WORKER` pairs, at least one.

    Examples
    --------
    >>> pool_size(2, 5), pool_size(2, 8), pool_size(8, 13)
    (1, 2, 3)
    """
    return max(1, min(workers, pairs // PAIRS_PER_WORKER))


def _run_tasks(
    tasks: list[PairTask],
    workers: int,
    scheduler: str | None,
    progress: bool,
    label: str,
    on_result: Callable[[PairTask, dict], None],
    pooled: bool = False,
) -> list[dict]:
    from tqdm import tqdm

    bar = dict(total=len(tasks), desc=label, unit="image", disable=not progress, leave=False)
    if scheduler is not None:
        outcomes = _on_dask(tasks, scheduler, bar)
        for task, outcome in zip(tasks, outcomes):
            on_result(task, outcome)
        return outcomes
    outcomes = []
    chunk = max(1, min(8, len(tasks) // (max(workers, 1) * 4)))
    scored = process_map(score_pair, tasks, workers, chunksize=chunk, preload=POOL_PRELOAD, always_pool=pooled)
    for task, outcome in zip(tasks, tqdm(scored, **bar)):
        on_result(task, outcome)
        outcomes.append(outcome)
    return outcomes


def score_directories(
    pred_dir: str | os.PathLike,
    gt_dir: str | os.PathLike,
    trimap_dir: str | os.PathLike | None = None,
    *,
    metrics: Sequence[str] | None = None,
    workers: int | None = None,
    resize: bool = False,
    error_maps_dir: str | os.PathLike | None = None,
    scheduler: str | None = None,
    dataset: dict[str, Any] | None = None,
    progress: bool = True,
    conventions: Conventions = REFERENCE,
    checkpoint: str | os.PathLike | None = None,
    matte_channel: str = "auto",
    trimap_unknown: int = UNKNOWN,
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
        Processes at most (default: all cores; 1 = in this process). Fewer when there are few
        pairs: one per :data:`PAIRS_PER_WORKER` pending pairs.
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
        JSON-lines file where finished pairs are recorded (:class:`vbbench.checkpoint.Checkpoint`);
        a rerun with the same inputs and options skips them. :func:`write_outputs` removes it once
        every output is written, so a failed write never costs a rescore. A recorded result of the
        wrong shape is dropped and that pair scored again.
    matte_channel : {"auto", "alpha", "gray"}
        Which plane of a prediction file is its matte (:func:`vbbench.io.read_matte`); ``auto``
        refuses an opaque alpha over other colour rather than guess. Ground truth is always read
        with ``auto``.
    trimap_unknown : int
        Trimap value of the unknown band (default 128); trimaps with values other than 0, this
        and 255 are refused, with the values counted.

    Returns
    -------
    ScoreResult

    Raises
    ------
    ScoreError
        Any input problem, listing every offending file; nothing is scored partially.
    OutputError
        ``error_maps_dir`` or ``checkpoint`` overlapping an input (:func:`vbbench.guards.check_apart`).
    """
    names = METRICS.check(dict.fromkeys(metrics) if metrics is not None else METRICS.names())
    if matte_channel not in MATTE_CHANNELS:
        raise ScoreError(f"matte channel {matte_channel!r} is not one of {', '.join(MATTE_CHANNELS)}")
    if not 0 < trimap_unknown < 255:
        raise ScoreError(
            f"the trimap's unknown value must lie in 1 … 254 (0 and 255 are the known pixels), got {trimap_unknown}"
        )
    check_apart(
        folders={"error_maps_dir": error_maps_dir},
        files={"checkpoint": checkpoint},
        inputs={"pred_dir": pred_dir, "gt_dir": gt_dir, "trimap_dir": trimap_dir},
    )
    workers = workers or os.cpu_count() or 1
    # With more than one worker allowed, the pool's forkserver starts now and imports the workers'
    # modules and the compiled metric kernels while the pairs are listed; even a single pending
    # pair then goes to it (this process never loads numba, ~0.8 s, nor pays its exit).
    pooled = scheduler is None and workers > 1
    if pooled:
        start(POOL_PRELOAD)
    pairing = pair_files(pred_dir, gt_dir, trimap_dir)
    notes: list[str] = []
    if pairing.refused_ground_truth:
        what = f"entries of the ground truth {gt_dir} are not mattes and are not scored"
        notes.append(listing([str(entry) for entry in pairing.refused_ground_truth], what))
    if pairing.extra_predictions:
        what = f"predictions in {pred_dir} have no ground truth and are not scored"
        notes.append(listing(pairing.extra_predictions, what))
    lossy = [str(pred) for _, pred, _, _ in pairing.pairs if pred.suffix.lower() in LOSSY_SUFFIXES]
    if lossy:
        notes.append(listing(lossy, "predictions are lossy (JPEG/WebP); compression artefacts count as errors"))
    error_root = Path(error_maps_dir).absolute() if error_maps_dir is not None else None
    tasks = [
        PairTask(
            image_id=key,
            pred=pred.absolute(),
            gt=gt.absolute(),
            trimap=trimap.absolute() if trimap else None,
            metrics=tuple(names),
            resize=resize,
            error_map=error_root / f"{key}.png" if error_root else None,
            conventions=conventions,
            matte_channel=matte_channel,
            trimap_unknown=trimap_unknown,
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
            "matte_channel": matte_channel,
            "trimap_unknown": trimap_unknown,
        }
        expected = {"whole", "unknown"} if trimap_dir is not None else {"whole"}
        saved = Checkpoint(Path(checkpoint), fingerprint, lambda key, rows: _valid_rows(key, rows, names, expected))
    earlier = {task.image_id: saved.finished(task.image_id, task.inputs()) for task in tasks} if saved else {}
    pending = [task for task in tasks if earlier.get(task.image_id) is None]

    def record(task: PairTask, outcome: dict) -> None:
        if saved is not None and "rows" in outcome:
            saved.add(task.image_id, task.inputs(), outcome["rows"])

    try:
        label = f"scoring {Path(pred_dir).name}"
        fresh = _run_tasks(pending, pool_size(workers, len(pending)), scheduler, progress, label, record, pooled)
    finally:
        if saved:
            saved.close()
    fresh_by_id = {task.image_id: outcome for task, outcome in zip(pending, fresh)}
    outcomes = [
        {"rows": earlier[task.image_id]} if earlier.get(task.image_id) is not None else fresh_by_id[task.image_id]
        for task in tasks
    ]
    problems = [str(outcome["error"]) for outcome in outcomes if "error" in outcome]
    if problems:
        kept = "; the pairs already scored are kept for the next run" if saved else ""
        raise ScoreError(listing(problems, "files cannot be scored") + f"\nfix or remove them and run again{kept}")
    rows: list[dict[str, Any]] = [row for outcome in outcomes for row in outcome["rows"] or []]
    regions = list(dict.fromkeys(row["region"] for row in rows))
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
            "matte_channel": matte_channel,
            "trimap_unknown": trimap_unknown if trimap_dir is not None else None,
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
            "refused_ground_truth": len(pairing.refused_ground_truth),
        },
        # Every entry of the ground-truth tree that was not scored, with the reason.
        "refused_ground_truth": [
            f"{_relative(entry.path, gt_dir)}: {entry.reason}" for entry in pairing.refused_ground_truth
        ],
        "metrics": metric_definitions(names),
        "regions": {region: REGION_DESCRIPTIONS[region] for region in regions},
        "scores": summarize(rows, names),
    }
    for note in notes:
        warnings.warn(note, stacklevel=2)
    return ScoreResult(rows, summary, notes, Path(checkpoint) if checkpoint is not None else None)


def _relative(path: Path, root: str | os.PathLike) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


def _valid_rows(key: str, rows: Any, names: Sequence[str], regions: set[str]) -> bool:
    """Whether a checkpoint's record of ``key`` is the rows :func:`score_pair` returns: one row
    per region, each with every metric as a finite number."""
    if not isinstance(rows, list) or {row.get("region") for row in rows if isinstance(row, dict)} != regions:
        return False
    if len(rows) != len(regions):
        return False
    for row in rows:
        if not isinstance(row, dict) or row.get("image") != key:
            return False
        for name in names:
            value = row.get(name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value):
                return False
    return True


def per_image_columns(metrics: Sequence[str]) -> list[str]:
    """The header of ``per_image.csv``: ``image, region`` and each metric with its raw unit."""
    return ["image", "region", *(METRICS[name].raw_column for name in metrics)]


def write_outputs(result: ScoreResult, out_dir: str | os.PathLike) -> tuple[Path, Path]:
    """Write ``per_image.csv`` and ``summary.json`` atomically, then remove the run's checkpoint;
    return the two paths.

    Raises
    ------
    OutputError
        ``out_dir`` overlaps the run's inputs, or a file cannot be written; the checkpoint is then
        kept, so running the same command again rescores nothing.
    """
    out_dir = Path(out_dir)
    options = result.summary["options"]
    check_apart(
        folders={"out_dir": out_dir},
        inputs={"pred_dir": options["pred_dir"], "gt_dir": options["gt_dir"], "trimap_dir": options["trimap_dir"]},
    )
    names = options["metrics"]
    columns = per_image_columns(names)
    rows = (
        {"image": row["image"], "region": row["region"], **{METRICS[n].raw_column: repr(float(row[n])) for n in names}}
        for row in result.rows
    )
    csv_path, json_path = out_dir / "per_image.csv", out_dir / "summary.json"
    for path, text in (
        (csv_path, csv_text(rows, columns)),
        (json_path, json.dumps(result.summary, indent=1, ensure_ascii=False) + "\n"),
    ):
        try:
            atomic_write_text(path, text)
        except OSError as problem:
            kept = (
                f"; the scores are kept in {result.checkpoint}: fix that and run the same command again "
                "(nothing is rescored)"
                if result.checkpoint is not None
                else ""
            )
            raise OutputError(f"{path}: cannot be written ({problem.strerror or problem}){kept}") from None
    if result.checkpoint is not None:
        result.checkpoint.unlink(missing_ok=True)
    return csv_path, json_path


def read_per_image(path: str | os.PathLike) -> list[dict[str, Any]]:
    """Rows of a ``per_image.csv``, keyed ``image``, ``region`` and metric names, values as floats.

    Raises
    ------
    ScoreError
        If the file is unreadable or a column is not a known metric with its unit.
    """
    return read_metric_rows(path, {"image": str, "region": str}, METRICS, "mad [alpha]")


def read_metric_rows(
    path: str | os.PathLike, keys: dict[str, Callable[[str], Any]], metrics, example: str
) -> list[dict[str, Any]]:
    """Rows of a per-image or per-clip CSV: the ``keys`` columns converted as given, every other
    column a metric of ``metrics`` under its raw column (``mad [alpha]``), as a float.

    Raises
    ------
    ScoreError
        If the file is unreadable or a column is not a known metric with its unit (``example``).
    """
    from vbbench.io import read_csv

    try:
        raw = read_csv(path)
    except OSError as problem:
        raise ScoreError(f"{path}: cannot be read ({problem.strerror or problem})") from None
    by_column = {spec.raw_column: name for name, spec in metrics.items()}
    rows = []
    for row in raw:
        parsed: dict[str, Any] = {key: convert(row.pop(key)) for key, convert in keys.items()}
        for column, value in row.items():
            if column not in by_column:
                raise ScoreError(f"{path}: column {column!r} is not a metric with its unit (e.g. {example!r})")
            parsed[by_column[column]] = float(value)
        rows.append(parsed)
    return rows
