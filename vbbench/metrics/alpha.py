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
    "levels_of_codes",
    "CODE_MAX",
    "checked_matte",
    "alpha_values",
    "common_codes",
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
    return alpha_values(checked_matte(matte))


def alpha_values(matte: np.ndarray) -> np.ndarray:
    """float64 alpha of a matte that passed :func:`checked_matte` (:func:`to_alpha` without the
    checks)."""
    if matte.dtype == np.uint8:
        return matte / 255.0
    if matte.dtype == np.uint16:
        return matte / 65535.0
    if matte.dtype == np.bool_:
        return matte.astype(np.float64)
    return matte.astype(np.float64, copy=False)


#: Largest code of each integer matte type: alpha = v / CODE_MAX[dtype].
CODE_MAX = {np.dtype(np.uint8): 255, np.dtype(np.uint16): 65535, np.dtype(np.bool_): 1}


def checked_matte(matte) -> np.ndarray:
    """The checks of :func:`to_alpha` without the conversion: integer codes stay codes.

    Examples
    --------
    >>> checked_matte(np.zeros((2, 2), np.uint8)).dtype
    dtype('uint8')
    """
    matte = np.asarray(matte)
    if matte.ndim != 2:
        raise ValueError(f"a matte must be a 2-D array (H, W), got shape {matte.shape}")
    if matte.dtype in CODE_MAX:
        return matte
    if np.issubdtype(matte.dtype, np.floating):
        if not np.all(np.isfinite(matte)):
            raise ValueError("the matte holds NaN or infinite values")
        return matte
    raise TypeError(f"unsupported matte dtype {matte.dtype}: use uint8, uint16, bool or float alpha in [0, 1]")


def common_codes(pred: np.ndarray, gt: np.ndarray) -> tuple[np.ndarray, np.ndarray, int] | None:
    """Both mattes as contiguous integer codes of one scale M, and M; None if either is float.

    255 divides 65535 (= 255·257) and 1 divides both, so uint8, uint16 and bool codes convert
    exactly to the larger scale: v/255 = 257·v/65535. The codes are uint8 for M ≤ 255, else
    uint16.

    Examples
    --------
    >>> p, g, m = common_codes(np.array([[1]], np.uint8), np.array([[True]]))
    >>> p.dtype, g.tolist(), m
    (dtype('uint8'), [[255]], 255)
    """
    if pred.dtype not in CODE_MAX or gt.dtype not in CODE_MAX:
        return None
    code_max = max(CODE_MAX[pred.dtype], CODE_MAX[gt.dtype])
    dtype = np.uint16 if code_max == 65535 else np.uint8

    def convert(matte: np.ndarray) -> np.ndarray:
        factor = code_max // CODE_MAX[matte.dtype]
        if matte.dtype == np.bool_:
            matte = matte.view(np.uint8)
        if factor == 1 and matte.dtype == dtype:
            return np.ascontiguousarray(matte)
        return np.ascontiguousarray(matte.astype(dtype) * dtype(factor))

    return convert(pred), convert(gt), code_max


def threshold_levels(matte: np.ndarray, thresholds: str = "exact") -> np.ndarray:
    """How many Conn thresholds t_k = k/10 (k = 1 … 10) each pixel passes.

    A pixel passes t_k iff alpha ≥ k/10, decided exactly: ``10·v ≥ 255·k`` for uint8,
    ``10·v ≥ 65535·k`` for uint16; floats with :data:`FLOAT_THRESHOLD_TOLERANCE`. Since the
    thresholds are nested, the pixel passes exactly t_1 … t_level. ``thresholds="float64"``
    reproduces the ports' ``np.arange(0, 1.1, 0.1)`` comparison (which rejects v = 153 at 0.6).

    Parameters
    ----------
    matte : numpy.ndarray
        2-D ``uint8``, ``uint16``, ``bool`` or float alpha.
    thresholds : {"exact", "float64"}
        The ``conn_thresholds`` convention.

    Returns
    -------
    numpy.ndarray
        int8 array in 0 … 10.

    Examples
    --------
    >>> threshold_levels(np.array([[25, 26, 153, 255]], dtype=np.uint8))
    array([[ 0,  1,  6, 10]], dtype=int8)
    >>> threshold_levels(np.array([[25, 26, 153, 255]], dtype=np.uint8), "float64")
    array([[ 0,  1,  5, 10]], dtype=int8)
    """
    matte = checked_matte(matte)
    if matte.dtype in CODE_MAX:
        codes = matte.view(np.uint8) if matte.dtype == np.bool_ else matte
        return levels_of_codes(np.ascontiguousarray(codes), CODE_MAX[matte.dtype], thresholds)
    alpha = matte.astype(np.float64, copy=False)
    if thresholds == "float64":
        return np.searchsorted(_FLOAT64_STEPS, alpha, side="right").astype(np.int8)
    levels = np.floor(alpha * 10.0 + 10.0 * FLOAT_THRESHOLD_TOLERANCE)
    return np.clip(levels, 0, 10).astype(np.int8)


def levels_of_codes(codes: np.ndarray, code_max: int, thresholds: str = "exact") -> np.ndarray:
    """:func:`threshold_levels` of contiguous integer codes (alpha = codes / code_max), int8."""
    from vbbench.metrics import _conn_kernels

    out = np.empty(codes.shape, np.int8)
    if thresholds == "float64":
        # The ports' comparison alpha ≥ np.arange(0, 1.1, 0.1)[k], tabulated per code with the
        # same float64 alpha (v / M) as to_alpha.
        table = np.searchsorted(_FLOAT64_STEPS, np.arange(code_max + 1) / float(code_max), side="right")
        table = table.astype(np.int8)
        if codes.dtype == np.uint8:  # uint8 codes, or bool as 0/1 (the rest of the table unused)
            return cv2.LUT(codes, np.resize(table, 256).view(np.uint8)).view(np.int8)
        _conn_kernels.lookup(codes, table, out)
        return out
    if code_max == 255:
        # 10·v ≥ 255·k exactly, tabulated; OpenCV's lookup is 20× faster than the division
        return cv2.LUT(codes, _LEVELS_8BIT).view(np.int8)
    _conn_kernels.levels_by_division(codes, code_max, out)  # ⌊10·v / M⌋ in integers
    return out


_LEVELS_8BIT = ((np.arange(256, dtype=np.int64) * 10) // 255).astype(np.uint8)
_LEVELS_8BIT.setflags(write=False)
_FLOAT64_STEPS = np.arange(0, 1.1, 0.1)[1:]  # what np.arange thresholds give (the ports)
_FLOAT64_STEPS.setflags(write=False)


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
