"""Score predicted clips: every frame as an image, every clip for its temporal stability.

A clip folder holds one first-level folder per clip, its frames in name order
(``<clip>/<frame>.png``; the ``clips`` variant writes ``<clip>/0000.png`` …). The unit of work is
one clip (:func:`score_clip`): its frames are scored with the still metrics by
:func:`vbbench.score.score_pair`, exactly as ``vbbench score`` scores images, and streamed in order
through :class:`vbbench.metrics.TemporalAccumulator` for dtSSD, MESSDdt and flicker, per region
(``whole``; with trimaps also ``unknown``, each frame's own band). Outputs (``docs/scoring.md``):

* ``per_image.csv``: one row per (frame, region), the format of still scoring (frame id
  ``<clip>/<frame>``), so every reader of per-image scores reads it;
* ``per_clip.csv``: one row per (clip, region): the number of frames, the mean of each still metric
  over the clip's frames and the clip metrics, raw units, each column headed with its unit;
* ``summary.json`` (schema ``vbbench-score/1``): ``scores[region][metric]`` over **clips** (n =
  clips, bootstrap over clips), still and clip metrics alike, plus a ``clips`` block.

What each clip metric needs: MESSDdt the motion between frames — exact from the clips manifest
(``--dataset D --variant clips``), or Farneback flow on the ground truth with ``--convention
messddt_flow=farneback``; without either it is left out with a note. Flicker needs static
stretches: the frames the manifest marks static, or, without a manifest, runs of frames whose
ground truth is identical; clips without one leave flicker out, with a note.
"""

from __future__ import annotations

import dataclasses
import json
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from vbbench import __version__
from vbbench.checkpoint import Checkpoint
from vbbench.clips.files import group_clips, read_clip_manifest
from vbbench.errors import MatteError, ScoreError, listing
from vbbench.io import LOSSY_SUFFIXES, atomic_write_text, csv_text, read_matte
from vbbench.metrics import (
    METRICS,
    REFERENCE,
    TEMPORAL_METRICS,
    TEMPORAL_REFERENCE,
    Conventions,
    TemporalAccumulator,
    TemporalConventions,
)
from vbbench.metrics.temporal import static_stretches
from vbbench.pairing import pair_files
from vbbench.parallel import process_map
from vbbench.score import PairTask, _resize_to, per_image_columns, score_pair
from vbbench.summary import (
    BOOTSTRAP_RESAMPLES,
    BOOTSTRAP_SEED,
    REGION_DESCRIPTIONS,
    SCHEMA,
    metric_definitions,
    summarize,
)
from vbbench.trimaps import UNKNOWN

__all__ = [
    "ClipTask",
    "ClipScoreResult",
    "score_clip",
    "score_clip_directories",
    "write_clip_outputs",
    "read_per_clip",
    "per_clip_columns",
]


@dataclass(frozen=True)
class ClipTask:
    """Everything a worker needs to score one clip (picklable, absolute paths).

    ``frames`` are the clip's pairs in order; ``motion`` the manifest's per-frame ``params`` (their
    ``camera`` and ``person`` transforms give the exact motion), or None; ``static`` the frames'
    static flags, or None (runs of identical ground truth are static).
    """

    clip: str
    frames: tuple[PairTask, ...]
    temporal: tuple[str, ...]
    temporal_conventions: TemporalConventions = TEMPORAL_REFERENCE
    motion: tuple[dict, ...] | None = None
    static: tuple[bool, ...] | None = None

    def inputs(self) -> list[Path]:
        return [path for frame in self.frames for path in frame.inputs()]


def _read_pred(task: PairTask, shape: tuple[int, int]) -> np.ndarray:
    pred = read_matte(task.pred)
    if pred.shape != shape:
        if not task.resize:
            raise MatteError(f"{task.pred}: size differs from the ground truth {task.gt}; pass --resize")
        pred = _resize_to(pred, shape)
    return pred


