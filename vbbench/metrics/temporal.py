"""Temporal alpha-matte metrics: dtSSD, MESSDdt and flicker, pure functions on a clip's frames.

Every function takes a clip's predicted mattes ``preds`` and ground-truth mattes ``gts``, two
sequences of 2-D arrays of one shape, with the input rules of :func:`vbbench.metrics.to_alpha`
(``uint8`` v/255, ``uint16`` v/65535, ``bool``, float alpha not clamped). Values are computed in
float64 and returned in *raw* units; :data:`vbbench.metrics.TEMPORAL_METRICS` records the raw unit
and the display scale of each.

Per-frame helpers (:func:`dtssd_term`, :func:`messddt_term`, :func:`flicker_stretch`) let a
scorer read one frame at a time (:class:`vbbench.metrics.TemporalAccumulator`); the clip functions
are built on the same helpers, so both give identical numbers.

Published implementations disagree on details; :class:`vbbench.metrics.TemporalConventions`
selects them (``--convention NAME=VALUE``):

* **dtSSD** (Erofeev et al. 2015; RVM ``evaluation/evaluate_lr.py`` / ``evaluate_hr.py``
  ``MetricDTSSD``): per frame pair, √(mean over the image of ((p_t − p_(t−1)) − (g_t −
  g_(t−1)))²), shown ×10⁻². RVM's driver appends 0 for the first frame, so its clip mean is over T
  frames (``dtssd_first_frame=zero``); vbbench averages the T − 1 defined terms (``skip``).
* **MESSDdt** (Erofeev et al. 2015): the motion-compensated change of the squared error. RVM's
  evaluation does *not* implement it. vbbench uses the clip's exact motion and bilinear sampling;
  the published video-matting drivers (OTVM ``utils/tmp/metric.py``, MaGGIe
  ``maggie/utils/metric.py``) compute Farneback flow on the ground truth, round it to whole pixels
  and clamp the target into the frame (``messddt_flow=farneback``, ``messddt_sampling=nearest``).
* **Flicker** needs no motion: on static stretches (camera and person held still), the temporal
  standard deviation of the prediction where the ground truth does not change. vbbench's own.

References: M. Erofeev, Y. Gitman, D. Vatolin, A. Fedorov, J. Wang, "Perceptually motivated
benchmark for video matting", BMVC 2015 (videomatting.com); S. Lin, L. Yang, I. Saleemi,
S. Sengupta, "Robust High-Resolution Video Matting with Temporal Guidance" (RVM), WACV 2022.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from vbbench.metrics.alpha import EmptyRegionError, to_alpha
from vbbench.metrics.conventions import TEMPORAL_REFERENCE, TemporalConventions
from vbbench.metrics.motion import farneback_flow, sample_forward

__all__ = [
    "dtssd",
    "dtssd_term",
    "dtssd_terms",
    "dtssd_map",
    "dtssd_reduce",
    "messddt",
    "messddt_term",
    "messddt_terms",
    "messddt_map",
    "messddt_reduce",
    "MessddtTerm",
    "flicker",
    "flicker_stretch",
    "static_stretches",
    "check_same_shape",
    "check_region",
]


def check_same_shape(*arrays: np.ndarray, names: Sequence[str]) -> None:
    shapes = [np.shape(a) for a in arrays]
    if any(shape != shapes[0] for shape in shapes):
        listed = ", ".join(f"{n} {s}" for n, s in zip(names, shapes))
        raise ValueError(f"frames differ in shape: {listed}")


def check_region(region: np.ndarray | None, shape: tuple[int, ...]) -> np.ndarray | None:
    if region is None:
        return None
    region = np.asarray(region)
    if region.dtype != np.bool_:
        raise TypeError("region must be a boolean mask (e.g. trimap == 128)")
    if region.shape != tuple(shape):
        raise ValueError(f"region and frame differ in shape: {region.shape} vs {tuple(shape)}")
    return region


def _clip_pair(preds: Sequence[np.ndarray], gts: Sequence[np.ndarray]) -> tuple[list, list]:
    preds, gts = list(preds), list(gts)
    if len(preds) != len(gts):
        raise ValueError(f"the clip has {len(gts)} ground-truth frames but {len(preds)} predictions")
    if preds:
        check_same_shape(
            *preds, *gts, names=[f"pred[{i}]" for i in range(len(preds))] + [f"gt[{i}]" for i in range(len(gts))]
        )
    return preds, gts


def _regions_for(region, count: int, shape) -> list[np.ndarray | None]:
    """``None``, one mask for every frame, or one mask per frame."""
    if region is None:
        return [None] * count
    if isinstance(region, np.ndarray) and region.ndim == 2:
        region = check_region(region, shape)
        return [region] * count
    region = list(region)
    if len(region) != count:
        raise ValueError(f"expected {count} per-frame regions, got {len(region)}")
    return [check_region(r, shape) for r in region]


def _mean(values: np.ndarray, region: np.ndarray | None, metric: str) -> float:
    values = values if region is None else values[region]
    if values.size == 0:
        raise EmptyRegionError(f"{metric}: the region holds no pixel, so the mean is undefined")
    return float(values.mean(dtype=np.float64))


# --------------------------------------------------------------------------------------------
# dtSSD
# --------------------------------------------------------------------------------------------


def dtssd_term(
    pred_prev: np.ndarray, pred: np.ndarray, gt_prev: np.ndarray, gt: np.ndarray, region: np.ndarray | None = None
) -> float:
    """One frame pair's dtSSD, √( mean_Ω ((p_t − p_(t−1)) − (g_t − g_(t−1)))² ).

    Unit: alpha per frame (root-mean-square of the temporal-derivative error); shown ×1e2.
    Ω is ``region`` (the earlier frame's, as OTVM and TCVOM take it) or every pixel (RVM).
    Reference: RVM ``MetricDTSSD`` (``np.sum(...) / true_t.size`` then ``sqrt``), Erofeev et al.
    2015.

    Parameters
    ----------
    pred_prev, pred, gt_prev, gt : numpy.ndarray
        Frames t − 1 and t of the prediction and the ground truth (any ``to_alpha`` dtype).
    region : numpy.ndarray of bool, optional
        Pixels that count; default all. Empty raises :class:`EmptyRegionError`.

    Returns
    -------
    float

    Examples
    --------
    >>> a = np.array([[0.0, 0.0]]); b = np.array([[0.5, 0.0]])
    >>> dtssd_term(a, b, a, a)    # √((0.5² + 0²) / 2)
    0.3535533905932738
    """
    region = check_region(region, np.shape(gt))
    return math.sqrt(_mean(dtssd_map(pred_prev, pred, gt_prev, gt), region, "dtssd"))


def dtssd_map(pred_prev: np.ndarray, pred: np.ndarray, gt_prev: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """The per-pixel squared temporal-derivative error ((p_t − p_(t−1)) − (g_t − g_(t−1)))² that
    :func:`dtssd_term` averages over Ω (a scorer with several regions computes it once).

    Examples
    --------
    >>> a = np.zeros((1, 2)); b = np.array([[0.5, 0.0]])
    >>> dtssd_map(a, b, a, a)
    array([[0.25, 0.  ]])
    """
    check_same_shape(pred_prev, pred, gt_prev, gt, names=["pred_prev", "pred", "gt_prev", "gt"])
    difference = (to_alpha(pred) - to_alpha(pred_prev)) - (to_alpha(gt) - to_alpha(gt_prev))
    return difference * difference


def dtssd_terms(preds: Sequence[np.ndarray], gts: Sequence[np.ndarray], region=None) -> list[float]:
    """The T − 1 per-pair dtSSD terms of a clip (t = 1 … T − 1), see :func:`dtssd_term`.

    ``region``: None, one boolean mask for all frames, or one per frame (term t uses frame
    t − 1's).

    Examples
    --------
    >>> still = [np.zeros((2, 2))] * 3
    >>> dtssd_terms(still, still)
    [0.0, 0.0]
    """
    preds, gts = _clip_pair(preds, gts)
    if not gts:
        return []
    masks = _regions_for(region, len(gts), np.shape(gts[0]))
    alpha_p = [to_alpha(p) for p in preds]
    alpha_g = [to_alpha(g) for g in gts]
    return [
        dtssd_term(alpha_p[t - 1], alpha_p[t], alpha_g[t - 1], alpha_g[t], masks[t - 1]) for t in range(1, len(gts))
    ]


def dtssd_reduce(terms: Sequence[float], frame_count: int, conventions: TemporalConventions) -> float:
    """A clip's dtSSD from its T − 1 frame-pair terms: their mean (``skip``), or their sum over
    ``frame_count`` (``zero``, RVM's 0 for frame 0).

    Examples
    --------
    >>> dtssd_reduce([0.1, 0.3], 3, TemporalConventions()), dtssd_reduce([0.1, 0.3], 3, TemporalConventions("zero"))
    (0.2, 0.13333333333333333)
    """
    if conventions.dtssd_first_frame == "zero":
        if frame_count == 0:
            raise ValueError("dtssd: the clip has no frame")
        return float(sum(terms)) / frame_count  # RVM: [0, d_1, …, d_(T−1)] averaged over T
    if not terms:
        raise ValueError("dtssd needs at least two frames (a clip of one frame has no temporal change)")
    return float(sum(terms)) / len(terms)


def dtssd(
    preds: Sequence[np.ndarray],
    gts: Sequence[np.ndarray],
    region=None,
    conventions: TemporalConventions | None = None,
) -> float:
    """dtSSD of a clip: the mean over frame pairs of √( mean_Ω ((p_t − p_(t−1)) − (g_t − g_(t−1)))² ).

    dtSSD = (1 / (T − 1)) · Σ_(t=1)^(T−1) √( (1/|Ω|) Σ_(x∈Ω) ( (p_t(x) − p_(t−1)(x)) − (g_t(x) − g_(t−1)(x)) )² )

    It penalises a predicted matte whose change between frames differs from the ground truth's:
    flicker and lag. A prediction that is wrong by the same amount in every frame scores 0.

    Unit: alpha per frame; display ×1e2 (RVM prints ``dtSSD * 1e2``). Ω: ``region`` (term t
    uses frame t − 1's mask) or every pixel (RVM's choice).

    Conventions: ``dtssd_first_frame=zero`` reproduces RVM's driver (a 0 for frame 0 and the mean
    over all T frames, i.e. (T − 1)/T times the value above; a one-frame clip gives 0). RVM's
    spreadsheet then averages per frame index over clips before averaging over frames, which
    equals the mean of clip values when all clips have the same length.

    Reference: Erofeev et al., BMVC 2015; RVM ``evaluation/evaluate_lr.py`` and
    ``evaluate_hr.py`` (``MetricDTSSD``; float32 there, float64 here).

    Parameters
    ----------
    preds, gts : sequence of numpy.ndarray
        T predicted and ground-truth mattes of one shape (any ``to_alpha`` dtype).
    region : numpy.ndarray of bool or sequence of them, optional
        One mask for every frame, or one per frame; default every pixel.
    conventions : TemporalConventions, optional
        Default :data:`TEMPORAL_REFERENCE`.

    Returns
    -------
    float
        Raw dtSSD (alpha units).

    Raises
    ------
    ValueError
        Fewer than two frames (``skip``), or frames of different shapes.

    Examples
    --------
    >>> gts = [np.zeros((1, 2)), np.zeros((1, 2)), np.zeros((1, 2))]
    >>> preds = [np.zeros((1, 2)), np.array([[0.5, 0.0]]), np.array([[0.5, 0.0]])]
    >>> round(dtssd(preds, gts), 6)    # terms √(0.25/2) and 0, mean of two
    0.176777
    >>> round(dtssd(preds, gts, conventions=TemporalConventions(dtssd_first_frame="zero")), 6)
    0.117851
    """
    conventions = conventions or TEMPORAL_REFERENCE
    preds, gts = _clip_pair(preds, gts)
    return dtssd_reduce(dtssd_terms(preds, gts, region), len(gts), conventions)


# --------------------------------------------------------------------------------------------
# MESSDdt
# --------------------------------------------------------------------------------------------


class MessddtTerm(NamedTuple):
    """One frame pair's MESSDdt as a sum and the pixel count it runs over (so a scorer can pool)."""

    total: float
    pixels: int

    @property
    def mean(self) -> float:
        """total / pixels; raises :class:`EmptyRegionError` when no pixel counted."""
        if self.pixels == 0:
            raise EmptyRegionError("messddt: no pixel of the region has a valid motion target")
        return self.total / self.pixels

    @classmethod
    def over(cls, change: np.ndarray, valid: np.ndarray, region: np.ndarray | None) -> MessddtTerm:
        """The term of a :func:`messddt_map` over Ω_t = ``region`` ∩ ``valid``."""
        counted = valid if region is None else valid & region
        values = change[counted]
        return cls(float(values.sum(dtype=np.float64)), int(values.size))


def messddt_term(
    pred: np.ndarray,
    gt: np.ndarray,
    pred_next: np.ndarray,
    gt_next: np.ndarray,
    flow: np.ndarray,
    region: np.ndarray | None = None,
    sampling: str = "bilinear",
) -> MessddtTerm:
    """One frame pair's MESSDdt: Σ_(x∈Ω_t) | E_t(x) − E_(t+1)(x + v_t(x)) | and |Ω_t|.

    E = (p − g)², v_t = ``flow`` (forward motion t → t + 1, (dx, dy) per pixel, NaN = no
    target). E_(t+1) at a non-integer point is (p̃ − g̃)² with p̃, g̃ the bilinearly interpolated
    p_(t+1), g_(t+1) (as TCVOM's ``flow_dt`` samples them; interpolating before squaring means an
    error that flips sign between frames is partly seen, while whole-pixel reads see only
    changes of |p − g|); ``sampling="nearest"`` rounds the motion and clamps the target (OTVM /
    MaGGIe). Ω_t = ``region`` ∩ pixels with a valid target.

    Returns
    -------
    MessddtTerm
        ``(total, count)``; ``.mean`` is the frame's MESSDdt in alpha² units.

    Examples
    --------
    >>> g0 = np.array([[0.0, 1.0, 0.0]]); g1 = np.array([[0.0, 0.0, 1.0]])   # moves 1 px right
    >>> p0 = np.array([[0.0, 0.5, 0.0]]); p1 = np.array([[0.0, 0.0, 1.0]])   # error 0.25 → 0
    >>> flow = np.zeros((1, 3, 2)); flow[..., 0] = 1.0
    >>> messddt_term(p0, g0, p1, g1, flow)    # the last pixel's target leaves the frame
    MessddtTerm(total=0.25, pixels=2)
    """
    region = check_region(region, np.shape(gt))
    return MessddtTerm.over(*messddt_map(pred, gt, pred_next, gt_next, flow, sampling), region)


def messddt_map(
    pred: np.ndarray,
    gt: np.ndarray,
    pred_next: np.ndarray,
    gt_next: np.ndarray,
    flow: np.ndarray,
    sampling: str = "bilinear",
) -> tuple[np.ndarray, np.ndarray]:
    """The per-pixel change | E_t(x) − E_(t+1)(x + v_t(x)) | and where its target is valid, which
    :func:`messddt_term` reduces over Ω_t (a scorer with several regions computes it once).

    Examples
    --------
    >>> g0 = np.array([[0.0, 1.0, 0.0]]); g1 = np.array([[0.0, 0.0, 1.0]])
    >>> p0 = np.array([[0.0, 0.5, 0.0]]); p1 = g1
    >>> flow = np.zeros((1, 3, 2)); flow[..., 0] = 1.0
    >>> messddt_map(p0, g0, p1, g1, flow)
    (array([[0.  , 0.25, 0.  ]]), array([[ True,  True, False]]))
    """
    check_same_shape(pred, gt, pred_next, gt_next, names=["pred", "gt", "pred_next", "gt_next"])
    error_now = to_alpha(pred) - to_alpha(gt)
    # p̃ − g̃ is the sample of p − g (bilinear reading is linear): one frame to read, not two.
    (error_next,), valid = sample_forward([to_alpha(pred_next) - to_alpha(gt_next)], flow, sampling)
    change = np.abs(error_now * error_now - error_next * error_next)
    change[~valid] = 0.0
    return change, valid


def messddt_terms(
    preds: Sequence[np.ndarray],
    gts: Sequence[np.ndarray],
    motion: Sequence[np.ndarray] | None = None,
    region=None,
    conventions: TemporalConventions | None = None,
) -> list[MessddtTerm]:
    """The T − 1 per-pair MESSDdt terms of a clip (t = 0 … T − 2), see :func:`messddt_term`.

    ``motion[t]`` is the flow from frame t to t + 1 (T − 1 flows); with
    ``messddt_flow=farneback`` it is computed from the ground truth instead.

    Examples
    --------
    >>> still = [np.zeros((2, 2))] * 3
    >>> [term.mean for term in messddt_terms(still, still, [np.zeros((2, 2, 2))] * 2)]
    [0.0, 0.0]
    """
    conventions = conventions or TEMPORAL_REFERENCE
    preds, gts = _clip_pair(preds, gts)
    if len(gts) < 2:
        return []
    shape = np.shape(gts[0])
    masks = _regions_for(region, len(gts), shape)
    if conventions.messddt_flow == "farneback":
        flows = [farneback_flow(gts[t], gts[t + 1]) for t in range(len(gts) - 1)]
    else:
        if motion is None:
            raise ValueError(
                "messddt: the exact motion of the clip is needed (from the manifest, vbbench.clips.motion_field); "
                "without it use --convention messddt_flow=farneback"
            )
        flows = list(motion)
        if len(flows) != len(gts) - 1:
            raise ValueError(f"messddt: a clip of {len(gts)} frames needs {len(gts) - 1} flows, got {len(flows)}")
    return [
        messddt_term(preds[t], gts[t], preds[t + 1], gts[t + 1], flows[t], masks[t], conventions.messddt_sampling)
        for t in range(len(gts) - 1)
    ]


def messddt_reduce(terms: Sequence[MessddtTerm]) -> float:
    """A clip's MESSDdt from its frame-pair terms: the mean of the per-pair means, pairs with an
    empty Ω_t left out.

    Examples
    --------
    >>> messddt_reduce([MessddtTerm(0.5, 5), MessddtTerm(0.0, 0), MessddtTerm(0.3, 1)])
    0.2
    """
    means = [term.mean for term in terms if term.pixels > 0]
    if not terms:
        raise ValueError("messddt needs at least two frames")
    if not means:
        raise EmptyRegionError("messddt: no frame pair has a pixel in its region")
    return float(sum(means)) / len(means)


def messddt(
    preds: Sequence[np.ndarray],
    gts: Sequence[np.ndarray],
    motion: Sequence[np.ndarray] | None = None,
    region=None,
    conventions: TemporalConventions | None = None,
) -> float:
    """MESSDdt of a clip: the mean over frame pairs of the motion-compensated change of E = (p − g)².

    MESSDdt = (1 / (T − 1)) · Σ_(t=0)^(T−2) (1/|Ω_t|) Σ_(x∈Ω_t) | E_t(x) − E_(t+1)(x + v_t(x)) |

    with v_t the motion from frame t to t + 1. An error that travels with the content (a wrong
    but stable edge) costs nothing; an error that appears, vanishes or jumps between frames costs
    its full size. Frame pairs whose Ω_t is empty are left out of the mean; if all are,
    :class:`EmptyRegionError`.

    Unit: alpha² (mean absolute change of the squared error per pixel); display ×1e4 (MaGGIe
    prints ``Σ error / Σ count × 10000``; vbbench's choice, no scale is standard). Ω_t:
    ``region[t]`` (frame t's mask; e.g. its trimap's unknown band) ∩ pixels whose target is
    valid; default every pixel.

    vbbench follows Erofeev et al.'s definition with the exact motion of the generated clip
    (:func:`vbbench.clips.motion_field`; NaN where a background pixel is occluded by the person at t + 1)
    and exact bilinear sampling. Conventions: ``messddt_flow=farneback`` uses Farneback flow on
    the ground truth (:func:`farneback_flow`), ``messddt_sampling=nearest`` rounds the motion and
    clamps the target as OTVM and MaGGIe do. Not reproduced from those drivers: they multiply
    E_(t+1) by the warped mask of frame t + 1, divide by |Ω| + 1, and pool Σ error / Σ count over
    the clip instead of averaging per-frame means; their index arithmetic
    (``coords_y * w + coords_x`` with ``coords_y`` holding x + dx) also reads the frame
    transposed, which only agrees with the definition for square frames and zero motion.
    TCVOM (``calc_metric.py``, ``flow_dt``) reports per-frame sums without dividing by |Ω|.
    RVM's evaluation has no MESSDdt.

    Parameters
    ----------
    preds, gts : sequence of numpy.ndarray
        T predicted and ground-truth mattes of one shape.
    motion : sequence of numpy.ndarray, optional
        T − 1 flows (H, W, 2), flow t = motion from frame t to t + 1. Required for
        ``messddt_flow=exact``.
    region : numpy.ndarray of bool or sequence of them, optional
        One mask for every frame or one per frame; default every pixel.
    conventions : TemporalConventions, optional
        Default :data:`TEMPORAL_REFERENCE`.

    Returns
    -------
    float
        Raw MESSDdt (alpha²).

    Examples
    --------
    A square moving one pixel right per frame, predicted with an error that moves along: 0.

    >>> gts = [np.zeros((8, 8)) for _ in range(3)]
    >>> for t, g in enumerate(gts): g[2:5, 1 + t:4 + t] = 1.0
    >>> preds = [g * 0.9 for g in gts]
    >>> flows = [np.dstack([np.ones((8, 8)), np.zeros((8, 8))])] * 2
    >>> messddt(preds, gts, flows)
    0.0
    """
    return messddt_reduce(messddt_terms(preds, gts, motion, region, conventions))


# --------------------------------------------------------------------------------------------
# Flicker
# --------------------------------------------------------------------------------------------


def static_stretches(static, frame_count: int) -> list[tuple[int, int]]:
    """Normalise a static-stretch description to half-open ``(start, stop)`` frame ranges.

    ``static``: None (the whole clip is one stretch), one flag per frame (runs of True form
    stretches), or a list of ``(start, stop)`` ranges. Stretches of fewer than two frames are
    dropped (a standard deviation over one frame says nothing).

    Examples
    --------
    >>> static_stretches([False, True, True, True, False, True], 6)
    [(1, 4)]
    >>> static_stretches([(0, 2), (3, 6)], 6)
    [(0, 2), (3, 6)]
    """
    if static is None:
        ranges = [(0, frame_count)]
    else:
        static = list(static)
        if static and all(isinstance(flag, (bool, np.bool_)) for flag in static):
            if len(static) != frame_count:
                raise ValueError(f"expected {frame_count} static flags, got {len(static)}")
            ranges, start = [], None
            for index, flag in enumerate([*static, False]):
                if flag and start is None:
                    start = index
                elif not flag and start is not None:
                    ranges.append((start, index))
                    start = None
        else:
            ranges = [(int(a), int(b)) for a, b in static]
            for a, b in ranges:
                if not 0 <= a <= b <= frame_count:
                    raise ValueError(f"static stretch ({a}, {b}) is outside the clip's {frame_count} frames")
    return [(a, b) for a, b in ranges if b - a >= 2]


def flicker_stretch(
    preds: Sequence[np.ndarray], gts: Sequence[np.ndarray], region: np.ndarray | None = None
) -> tuple[float, int]:
    """One static stretch's flicker as ``(Σ_(x∈Ω) σ_t(p_t(x)), |Ω|)``.

    Ω = ``region`` ∩ {x : g_t(x) = g_0(x) for every frame t of the stretch} (exact equality of
    the stored values), σ the population standard deviation over the stretch's frames.

    Examples
    --------
    >>> gts = [np.zeros((1, 2), np.uint8)] * 2
    >>> flicker_stretch([np.array([[0.0, 0.2]]), np.array([[0.0, 0.4]])], gts)
    (0.1, 2)
    """
    preds, gts = _clip_pair(preds, gts)
    if len(gts) < 2:
        raise ValueError("a static stretch needs at least two frames")
    region = check_region(region, np.shape(gts[0]))
    reference = np.asarray(gts[0])
    unchanged = np.ones(reference.shape, dtype=bool)
    for g in gts[1:]:
        unchanged &= np.asarray(g) == reference
    if region is not None:
        unchanged &= region
    first = to_alpha(preds[0])
    # σ is shift-invariant; measured from frame 0 it is exactly 0 for a constant prediction.
    stack = np.stack([to_alpha(p) - first for p in preds])
    deviation = stack.std(axis=0)  # population σ (ddof = 0)
    values = deviation[unchanged]
    return float(values.sum(dtype=np.float64)), int(values.size)


def flicker(
    preds: Sequence[np.ndarray],
    gts: Sequence[np.ndarray],
    static=None,
    region: np.ndarray | None = None,
) -> float:
    """Flicker: the temporal standard deviation of the prediction where nothing changes.

    flicker = Σ_S Σ_(x∈Ω_S) σ_S(x) / Σ_S |Ω_S|,   σ_S(x) = √( (1/n_S) Σ_(t∈S) (p_t(x) − p̄_S(x))² )

    over the static stretches S (frames where the clip holds camera and person still; the input
    still changes by sensor noise), Ω_S = ``region`` ∩ pixels whose ground truth is identical in
    every frame of S. No motion is needed: on a static stretch the right answer is "no change",
    so any change of the prediction is flicker. A stable model scores 0 whatever its error.

    Unit: alpha (mean per-pixel σ); display ×1e3 (like MAD). vbbench's own metric.

    Parameters
    ----------
    preds, gts : sequence of numpy.ndarray
        The clip's T predicted and ground-truth mattes.
    static : None, sequence of bool or sequence of (start, stop), optional
        Which frames are static (see :func:`static_stretches`); None = the whole clip (a still
        clip). The clips' manifest marks static frames with ``"static": true``.
    region : numpy.ndarray of bool, optional
        Extra restriction of Ω_S (e.g. a band around the edge).

    Returns
    -------
    float

    Raises
    ------
    ValueError
        No stretch of at least two frames.
    EmptyRegionError
        No pixel is unchanged in any stretch.

    Examples
    --------
    >>> gts = [np.zeros((2, 2), np.uint8)] * 4
    >>> noisy = [np.full((2, 2), v) for v in (0.0, 0.1, 0.0, 0.1)]
    >>> round(flicker(noisy, gts), 12)
    0.05
    >>> flicker([np.full((2, 2), 0.3)] * 4, gts)    # stable (if wrong): 0
    0.0
    """
    preds, gts = _clip_pair(preds, gts)
    stretches = static_stretches(static, len(gts))
    if not stretches:
        raise ValueError("flicker needs a static stretch of at least two frames")
    total, count = 0.0, 0
    for start, stop in stretches:
        t, c = flicker_stretch(preds[start:stop], gts[start:stop], region)
        total += t
        count += c
    if count == 0:
        raise EmptyRegionError("flicker: no pixel keeps its ground truth through a static stretch")
    return total / count
