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
    "is_number",
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


def is_number(value: Any) -> bool:
    """A finite real number: int or float, never a bool (JSON ``true`` is no score).

    Examples
    --------
    >>> is_number(0.5), is_number(True), is_number(float("nan")), is_number("1")
    (True, False, False, False)
    """
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _fail(where: str, field: str, problem: str) -> ScoreError:
    return ScoreError(f"{where}: field '{field}' {problem}")


def validate_summary(summary: Any, where: str, prefix: str = "") -> dict[str, Any]:
    """Check a summary as data, not only as shape; errors read ``<where>: field '<prefix><field>' …``.

    Beyond the fields being present with the right types, every statistic must be a finite real
    number (``true`` is not one) inside its metric's :attr:`~vbbench.metrics.MetricSpec.value_range`
    (an error is never negative), ``ci95`` an ordered pair holding the mean, ``n`` a positive
    count, metric names and conventions known, and ``reference_conventions`` true exactly when
    every convention is the reference one. Hand-edited numbers that break none of these (a whole
    row halved) are caught only by scoring again: :func:`vbbench.leaderboard.check` takes a
    re-scoring hook for that.

    Raises
    ------
    ScoreError
        Naming ``where`` and the first field that is wrong.
    """
    from vbbench.metrics.conventions import CHOICES, TEMPORAL_CHOICES, TEMPORAL_REFERENCE

    if not isinstance(summary, dict) or summary.get("schema") != SCHEMA:
        found = summary.get("schema") if isinstance(summary, dict) else type(summary).__name__
        raise ScoreError(f"{where}: field '{prefix}schema' must be {SCHEMA!r}, found {found!r}")
    for key in ("vbbench_version", "created", "options", "conventions", "counts", "metrics", "regions", "scores"):
        if key not in summary:
            raise ScoreError(f"{where}: field '{prefix}{key}' is missing")
    for key in ("options", "conventions", "counts", "metrics", "regions", "scores"):
        if not isinstance(summary[key], dict):
            raise _fail(where, prefix + key, f"must be an object, found {type(summary[key]).__name__}")
    for key in ("vbbench_version", "created"):
        if not isinstance(summary[key], str):
            raise _fail(where, prefix + key, f"must be a string, found {type(summary[key]).__name__}")
    dataset = summary.get("dataset")
    if dataset is not None:
        if not isinstance(dataset, dict):
            raise _fail(
                where, prefix + "dataset", f"must be null or an object with 'name' and 'variant', found {dataset!r}"
            )
        for key in ("name", "variant"):
            if not isinstance(dataset.get(key), str) or not dataset[key]:
                raise _fail(
                    where, f"{prefix}dataset.{key}", "is missing or not a string; score with --dataset NAME --variant V"
                )
    for name, count in summary["counts"].items():
        if not _count(count):
            raise _fail(where, f"{prefix}counts.{name}", f"must be a non-negative integer, found {count!r}")
    conventions = summary["conventions"]
    # A clip summary records the clip metrics' conventions beside the still metrics' ones.
    known = {**CHOICES, **TEMPORAL_CHOICES}
    for name, value in conventions.items():
        if name not in known:
            raise _fail(where, f"{prefix}conventions.{name}", f"is not a convention ({', '.join(known)})")
        if value not in known[name]:
            raise _fail(
                where, f"{prefix}conventions.{name}", f"must be one of {', '.join(known[name])}, found {value!r}"
            )
    reference = all(
        conventions.get(name, getattr(defaults, name)) == getattr(defaults, name)
        for choices, defaults in ((CHOICES, REFERENCE), (TEMPORAL_CHOICES, TEMPORAL_REFERENCE))
        for name in choices
    )
    if "reference_conventions" in summary and summary["reference_conventions"] is not reference:
        raise _fail(
            where,
            prefix + "reference_conventions",
            f"must be {str(reference).lower()}: the conventions {'are' if reference else 'are not'} the reference ones",
        )
    if not summary["scores"]:
        raise _fail(where, prefix + "scores", "holds no region")
    for region, by_metric in summary["scores"].items():
        if not isinstance(by_metric, dict) or not by_metric:
            raise _fail(where, f"{prefix}scores.{region}", f"must be an object of metrics, found {by_metric!r}")
        if region not in summary["regions"]:
            raise _fail(where, f"{prefix}regions.{region}", "is missing")
        for name, stats in by_metric.items():
            field = f"{prefix}scores.{region}.{name}"
            if name not in METRICS and name not in TEMPORAL_METRICS:
                names = ", ".join([*METRICS, *TEMPORAL_METRICS])
                raise _fail(where, field, f"is not a known metric ({names})")
            if name not in summary["metrics"]:
                raise ScoreError(f"{where}: field '{prefix}metrics.{name}' is missing")
            if not isinstance(stats, dict):
                raise _fail(where, field, f"must be an object (n, mean, median, ci95), found {stats!r}")
            # Clip metrics are errors too: ≥ 0, unbounded above.
            value_range = METRICS[name].value_range if name in METRICS else (0.0, math.inf)
            _check_stats(stats, field, where, value_range)
    return summary


def _check_stats(stats: dict[str, Any], field: str, where: str, value_range: tuple[float, float]) -> None:
    for key in ("n", "mean", "median", "ci95"):
        if key not in stats:
            raise _fail(where, f"{field}.{key}", "is missing")
    if not _count(stats["n"]) or stats["n"] < 1:
        raise _fail(where, f"{field}.n", f"must be a positive number of images, found {stats['n']!r}")
    interval = stats["ci95"]
    if not isinstance(interval, list) or len(interval) != 2:
        raise _fail(where, f"{field}.ci95", "must be a [low, high] pair")
    low_bound, high_bound = value_range
    values = {"mean": stats["mean"], "median": stats["median"], "ci95": interval}
    if "std" in stats:
        values["std"] = stats["std"]
    for key, value in values.items():
        for number in value if key == "ci95" else [value]:
            if not is_number(number):
                raise _fail(where, f"{field}.{key}", f"must be a finite number, found {number!r}")
            if key == "std":
                if number < 0:
                    raise _fail(where, f"{field}.std", f"must be ≥ 0, found {number!r}")
            elif not low_bound <= number <= high_bound:
                raise _fail(
                    where,
                    f"{field}.{key}",
                    f"must lie in [{low_bound:g}, {high_bound:g}] (the metric's range), found {number!r}",
                )
    low, high = interval
    slack = 1e-9 * max(abs(low), abs(high)) + 1e-15
    if not low <= high:
        raise _fail(where, f"{field}.ci95", f"must be ordered [low, high], found {interval!r}")
    if not low - slack <= stats["mean"] <= high + slack:
        raise _fail(
            where, f"{field}.mean", f"must lie inside its own 95% interval {interval!r}, found {stats['mean']!r}"
        )


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