def _identical_runs(gts: Sequence[np.ndarray]) -> list[bool]:
    """Static flags from the ground truth alone: frames whose matte equals a neighbour's exactly."""
    flags = [False] * len(gts)
    for t in range(1, len(gts)):
        if np.array_equal(gts[t], gts[t - 1]):
            flags[t - 1] = flags[t] = True
    return flags


def score_clip(task: ClipTask) -> dict[str, Any]:
    """Score one clip; never raises for bad input, returns ``{"error": message}`` instead.

    Returns
    -------
    dict
        ``{"frames": per-frame rows, "clip": per-clip rows}`` (raw units; a clip metric that the
        clip cannot have, flicker without a static stretch, is None) or ``{"error": str}``.
    """
    from vbbench.clips.motion import layered_flow

    frame_rows: list[dict[str, Any]] = []
    for frame in task.frames:
        outcome = score_pair(frame)
        if "error" in outcome:
            return outcome
        frame_rows.extend(outcome["rows"])
    try:
        gts = [read_matte(frame.gt) for frame in task.frames]
        trimaps = [read_matte(frame.trimap) == 128 for frame in task.frames if frame.trimap is not None] or None
        static = list(task.static) if task.static is not None else _identical_runs(gts)
        wanted = [name for name in task.temporal if name != "flicker" or static_stretches(static, len(gts))]
        regions: dict[str, list[np.ndarray | None]] = {"whole": [None] * len(gts)}
        if trimaps is not None:
            regions["unknown"] = list(trimaps)
        accumulator = TemporalAccumulator(wanted, task.temporal_conventions, regions=list(regions))
        exact = "messddt" in wanted and task.temporal_conventions.messddt_flow == "exact"
        if exact and task.motion is None:
            raise MatteError(f"clip {task.clip}: MESSDdt needs the clip's motion (its manifest)")
        for t, frame in enumerate(task.frames):
            pred = _read_pred(frame, gts[t].shape)
            flow = None
            if exact and t > 0:
                assert task.motion is not None
                flow = layered_flow(task.motion[t - 1], task.motion[t], gts[t - 1], gts[t])
            masks = {region: per_frame[t] for region, per_frame in regions.items()}
            accumulator.update(pred, gts[t], region=masks, flow=flow, static=static[t])
        temporal = accumulator.result()
    except (MatteError, ValueError) as problem:
        return {"error": f"clip {task.clip}: {problem}"}
    still = [name for name in frame_rows[0] if name not in ("image", "region")]
    clip_rows = []
    for region, values in temporal.items():
        rows = [row for row in frame_rows if row["region"] == region]
        means = {name: float(np.mean([row[name] for row in rows])) for name in still}
        extra = {name: values.get(name) for name in task.temporal}
        clip_rows.append({"clip": task.clip, "region": region, "frames": len(rows), **means, **extra})
    return {"frames": frame_rows, "clip": clip_rows}


@dataclass
class ClipScoreResult:
    """Outcome of :func:`score_clip_directories`: per-frame and per-clip rows (raw units) and the
    summary."""

    frame_rows: list[dict[str, Any]]
    clip_rows: list[dict[str, Any]]
    summary: dict[str, Any]
    notes: list[str] = field(default_factory=list)
    checkpoint: Path | None = None


def _manifest_rows(manifest: Path, ids: list[str]) -> dict[str, list[dict]]:
    clips = read_clip_manifest(manifest)
    listed = {row["id"] for frames in clips.values() for row in frames}
    missing = [key for key in ids if key not in listed]
    if missing:
        raise ScoreError(f"{manifest}: " + listing(missing, "ground-truth frames are not in the clips manifest"))
    return clips


