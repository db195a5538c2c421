"""Per-pixel error maps of one (pred, gt) pair, each computed once whatever the metrics asked, and
their reductions over a region.

Where each metric's precision comes from (M = 255 for uint8, 65535 for uint16, 1 for bool;
"codes" are the integers v with alpha = v / M; measured deviations in ``docs/metrics.md``):

* **MAD, SAD, MSE** on codes: Σ|v − w| or Σ(v − w)² in int64 and one division of that exact
  fraction, so the result is the correctly rounded exact value. Float alpha: float64 sums.
* **Sobel** (S/8, Sᵀ/8) on 8-bit codes: one fused pass over the integer difference gives 8·dx
  and 8·dy as exact integers, so the L1 map is exact and the L2 map is one correctly rounded
  float32 square root of an exact integer. 16-bit codes and float alpha: float64.
* **Grad and the MMNet gradient**: the DIM filter in float32, derivative first on exact
  differences (:func:`~vbbench.metrics.filters.dim_gradient32`). The MMNet gradient is
  |∇(p − g)| times a constant (one filtering of the difference, by linearity). Grad filters the
  sum as well, S = ∇(p′ + g′) and V = ∇(p′ − g′), and takes |∇p′| − |∇g′| = 2·S·V / (|S + V| +
  |S − V|): each factor is accurate relative to its own size, so the result stays accurate where
  the two magnitudes nearly cancel (p ≈ g, p ≈ 1 − g, a flipped gt), where subtracting two
  rounded float32 magnitudes would lose ε·|∇g|.
* **Conn**: the codes of :func:`~vbbench.metrics.conn.conn_lower_levels`, then
  |φ(p) − φ(g)|·10·M as exact integers for codes (d ≥ 0.15 ⟺ 2·(10·v − M·c) ≥ 3·M), the
  reference's float64 operations for float alpha.
* **Reductions**: float64 (int64) per-column accumulators, added left to right: a fixed order,
  so identical inputs give identical bits whatever the buffers' alignment; exact totals stay
  exact (``Fraction``) until the one final rounding.

Identical mattes score exactly 0 for every metric: their difference is exactly 0, and so is
everything filtered from it.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from fractions import Fraction
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from vbbench.errors import MatteError
from vbbench.metrics.alpha import (
    EmptyRegionError,
    alpha_values,
    checked_matte,
    common_codes,
    levels_of_codes,
    region_mean,
    region_sum,
    threshold_levels,
)
from vbbench.metrics.conn import conn_lower_levels
from vbbench.metrics.conventions import REFERENCE, Conventions
from vbbench.metrics.filters import MMNET_HALF, MMNET_PER_DIM, dim_gradient32, dim_gradient_padded

if TYPE_CHECKING:
    from vbbench.metrics.spec import MetricSpec

__all__ = ["PairMaps"]

_BORDERS = {"replicate": cv2.BORDER_REPLICATE, "reflect": cv2.BORDER_REFLECT_101, "zero": cv2.BORDER_CONSTANT}
_NO_MASK = np.zeros((1, 1), np.bool_)  # the kernels' mask argument when there is none
_NO_MASK.setflags(write=False)


class PairMaps:
    """Lazily computed per-pixel maps of one (pred, gt) pair: each filter runs once, whatever the
    number of metrics and regions.

    Maps are held in the units they are computed in (integer codes, or code-unit float32 filter
    outputs) with one scale factor and their whole-image total each; :meth:`reduce` sums them
    before scaling, so totals stay exact where the inputs allow. The public map methods return
    alpha units: float64 for :meth:`difference`, :meth:`absolute`, :meth:`squared` and
    :meth:`conn_map`, float32 for the gradient maps.

    Parameters
    ----------
    pred, gt : numpy.ndarray
        Mattes of one shape: ``uint8``, ``uint16``, ``bool`` or float alpha.
    conventions : Conventions, optional
        Default :data:`~vbbench.metrics.conventions.REFERENCE`.
    maps : collection of str, optional
        The map methods that will be asked for (``"sobel_l1_map"``, …), if known: the Sobel
        pass then writes only those. Default: any.

    Examples
    --------
    >>> from vbbench.metrics import METRICS
    >>> gt = np.zeros((16, 16), np.uint8); gt[4:12, 4:12] = 255
    >>> pair = PairMaps(gt, gt)
    >>> pair.reduce(METRICS["grad"], None), pair.reduce(METRICS["mad"], gt > 0)
    (0.0, 0.0)
    """

    def __init__(
        self,
        pred: np.ndarray,
        gt: np.ndarray,
        conventions: Conventions = REFERENCE,
        maps: Collection[str] | None = None,
    ):
        self.conventions = conventions
        pred, gt = checked_matte(pred, where="pred"), checked_matte(gt, where="gt")
        if pred.shape != gt.shape:
            raise MatteError(f"pred and gt differ in shape: {pred.shape} vs {gt.shape}")
        codes = common_codes(pred, gt)
        #: The mattes as integer codes of one scale (``code_max``), or as float64 alpha
        #: (``code_max`` None) when either is float.
        self.pred: np.ndarray
        self.gt: np.ndarray
        self.code_max: int | None
        if codes is None:
            self.code_max = None
            self.pred = np.ascontiguousarray(alpha_values(pred))
            self.gt = np.ascontiguousarray(alpha_values(gt))
        else:
            self.pred, self.gt, self.code_max = codes
        self._maps = None if maps is None else frozenset(maps)
        self._cache: dict[str, Any] = {}

    # ---- helpers --------------------------------------------------------------------------

    def _get(self, name: str, make: Callable[[], Any]) -> Any:
        if name not in self._cache:
            self._cache[name] = make()
        return self._cache[name]

    @property
    def _unit(self) -> float:
        """Alpha per code unit (1/M), 1 for float alpha."""
        return 1.0 if self.code_max is None else 1.0 / self.code_max

    def _difference_exact(self) -> np.ndarray:
        """p − g for the filters, exactly: int16 for 8-bit codes, int32 for 16-bit codes, float64
        for float alpha."""

        def make():
            if self.code_max is None:
                return self.pred - self.gt
            return np.subtract(self.pred, self.gt, dtype=np.int16 if self.code_max <= 255 else np.int32)

        return self._get("_d", make)

    def _range(self, which: str) -> tuple[float, float]:
        """(min, max − min) of ``pred`` or ``gt``."""

        def make():
            image = self.pred if which == "pred" else self.gt
            if image.dtype == np.float64:
                low, high = float(image.min()), float(image.max())
            else:
                low, high = (float(v) for v in cv2.minMaxLoc(image)[:2])
            return low, high - low

        return self._get("_range_" + which, make)

    def _padded_sum_difference(self) -> tuple[np.ndarray, np.ndarray]:
        """p + g and p − g of the codes as float32 with the DIM filter's border, in one pass."""
        from vbbench.metrics import _kernels

        def make():
            shape = (self.pred.shape[0] + 8, self.pred.shape[1] + 8)
            total, difference = np.empty(shape, np.float32), np.empty(shape, np.float32)
            _kernels.padded_sum_difference(self.pred, self.gt, total, difference)
            return total, difference

        return self._get("_padded_sd", make)

    def _dim_difference(self) -> tuple[np.ndarray, np.ndarray]:
        """The DIM filter of p − g (Grad's V and the MMNet gradient)."""

        def make():
            if self.code_max is None:
                return dim_gradient32(self._difference_exact())
            return dim_gradient_padded(self._padded_sum_difference()[1], True)

        return self._get("_dim_d", make)

    # ---- maps in their own units: (array, scale, total, margin); value = array · scale, and
    # ---- total = Σ array over the image without a border of ``margin`` pixels, computed with it

    def _scaled(self, name: str) -> tuple[np.ndarray, Any, Any, int]:
        return self._get("_scaled_" + name, getattr(self, "_make_" + name))

    def _make_grad(self):
        from vbbench.metrics import _kernels

        out = np.empty(self.pred.shape, np.float32)
        (low_p, range_p), (low_g, range_g) = self._range("pred"), self._range("gt")
        if range_p == 0.0 and range_g == 0.0:  # mat2gray of a constant image is constant
            out[...] = 0.0
            return out, 1.0, 0.0, 0
        # Gradient scale of each image in the units it is filtered in: mat2gray divides alpha by
        # its range, so a code gradient is divided by the code range; float alpha is divided by
        # its range unless that is exactly 1. Without rescaling: alpha per unit.
        if self.conventions.grad_rescale == "minmax":
            scale_p, scale_g = _rescale(range_p, self.code_max), _rescale(range_g, self.code_max)
        else:
            scale_p = scale_g = self._unit
        if range_g == 0.0:  # |∇g′| = 0 and ∇p = ∇(p − g): the shared difference filtering
            dx, dy = self._dim_difference()
            return out, scale_p * scale_p, _kernels.magnitude_squared(dx, dy, out), 0
        if range_p == 0.0:  # |∇p′| = 0
            gx, gy = dim_gradient32(self.gt)
            return out, scale_g * scale_g, _kernels.magnitude_squared(gx, gy, out), 0
        if scale_p == scale_g:
            # ∇(p′ ± g′) = scale · ∇(p ± g): the difference's filtering is the one gauss_grad uses,
            # the sum's is Grad's own. Integer sums are exact (int16 / int32).
            if self.code_max is None:
                sx, sy = dim_gradient32(self.pred + self.gt)
            else:
                sx, sy = dim_gradient_padded(self._padded_sum_difference()[0], True)
            dx, dy = self._dim_difference()
            return out, scale_p * scale_p, _kernels.grad_error(sx, sy, dx, dy, out), 0
        # Different rescales: filter p′ + g′ and p′ − g′ themselves, formed in float64 (the filter
        # takes its differences in float64 and rounds them once): three filterings.
        p_rescaled = (self.pred - low_p) * scale_p
        g_rescaled = (self.gt - low_g) * scale_g
        sx, sy = dim_gradient32(p_rescaled + g_rescaled)
        dx, dy = dim_gradient32(p_rescaled - g_rescaled)
        return out, 1.0, _kernels.grad_error(sx, sy, dx, dy, out), 0

    def _make_gauss_grad(self):
        from vbbench.metrics import _kernels

        height, width = self.pred.shape
        if min(height, width) <= 2 * MMNET_HALF:
            raise ValueError(
                f"gauss_grad needs images larger than {2 * MMNET_HALF}×{2 * MMNET_HALF} "
                f"pixels (its 'VALID' 9×9 filter), got {width}×{height}"
            )
        # |∇p − ∇g| = |∇(p − g)|; MMNet's filter is the DIM filter times MMNET_PER_DIM.
        dx, dy = self._dim_difference()
        out = np.empty(dx.shape, np.float32)
        h = MMNET_HALF
        total = _kernels.magnitude(dx, dy, out, h, height - h, h, width - h)  # the valid interior
        return out, MMNET_PER_DIM * self._unit, total, h

    def _sobel_maps(self):
        """Both Sobel maps and their totals in one pass: ((l2, total), (l1, total))."""
        from vbbench.metrics import _kernels

        def make() -> tuple[tuple[np.ndarray | None, Any], tuple[np.ndarray | None, Any]]:
            border = _BORDERS[self.conventions.sobel_border]
            l2: np.ndarray | None = np.empty(self.pred.shape, np.float32)
            l1: np.ndarray | None = np.empty(self.pred.shape, np.float32)
            difference = self._difference_exact()
            if difference.dtype == np.int16:  # 8-bit codes: exact integers
                padded = cv2.copyMakeBorder(difference, 1, 1, 1, 1, border, value=0)
                want_l2 = self._maps is None or "sobel_l2_map" in self._maps
                want_l1 = self._maps is None or "sobel_l1_map" in self._maps
                total2, total1 = _kernels.sobel_codes(padded, l2, l1, want_l2, want_l1)
                l2, l1 = (l2 if want_l2 else None), (l1 if want_l1 else None)
                total1 = Fraction(int(total1), 16)  # Σ (|kx| + |ky|) / 16, exact
            else:  # float64: 16-bit code differences (exact) or float alpha
                padded = cv2.copyMakeBorder(difference.astype(np.float64, copy=False), 1, 1, 1, 1, border, value=0)
                total2, total1 = _kernels.sobel_alpha(padded, l2, l1)
            return (l2, total2), (l1, total1)

        return self._get("_sobel", make)

    def _sobel_map(self, index: int):
        maps = self._sobel_maps()
        if maps[index][0] is None:  # the constructor announced only the other map: both now
            self._maps = None
            del self._cache["_sobel"]
            maps = self._sobel_maps()
        return maps[index]

    def _make_sobel_l2(self):
        l2, total = self._sobel_map(0)
        return l2, self._unit, total, 0

    def _make_sobel_l1(self):
        l1, total = self._sobel_map(1)
        # codes: l1 holds multiples of 1/16 (exact in float32, and so are their float64 sums)
        return l1, (self._unit if self.code_max is None else Fraction(1, self.code_max)), total, 0

    def _make_conn(self):
        from vbbench.metrics import _conn_kernels

        c = self.conventions
        if self.code_max is not None:
            levels = cv2.min(
                levels_of_codes(self.pred, self.code_max, c.conn_thresholds).view(np.uint8),
                levels_of_codes(self.gt, self.code_max, c.conn_thresholds).view(np.uint8),
            ).view(np.int8)
        else:
            levels = np.minimum(
                threshold_levels(self.pred, c.conn_thresholds), threshold_levels(self.gt, c.conn_thresholds)
            )
        lower = conn_lower_levels(levels, c.conn_ties, c.conn_empty)
        if self.code_max is not None:
            # |φp − φg| · 10·M as exact integers; the total is exact
            out = np.empty(self.pred.shape, np.int32)
            total = _conn_kernels.conn_error_codes(self.pred, self.gt, lower, self.code_max, out)
            return out, Fraction(1, 10 * self.code_max), int(total), 0
        out = np.empty(self.pred.shape, np.float64)
        return out, 1.0, _conn_kernels.conn_error_alpha(self.pred, self.gt, lower, out), 0

    # ---- the per-pixel maps, in alpha units ---------------------------------------------------

    def difference(self) -> np.ndarray:
        """p − g, float64 alpha."""
        if self.code_max is None:
            return self._get("difference", lambda: self.pred - self.gt)
        code_max = float(self.code_max)
        return self._get("difference", lambda: np.subtract(self.pred, self.gt, dtype=np.int32) / code_max)

    def absolute(self) -> np.ndarray:
        """|p − g|, float64 alpha."""
        return self._get("absolute", lambda: np.abs(self.difference()))

    def squared(self) -> np.ndarray:
        """(p − g)², float64 alpha²."""
        return self._get("squared", lambda: self.difference() ** 2)

    def _unscaled(self, name: str, dtype) -> np.ndarray:
        array, scale, _, _ = self._scaled(name)
        return self._get(name, lambda: (array * np.asarray(float(scale), dtype)).astype(dtype, copy=False))

    def grad_map(self) -> np.ndarray:
        """(|∇p′| − |∇g′|)² per pixel, float32."""
        return self._unscaled("grad", np.float32)

    def conn_map(self) -> np.ndarray:
        """|φ(p) − φ(g)| per pixel, float64."""
        return self._unscaled("conn", np.float64)

    def sobel_l2_map(self) -> np.ndarray:
        """√(dx² + dy²) of the Sobel/8 gradient of p − g, float32."""
        return self._unscaled("sobel_l2", np.float32)

    def sobel_l1_map(self) -> np.ndarray:
        """½(|dx| + |dy|), float32."""
        return self._unscaled("sobel_l1", np.float32)

    def gauss_grad_map(self) -> np.ndarray:
        """MMNet's ‖∇p − ∇g‖₂ per pixel (only the valid interior counts in the metric), float32."""
        return self._unscaled("gauss_grad", np.float32)

    # ---- reductions -------------------------------------------------------------------------

    def reduce(self, spec: MetricSpec, region: np.ndarray | None) -> float:
        """A metric's raw value over ``region`` (a boolean mask, or None for every pixel).

        Maps this module computes itself are reduced in their own units (exactly where they are
        exact); any other map (a new metric's) goes through ``spec.per_pixel`` and a float64 sum.

        Parameters
        ----------
        spec : MetricSpec
            The metric: its map, reduction (sum or mean) and valid margin.
        region : numpy.ndarray of bool or None

        Returns
        -------
        float
            Sums are 0 over an empty region; means raise :class:`EmptyRegionError`.
        """
        margin = spec.valid_margin_px
        kind = _OWN_UNITS.get(spec.per_pixel)
        if kind is None or (kind in ("absolute", "squared") and margin):
            per_pixel = spec.per_pixel(self)
            if margin:
                per_pixel, region = _interior(per_pixel, margin), _region_interior(region, margin)
            if spec.reduction == "sum":
                return region_sum(per_pixel, region)
            return region_mean(per_pixel, region, spec.name)
        if kind in ("absolute", "squared"):
            total, count = self._difference_total(kind == "squared", region)
        else:
            array, scale, total, own_margin = self._scaled(kind)
            if region is None and margin == own_margin:
                count = (array.shape[0] - 2 * margin) * (array.shape[1] - 2 * margin)  # total came with the map
            else:
                total, count = _total(_interior(array, margin), _region_interior(region, margin))
            # Exact scales (Fractions: integer maps, the dyadic Sobel L1 of codes) keep an exact
            # total exact until the final float(); others are multiplied in float64.
            total = Fraction(total) * scale if isinstance(scale, Fraction) else float(total) * scale
        if spec.reduction == "sum":
            return float(total)
        if count == 0:
            raise EmptyRegionError(
                f"{spec.name}: the region holds no pixel, so the mean is undefined (a trimap without unknown pixels?)"
            )
        return float(total / count)  # a Fraction for integer MAD/MSE: one correct rounding

    def _difference_total(self, squared: bool, region: np.ndarray | None):
        """(Σ |p − g| or Σ (p − g)², pixel count) over the region, in alpha units (a Fraction for
        codes: exact)."""
        from vbbench.metrics import _kernels

        def make():
            use = region is not None
            mask = np.ascontiguousarray(region) if use else _NO_MASK
            count = self.pred.size if region is None else int(np.count_nonzero(region))
            if self.code_max is not None:
                # Exact: the integers summed in int64 and one division of the exact fraction.
                # (Not cv2.norm: its squared L2 with a mask, and some unmasked sizes, go through
                # float and give 192.99999999999997 for 193.)
                total = _kernels.absdiff_total_int(self.pred, self.gt, mask, use, squared)
                return Fraction(int(total), self.code_max * self.code_max if squared else self.code_max), count
            return _kernels.absdiff_total_float(self.pred, self.gt, mask, use, squared), count

        if region is not None:
            return make()
        return self._get("_total_squared" if squared else "_total_absolute", make)


