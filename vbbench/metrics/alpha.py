"""Input conversion and region reductions shared by every metric.

Mattes may be ``uint8`` codes ``v`` (alpha = v / 255), ``uint16`` codes (alpha = v / 65535),
floating-point alpha in [0, 1] (not clamped) or ``bool`` masks. Integer inputs are compared
against the Conn thresholds in exact integer arithmetic; float inputs with
:data:`FLOAT_THRESHOLD_TOLERANCE`, which cannot misclassify any 8- or 16-bit code (their distance
from a threshold k/10 is 0 or at least 1/655350) but lets ``v / 255`` computed in floating point
behave exactly like the integer ``v``.
"""

from __future__ import annotations

import cv2
import numpy as np

from vbbench.errors import MatteError

__all__ = [
    "FLOAT_THRESHOLD_TOLERANCE",
    "EmptyRegionError",
    "to_alpha",
    "threshold_levels",
    "check_pair",
    "region_sum",
    "region_mean",
]

#: Tolerance used when float alpha is compared with a Conn threshold k/10 (see module docstring).
FLOAT_THRESHOLD_TOLERANCE = 1e-9


class EmptyRegionError(MatteError):
    """A mean over the region was asked for, but the region holds no pixel."""


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


def check_pair(pred: np.ndarray, gt: np.ndarray, region: np.ndarray | None) -> None:
    if np.shape(pred) != np.shape(gt):
        raise ValueError(f"pred and gt differ in shape: {np.shape(pred)} vs {np.shape(gt)}")
    if region is not None:
        if np.shape(region) != np.shape(gt):
            raise ValueError(f"region and gt differ in shape: {np.shape(region)} vs {np.shape(gt)}")
        if np.asarray(region).dtype != np.bool_:
            raise TypeError("region must be a boolean mask (e.g. trimap == 128)")


def region_sum(per_pixel: np.ndarray, region: np.ndarray | None) -> float:
    if region is None:
        return float(per_pixel.sum(dtype=np.float64))
    return float(per_pixel[region].sum(dtype=np.float64))


def region_mean(per_pixel: np.ndarray, region: np.ndarray | None, metric: str) -> float:
    values = per_pixel if region is None else per_pixel[region]
    if values.size == 0:
        raise EmptyRegionError(
            f"{metric}: the region holds no pixel, so the mean is undefined (a trimap without unknown pixels?)"
        )
    return float(values.mean(dtype=np.float64))
