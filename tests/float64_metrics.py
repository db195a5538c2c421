"""Frozen copy of vbbench's float64 metrics core before issue 16 (the test oracle).

Until the float32 / exact-integer core replaced it, vbbench computed every metric in float64
with OpenCV and numpy, Conn with one labelling per threshold (``vbbench/metrics/`` at commit
a634888; this file is bit-identical to it on the conformance cases under every convention and on
random 8- and 16-bit and float pairs). The tests compare the package against it beside the
straightforward implementation (``naive_metrics.py``) and the DIM reference values; the
benchmark's "float64" column is this core. Only docstrings were shortened. Not part of the
package: nothing here may change.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import cv2
import numpy as np

FLOAT_THRESHOLD_TOLERANCE = 1e-9


class EmptyRegionError(ValueError):
    """A mean over the region was asked for, but the region holds no pixel."""


_CHOICES = {
    "conn_thresholds": ("exact", "float64"),
    "conn_ties": ("column-major", "row-major"),
    "conn_empty": ("stop", "skip"),
    "grad_rescale": ("minmax", "none"),
    "sobel_border": ("replicate", "reflect", "zero"),
}


@dataclass(frozen=True)
class Conventions:
    """The details where published implementations disagree; the defaults are the reference."""

    conn_thresholds: str = "exact"
    conn_ties: str = "column-major"
    conn_empty: str = "stop"
    grad_rescale: str = "minmax"
    sobel_border: str = "replicate"

    def __post_init__(self):
        for name, allowed in _CHOICES.items():
            if getattr(self, name) not in allowed:
                raise ValueError(f"convention {name}={getattr(self, name)!r} is not one of {', '.join(allowed)}")


REFERENCE = Conventions()


def to_alpha(matte: np.ndarray) -> np.ndarray:
    matte = np.asarray(matte)
    if matte.ndim != 2:
        raise ValueError(f"a matte must be a 2-D array (H, W), got shape {matte.shape}")
    if matte.dtype == np.uint8:
        return matte / 255.0
    if matte.dtype == np.uint16:
        return matte / 65535.0
    if matte.dtype == np.bool_:
        return matte.astype(np.float64)
    if np.issubdtype(matte.dtype, np.floating):
        alpha = matte.astype(np.float64, copy=False)
        if not np.all(np.isfinite(alpha)):
            raise ValueError("the matte holds NaN or infinite values")
        return alpha
    raise TypeError(f"unsupported matte dtype {matte.dtype}: use uint8, uint16, bool or float alpha in [0, 1]")


def threshold_levels(matte: np.ndarray, thresholds: str = "exact") -> np.ndarray:
    matte = np.asarray(matte)
    if thresholds == "float64":
        alpha = to_alpha(matte)
        steps = np.arange(0, 1.1, 0.1)[1:]
        return np.searchsorted(steps, alpha, side="right").astype(np.int8)
    if matte.dtype == np.uint8:
        return cv2.LUT(matte, _LEVELS_8BIT.view(np.uint8)).view(np.int8)
    if matte.dtype == np.uint16:
        return _LEVELS_16BIT[matte]
    alpha = to_alpha(matte)
    levels = np.floor(alpha * 10.0 + 10.0 * FLOAT_THRESHOLD_TOLERANCE)
    return np.clip(levels, 0, 10).astype(np.int8)


_LEVELS_8BIT = ((np.arange(256, dtype=np.int64) * 10) // 255).astype(np.int8)
_LEVELS_16BIT = ((np.arange(65536, dtype=np.int64) * 10) // 65535).astype(np.int8)


def _check_pair(pred, gt, region) -> None:
    if np.shape(pred) != np.shape(gt):
        raise ValueError(f"pred and gt differ in shape: {np.shape(pred)} vs {np.shape(gt)}")
    if region is not None:
        if np.shape(region) != np.shape(gt):
            raise ValueError(f"region and gt differ in shape: {np.shape(region)} vs {np.shape(gt)}")
        if np.asarray(region).dtype != np.bool_:
            raise TypeError("region must be a boolean mask (e.g. trimap == 128)")


def _region_sum(per_pixel, region) -> float:
    if region is None:
        return float(per_pixel.sum(dtype=np.float64))
    return float(per_pixel[region].sum(dtype=np.float64))


def _region_mean(per_pixel, region, metric: str) -> float:
    values = per_pixel if region is None else per_pixel[region]
    if values.size == 0:
        raise EmptyRegionError(
            f"{metric}: the region holds no pixel, so the mean is undefined (a trimap without unknown pixels?)"
        )
    return float(values.mean(dtype=np.float64))


_BORDERS = {"replicate": cv2.BORDER_REPLICATE, "reflect": cv2.BORDER_REFLECT_101, "zero": cv2.BORDER_CONSTANT}


def _filter(image, kernel_rows, kernel_cols, border: str = "replicate"):
    return cv2.sepFilter2D(
        image,
        cv2.CV_64F,
        kernelX=np.ascontiguousarray(kernel_cols[::-1]),
        kernelY=np.ascontiguousarray(kernel_rows[::-1]),
        borderType=_BORDERS[border],
    )


def dim_gradient_kernels(sigma: float = 1.4, epsilon: float = 0.01) -> tuple[np.ndarray, np.ndarray]:
    half = math.ceil(sigma * math.sqrt(-2.0 * math.log(math.sqrt(2.0 * math.pi) * sigma * epsilon)))
    x = np.arange(-half, half + 1, dtype=np.float64)
    smooth = np.exp(-(x**2) / (2.0 * sigma**2)) / (sigma * math.sqrt(2.0 * math.pi))
    derivative = -x * smooth / sigma**2
    derivative = derivative / (np.linalg.norm(smooth) * np.linalg.norm(derivative))
    return smooth, derivative


_DIM_SMOOTH, _DIM_DERIVATIVE = dim_gradient_kernels()
_SOBEL_SMOOTH = np.array([1.0, 2.0, 1.0]) / 4.0
_SOBEL_DERIVATIVE = np.array([-1.0, 0.0, 1.0]) / 2.0
SOBEL_KERNEL = np.outer(_SOBEL_SMOOTH, _SOBEL_DERIVATIVE)


def sobel_gradient(image, border: str = "replicate"):
    image = np.asarray(image, dtype=np.float64)
    dx = _filter(image, _SOBEL_SMOOTH, _SOBEL_DERIVATIVE, border)
    dy = _filter(image, _SOBEL_DERIVATIVE, _SOBEL_SMOOTH, border)
    return dx, dy


def _dim_gradient(alpha):
    return _filter(alpha, _DIM_SMOOTH, _DIM_DERIVATIVE), _filter(alpha, _DIM_DERIVATIVE, _DIM_SMOOTH)


def _hypot(gx, gy):
    magnitude = gx * gx
    magnitude += gy * gy
    return np.sqrt(magnitude, out=magnitude)


def _dim_gradient_magnitude(alpha, gradient, rescale: str = "minmax"):
    low, high = float(alpha.min()), float(alpha.max())
    if high == low:
        return np.zeros_like(alpha)
    magnitude = _hypot(*gradient)
    if rescale == "minmax" and high - low != 1.0:
        magnitude /= high - low
    return magnitude


def _mmnet_kernels(sigma: float = 1.4):
    half = int(3 * sigma + 0.5)
    x = np.arange(-half, half + 1, dtype=np.float64)
    g = np.exp(-(x**2) / (2.0 * sigma**2))
    g /= g.sum()
    return g, -x * g / sigma**2, half


_MMNET_SMOOTH, _MMNET_DERIVATIVE, _MMNET_HALF = _mmnet_kernels()
_MMNET_PER_DIM = float(
    np.abs(np.outer(_MMNET_SMOOTH, _MMNET_DERIVATIVE)[4, 5] / np.outer(_DIM_SMOOTH, _DIM_DERIVATIVE)[4, 5])
)


def _first_in_column_major(component, offset, height) -> int:
    column = int(np.argmax(component.any(axis=0)))
    row = int(np.argmax(component[:, column]))
    return (column + offset[1]) * height + row + offset[0]


def _first_in_row_major(component, offset, height):
    row = int(np.argmax(component.any(axis=1)))
    column = int(np.argmax(component[row]))
    return row + offset[0], column + offset[1]


def _largest_component(mask, offset, height, total, order=_first_in_column_major):
    count, labels = cv2.connectedComponents(mask.view(np.uint8), connectivity=4, ltype=cv2.CV_32S)
    if count <= 1:
        return 0, None, None
    grid = labels[::8, ::8].ravel()
    grid = grid[grid > 0]
    if grid.size:
        guess = int(np.bincount(grid).argmax())
        component = labels == guess
        size = int(np.count_nonzero(component))
        if 2 * size > total:
            return size, (lambda: order(component, offset, height)), component
    areas = np.bincount(labels.ravel(), minlength=count)
    areas[0] = 0
    best_size = int(areas.max())
    tied = np.flatnonzero(areas == best_size)
    if tied.size == 1:
        component = labels == tied[0]
    else:
        candidates = [labels == label for label in tied]
        component = min(candidates, key=lambda c: order(c, offset, height))
    return best_size, (lambda: order(component, offset, height)), component


def _bounding_box(mask):
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    return slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1)


def conn_lower_levels(levels, ties: str = "column-major", empty: str = "stop"):
    order = _first_in_column_major if ties == "column-major" else _first_in_row_major
    levels = np.asarray(levels, dtype=np.int8)
    height = levels.shape[0]
    counts_at_least = np.cumsum(np.bincount(levels.ravel(), minlength=11)[::-1])[::-1]
    lower = np.zeros(levels.shape, dtype=np.int8)

    size, _, omega = _largest_component(levels >= 1, (0, 0), height, int(counts_at_least[1]), order)
    if size == 0:
        return lower if empty == "stop" else np.full(levels.shape, 10, dtype=np.int8)
    rows, cols = _bounding_box(omega)
    omega = omega[rows, cols]
    omega_count = size
    for k in range(2, 11):
        inside = omega & (levels[rows, cols] >= k)
        inside_count = int(np.count_nonzero(inside))
        if inside_count == omega_count:
            size, candidate = inside_count, omega
            key = lambda: order(omega, (rows.start, cols.start), height)  # noqa: E731
        else:
            size, key, candidate = _largest_component(inside, (rows.start, cols.start), height, inside_count, order)
        outside_count = int(counts_at_least[k]) - inside_count
        winner_is_inside = size > 0
        if outside_count > 0 and outside_count >= size:
            outside = levels >= k
            outside[rows, cols] &= ~omega
            out_size, out_key, _ = _largest_component(outside, (0, 0), height, outside_count, order)
            if out_size > size or (out_size == size and out_size > 0 and out_key() < key()):
                winner_is_inside = False
        window = lower[rows, cols]
        if not winner_is_inside:
            skipped = empty == "skip" and size == 0 and counts_at_least[k] == 0
            window[omega] = 10 if skipped else k - 1
            return lower
        if candidate is omega:
            continue
        window[omega & ~candidate] = k - 1
        sub_rows, sub_cols = _bounding_box(candidate)
        omega = candidate[sub_rows, sub_cols]
        omega_count = size
        rows = slice(rows.start + sub_rows.start, rows.start + sub_rows.stop)
        cols = slice(cols.start + sub_cols.start, cols.start + sub_cols.stop)
    lower[rows, cols][omega] = 10
    return lower


def _conn_phi(alpha, lower):
    d = alpha - lower
    d *= d >= 0.15
    return np.subtract(1.0, d, out=d)


class _Pair:
    def __init__(self, pred, gt, conventions: Conventions = REFERENCE):
        self.conventions = conventions
        self.pred_raw, self.gt_raw = np.asarray(pred), np.asarray(gt)
        self.pred = to_alpha(self.pred_raw)
        self.gt = to_alpha(self.gt_raw)
        self._cache: dict[str, np.ndarray] = {}

    def _get(self, name: str, make: Callable[[], np.ndarray]) -> np.ndarray:
        if name not in self._cache:
            self._cache[name] = make()
        return self._cache[name]

    def difference(self):
        return self._get("difference", lambda: self.pred - self.gt)

    def absolute(self):
        return self._get("absolute", lambda: np.abs(self.difference()))

    def squared(self):
        return self._get("squared", lambda: self.difference() ** 2)

    def _dim_gradient(self, which: str):
        key = f"dim_gradient_{which}"
        if key not in self._cache:
            self._cache[key] = _dim_gradient(self.pred if which == "pred" else self.gt)
        return self._cache[key]

    def grad_map(self):
        def make():
            rescale = self.conventions.grad_rescale
            error = _dim_gradient_magnitude(self.pred, self._dim_gradient("pred"), rescale)
            error -= _dim_gradient_magnitude(self.gt, self._dim_gradient("gt"), rescale)
            return np.multiply(error, error, out=error)

        return self._get("grad", make)

    def conn_map(self):
        def make():
            c = self.conventions
            levels = np.minimum(
                threshold_levels(self.pred_raw, c.conn_thresholds),
                threshold_levels(self.gt_raw, c.conn_thresholds),
            )
            lower = conn_lower_levels(levels, c.conn_ties, c.conn_empty) / 10.0
            error = _conn_phi(self.pred, lower)
            error -= _conn_phi(self.gt, lower)
            return np.abs(error, out=error)

        return self._get("conn", make)

    def _sobel(self):
        if "sobel_dx" not in self._cache:
            self._cache["sobel_dx"], self._cache["sobel_dy"] = sobel_gradient(
                self.difference(), self.conventions.sobel_border
            )
        return self._cache["sobel_dx"], self._cache["sobel_dy"]

    def sobel_l2_map(self):
        return self._get("sobel_l2", lambda: _hypot(*self._sobel()))

    def sobel_l1_map(self):
        def make():
            dx, dy = self._sobel()
            return 0.5 * (np.abs(dx) + np.abs(dy))

        return self._get("sobel_l1", make)

    def gauss_grad_map(self):
        def make():
            height, width = self.difference().shape
            if min(height, width) <= 2 * _MMNET_HALF:
                raise ValueError(
                    f"gauss_grad needs images larger than {2 * _MMNET_HALF}×{2 * _MMNET_HALF} "
                    f"pixels (its 'VALID' 9×9 filter), got {width}×{height}"
                )
            pred_x, pred_y = self._dim_gradient("pred")
            gt_x, gt_y = self._dim_gradient("gt")
            magnitude = _hypot(pred_x - gt_x, pred_y - gt_y)
            magnitude *= _MMNET_PER_DIM
            return magnitude

        return self._get("gauss_grad", make)


def _valid_interior(shape, region):
    interior = np.zeros(shape, dtype=bool)
    interior[_MMNET_HALF:-_MMNET_HALF, _MMNET_HALF:-_MMNET_HALF] = True
    return interior if region is None else interior & region


@dataclass(frozen=True)
class MetricSpec:
    name: str
    reduction: str
    display_scale: float
    _map: Callable[[_Pair], np.ndarray]

    def compute(self, pair: _Pair, region) -> float:
        per_pixel = self._map(pair)
        if self.name == "gauss_grad":
            region = _valid_interior(per_pixel.shape, region)
        if self.reduction == "sum":
            return _region_sum(per_pixel, region)
        return _region_mean(per_pixel, region, self.name)


METRICS: Mapping[str, MetricSpec] = {
    spec.name: spec
    for spec in [
        MetricSpec("mad", "mean", 1e3, _Pair.absolute),
        MetricSpec("mse", "mean", 1e3, _Pair.squared),
        MetricSpec("sad", "sum", 1e-3, _Pair.absolute),
        MetricSpec("grad", "sum", 1e-3, _Pair.grad_map),
        MetricSpec("conn", "sum", 1e-3, _Pair.conn_map),
        MetricSpec("sobel_l2", "mean", 1e3, _Pair.sobel_l2_map),
        MetricSpec("sobel_l1", "mean", 1e3, _Pair.sobel_l1_map),
        MetricSpec("gauss_grad", "mean", 1e3, _Pair.gauss_grad_map),
    ]
}


def evaluate(pred, gt, regions=None, metrics=None, conventions: Conventions | None = None):
    regions = {"whole": None} if regions is None else regions
    names = list(METRICS) if metrics is None else list(metrics)
    unknown = [name for name in names if name not in METRICS]
    if unknown:
        raise KeyError(f"unknown metric(s) {unknown}; known: {sorted(METRICS)}")
    for region in regions.values():
        _check_pair(pred, gt, region)
    pair = _Pair(pred, gt, conventions or REFERENCE)
    return {
        region_name: {name: METRICS[name].compute(pair, region) for name in names}
        for region_name, region in regions.items()
    }