def _rescale(value_range: float, code_max: int | None) -> float:
    """The mat2gray factor of an image with this (nonzero) range of codes or of float alpha."""
    if value_range == 0.0:
        return 0.0  # not used: a constant image has zero gradient
    if code_max is None and value_range == 1.0:
        return 1.0
    return 1.0 / value_range


def _interior(array: np.ndarray, margin: int) -> np.ndarray:
    return array[margin:-margin, margin:-margin] if margin else array


def _region_interior(region: np.ndarray | None, margin: int) -> np.ndarray | None:
    return None if region is None else _interior(region, margin)


def _total(array: np.ndarray, mask: np.ndarray | None) -> tuple[float, int]:
    """(Σ array over mask, count): int64 for integer maps (exact), float64 otherwise."""
    from vbbench.metrics import _kernels

    use = mask is not None
    kernel = _kernels.total_int if np.issubdtype(array.dtype, np.integer) else _kernels.total_float
    total, count = kernel(array, mask if mask is not None else _NO_MASK, use)
    return (int(total) if np.issubdtype(array.dtype, np.integer) else float(total)), int(count)


#: The maps whose reduction this module does in their own units, by the spec's ``per_pixel``.
_OWN_UNITS: dict[Callable, str] = {
    PairMaps.absolute: "absolute",
    PairMaps.squared: "squared",
    PairMaps.grad_map: "grad",
    PairMaps.conn_map: "conn",
    PairMaps.sobel_l2_map: "sobel_l2",
    PairMaps.sobel_l1_map: "sobel_l1",
    PairMaps.gauss_grad_map: "gauss_grad",
}