def score_clip_directories(
    pred_dir: str | os.PathLike,
    gt_dir: str | os.PathLike,
    trimap_dir: str | os.PathLike | None = None,
    *,
    manifest: str | os.PathLike | None = None,
    metrics: Sequence[str] | None = None,
    temporal_metrics: Sequence[str] | None = None,
    workers: int | None = None,
    resize: bool = False,
    error_maps_dir: str | os.PathLike | None = None,
    dataset: dict[str, Any] | None = None,
    progress: bool = True,
    conventions: Conventions = REFERENCE,
    temporal_conventions: TemporalConventions = TEMPORAL_REFERENCE,
    checkpoint: str | os.PathLike | None = None,
    matte_channel: str = "auto",
    trimap_unknown: int = UNKNOWN,
) -> ClipScoreResult:
    """Score every clip of ``gt_dir`` (first-level folders of frames) against ``pred_dir``.

    Parameters
    ----------
    pred_dir, gt_dir : path
        Predicted and ground-truth clips, frames paired by relative path without extension.
    trimap_dir : path, optional
        Trimaps; adds the region ``unknown`` (each frame's trimap == 128).
    manifest : path, optional
        The clips variant's ``manifest.csv``: exact motion (MESSDdt) and static flags (flicker).
    metrics : sequence of str, optional
        Still metrics scored on every frame (default all of :data:`vbbench.metrics.METRICS`).
    temporal_metrics : sequence of str, optional
        Clip metrics (default all of :data:`vbbench.metrics.TEMPORAL_METRICS` that the inputs
        allow; asking for one they do not allow is an error).
    workers : int, optional
        Processes (default all cores); one clip per task.
    resize, error_maps_dir, dataset, progress, conventions, checkpoint
        As :func:`vbbench.score.score_directories` (the checkpoint records finished clips).
    temporal_conventions : TemporalConventions
        Reproduce another implementation of the clip metrics.
    matte_channel, trimap_unknown
        How prediction files and trimaps are read, as :func:`vbbench.score.score_directories`.

    Returns
    -------
    ClipScoreResult

    Raises
    ------
    ScoreError
        Any input problem, listing every offending file; nothing is scored partially.
    """
    names = METRICS.check(dict.fromkeys(metrics) if metrics is not None else METRICS.names())
    pairing = pair_files(pred_dir, gt_dir, trimap_dir)
    by_id = {key: (pred, gt, trimap) for key, pred, gt, trimap in pairing.pairs}
    clips = group_clips(by_id, gt_dir)
    rows_of = _manifest_rows(Path(manifest), list(by_id)) if manifest is not None else None
    notes: list[str] = []
    possible = list(TEMPORAL_METRICS.names())
    if rows_of is None and temporal_conventions.messddt_flow == "exact":
        possible.remove("messddt")
        why = "MESSDdt needs the clips' motion: score a prepared clips variant (--dataset) or pass --convention"
        notes.append(f"{why} messddt_flow=farneback")
    if temporal_metrics is None:
        temporal = possible
    else:
        temporal = TEMPORAL_METRICS.check(dict.fromkeys(temporal_metrics))
        if "messddt" in temporal and "messddt" not in possible:
            raise ScoreError(notes[-1])
    if pairing.extra_predictions:
        notes.append(listing(pairing.extra_predictions, f"predictions in {pred_dir} have no ground truth"))
    lossy = [str(pred) for pred, _, _ in by_id.values() if pred.suffix.lower() in LOSSY_SUFFIXES]
    if lossy:
        notes.append(listing(lossy, "predictions are lossy (JPEG/WebP); compression artefacts count as errors"))
    error_root = Path(error_maps_dir).absolute() if error_maps_dir is not None else None
    tasks = []
    for clip, ids in clips.items():
        frames = tuple(
            PairTask(
                image_id=key,
                pred=by_id[key][0].absolute(),
                gt=by_id[key][1].absolute(),
                trimap=by_id[key][2].absolute() if by_id[key][2] else None,  # type: ignore[union-attr]
                metrics=tuple(names),
                resize=resize,
                error_map=error_root / f"{key}.png" if error_root else None,
                conventions=conventions,
                matte_channel=matte_channel,
                trimap_unknown=trimap_unknown,
            )
            for key in ids
        )
        motion = static = None
        if rows_of is not None:
            listed = {row["id"]: row for row in rows_of.get(clip, [])}
            if sorted(listed) != ids:
                raise ScoreError(f"{gt_dir}: clip {clip} has other frames than its manifest {manifest} lists")
            motion = tuple(listed[key]["params"] for key in ids)
            static = tuple(bool(listed[key]["params"]["static"]) for key in ids)
        tasks.append(ClipTask(clip, frames, tuple(temporal), temporal_conventions, motion, static))
    saved = None
    if checkpoint is not None:
        fingerprint = {
            "vbbench_version": __version__,
            "clips": True,
            "pred_dir": str(Path(pred_dir).resolve()),
            "gt_dir": str(Path(gt_dir).resolve()),
            "trimap_dir": None if trimap_dir is None else str(Path(trimap_dir).resolve()),
            "manifest": None if manifest is None else str(Path(manifest).resolve()),
            "metrics": names,
            "temporal_metrics": list(temporal),
            "resize": resize,
            "error_maps": None if error_root is None else str(error_root.resolve()),
            "conventions": dataclasses.asdict(conventions),
            "temporal_conventions": dataclasses.asdict(temporal_conventions),
        }
        saved = Checkpoint(Path(checkpoint), fingerprint)
    earlier = {task.clip: saved.finished(task.clip, task.inputs()) for task in tasks} if saved else {}
    pending = [task for task in tasks if earlier.get(task.clip) is None]
    from tqdm import tqdm

    fresh: dict[str, dict] = {}
    bar = tqdm(total=len(pending), desc=f"scoring clips {Path(pred_dir).name}", unit="clip", disable=not progress)
    try:
        for task, outcome in zip(
            pending, process_map(score_clip, pending, workers or os.cpu_count() or 1, chunksize=1)
        ):
            if saved is not None and "error" not in outcome:
                saved.add(task.clip, task.inputs(), outcome)
            fresh[task.clip] = outcome
            bar.update()
    finally:
        bar.close()
        if saved:
            saved.close()
    outcomes: list[dict[str, Any]] = []
    for task in tasks:
        recorded = earlier.get(task.clip)
        outcomes.append(recorded if recorded is not None else fresh[task.clip])
    problems = [str(outcome["error"]) for outcome in outcomes if "error" in outcome]
    if problems:
        kept = "; the clips already scored are kept for the next run" if saved else ""
        raise ScoreError(listing(problems, "clips cannot be scored") + f"\nfix or remove them and run again{kept}")
    frame_rows = [row for outcome in outcomes for row in outcome["frames"]]
    clip_rows = [row for outcome in outcomes for row in outcome["clip"]]
    if "flicker" in temporal:
        without = sorted({row["clip"] for row in clip_rows if row["flicker"] is None})
        if without:
            if temporal_metrics is not None:
                raise ScoreError(
                    listing(without, "clips have no static stretch (ground truth held still), so no flicker")
                )
            notes.append(listing(without, "clips have no static stretch, so flicker is left out"))
            temporal = [name for name in temporal if name != "flicker"]
            for row in clip_rows:
                row.pop("flicker")
    regions = list(dict.fromkeys(row["region"] for row in clip_rows))
    spec = None
    if rows_of is not None:
        first = next(iter(rows_of.values()))[0]["params"].get("clip", {})
        spec = first.get("spec")
    summary = {
        "schema": SCHEMA,
        "vbbench_version": __version__,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "options": {
            "pred_dir": str(pred_dir),
            "gt_dir": str(gt_dir),
            "trimap_dir": None if trimap_dir is None else str(trimap_dir),
            "manifest": None if manifest is None else str(manifest),
            "resize": resize,
            "metrics": [*names, *temporal],
            "frame_metrics": names,
            "temporal_metrics": list(temporal),
            "unit": "clip",
            "bootstrap_resamples": BOOTSTRAP_RESAMPLES,
            "bootstrap_seed": BOOTSTRAP_SEED,
        },
        # Both kinds of convention in one record; non-reference settings are never ranked.
        "conventions": {**dataclasses.asdict(conventions), **dataclasses.asdict(temporal_conventions)},
        "reference_conventions": not conventions.differences() and not temporal_conventions.differences(),
        "dataset": dataset,
        "counts": {
            "clips": len(tasks),
            "ground_truth": len(by_id),
            "predictions": len(by_id) + len(pairing.extra_predictions),
            "scored": len(by_id),
            "extra_predictions": len(pairing.extra_predictions),
            "lossy_predictions": len(lossy),
        },
        "clips": {
            "count": len(tasks),
            "frames": {clip: len(ids) for clip, ids in clips.items()},
            "spec": spec,
            "motion": "exact (manifest)"
            if rows_of is not None and temporal_conventions.messddt_flow == "exact"
            else temporal_conventions.messddt_flow,
            "static": "manifest" if rows_of is not None else "runs of identical ground truth",
        },
        "metrics": metric_definitions([*names, *temporal]),
        "regions": {region: REGION_DESCRIPTIONS[region] for region in regions},
        "scores": summarize(clip_rows, [*names, *temporal]),
    }
    for note in notes:
        warnings.warn(note, stacklevel=2)
    return ClipScoreResult(frame_rows, clip_rows, summary, notes, Path(checkpoint) if checkpoint is not None else None)


