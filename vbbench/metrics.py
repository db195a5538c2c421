"""Alpha-matte error metrics: pure, vectorised functions on arrays.

Every function takes a predicted matte ``pred`` and a ground-truth matte ``gt`` of the same shape
(H, W) and an optional boolean ``region`` (the pixels that count, Ω; the trimap's unknown band
``trimap == 128`` in the Deep Image Matting convention; ``None`` = every pixel, the portrait-matting
default). Inputs may be

* ``uint8`` codes ``v`` (alpha = v / 255), ``uint16`` codes (alpha = v / 65535), or
* floating-point alpha in [0, 1] (not clamped), or ``bool`` masks.

Integer inputs are compared against the Conn thresholds in exact integer arithmetic. Float inputs
are compared with a 1e-9 tolerance, which cannot misclassify any 8- or 16-bit code (their distance
from a threshold k/10 is 0 or at least 1/655350) but lets ``v / 255`` computed in floating point
behave exactly like the integer ``v``.

Gradients and connected components are computed on the full image and only then reduced over Ω,
as the reference code does. Values are returned in *raw* units (alpha units, sums or means); the
:data:`METRICS` registry records, per metric, the raw unit and the display scale papers use.

Reference definitions: ``shared/spec/metrics.md`` (vendored into ``docs/metrics.md``); the Deep
Image Matting evaluation code (Xu et al. 2017, MATLAB ``compute_*_loss.m``, ``gaussgradient.m``),
which implements Rhemann et al. 2009, "A perceptually motivated online benchmark for image matting".
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import cv2
import numpy as np

__all__ = [
    "METRICS",
    "MetricSpec",
    "EmptyRegionError",
    "to_alpha",
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
    "dim_gradient_kernels",
    "sobel_gradient",
    "SOBEL_KERNEL",
    "conn_lower_levels",
]

#: Tolerance used when float alpha is compared with a Conn threshold k/10 (see module docstring).
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
    """The details where published implementations disagree; the defaults are the reference.

    Attributes
    ----------
    conn_thresholds : {"exact", "float64"}
        ``exact`` (reference): v/255 ≥ k/10 decided exactly. ``float64``: compared with
        ``np.arange(0, 1.1, 0.1)`` thresholds as most Python ports do (rejects v = 153 at 0.6).
    conn_ties : {"column-major", "row-major"}
        Which of equally large components is Ω_k: the first in MATLAB's column-major order
        (reference) or in skimage / OpenCV row-major order.
    conn_empty : {"stop", "skip"}
        A threshold with no component: every remaining pixel gets l = t_(k−1) (reference), or the
        threshold is skipped so those pixels end with l = 1 (P3M; an all-zero prediction scores 0).
    grad_rescale : {"minmax", "none"}
        ``minmax`` (reference): MATLAB ``mat2gray`` per image; ``none``: alpha as is (ports that
        only divide by 255).
    sobel_border : {"replicate", "reflect", "zero"}
        Border of the seed's Sobel operator: replicated (vbbench's choice), mirrored without
        repeating the edge (OpenCV's default, ``reflect101``) or zero padding (PyTorch's conv2d
        default in the training loss).

    Examples
    --------
    >>> Conventions.parse(["conn_ties=row-major"]).conn_ties
    'row-major'
    """

    conn_thresholds: str = "exact"
    conn_ties: str = "column-major"
    conn_empty: str = "stop"
    grad_rescale: str = "minmax"
    sobel_border: str = "replicate"

    def __post_init__(self):
        for name, allowed in _CHOICES.items():
            if getattr(self, name) not in allowed:
                raise ValueError(f"convention {name}={getattr(self, name)!r} is not one of {', '.join(allowed)}")

    @classmethod
    def parse(cls, settings: list[str] | None) -> Conventions:
        """Build from ``["name=value", …]`` strings (the CLI's ``--convention``)."""
        values: dict[str, str] = {}
        for setting in settings or []:
            name, _, value = setting.partition("=")
            name = name.strip().replace("-", "_")
            if name not in _CHOICES or not value:
                raise ValueError(
                    f"--convention {setting!r}: expected NAME=VALUE with NAME one of {', '.join(_CHOICES)}"
                )
            values[name] = value.strip()
        return cls(**values)

    def differences(self) -> dict[str, str]:
        """The settings that differ from the reference (empty for reference results)."""
        reference = Conventions()
        return {name: getattr(self, name) for name in _CHOICES if getattr(self, name) != getattr(reference, name)}


REFERENCE = Conventions()


# --------------------------------------------------------------------------------------------
# Input conversion
# --------------------------------------------------------------------------------------------


def to_alpha(matte: np.ndarray) -> np.ndarray:
    """Convert a matte to float64 alpha.

    Parameters
    ----------
    matte : numpy.ndarray
        2-D array: ``uint8`` (alpha = v / 255), ``uint16`` (alpha = v / 65535), ``bool``
        (0 or 1) or floating point (taken as alpha, not clamped).

    Returns
    -------
    numpy.ndarray
        float64 array of the same shape.

    Examples
    --------
    >>> to_alpha(np.array([[0, 51, 255]], dtype=np.uint8))
    array([[0. , 0.2, 1. ]])
    """
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
    """How many Conn thresholds t_k = k/10 (k = 1 … 10) each pixel passes.

    A pixel passes t_k iff alpha ≥ k/10, decided exactly: ``10·v ≥ 255·k`` for uint8,
    ``10·v ≥ 65535·k`` for uint16; floats with :data:`FLOAT_THRESHOLD_TOLERANCE`. Since the
    thresholds are nested, the pixel passes exactly t_1 … t_level.

    Returns
    -------
    numpy.ndarray
        int8 array in 0 … 10.

    Examples
    --------
    >>> threshold_levels(np.array([[25, 26, 153, 255]], dtype=np.uint8))
    array([[ 0,  1,  6, 10]], dtype=int8)
    """
    matte = np.asarray(matte)
    if thresholds == "float64":
        # What np.arange(0, 1.1, 0.1) thresholds give: t_6 = 0.6000000000000001 etc.
        alpha = to_alpha(matte)
        steps = np.arange(0, 1.1, 0.1)[1:]
        return np.searchsorted(steps, alpha, side="right").astype(np.int8)
    if matte.dtype == np.uint8:
        # OpenCV's table lookup is 20× faster than the integer division (and than numpy's).
        return cv2.LUT(matte, _LEVELS_8BIT.view(np.uint8)).view(np.int8)
    if matte.dtype == np.uint16:
        return _LEVELS_16BIT[matte]
    alpha = to_alpha(matte)
    levels = np.floor(alpha * 10.0 + 10.0 * FLOAT_THRESHOLD_TOLERANCE)
    return np.clip(levels, 0, 10).astype(np.int8)


_LEVELS_8BIT = ((np.arange(256, dtype=np.int64) * 10) // 255).astype(np.int8)
_LEVELS_16BIT = ((np.arange(65536, dtype=np.int64) * 10) // 65535).astype(np.int8)


def _check_pair(pred: np.ndarray, gt: np.ndarray, region: np.ndarray | None) -> None:
    if np.shape(pred) != np.shape(gt):
        raise ValueError(f"pred and gt differ in shape: {np.shape(pred)} vs {np.shape(gt)}")
    if region is not None:
        if np.shape(region) != np.shape(gt):
            raise ValueError(f"region and gt differ in shape: {np.shape(region)} vs {np.shape(gt)}")
        if np.asarray(region).dtype != np.bool_:
            raise TypeError("region must be a boolean mask (e.g. trimap == 128)")


def _region_sum(per_pixel: np.ndarray, region: np.ndarray | None) -> float:
    if region is None:
        return float(per_pixel.sum(dtype=np.float64))
    return float(per_pixel[region].sum(dtype=np.float64))


def _region_mean(per_pixel: np.ndarray, region: np.ndarray | None, metric: str) -> float:
    values = per_pixel if region is None else per_pixel[region]
    if values.size == 0:
        raise EmptyRegionError(
            f"{metric}: the region holds no pixel, so the mean is undefined (a trimap without unknown pixels?)"
        )
    return float(values.mean(dtype=np.float64))


# --------------------------------------------------------------------------------------------
# Filters
# --------------------------------------------------------------------------------------------


_BORDERS = {"replicate": cv2.BORDER_REPLICATE, "reflect": cv2.BORDER_REFLECT_101, "zero": cv2.BORDER_CONSTANT}


def _filter(
    image: np.ndarray, kernel_rows: np.ndarray, kernel_cols: np.ndarray, border: str = "replicate"
) -> np.ndarray:
    """True 2-D convolution with the separable kernel outer(kernel_rows, kernel_cols).

    ``kernel_rows`` runs down the rows (vertical), ``kernel_cols`` along the columns; borders
    replicate the edge pixel (MATLAB ``imfilter(..., 'replicate', 'conv')``). OpenCV correlates,
    so the kernels are flipped.
    """
    return cv2.sepFilter2D(
        image,
        cv2.CV_64F,
        kernelX=np.ascontiguousarray(kernel_cols[::-1]),
        kernelY=np.ascontiguousarray(kernel_rows[::-1]),
        borderType=_BORDERS[border],
    )


def dim_gradient_kernels(sigma: float = 1.4, epsilon: float = 0.01) -> tuple[np.ndarray, np.ndarray]:
    """The 1-D factors of the Deep Image Matting ``gaussgradient`` filter.

    ``hx[i, j] = G(i) · G'(j) / ‖G ⊗ G'‖_F`` with G(x) = exp(−x²/2σ²) / (σ√(2π)),
    G'(x) = −x·G(x)/σ², half-width h = ⌈σ·√(−2·ln(√(2π)·σ·ε))⌉ (4 for σ = 1.4, so 9×9);
    hy = hxᵀ.

    Parameters
    ----------
    sigma : float
        Gaussian standard deviation in pixels.
    epsilon : float
        Truncation level that sets the half-width.

    Returns
    -------
    (smooth, derivative) : tuple of numpy.ndarray
        ``smooth`` = G and ``derivative`` = G' / (‖G‖₂·‖G'‖₂), so that
        ``hx = np.outer(smooth, derivative)`` has unit Frobenius norm.

    Examples
    --------
    >>> smooth, derivative = dim_gradient_kernels()
    >>> smooth.shape, round(float(np.linalg.norm(np.outer(smooth, derivative))), 12)
    ((9,), 1.0)
    """
    half = math.ceil(sigma * math.sqrt(-2.0 * math.log(math.sqrt(2.0 * math.pi) * sigma * epsilon)))
    x = np.arange(-half, half + 1, dtype=np.float64)
    smooth = np.exp(-(x**2) / (2.0 * sigma**2)) / (sigma * math.sqrt(2.0 * math.pi))
    derivative = -x * smooth / sigma**2
    # The Frobenius norm of an outer product is the product of the factors' 2-norms.
    derivative = derivative / (np.linalg.norm(smooth) * np.linalg.norm(derivative))
    return smooth, derivative


_DIM_SMOOTH, _DIM_DERIVATIVE = dim_gradient_kernels()

_SOBEL_SMOOTH = np.array([1.0, 2.0, 1.0]) / 4.0
_SOBEL_DERIVATIVE = np.array([-1.0, 0.0, 1.0]) / 2.0

#: The seed's Sobel-like operator S = [[−1, 0, 1], [−2, 0, 2], [−1, 0, 1]] / 8, defined once: the
#: Sobel metrics and the reference model's gradient loss both build on it (dy uses Sᵀ).
SOBEL_KERNEL = np.outer(_SOBEL_SMOOTH, _SOBEL_DERIVATIVE)


def sobel_gradient(image: np.ndarray, border: str = "replicate") -> tuple[np.ndarray, np.ndarray]:
    """Gradient with the seed's Sobel-like operator S/8, replicated borders.

    ``dx = S ∗ image``, ``dy = Sᵀ ∗ image`` (true convolution),
    S = [[−1, 0, 1], [−2, 0, 2], [−1, 0, 1]] / 8. The same operator is the gradient term of the
    seed's training loss, so models import it from here.

    Parameters
    ----------
    image : numpy.ndarray
        2-D float array.

    Returns
    -------
    (dx, dy) : tuple of numpy.ndarray
        float64 arrays of the input's shape.

    Examples
    --------
    >>> dx, dy = sobel_gradient(np.tile(np.arange(4.0), (3, 1)))
    >>> dx[1, 1:3], dy[1, 1:3]
    (array([-1., -1.]), array([0., 0.]))
    """
    image = np.asarray(image, dtype=np.float64)
    dx = _filter(image, _SOBEL_SMOOTH, _SOBEL_DERIVATIVE, border)
    dy = _filter(image, _SOBEL_DERIVATIVE, _SOBEL_SMOOTH, border)
    return dx, dy


def _dim_gradient(alpha: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(gx, gy) of the DIM ``gaussgradient`` filter on alpha as is (no rescale)."""
    return _filter(alpha, _DIM_SMOOTH, _DIM_DERIVATIVE), _filter(alpha, _DIM_DERIVATIVE, _DIM_SMOOTH)


def _hypot(gx: np.ndarray, gy: np.ndarray) -> np.ndarray:
    """√(gx² + gy²) in numpy (cv2.magnitude depends on buffer alignment: identical images must
    give bit-identical results, or identical mattes would not score exactly 0)."""
    magnitude = gx * gx
    magnitude += gy * gy
    return np.sqrt(magnitude, out=magnitude)


def _dim_gradient_magnitude(
    alpha: np.ndarray, gradient: tuple[np.ndarray, np.ndarray], rescale: str = "minmax"
) -> np.ndarray:
    """|∇ mat2gray(alpha)| from the filtered alpha (or |∇ alpha| for ``rescale="none"``).

    mat2gray is affine, (a − min) / (max − min), and the filter is linear with a zero-sum
    derivative factor, so |∇ mat2gray(a)| = |∇a| / (max − min): filtering ``alpha`` once serves
    Grad and the MMNet gradient, and agrees with filtering the rescaled image to rounding
    (~1e-16). A constant image has exactly zero gradient (mat2gray maps it to a constant).
    """
    low, high = float(alpha.min()), float(alpha.max())
    if high == low:
        return np.zeros_like(alpha)
    magnitude = _hypot(*gradient)
    if rescale == "minmax" and high - low != 1.0:
        magnitude /= high - low
    return magnitude


def _mmnet_kernels(sigma: float = 1.4) -> tuple[np.ndarray, np.ndarray, int]:
    """Factors of MMNet's ``first_deriviate_gaussian_gradient`` filter (hyperconnect/MMNet).

    9×9 for σ = 1.4 (half-width int(3σ + 0.5)); g = 2-D Gaussian normalised to sum 1 (a softmax),
    gx[i, j] = −x_j · g[i, j] / σ² (x the column offset); correlation, 'VALID' padding.
    """
    half = int(3 * sigma + 0.5)
    x = np.arange(-half, half + 1, dtype=np.float64)
    g = np.exp(-(x**2) / (2.0 * sigma**2))
    g /= g.sum()
    return g, -x * g / sigma**2, half


_MMNET_SMOOTH, _MMNET_DERIVATIVE, _MMNET_HALF = _mmnet_kernels()

# Both filters are Gaussian(row) × x·Gaussian(column) with σ = 1.4 on 9×9; the kernels differ by a
# constant factor (normalisation), the outputs also by a sign (correlation vs convolution), which
# the magnitude drops. So MMNet's gradient is
# the DIM filter's output times this factor, and the filtering done for Grad serves both.
_MMNET_PER_DIM = float(
    np.abs(np.outer(_MMNET_SMOOTH, _MMNET_DERIVATIVE)[4, 5] / np.outer(_DIM_SMOOTH, _DIM_DERIVATIVE)[4, 5])
)
assert np.allclose(
    np.outer(_MMNET_SMOOTH, _MMNET_DERIVATIVE),
    _MMNET_PER_DIM * np.outer(_DIM_SMOOTH, _DIM_DERIVATIVE),
    rtol=1e-12,
    atol=0.0,
), "MMNet and DIM Gaussian-derivative filters are no longer proportional"


# --------------------------------------------------------------------------------------------
# Connectivity
# --------------------------------------------------------------------------------------------


def _first_in_column_major(component: np.ndarray, offset: tuple[int, int], height: int) -> int:
    """Column-major index, in the full image, of the first pixel of a component mask."""
    column = int(np.argmax(component.any(axis=0)))
    row = int(np.argmax(component[:, column]))
    return (column + offset[1]) * height + row + offset[0]


def _first_in_row_major(component: np.ndarray, offset: tuple[int, int], height: int) -> tuple[int, int]:
    """(row, column), in the full image, of the first pixel in row-major order."""
    row = int(np.argmax(component.any(axis=1)))
    column = int(np.argmax(component[row]))
    return row + offset[0], column + offset[1]


def _largest_component(
    mask: np.ndarray, offset: tuple[int, int], height: int, total: int, order=_first_in_column_major
):
    """Largest 4-connected component of ``mask`` (a crop at ``offset`` of an image ``height`` tall,
    holding ``total`` true pixels).

    Returns ``(size, order_key, component_mask)``, or ``(0, None, None)`` when the mask is empty.
    Ties go to the component whose first pixel in column-major order comes first (MATLAB
    ``bwconncomp`` numbering); OpenCV numbers components in its own order, so ties are resolved
    explicitly. ``order_key()`` gives that pixel's column-major index in the full image; it is
    a function because only a tie with a component outside the crop needs it.
    """
    count, labels = cv2.connectedComponents(mask.view(np.uint8), connectivity=4, ltype=cv2.CV_32S)
    if count <= 1:
        return 0, None, None
    # Usually one component holds most of the mask. Guess it from a sparse grid of pixels and
    # count it alone: holding more than half of the mask, it is the unique largest. Only when
    # the guess fails are all components counted.
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


def _bounding_box(mask: np.ndarray) -> tuple[slice, slice]:
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    return slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1)


def conn_lower_levels(levels: np.ndarray, ties: str = "column-major", empty: str = "stop") -> np.ndarray:
    """The Conn "last connected level" l of every pixel, as an integer code l·10.

    ``levels`` holds, per pixel, how many thresholds t_k = k/10 both mattes pass (the minimum of
    :func:`threshold_levels` of pred and gt), so M_k = {levels ≥ k}. Ω_k is the largest
    4-connected component of M_k; l = t_(k−1) at the first k where the pixel is not in Ω_k, and 1
    if it never leaves.

    Incremental, without relabelling the image at every threshold: Ω_k lies inside one component
    of M_(k−1), so it is either inside Ω_(k−1) or disjoint from it. Only M_k ∩ Ω_(k−1) (cropped to
    its bounding box) is labelled; the pixels of M_k outside Ω_(k−1) are labelled only when there
    are at least as many of them as the largest component inside (otherwise none of them can
    win). Once Ω_k leaves Ω_(k−1) every remaining pixel has its level and the loop stops.

    ``ties`` and ``empty`` select the conventions of other implementations (see
    :class:`Conventions`).

    Returns
    -------
    numpy.ndarray
        int8 array of (k − 1) codes in 0 … 10 (l = code / 10).
    """
    order = _first_in_column_major if ties == "column-major" else _first_in_row_major
    levels = np.asarray(levels, dtype=np.int8)
    height = levels.shape[0]
    counts_at_least = np.cumsum(np.bincount(levels.ravel(), minlength=11)[::-1])[::-1]
    lower = np.zeros(levels.shape, dtype=np.int8)  # pixels outside Ω_1 keep l = t_0 = 0

    # k = 1: the only full-image labelling.
    size, _, omega = _largest_component(levels >= 1, (0, 0), height, int(counts_at_least[1]), order)
    if size == 0:
        return lower if empty == "stop" else np.full(levels.shape, 10, dtype=np.int8)
    rows, cols = _bounding_box(omega)
    omega = omega[rows, cols]
    omega_count = size
    for k in range(2, 11):
        # Ω_(k−1) sits at (rows, cols); pixels still in it have not left any Ω yet.
        inside = omega & (levels[rows, cols] >= k)
        inside_count = int(np.count_nonzero(inside))
        if inside_count == omega_count:
            # Nothing of Ω_(k−1) drops out at this threshold: it stays one component.
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
            # M_k empty under the "skip" convention: the threshold is skipped, and since all
            # later ones are empty too, the remaining pixels end with l = 1.
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


def _conn_phi(alpha: np.ndarray, lower: np.ndarray) -> np.ndarray:
    """φ = 1 − d·[d ≥ 0.15], d = alpha − l, in place on one temporary."""
    d = alpha - lower
    d *= d >= 0.15
    return np.subtract(1.0, d, out=d)


# --------------------------------------------------------------------------------------------
# Per-pixel maps shared by the metrics
# --------------------------------------------------------------------------------------------


class _Pair:
    """Lazily computed intermediate maps for one (pred, gt) pair, so a full metric set computes
    each filter once whatever the number of regions."""

    def __init__(self, pred: np.ndarray, gt: np.ndarray, conventions: Conventions = REFERENCE):
        self.conventions = conventions
        self.pred_raw, self.gt_raw = np.asarray(pred), np.asarray(gt)
        self.pred = to_alpha(self.pred_raw)
        self.gt = to_alpha(self.gt_raw)
        self._cache: dict[str, np.ndarray] = {}

    def _get(self, name: str, make: Callable[[], np.ndarray]) -> np.ndarray:
        if name not in self._cache:
            self._cache[name] = make()
        return self._cache[name]

    def difference(self) -> np.ndarray:
        return self._get("difference", lambda: self.pred - self.gt)

    def absolute(self) -> np.ndarray:
        return self._get("absolute", lambda: np.abs(self.difference()))

    def squared(self) -> np.ndarray:
        return self._get("squared", lambda: self.difference() ** 2)

    def _dim_gradient(self, which: str) -> tuple[np.ndarray, np.ndarray]:
        key = f"dim_gradient_{which}"
        if key not in self._cache:
            self._cache[key] = _dim_gradient(self.pred if which == "pred" else self.gt)
        return self._cache[key]

    def grad_map(self) -> np.ndarray:
        def make():
            rescale = self.conventions.grad_rescale
            error = _dim_gradient_magnitude(self.pred, self._dim_gradient("pred"), rescale)
            error -= _dim_gradient_magnitude(self.gt, self._dim_gradient("gt"), rescale)
            return np.multiply(error, error, out=error)

        return self._get("grad", make)

    def conn_map(self) -> np.ndarray:
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

    def _sobel(self) -> tuple[np.ndarray, np.ndarray]:
        if "sobel_dx" not in self._cache:
            self._cache["sobel_dx"], self._cache["sobel_dy"] = sobel_gradient(
                self.difference(), self.conventions.sobel_border
            )
        return self._cache["sobel_dx"], self._cache["sobel_dy"]

    def sobel_l2_map(self) -> np.ndarray:
        def make():
            return _hypot(*self._sobel())

        return self._get("sobel_l2", make)

    def sobel_l1_map(self) -> np.ndarray:
        def make():
            dx, dy = self._sobel()
            return 0.5 * (np.abs(dx) + np.abs(dy))

        return self._get("sobel_l1", make)

    def gauss_grad_map(self) -> np.ndarray:
        def make():
            height, width = self.difference().shape
            if min(height, width) <= 2 * _MMNET_HALF:
                raise ValueError(
                    f"gauss_grad needs images larger than {2 * _MMNET_HALF}×{2 * _MMNET_HALF} "
                    f"pixels (its 'VALID' 9×9 filter), got {width}×{height}"
                )
            # Only the valid interior counts, where the border rule of the shared filtering
            # does not reach; see _MMNET_PER_DIM.
            pred_x, pred_y = self._dim_gradient("pred")
            gt_x, gt_y = self._dim_gradient("gt")
            magnitude = _hypot(pred_x - gt_x, pred_y - gt_y)
            magnitude *= _MMNET_PER_DIM
            return magnitude

        return self._get("gauss_grad", make)


def _valid_interior(shape: tuple[int, int], region: np.ndarray | None) -> np.ndarray:
    interior = np.zeros(shape, dtype=bool)
    interior[_MMNET_HALF:-_MMNET_HALF, _MMNET_HALF:-_MMNET_HALF] = True
    return interior if region is None else interior & region


# --------------------------------------------------------------------------------------------
# Registry
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MetricSpec:
    """What a metric is: how to compute it and how to read its number.

    Attributes
    ----------
    name : str
        Short identifier used in CLI options, CSV columns and results files.
    title : str
        Human name.
    reduction : str
        ``"sum"`` or ``"mean"`` over the region.
    raw_unit : str
        Unit of the raw value vbbench stores.
    display_scale : float
        Factor papers apply; ``display = raw × display_scale``.
    border : str
        How image borders are handled by the metric's filters.
    definition : str
        One-line formula.
    reference : str
        Paper and code the definition follows.
    """

    name: str
    title: str
    reduction: str
    raw_unit: str
    display_scale: float
    border: str
    definition: str
    reference: str
    _map: Callable[[_Pair], np.ndarray]

    @property
    def display_key(self) -> str:
        """Name of the scaled value, e.g. ``sad_x1e-3`` = SAD × 1e-3 (the papers' "SAD/1000")."""
        exponent = round(math.log10(self.display_scale))
        return f"{self.name}_x1e{exponent}" if exponent else self.name

    @property
    def display_unit(self) -> str:
        """How a displayed number relates to the raw one, e.g. ``raw×1e-3`` for SAD/1000."""
        exponent = round(math.log10(self.display_scale))
        return f"raw×1e{exponent}" if exponent else "raw"

    def compute(self, pair: _Pair, region: np.ndarray | None) -> float:
        per_pixel = self._map(pair)
        if self.name == "gauss_grad":
            region = _valid_interior(per_pixel.shape, region)
        if self.reduction == "sum":
            return _region_sum(per_pixel, region)
        return _region_mean(per_pixel, region, self.name)


_DIM = "Deep Image Matting evaluation code (Xu et al. 2017) after Rhemann et al. 2009"

METRICS: Mapping[str, MetricSpec] = {
    spec.name: spec
    for spec in [
        MetricSpec(
            "mad",
            "Mean absolute difference",
            "mean",
            "alpha (mean |p−g|)",
            1e3,
            "none",
            "mean_Ω |p − g|",
            "MODNet / P3M / RVM evaluation; the seed's MAD",
            _Pair.absolute,
        ),
        MetricSpec(
            "mse",
            "Mean squared error",
            "mean",
            "alpha² (mean (p−g)²)",
            1e3,
            "none",
            "mean_Ω (p − g)²",
            _DIM + " (compute_mse_loss.m)",
            _Pair.squared,
        ),
        MetricSpec(
            "sad",
            "Sum of absolute differences",
            "sum",
            "alpha·pixels (Σ |p−g|)",
            1e-3,
            "none",
            "Σ_Ω |p − g|",
            _DIM + " (compute_sad_loss.m)",
            _Pair.absolute,
        ),
        MetricSpec(
            "grad",
            "Gradient error",
            "sum",
            "(unit-kernel gradient)²·pixels",
            1e-3,
            "replicate (gradients on the full image)",
            "Σ_Ω (|∇p′| − |∇g′|)², ∇ = gaussgradient σ=1.4, p′ = mat2gray(p)",
            _DIM + " (compute_gradient_loss.m, gaussgradient.m)",
            _Pair.grad_map,
        ),
        MetricSpec(
            "conn",
            "Connectivity error",
            "sum",
            "alpha·pixels (Σ |φp−φg|)",
            1e-3,
            "none (components on the full image)",
            "Σ_Ω |φ(p) − φ(g)|, thresholds k/10, 4-connectivity, θ = 0.15",
            _DIM + " (compute_connectivity_error.m)",
            _Pair.conn_map,
        ),
        MetricSpec(
            "sobel_l2",
            "Sobel-gradient error (L2)",
            "mean",
            "alpha/pixel (mean ‖∇(p−g)‖₂)",
            1e3,
            "replicate (vbbench's choice; the seed leaves it open)",
            "mean_Ω √(dx² + dy²), dx = S∗(p−g), dy = Sᵀ∗(p−g), S = Sobel/8",
            "the seed paper's evaluation 'Gradient'",
            _Pair.sobel_l2_map,
        ),
        MetricSpec(
            "sobel_l1",
            "Sobel-gradient error (L1, the training loss)",
            "mean",
            "alpha/pixel (mean ½(|dx|+|dy|))",
            1e3,
            "replicate (vbbench's choice; the seed leaves it open)",
            "mean_Ω ½(|dx| + |dy|), dx = S∗(p−g), dy = Sᵀ∗(p−g), S = Sobel/8",
            "the seed paper's gradient loss L3",
            _Pair.sobel_l1_map,
        ),
        MetricSpec(
            "gauss_grad",
            "Gaussian-gradient error (MMNet)",
            "mean",
            "alpha/pixel (mean ‖∇p−∇g‖₂)",
            1e3,
            "valid (only pixels ≥ 4 px from the border count, as MMNet's 'VALID' convolution)",
            "mean_Ω ‖∇p − ∇g‖₂, ∇ = first-derivative-of-Gaussian σ=1.4, 9×9, sum-1 Gaussian",
            "MMNet (Seo & Kim 2019) GAUSS_GRAD, hyperconnect/MMNet metrics",
            _Pair.gauss_grad_map,
        ),
    ]
}


def _metric(name: str, pred, gt, region, conventions: Conventions | None = None) -> float:
    _check_pair(pred, gt, region)
    return METRICS[name].compute(_Pair(pred, gt, conventions or REFERENCE), region)


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
