"""What each clip metric is (:class:`TemporalMetricSpec`, :data:`TEMPORAL_METRICS`) and the streaming
scorer that computes them one frame at a time (:class:`TemporalAccumulator`).

Clip metrics do not reduce one pair's per-pixel map, so they have their own table beside
:data:`vbbench.metrics.METRICS`; the fields that say how to read a number (label, raw unit,
display scale, header, key, CSV column, definition, reference) are the same, so tables, summaries
and the board treat both alike. Adding a clip metric is one entry here, a clip function in
:mod:`vbbench.metrics.temporal` and a branch in :class:`TemporalAccumulator`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from vbbench.errors import UsageError
from vbbench.metrics.alpha import EmptyRegionError, to_alpha
from vbbench.metrics.conventions import TEMPORAL_REFERENCE, TemporalConventions
from vbbench.metrics.motion import farneback_flow
from vbbench.metrics.spec import MetricDescription
from vbbench.metrics.temporal import (
    MessddtTerm,
    check_region,
    check_same_shape,
    dtssd,
    dtssd_map,
    dtssd_reduce,
    flicker,
    messddt,
    messddt_map,
    messddt_reduce,
)
from vbbench.registry import Registry

__all__ = ["TemporalMetricSpec", "TEMPORAL_METRICS", "TemporalAccumulator"]


@dataclass(frozen=True)
class TemporalMetricSpec(MetricDescription):
    """What a clip metric is: how to compute it (and, as every
    :class:`~vbbench.metrics.spec.MetricDescription`, how to read its number).

    Attributes
    ----------
    name, label, title, reduction, raw_unit, display_scale, border, definition, reference
        See :class:`~vbbench.metrics.spec.MetricDescription` (``reduction`` says how frames are pooled).
    needs : str
        What the scorer must supply beside the frames (motion, static stretches).
    compute_clip : callable
        ``(preds, gts, motion, region, static, conventions) → raw value`` on a whole clip.
    higher_is_better : bool
        False for every error metric.

    Examples
    --------
    >>> spec = TEMPORAL_METRICS["dtssd"]
    >>> spec.header, spec.display_key, spec.raw_column
    ('dtSSD (×10⁻²)', 'dtssd_in_1e-2', 'dtssd [alpha/frame]')
    """

    needs: str
    compute_clip: Callable[..., float]
    higher_is_better: bool = False

    def compute(self, preds, gts, motion=None, region=None, static=None, conventions=None) -> float:
        """The metric's raw value on a whole clip (see the clip functions for the arguments)."""
        return self.compute_clip(preds, gts, motion, region, static, conventions)


def _compute_dtssd(preds, gts, motion, region, static, conventions):
    return dtssd(preds, gts, region, conventions)


def _compute_messddt(preds, gts, motion, region, static, conventions):
    return messddt(preds, gts, motion, region, conventions)


def _compute_flicker(preds, gts, motion, region, static, conventions):
    if region is not None and not (isinstance(region, np.ndarray) and region.ndim == 2):
        raise ValueError("flicker takes one region for the whole clip")
    return flicker(preds, gts, static, region)


_EROFEEV = 'Erofeev, Gitman, Vatolin, Fedorov & Wang, "Perceptually motivated benchmark for video matting", BMVC 2015'

TEMPORAL_METRICS: Registry[TemporalMetricSpec] = Registry(
    "clip metric",
    [
        TemporalMetricSpec(
            name="dtssd",
            label="dtSSD",
            title="Temporal-derivative error (dtSSD)",
            reduction="mean over the T − 1 frame pairs of a root mean over Ω",
            raw_unit="alpha/frame (RMS of Δp − Δg between consecutive frames)",
            display_scale=1e2,
            border="none",
            definition="mean_(t≥1) √(mean_Ω ((p_t − p_(t−1)) − (g_t − g_(t−1)))²)",
            reference=_EROFEEV + "; RVM evaluation/evaluate_lr.py MetricDTSSD (shown ×10⁻² as RVM prints it)",
            needs="consecutive frames",
            compute_clip=_compute_dtssd,
        ),
        TemporalMetricSpec(
            name="messddt",
            label="MESSDdt",
            title="Motion-compensated change of the squared error (MESSDdt)",
            reduction="mean over the T − 1 frame pairs of a mean over Ω_t",
            raw_unit="alpha² (mean |E_t − E_(t+1)∘v_t|, E = (p−g)²)",
            display_scale=1e4,
            border="targets outside the frame or occluded drop out of Ω_t",
            definition="mean_t mean_(x∈Ω_t) |E_t(x) − E_(t+1)(x + v_t(x))|, E = (p − g)², v_t the exact motion",
            reference=_EROFEEV + "; scale as MaGGIe maggie/utils/metric.py (×10⁴; no standard scale)",
            needs="consecutive frames and the motion between them (the clip's manifest)",
            compute_clip=_compute_messddt,
        ),
        TemporalMetricSpec(
            name="flicker",
            label="Flicker",
            title="Flicker on static stretches",
            reduction="mean over the unchanged pixels of every static stretch",
            raw_unit="alpha (mean temporal σ of p where g holds still)",
            display_scale=1e3,
            border="none",
            definition="Σ_S Σ_(x∈Ω_S) σ_(t∈S)(p_t(x)) / Σ_S |Ω_S|, Ω_S = pixels whose g is constant over S",
            reference="vbbench (static stretches of its call-like clips)",
            needs="static stretches (frames the clip holds still)",
            compute_clip=_compute_flicker,
        ),
    ],
    error=UsageError,
)