def per_clip_columns(metrics: Sequence[str]) -> list[str]:
    """The header of ``per_clip.csv``: ``clip, region, frames`` and each metric with its raw unit."""
    columns = ["clip", "region", "frames"]
    for name in metrics:
        columns.append(METRICS[name].raw_column if name in METRICS else TEMPORAL_METRICS[name].raw_column)
    return columns


def write_clip_outputs(result: ClipScoreResult, out_dir: str | os.PathLike) -> tuple[Path, Path, Path]:
    """Write ``per_image.csv`` (frames), ``per_clip.csv`` and ``summary.json`` atomically, then remove
    the run's checkpoint; return the three paths."""
    out_dir = Path(out_dir)
    options = result.summary["options"]
    frame_names, every = options["frame_metrics"], options["metrics"]
    frames_csv, clips_csv, summary_json = out_dir / "per_image.csv", out_dir / "per_clip.csv", out_dir / "summary.json"
    frame_rows = (
        {"image": r["image"], "region": r["region"], **{METRICS[n].raw_column: repr(float(r[n])) for n in frame_names}}
        for r in result.frame_rows
    )
    columns = per_clip_columns(every)
    clip_rows = (
        dict(zip(columns, [r["clip"], r["region"], r["frames"], *(repr(float(r[n])) for n in every)]))
        for r in result.clip_rows
    )
    atomic_write_text(frames_csv, csv_text(frame_rows, per_image_columns(frame_names)))
    atomic_write_text(clips_csv, csv_text(clip_rows, columns))
    atomic_write_text(summary_json, json.dumps(result.summary, indent=1, ensure_ascii=False) + "\n")
    if result.checkpoint is not None:
        result.checkpoint.unlink(missing_ok=True)
    return frames_csv, clips_csv, summary_json


def read_per_clip(path: str | os.PathLike) -> list[dict[str, Any]]:
    """Rows of a ``per_clip.csv``, keyed ``clip``, ``region``, ``frames`` and metric names.

    Raises
    ------
    ScoreError
        If the file is unreadable or a column is not a known metric with its unit.
    """
    from vbbench.score import read_metric_rows

    metrics = {**dict(METRICS.items()), **dict(TEMPORAL_METRICS.items())}
    return read_metric_rows(path, {"clip": str, "region": str, "frames": int}, metrics, "dtssd [alpha]")
