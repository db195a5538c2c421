"""Alpha-matte error metrics: pure, vectorised functions on arrays.

Every function takes a predicted matte ``pred`` and a ground-truth matte ``gt`` of the same shape
(H, W) and an optional boolean ``region`` (the pixels that count, Ω; the trimap's unknown band
``trimap == 128`` in the Deep Image Matting convention; ``None`` = every pixel, the portrait-matting
default). Inputs may be

* ``uint8`` codes ``v`` (alpha = v / 255), ``uint16`` codes (alpha = v / 65535), or
* floating-point alpha in [0, 1] (not clamped; floats outside it are refused, so ``0 … 255``
  floats are never read as alpha), or ``bool`` masks,

of shape (H, W), (H, W, 1), three equal channels or with the matte in a last alpha channel — the
same rule as for files (:func:`~vbbench.metrics.alpha.matte_plane`).

Integer inputs are compared against the Conn thresholds in exact integer arithmetic. Float inputs
are compared with a 1e-9 tolerance, which cannot misclassify any 8- or 16-bit code (their distance
from a threshold k/10 is 0 or at least 1/655350) but lets ``v / 255`` computed in floating point
behave exactly like the integer ``v``.

Gradients and connected components are computed on the full image and only then reduced over Ω,
as the reference code does. Values are returned in *raw* units (alpha units, sums or means); the
:data:`METRICS` registry records, per metric, the raw unit and the display scale papers use.

The package is one module per concept: :mod:`~vbbench.metrics.alpha` (input conversion and
region reductions), :mod:`~vbbench.metrics.conventions`, :mod:`~vbbench.metrics.filters`,
:mod:`~vbbench.metrics.conn`, :mod:`~vbbench.metrics.maps` (the per-pixel maps of one pair, where
each metric's arithmetic is explained) and :mod:`~vbbench.metrics.spec` (the declarations); the
compiled loops are in ``_kernels`` and ``_conn_kernels`` (numba, imported at the first metric;
``_jit`` says how they are compiled and cached, :mod:`~vbbench.metrics.warm` compiles them ahead).
The clip metrics (dtSSD, MESSDdt, flicker) are :mod:`~vbbench.metrics.temporal` (functions),
:mod:`~vbbench.metrics.motion` (reading a frame along a motion field) and
:mod:`~vbbench.metrics.temporal_spec` (their declarations, :data:`TEMPORAL_METRICS`, and the
streaming :class:`TemporalAccumulator`). This module is the public face.

Reference definitions: ``docs/metrics.md``; the Deep
Image Matting evaluation code (Xu et al. 2017, MATLAB ``compute_*_loss.m``, ``gaussgradient.m``),
which implements Rhemann et al. 2009, "A perceptually motivated online benchmark for image matting".
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from vbbench.metrics.alpha import (
    FLOAT_RANGE_TOLERANCE,
    FLOAT_THRESHOLD_TOLERANCE,
    MATTE_CHANNELS,
    EmptyRegionError,
    check_pair,
    matte_plane,
    threshold_levels,
    to_alpha,
)
from vbbench.metrics.conn import conn_lower_levels
from vbbench.metrics.conventions import REFERENCE, TEMPORAL_REFERENCE, Conventions, TemporalConventions
from vbbench.metrics.filters import SOBEL_KERNEL, dim_gradient_kernels, sobel_gradient
from vbbench.metrics.maps import PairMaps
from vbbench.metrics.spec import METRICS, MetricSpec
from vbbench.metrics.temporal import dtssd, flicker, messddt
from vbbench.metrics.temporal_spec import TEMPORAL_METRICS, TemporalAccumulator, TemporalMetricSpec

__all__ = [
    "METRICS",
    "MetricSpec",
    "EmptyRegionError",
    "FLOAT_THRESHOLD_TOLERANCE",
    "FLOAT_RANGE_TOLERANCE",
    "MATTE_CHANNELS",
    "matte_plane",
    "to_alpha",
    "threshold_levels",
    "mad",
    "mse",
    "sad",
    "grad",
    "conn",
    "sobel_l2",
    "sobel_l1",
    "gauss_grad",
    "evaluate",
    "Conventions",
    "REFERENCE",
    "PairMaps",
    "dim_gradient_kernels",
    "sobel_gradient",
    "SOBEL_KERNEL",
    "conn_lower_levels",
    "TEMPORAL_METRICS",
    "TemporalMetricSpec",
    "TemporalAccumulator",
    "TemporalConventions",
    "TEMPORAL_REFERENCE",
    "dtssd",
    "messddt",
    "flicker",
]


def _metric(name: str, pred, gt, region, conventions: Conventions | None = None) -> float:
    pred, gt = matte_plane(pred, where="pred"), matte_plane(gt, where="gt")
    check_pair(pred, gt, region)
    spec = METRICS[name]
    return spec.compute(PairMaps(pred, gt, conventions or REFERENCE, maps=[spec.per_pixel.__name__]), region)


def evaluate(
    pred: np.ndarray,
    gt: np.ndarray,
    regions: Mapping[str, np.ndarray | None] | None = None,
    metrics: list[str] | None = None,
    conventions: Conventions | None = None,
) -> dict[str, dict[str, float]]:
    """Compute several metrics over several regions, each filter once.

    Parameters
    ----------
    pred, gt : numpy.ndarray
        Predicted and ground-truth mattes of one shape (see module docstring for dtypes).
    regions : mapping of str to boolean mask or None, optional
        Named regions; default ``{"whole": None}``.
    metrics : list of str, optional
        Names from :data:`METRICS`; default all.
    conventions : Conventions, optional
        Reproduce another implementation's choices; default the reference (:data:`REFERENCE`).

    Returns
    -------
    dict
        ``{region: {metric: raw value}}``.

    Examples
    --------
    >>> gt = np.zeros((16, 16), np.uint8); gt[4:12, 4:12] = 255
    >>> evaluate(gt, gt, metrics=["sad", "conn"])
    {'whole': {'sad': 0.0, 'conn': 0.0}}
    """
    regions = {"whole": None} if regions is None else regions
    names = list(METRICS) if metrics is None else list(metrics)
    METRICS.check(names)
    pred, gt = matte_plane(pred, where="pred"), matte_plane(gt, where="gt")
    for region in regions.values():
        check_pair(pred, gt, region)
    # Announcing the maps lets the fused Sobel pass write only the one asked for.
    pair = PairMaps(pred, gt, conventions or REFERENCE, maps=[METRICS[name].per_pixel.__name__ for name in names])
    return {
        region_name: {name: METRICS[name].compute(pair, region) for name in names}
        for region_name, region in regions.items()
    }


def mad(pred: np.ndarray, gt: np.ndarray, region: np.ndarray | None = None) -> float:
    """Mean absolute difference, mean_Ω |p − g|.

    Unit: alpha (papers report ×1e3). Empty Ω raises :class:`EmptyRegionError`.
    Reference: the MAD of MODNet / P3M / RVM evaluations and the seed's Table 1.

    Parameters
    ----------
    pred, gt : numpy.ndarray
        Mattes (uint8, uint16, bool or float alpha), same shape.
    region : numpy.ndarray of bool, optional
        Pixels that count; default all.

    Returns
    -------
    float

    Examples
    --------
    >>> mad(np.array([[0, 255]], np.uint8), np.array([[51, 255]], np.uint8))
    0.1
    """
    return _metric("mad", pred, gt, region)


def mse(pred: np.ndarray, gt: np.ndarray, region: np.ndarray | None = None) -> float:
    """Mean squared error, mean_Ω (p − g)².

    Unit: alpha² (papers report ×1e3). Empty Ω raises :class:`EmptyRegionError`, never 0 or NaN.
    Reference: DIM ``compute_mse_loss.m``.

    Examples
    --------
    >>> mse(np.array([[0.0, 1.0]]), np.array([[0.5, 1.0]]))
    0.125
    """
    return _metric("mse", pred, gt, region)


def sad(pred: np.ndarray, gt: np.ndarray, region: np.ndarray | None = None) -> float:
    """Sum of absolute differences, Σ_Ω |p − g|.

    Unit: alpha·pixels (papers report ÷1000). Empty Ω gives 0.
    Reference: DIM ``compute_sad_loss.m``.

    Examples
    --------
    >>> sad(np.array([[0.0, 1.0]]), np.array([[0.5, 0.25]]))
    1.25
    """
    return _metric("sad", pred, gt, region)


def grad(
    pred: np.ndarray,
    gt: np.ndarray,
    region: np.ndarray | None = None,
    conventions: Conventions | None = None,
) -> float:
    """Gradient error of Rhemann et al. 2009 as the DIM reference code computes it.

    Σ_Ω (|∇p′| − |∇g′|)² with p′ = mat2gray(p) (per-image min-max rescale; a constant image has
    zero gradient) and ∇ the ``gaussgradient`` filter (σ = 1.4, 9×9, unit Frobenius norm, true
    convolution, replicated borders), computed on the full image. Unit: squared normalised
    gradient summed over pixels (papers report ÷1000). Reference: DIM
    ``compute_gradient_loss.m``.

    Examples
    --------
    >>> gt = np.zeros((20, 20)); gt[:, 10:] = 1.0
    >>> grad(gt, gt)
    0.0
    """
    return _metric("grad", pred, gt, region, conventions)


def conn(
    pred: np.ndarray,
    gt: np.ndarray,
    region: np.ndarray | None = None,
    conventions: Conventions | None = None,
) -> float:
    """Connectivity error of Rhemann et al. 2009 as the DIM reference code computes it.

    Σ_Ω |φ(p) − φ(g)|, φ(a) = 1 − d·[d ≥ 0.15], d = a − l, where l is the threshold
    t_(k−1) at the first k = 1 … 10 at which the pixel leaves Ω_k, the largest 4-connected
    component of (p ≥ k/10) ∧ (g ≥ k/10) (ties: first in column-major order, as MATLAB), and 1
    if it never leaves. Thresholds are compared exactly (``10·v ≥ 255·k``). Unit: alpha·pixels
    (papers report ÷1000). Reference: DIM ``compute_connectivity_error.m``.

    Examples
    --------
    >>> conn(np.zeros((8, 8), np.uint8), np.zeros((8, 8), np.uint8))
    0.0
    """
    return _metric("conn", pred, gt, region, conventions)


def sobel_l2(
    pred: np.ndarray,
    gt: np.ndarray,
    region: np.ndarray | None = None,
    conventions: Conventions | None = None,
) -> float:
    """The seed's Sobel-gradient error, mean_Ω √(dx² + dy²).

    dx = S ∗ (p − g), dy = Sᵀ ∗ (p − g), S = [[−1, 0, 1], [−2, 0, 2], [−1, 0, 1]] / 8, replicated
    borders (vbbench's choice), gradients on the full image. Unit: alpha per pixel (×1e3 in
    tables). Empty Ω raises :class:`EmptyRegionError`.

    Examples
    --------
    >>> sobel_l2(np.ones((5, 5)), np.ones((5, 5)))
    0.0
    """
    return _metric("sobel_l2", pred, gt, region, conventions)


def sobel_l1(
    pred: np.ndarray,
    gt: np.ndarray,
    region: np.ndarray | None = None,
    conventions: Conventions | None = None,
) -> float:
    """The L1 form of the seed's gradient loss, mean_Ω ½(|dx| + |dy|), same dx, dy as
    :func:`sobel_l2`. Unit: alpha per pixel (×1e3 in tables).

    Examples
    --------
    >>> sobel_l1(np.zeros((5, 5)), np.zeros((5, 5)))
    0.0
    """
    return _metric("sobel_l1", pred, gt, region, conventions)


def gauss_grad(pred: np.ndarray, gt: np.ndarray, region: np.ndarray | None = None) -> float:
    """MMNet's Gaussian-gradient error, mean ‖∇p − ∇g‖₂ over the valid interior ∩ Ω.

    ∇ = first derivative of a σ = 1.4 Gaussian, 9×9 (half-width int(3σ + 0.5)), the Gaussian
    normalised to sum 1, correlation with 'VALID' padding: only pixels at least 4 px from every
    border count. No min-max rescale. Unit: alpha per pixel (×1e3 in tables). Reference: MMNet
    (Seo & Kim, WACV 2019), ``GaussianGradMetricOp`` in hyperconnect/MMNet.

    Examples
    --------
    >>> gauss_grad(np.zeros((12, 12)), np.zeros((12, 12)))
    0.0
    """
    return _metric("gauss_grad", pred, gt, region)