class _RegionState:
    """What one region of a clip has accumulated."""

    def __init__(self) -> None:
        self.dtssd_terms: list[float] = []
        self.messddt_terms: list[MessddtTerm] = []
        self.unchanged: np.ndarray | None = None  # inside the current static stretch
        self.flicker_total = 0.0
        self.flicker_count = 0


class TemporalAccumulator:
    """Score a clip one frame at a time, keeping only the previous frame (and, inside a static
    stretch, running per-pixel moments), for one region or several at once.

    Call :meth:`update` for frames 0, 1, … in order, then :meth:`result`. The numbers equal
    :func:`~vbbench.metrics.temporal.dtssd`, :func:`~vbbench.metrics.temporal.messddt` and
    :func:`~vbbench.metrics.temporal.flicker` on the whole clip (the same per-pixel maps; flicker's
    σ by Welford's update, equal to 1e-12). With several regions every per-pixel map (the motion
    compensation above all) is computed once per frame and reduced over each region.

    Parameters
    ----------
    metrics : iterable of str
        Names in :data:`TEMPORAL_METRICS`.
    conventions : TemporalConventions, optional
        Default :data:`~vbbench.metrics.TEMPORAL_REFERENCE`.
    regions : sequence of str, optional
        Region names: :meth:`update` then takes ``region`` as a mapping name → mask (None = every
        pixel) and :meth:`result` returns ``{name: {metric: value}}``. Default: one region, given
        as a mask (or None) and returned as ``{metric: value}``.

    Examples
    --------
    >>> acc = TemporalAccumulator()
    >>> for t in range(3):
    ...     frame = np.zeros((4, 4))
    ...     acc.update(frame, frame, flow=None if t == 0 else np.zeros((4, 4, 2)), static=True)
    >>> acc.result()
    {'dtssd': 0.0, 'messddt': 0.0, 'flicker': 0.0}
    """

    def __init__(
        self,
        metrics: Iterable[str] = ("dtssd", "messddt", "flicker"),
        conventions: TemporalConventions | None = None,
        regions: Sequence[str] | None = None,
    ):
        self.metrics = tuple(TEMPORAL_METRICS.check(metrics))
        self.conventions = conventions or TEMPORAL_REFERENCE
        self.regions = tuple(regions) if regions is not None else None
        self.frames = 0
        self._state = {name: _RegionState() for name in (self.regions or ("",))}
        self._previous: tuple | None = None  # (pred alpha, gt as stored, gt alpha, masks)
        self._stretch: dict | None = None  # n, mean, m2, gt0 (shared by every region)
        self._stretches = 0

    @property
    def dtssd_terms(self) -> list[float]:
        """The dtSSD frame-pair terms so far (single-region accumulators)."""
        return self._state[""].dtssd_terms

    @property
    def messddt_terms(self) -> list[MessddtTerm]:
        """The MESSDdt frame-pair terms so far (single-region accumulators)."""
        return self._state[""].messddt_terms

    def _masks(self, region, shape) -> dict[str, np.ndarray | None]:
        if self.regions is None:
            return {"": check_region(region, shape)}
        if not isinstance(region, Mapping) or set(region) != set(self.regions):
            raise ValueError(f"region must map every one of {', '.join(self.regions)} to a mask or None")
        return {name: check_region(region[name], shape) for name in self.regions}

    def update(
        self,
        pred: np.ndarray,
        gt: np.ndarray,
        *,
        region=None,
        flow: np.ndarray | None = None,
        static: bool = False,
    ) -> None:
        """Add the next frame.

        Parameters
        ----------
        pred, gt : numpy.ndarray
            This frame's matte and ground truth.
        region : numpy.ndarray of bool, mapping, optional
            This frame's Ω (used for the pair that starts here, and for flicker); with ``regions``
            a mapping of every region name to its mask.
        flow : numpy.ndarray, optional
            Motion from the *previous* frame to this one (ignored for frame 0 and under
            ``messddt_flow=farneback``).
        static : bool
            This frame belongs to a static stretch (consecutive static frames form one).
        """
        pred_alpha, gt_alpha = to_alpha(pred), to_alpha(gt)
        check_same_shape(pred_alpha, gt_alpha, names=["pred", "gt"])
        masks = self._masks(region, gt_alpha.shape)
        if self._previous is not None:
            prev_pred, prev_gt_raw, prev_gt, prev_masks = self._previous
            check_same_shape(prev_gt, gt_alpha, names=["previous gt", "gt"])
            if "dtssd" in self.metrics:
                squared = dtssd_map(prev_pred, pred_alpha, prev_gt, gt_alpha)
                for name, state in self._state.items():
                    values = squared if prev_masks[name] is None else squared[prev_masks[name]]
                    if values.size == 0:
                        raise EmptyRegionError("dtssd: the region holds no pixel, so the mean is undefined")
                    state.dtssd_terms.append(math.sqrt(float(values.mean(dtype=np.float64))))
            if "messddt" in self.metrics:
                if self.conventions.messddt_flow == "farneback":
                    flow = farneback_flow(prev_gt_raw, gt)
                elif flow is None:
                    raise ValueError(f"frame {self.frames}: messddt needs the flow from the previous frame")
                change, valid = messddt_map(
                    prev_pred, prev_gt, pred_alpha, gt_alpha, flow, self.conventions.messddt_sampling
                )
                for name, state in self._state.items():
                    state.messddt_terms.append(MessddtTerm.over(change, valid, prev_masks[name]))
        if "flicker" in self.metrics:
            self._update_flicker(pred_alpha, np.asarray(gt), masks, static)
        self._previous = (pred_alpha, np.asarray(gt), gt_alpha, masks)
        self.frames += 1

    def _update_flicker(self, pred: np.ndarray, gt_raw: np.ndarray, masks, static: bool) -> None:
        if not static:
            self._close_stretch()
            return
        s = self._stretch
        if s is None:
            self._stretch = {"n": 1, "mean": pred.copy(), "m2": np.zeros_like(pred), "gt0": gt_raw.copy()}
            for name, state in self._state.items():
                state.unchanged = np.ones(gt_raw.shape, bool) if masks[name] is None else masks[name].copy()
            return
        same = gt_raw == s["gt0"]
        for name, state in self._state.items():
            assert state.unchanged is not None
            state.unchanged &= same
            if masks[name] is not None:
                state.unchanged &= masks[name]
        s["n"] += 1
        delta = pred - s["mean"]
        s["mean"] += delta / s["n"]
        s["m2"] += delta * (pred - s["mean"])  # Welford

    def _close_stretch(self) -> None:
        s, self._stretch = self._stretch, None
        if s is None or s["n"] < 2:
            return
        sigma = np.sqrt(np.maximum(s["m2"], 0.0) / s["n"])
        for state in self._state.values():
            values = sigma[state.unchanged]
            state.flicker_total += float(values.sum(dtype=np.float64))
            state.flicker_count += int(values.size)
        self._stretches += 1

    def _result(self, state: _RegionState) -> dict[str, float]:
        out: dict[str, float] = {}
        if "dtssd" in self.metrics:
            out["dtssd"] = dtssd_reduce(state.dtssd_terms, self.frames, self.conventions)
        if "messddt" in self.metrics:
            out["messddt"] = messddt_reduce(state.messddt_terms)
        if "flicker" in self.metrics:
            if self._stretches == 0:
                raise ValueError("flicker needs a static stretch of at least two frames")
            if state.flicker_count == 0:
                raise EmptyRegionError("flicker: no pixel keeps its ground truth through a static stretch")
            out["flicker"] = state.flicker_total / state.flicker_count
        return out

    def result(self) -> dict:
        """Raw values of the requested metrics: ``{metric: value}``, or with ``regions``
        ``{region: {metric: value}}`` (see the clip functions for the rules).

        Raises
        ------
        ValueError
            Too few frames (dtSSD, MESSDdt) or no static stretch of two frames (flicker).
        EmptyRegionError
            No pixel counted.
        """
        self._close_stretch()
        if self.regions is None:
            return self._result(self._state[""])
        return {name: self._result(state) for name, state in self._state.items()}
