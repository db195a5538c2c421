"""The gradient filters of the metrics: DIM's ``gaussgradient``, the seed's Sobel, MMNet's.

Their kernels are defined here once. The metrics filter with compiled loops
(:func:`dim_gradient32`; the Sobel maps are fused into one pass in ``maps.py``);
:func:`sobel_gradient` is the float64 OpenCV form for other callers (the training loss's
operator, tests). All filtering is true 2-D convolution, borders as each metric's reference
defines them.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

__all__ = [
    "dim_gradient_kernels",
    "dim_gradient32",
    "dim_gradient_padded",
    "sobel_gradient",
    "SOBEL_KERNEL",
    "MMNET_HALF",
    "MMNET_PER_DIM",
]

_BORDERS = {"replicate": cv2.BORDER_REPLICATE, "reflect": cv2.BORDER_REFLECT_101, "zero": cv2.BORDER_CONSTANT}


def filter_separable(
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
    dx = filter_separable(image, _SOBEL_SMOOTH, _SOBEL_DERIVATIVE, border)
    dy = filter_separable(image, _SOBEL_DERIVATIVE, _SOBEL_SMOOTH, border)
    return dx, dy


#: DIM gaussgradient taps for the compiled filter (:func:`dim_gradient32`), float32: G(0) … G(4)
#: of the symmetric smoothing, and d_t = G′(−t) (t = 1 … 4), the convolution's weight of x[i+t]
#: (x[i−t] gets −d_t).
_DIM_SMOOTH32 = _DIM_SMOOTH[4:].astype(np.float32)
_DIM_DERIVATIVE32 = _DIM_DERIVATIVE[3::-1].astype(np.float32)
_DIM_SMOOTH32.setflags(write=False)
_DIM_DERIVATIVE32.setflags(write=False)


def dim_gradient32(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(gx, gy) of the DIM ``gaussgradient`` filter (true convolution, replicated borders) in
    float32, derivative first on exact differences.

    Integer images (codes, or sums and differences of codes: |x| < 2^24) are filtered from
    exact float32 differences; float images take their differences in float64 and round them
    once. Rounding is then relative to the local variation of the image, never to its values
    (OpenCV's float32 ``sepFilter2D`` smooths first: on a plateau of 255 it leaves gradients of
    1e-5 codes, which biased Grad by 4e-5 relative when pred had one-code dents in the opaque
    region). The outputs are in the image's own units.

    Parameters
    ----------
    image : numpy.ndarray
        2-D integer or float array.

    Returns
    -------
    (gx, gy) : tuple of numpy.ndarray
        float32 arrays of the image's shape.

    Examples
    --------
    A ramp rising one unit per column: gx = ΣG · Σ_j j·(−G′(j)) = 9.6838308… inside, gy = 0.

    >>> gx, gy = dim_gradient32(np.tile(np.arange(12, dtype=np.int16), (12, 1)))
    >>> round(float(gx[6, 6]), 5), bool(np.all(gy == 0))
    (9.68383, True)
    """
    integer = bool(np.issubdtype(image.dtype, np.integer))
    # integer codes and their differences are exact in float32
    source = image.astype(np.float32) if integer else np.asarray(image, dtype=np.float64)
    return dim_gradient_padded(cv2.copyMakeBorder(source, 4, 4, 4, 4, cv2.BORDER_REPLICATE), integer)


def dim_gradient_padded(padded: np.ndarray, integer: bool) -> tuple[np.ndarray, np.ndarray]:
    """:func:`dim_gradient32` of an image already given its 4-pixel replicated border: float32
    holding integers (``integer``) or float64."""
    from vbbench.metrics import _kernels

    shape = (padded.shape[0] - 8, padded.shape[1] - 8)
    gx = np.empty(shape, np.float32)
    gy = np.empty(shape, np.float32)
    _kernels.dim_gradient(padded, integer, _DIM_SMOOTH32, _DIM_DERIVATIVE32, gx, gy)
    return gx, gy


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


_MMNET_SMOOTH, _MMNET_DERIVATIVE, MMNET_HALF = _mmnet_kernels()

# Both filters are Gaussian(row) × x·Gaussian(column) with σ = 1.4 on 9×9; the kernels differ by a
# constant factor (normalisation), the outputs also by a sign (correlation vs convolution), which
# the magnitude drops. So MMNet's gradient is
# the DIM filter's output times this factor, and the filtering done for Grad serves both.
MMNET_PER_DIM = float(
    np.abs(np.outer(_MMNET_SMOOTH, _MMNET_DERIVATIVE)[4, 5] / np.outer(_DIM_SMOOTH, _DIM_DERIVATIVE)[4, 5])
)
assert np.allclose(
    np.outer(_MMNET_SMOOTH, _MMNET_DERIVATIVE),
    MMNET_PER_DIM * np.outer(_DIM_SMOOTH, _DIM_DERIVATIVE),
    rtol=1e-12,
    atol=0.0,
), "MMNet and DIM Gaussian-derivative filters are no longer proportional"
