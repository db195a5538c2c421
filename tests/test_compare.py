"""Paired comparisons and robustness ratios, against independent computations."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from vbbench.compare import paired_difference, robustness


def test_paired_difference_matches_scipys_paired_bootstrap():
    rng = np.random.default_rng(7)
    base = rng.uniform(0.01, 0.2, 150)  # per-image MADs vary a lot between images ...
    a = base + rng.normal(0.002, 0.004, 150)  # ... the paired difference much less
    b = base
    ours = paired_difference(a, b)
    assert ours.mean == pytest.approx(float(np.mean(a - b)), abs=1e-15)
    theirs = stats.bootstrap(
        (a, b), lambda x, y: np.mean(x - y), paired=True, method="percentile", n_resamples=20000, random_state=1
    ).confidence_interval
    width = theirs.high - theirs.low
    assert abs(ours.low - theirs.low) < 0.1 * width and abs(ours.high - theirs.high) < 0.1 * width
    assert not ours.tie and ours.low > 0
    # the unpaired intervals of the two means overlap although the paired one excludes 0
    assert np.quantile(a, 0.25) < np.quantile(b, 0.75)


def test_identical_and_constant_differences():
    same = paired_difference([0.1, 0.2, 0.3], [0.1, 0.2, 0.3])
    assert (same.mean, same.low, same.high, same.tie) == (0.0, 0.0, 0.0, True)
    shifted = paired_difference([0.3, 0.4, 0.5], [0.1, 0.2, 0.3])
    assert shifted.low == pytest.approx(0.2) and shifted.high == pytest.approx(0.2) and not shifted.tie
    assert paired_difference([1.0, 2.0, 3.0], [0.0, 0.0, 0.0]) == paired_difference([1.0, 2.0, 3.0], [0.0, 0.0, 0.0])
    with pytest.raises(ValueError, match="two equal, non-empty sequences"):
        paired_difference([1.0], [1.0, 2.0])


def test_robustness_ratios_by_hand():
    rows = robustness(
        {
            "steady": {"original": 0.02, "rot90cw": 0.022, "call16x9": 0.021},
            "fragile": {"original": 0.01, "rot90cw": 0.05, "call16x9": 0.012},
            "alone": {"original": 0.03},
        },
        "mad",
    )
    assert [row.model for row in rows] == ["fragile", "steady"]  # worst ratio first; no variants → left out
    fragile = rows[0]
    assert fragile.ratio("rot90cw") == pytest.approx(5.0) and fragile.worst() == ("rot90cw", pytest.approx(5.0))
    assert rows[1].worst(["call16x9"]) == ("call16x9", pytest.approx(1.05))
