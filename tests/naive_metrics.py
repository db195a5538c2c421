"""Straightforward, independent implementations of the metrics, written from the reference code.

They transcribe the Deep Image Matting MATLAB files line by line (full 2-D 9×9 convolution built
with loops like ``gaussgradient.m``; whole-image labelling at every threshold like
``compute_connectivity_error.m``, with MATLAB's column-major component order), the seed's Sobel
operator as an explicit 3×3 kernel and MMNet's TensorFlow filter (softmax Gaussian, 'VALID'
correlation). vbbench's fast metrics are tested against them and
``benchmarks/bench_metrics.py`` times both. Integer inputs only (codes ``v`` with a maximum
``code_max``), so thresholds are exact by construction.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage, signal


def alpha(codes: np.ndarray, code_max: int) -> np.ndarray:
    return codes.astype(np.float64) / code_max


def sad(p, g, region=None):
    error = np.abs(p - g)
    return error.sum() if region is None else error[region].sum()


def mse(p, g, region=None):
    error = (p - g) ** 2
    return error.mean() if region is None else error[region].mean()


def mad(p, g, region=None):
    error = np.abs(p - g)
    return error.mean() if region is None else error[region].mean()


def _gauss(x, sigma):
    return math.exp(-(x**2) / (2 * sigma**2)) / (sigma * math.sqrt(2 * math.pi))


def _dgauss(x, sigma):
    return -x * _gauss(x, sigma) / sigma**2


def gaussgradient(image, sigma=1.4):
    """``gaussgradient.m``: loops build hx, a full 2-D convolution with replicated borders."""
    epsilon = 1e-2
    halfsize = math.ceil(sigma * math.sqrt(-2 * math.log(math.sqrt(2 * math.pi) * sigma * epsilon)))
    size = 2 * halfsize + 1
    hx = np.zeros((size, size))
    for i in range(size):
        for j in range(size):
            hx[i, j] = _gauss(i - halfsize, sigma) * _dgauss(j - halfsize, sigma)
    hx = hx / math.sqrt(np.sum(np.abs(hx) * np.abs(hx)))
    hy = hx.T
    padded = np.pad(image, halfsize, mode="edge")
    gx = signal.convolve2d(padded, hx, mode="valid")
    gy = signal.convolve2d(padded, hy, mode="valid")
    return gx, gy


def _mat2gray(image):
    low, high = image.min(), image.max()
    return np.zeros_like(image) if high == low else (image - low) / (high - low)


def grad(p, g, region=None, rescale="minmax"):
    norm = _mat2gray if rescale == "minmax" else (lambda image: image)
    pred_x, pred_y = gaussgradient(norm(p))
    target_x, target_y = gaussgradient(norm(g))
    error = (np.sqrt(pred_x**2 + pred_y**2) - np.sqrt(target_x**2 + target_y**2)) ** 2
    return error.sum() if region is None else error[region].sum()


def conn(p_codes, g_codes, code_max, region=None, thresholds="exact", ties="column-major", empty="stop"):
    """``compute_connectivity_error.m`` with step 0.1, thresholds compared exactly.

    The keyword arguments switch to the choices of other ports: float64 ``np.arange`` thresholds,
    row-major component order (skimage), skipping thresholds without components (P3M)."""
    pred, target = alpha(p_codes, code_max), alpha(g_codes, code_max)
    four = ndimage.generate_binary_structure(2, 1)
    l_map = np.full(pred.shape, -1.0)
    for k in range(1, 11):
        if thresholds == "exact":
            both = (10 * p_codes.astype(np.int64) >= code_max * k) & (10 * g_codes.astype(np.int64) >= code_max * k)
        else:
            step = np.arange(0, 1.1, 0.1)[k]
            both = (pred >= step) & (target >= step)
        if ties == "column-major":
            # Labelling the transpose numbers components in column-major order, like bwconncomp.
            labels, count = ndimage.label(both.T, structure=four)
            labels = labels.T
        else:
            labels, count = ndimage.label(both, structure=four)
        if count == 0 and empty == "skip":
            continue
        omega = np.zeros(pred.shape, dtype=bool)
        if count:
            sizes = np.bincount(labels.ravel())[1:]
            omega = labels == (int(np.argmax(sizes)) + 1)
        flag = (l_map == -1) & ~omega
        l_map[flag] = (k - 1) / 10
    l_map[l_map == -1] = 1
    pred_d, target_d = pred - l_map, target - l_map
    pred_phi = 1 - pred_d * (pred_d >= 0.15)
    target_phi = 1 - target_d * (target_d >= 0.15)
    error = np.abs(pred_phi - target_phi)
    return error.sum() if region is None else error[region].sum()


SOBEL = np.array([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]]) / 8


_PADS = {"replicate": "edge", "reflect": "reflect", "zero": "constant"}


def _sobel(difference, border="replicate"):
    padded = np.pad(difference, 1, mode=_PADS[border])
    return signal.convolve2d(padded, SOBEL, mode="valid"), signal.convolve2d(padded, SOBEL.T, mode="valid")


def sobel_l2(p, g, region=None, border="replicate"):
    dx, dy = _sobel(p - g, border)
    per_pixel = np.sqrt(dx**2 + dy**2)
    return per_pixel.mean() if region is None else per_pixel[region].mean()


def sobel_l1(p, g, region=None, border="replicate"):
    dx, dy = _sobel(p - g, border)
    per_pixel = 0.5 * (np.abs(dx) + np.abs(dy))
    return per_pixel.mean() if region is None else per_pixel[region].mean()


def gauss_grad(p, g, region=None, sigma=1.4):
    """MMNet ``GaussianGradMetricOp``: softmax-normalised 2-D Gaussian, 'VALID' correlation."""
    half = int(3 * sigma + 0.5)
    coords = np.arange(2 * half + 1) - half
    exponent = -0.5 * (coords[None, :] ** 2 + coords[:, None] ** 2) / sigma**2
    gaussian = np.exp(exponent) / np.exp(exponent).sum()
    fx = -coords[None, :] * gaussian / sigma**2
    fy = -coords[:, None] * gaussian / sigma**2
    gx = signal.correlate2d(p, fx, mode="valid") - signal.correlate2d(g, fx, mode="valid")
    gy = signal.correlate2d(p, fy, mode="valid") - signal.correlate2d(g, fy, mode="valid")
    per_pixel = np.sqrt(gx**2 + gy**2)
    if region is not None:
        per_pixel = per_pixel[region[half:-half, half:-half]]
    return per_pixel.mean()


def all_metrics(p_codes, g_codes, code_max, region=None):
    p, g = alpha(p_codes, code_max), alpha(g_codes, code_max)
    return {
        "mad": mad(p, g, region),
        "mse": mse(p, g, region),
        "sad": sad(p, g, region),
        "grad": grad(p, g, region),
        "conn": conn(p_codes, g_codes, code_max, region),
        "sobel_l2": sobel_l2(p, g, region),
        "sobel_l1": sobel_l1(p, g, region),
        "gauss_grad": gauss_grad(p, g, region),
    }


def random_soft_matte(rng, shape, code_max=255, blur=6.0, plateaus=True):
    """A random soft matte: blurred noise squashed to [0, 1] with opaque/transparent plateaus,
    several blobs (so connectivity has several components) and exact plateau codes."""
    field = ndimage.gaussian_filter(rng.standard_normal(shape), blur)
    field = field / (field.std() + 1e-12)
    soft = 1.0 / (1.0 + np.exp(-3.0 * field))
    if plateaus:
        soft = np.clip((soft - 0.2) / 0.6, 0.0, 1.0)
    codes = np.round(soft * code_max).astype(np.uint16 if code_max > 255 else np.uint8)
    return codes
