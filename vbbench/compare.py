"""Comparing models on the same images: paired intervals, ties and robustness ratios.

Two models scored on the same split are compared image by image: the difference of their
per-image scores removes the variation between images, which dominates the unpaired bootstrap
intervals of each mean. :func:`paired_difference` gives the mean difference and its 95 % paired
percentile-bootstrap interval (images resampled with replacement, the same draws for both models,
seeded, so the interval is reproducible); a lead whose interval contains 0 is a tie.

:func:`robustness` puts each variant's mean beside the original's: the ratio variant / original
says what turning the phone, a 16:9 frame or a webcam's degradation costs a model.

Examples
--------
>>> a, b = [0.10, 0.20, 0.30], [0.11, 0.22, 0.33]
>>> diff = paired_difference(a, b)
>>> round(diff.mean, 6), diff.tie
(-0.02, False)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from vbbench.summary import BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED

__all__ = ["PairedDifference", "paired_difference", "robustness", "Robustness"]


@dataclass(frozen=True)
class PairedDifference:
    """Mean of ``a − b`` over the same images and its paired bootstrap interval (raw units)."""

    mean: float
    low: float
    high: float
    n: int

    @property
    def tie(self) -> bool:
        """The interval contains 0: on these images the lead is not established."""
        return self.low <= 0.0 <= self.high


def paired_difference(
    a: Sequence[float] | np.ndarray,
    b: Sequence[float] | np.ndarray,
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
    level: float = 0.95,
) -> PairedDifference:
    """Mean per-image difference ``a − b`` and its percentile-bootstrap interval.

    Parameters
    ----------
    a, b : sequence of float
        One score per image, the same images in the same order.
    resamples : int
        Bootstrap resamples (default 2000, as the summaries use).
    seed : int
        Seed of ``numpy.random.default_rng``: the interval is reproducible.
    level : float
        Confidence level.

    Returns
    -------
    PairedDifference

    Raises
    ------
    ValueError
        If the two sequences differ in length or are empty.

    Examples
    --------
    >>> paired_difference([1.0, 2.0], [1.0, 2.0]).tie
    True
    """
    first, second = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if first.shape != second.shape or first.ndim != 1 or first.size == 0:
        raise ValueError(f"paired scores need two equal, non-empty sequences, got {first.shape} and {second.shape}")
    difference = first - second
    rng = np.random.default_rng(seed)
    means = np.empty(resamples)
    chunk = max(1, min(resamples, 2_000_000 // difference.size))
    for start in range(0, resamples, chunk):
        stop = min(resamples, start + chunk)
        picks = rng.integers(0, difference.size, size=(stop - start, difference.size))
        means[start:stop] = difference[picks].mean(axis=1)
    tail = (1.0 - level) / 2.0
    low, high = np.quantile(means, [tail, 1.0 - tail])
    return PairedDifference(float(difference.mean()), float(low), float(high), int(difference.size))


@dataclass(frozen=True)
class Robustness:
    """One model's mean of a metric per variant and its ratio to the original variant."""

    model: str
    metric: str
    original: float
    values: dict[str, float]

    def ratio(self, variant: str) -> float:
        """``value(variant) / value(original)`` (∞ when the original is 0 and the variant is not)."""
        value = self.values[variant]
        if self.original == 0.0:
            return 1.0 if value == 0.0 else float("inf")
        return value / self.original

    def worst(self, variants: Sequence[str] | None = None) -> tuple[str, float]:
        """The variant with the largest ratio, and the ratio."""
        candidates = [v for v in (variants or self.values) if v in self.values]
        worst = max(candidates, key=self.ratio)
        return worst, self.ratio(worst)


def robustness(means: dict[str, dict[str, float]], metric: str, original: str = "original") -> list[Robustness]:
    """Per model, each variant's mean beside the original's, worst ratio first.

    Parameters
    ----------
    means : dict
        ``{model: {variant: mean}}`` of one metric, on one dataset and split.
    metric : str
        The metric's name (recorded in the rows).
    original : str
        The reference variant.

    Returns
    -------
    list of Robustness
        Models that have the original and at least one other variant, sorted by their worst ratio
        (most robust last), then by name.

    Examples
    --------
    >>> rows = robustness({"a": {"original": 0.01, "rot90cw": 0.03}, "b": {"original": 0.02, "rot90cw": 0.03}}, "mad")
    >>> [(r.model, round(r.ratio("rot90cw"), 2)) for r in rows]
    [('a', 3.0), ('b', 1.5)]
    """
    rows = [
        Robustness(model, metric, by_variant[original], {v: m for v, m in by_variant.items() if v != original})
        for model, by_variant in means.items()
        if original in by_variant and len(by_variant) > 1
    ]
    return sorted(rows, key=lambda row: (-row.worst()[1], row.model))
