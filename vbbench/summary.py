"""Score summaries (schema ``vbbench-score/1``): statistics, validation and the terminal table.

A summary holds, per region and metric, the number of images, the mean, median, standard
deviation and a 95 % percentile-bootstrap confidence interval of the mean, in raw units, with
every metric's definition and display unit (see ``docs/scoring.md``).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from vbbench import units
from vbbench.errors import ScoreError
from vbbench.metrics import METRICS, REFERENCE, TEMPORAL_METRICS, TEMPORAL_REFERENCE

__all__ = [
    "SCHEMA",
    "REGION_DESCRIPTIONS",
    "BOOTSTRAP_RESAMPLES",
    "BOOTSTRAP_SEED",
    "bootstrap_ci",
    "metric_definitions",
    "summarize",
    "load_summary",
    "validate_summary",
    "format_table",
]

SCHEMA = "vbbench-score/1"
REGION_DESCRIPTIONS = {"whole": "every pixel", "unknown": "trimap == 128 (the unknown band)"}
BOOTSTRAP_RESAMPLES = 2000
BOOTSTRAP_SEED = 0


def bootstrap_ci(
    values: Sequence[float] | np.ndarray,
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
    level: float = 0.95,
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


def _spec(name: str):
    """A still metric's declaration, or a clip metric's (clip summaries hold both)."""
    return TEMPORAL_METRICS[name] if name in TEMPORAL_METRICS else METRICS[name]


def metric_definitions(names: Iterable[str]) -> dict[str, dict[str, Any]]:
    """The ``metrics`` block of a summary: definition, units and reference of each metric."""
    return {
        name: {
            "title": _spec(name).title,
            "definition": _spec(name).definition,
            "reduction": _spec(name).reduction,
            "raw_unit": _spec(name).raw_unit,
            "display_scale": _spec(name).display_scale,
            "display_key": _spec(name).display_key,
            "header": _spec(name).header,
            "border": _spec(name).border,
            "reference": _spec(name).reference,
        }
        for name in names
    }


def summarize(rows: Iterable[dict[str, Any]], metrics: Sequence[str]) -> dict[str, dict[str, dict[str, Any]]]:
    """Per region (in first-seen order) and metric: n, mean, median, std and 95 % bootstrap CI,
    in raw units.

    Parameters
    ----------
    rows : iterable of dict
        Per-image rows ``{"image", "region", metric: raw value, …}``.
    metrics : sequence of str
        The metric columns to summarise.

    Examples
    --------
    >>> rows = [{"image": "a", "region": "whole", "mad": 0.1}, {"image": "b", "region": "whole", "mad": 0.3}]
    >>> stats = summarize(rows, ["mad"])["whole"]["mad"]
    >>> stats["n"], round(stats["mean"], 12), round(stats["median"], 12)
    (2, 0.2, 0.2)
    """
    by_region: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_region.setdefault(str(row["region"]), []).append(row)
    scores: dict[str, dict[str, dict[str, Any]]] = {}
    for region, region_rows in by_region.items():
        scores[region] = {}
        for name in metrics:
            values = np.array([row[name] for row in region_rows], dtype=np.float64)
            low, high = bootstrap_ci(values)
            scores[region][name] = {
                "n": int(values.size),
                "mean": float(values.mean()),
                "median": float(np.median(values)),
                "std": float(values.std(ddof=1)) if values.size > 1 else 0.0,
                "ci95": [low, high],
            }
    return scores


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
    """A plain-text table of a summary in display units (what papers print), with the notation
    sentence under it."""
    lines = []
    reference = {**vars(REFERENCE), **vars(TEMPORAL_REFERENCE)}
    changed = {k: v for k, v in summary.get("conventions", {}).items() if v != reference.get(k, v)}
    if changed:
        lines.append("NOT the reference definitions: " + ", ".join(f"{k}={v}" for k, v in changed.items()))
    for region, by_metric in summary["scores"].items():
        count = next(iter(by_metric.values()))["n"]
        unit = " clips" if summary.get("options", {}).get("unit") == "clip" else ""
        lines.append(f"region: {region} ({summary['regions'][region]}), n = {count}{unit}")
        lines.append(f"  {'metric':<24} {'mean':>12} {'median':>12}   95% CI of the mean")
        for name, stats in by_metric.items():
            scale = summary["metrics"][name]["display_scale"]
            known = name in METRICS or name in TEMPORAL_METRICS
            label = _spec(name).header if known else units.header(name, scale)
            low, high = (value * scale for value in stats["ci95"])
            lines.append(
                f"  {label:<24} {stats['mean'] * scale:>12.4f} {stats['median'] * scale:>12.4f}"
                f"   [{low:.4f}, {high:.4f}]"
            )
    lines.append(units.NOTATION)
    return "\n".join(lines)
