"""Input conversion and region reductions shared by every metric.

Mattes may be ``uint8`` codes ``v`` (alpha = v / 255), ``uint16`` codes (alpha = v / 65535),
floating-point alpha in [0, 1] or ``bool`` masks. Integer inputs are compared
against the Conn thresholds in exact integer arithmetic; float inputs with
:data:`FLOAT_THRESHOLD_TOLERANCE`, which cannot misclassify any 8- or 16-bit code (their distance
from a threshold k/10 is 0 or at least 1/655350) but lets ``v / 255`` computed in floating point
behave exactly like the integer ``v``.

Which plane of an array is the matte is decided in one place, :func:`matte_plane`, for arrays and
files alike (:func:`vbbench.io.read_matte` calls it): ``(H, W)``, ``(H, W, 1)``, three equal
channels (grey saved as colour, a common tool output) and a last alpha channel are accepted; a
fully opaque alpha over colour channels that hold something else is refused, because the matte is
then in the colour channels (as several tools save it) and reading the alpha would score an
all-foreground matte. Floats must lie in [0, 1] (:data:`FLOAT_RANGE_TOLERANCE`): ``0 … 255`` floats
are refused instead of being read as alpha 255 times too large.
"""

from __future__ import annotations

import cv2
import numpy as np

from vbbench.errors import MatteError

__all__ = [
    "FLOAT_THRESHOLD_TOLERANCE",
    "FLOAT_RANGE_TOLERANCE",
    "MATTE_CHANNELS",
    "matte_plane",
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

#: How far float alpha may stray outside [0, 1] and still be taken as is (not clamped): float32
#: model outputs and bilinear resizes overshoot by an ulp or so; 0–255 floats overshoot by 254.
FLOAT_RANGE_TOLERANCE = 1e-6

#: How :func:`matte_plane` may be told which plane is the matte (the CLI's ``--matte-channel``).
MATTE_CHANNELS = ("auto", "alpha", "gray")


class EmptyRegionError(MatteError):
    """A mean over the region was asked for, but the region holds no pixel."""


def _full_scale(dtype: np.dtype) -> float | None:
    """The value of an opaque pixel in a matte of this dtype (None: not a matte dtype)."""
    if dtype == np.uint8:
        return 255
    if dtype == np.uint16:
        return 65535
    if dtype == np.bool_:
        return True
    if np.issubdtype(dtype, np.floating):
        return 1.0
    return None


def _equal_channels(colour: np.ndarray) -> np.ndarray | None:
    """The first channel if every channel of ``colour`` (H, W, C) equals it, else None."""
    first = colour[:, :, 0]
    for index in range(1, colour.shape[2]):
        if not np.array_equal(colour[:, :, index], first):
            return None
    return first


def matte_plane(
    matte: np.ndarray, channel: str = "auto", where: str = "the matte", option: str | None = "--matte-channel"
) -> np.ndarray:
    """The 2-D matte held by an array of shape (H, W), (H, W, 1), (H, W, 2/3/4).

    The one rule for files and arrays (``vbbench.io.read_matte`` applies it to decoded files):

    * (H, W) and (H, W, 1): the matte itself.
    * three channels (H, W, 3): grey saved as colour if all three are equal; else refused (a
      colour image is no matte).
    * grey+alpha (H, W, 2) and colour+alpha (H, W, 4, alpha last; BGRA or RGBA alike): the alpha
      channel, *unless* the alpha is fully opaque while the colour channels are not all opaque:
      then the matte is most likely in the colour channels (as several tools save it) and reading
      the alpha would score an all-foreground matte, so it is refused and the message says how to
      choose.

    ``channel="alpha"`` takes the last channel of a 2- or 4-channel array whatever it holds;
    ``channel="gray"`` takes the colour channels, which must be equal.

    Parameters
    ----------
    matte : numpy.ndarray
        The array.
    channel : {"auto", "alpha", "gray"}
        Which plane is the matte (see above).
    where : str
        What to name in errors (a file's path).
    option : str or None
        The command-line option that chooses the channel, named in the fix; None where there is
        none (ground truth: the fix is to re-save the file).

    Returns
    -------
    numpy.ndarray
        2-D array of the input's dtype (a view when possible).

    Raises
    ------
    MatteError
        An unusable shape, differing colour channels, or an opaque alpha over other colour.

    Examples
    --------
    >>> grey = np.array([[0, 128]], np.uint8)
    >>> matte_plane(np.dstack([grey] * 3)).tolist()
    [[0, 128]]
    >>> opaque = np.dstack([grey, np.full_like(grey, 255)])
    >>> matte_plane(opaque)
    Traceback (most recent call last):
    ...
    vbbench.errors.MatteError: the matte: the alpha channel is fully opaque (255 everywhere) while the colour channels are not; the matte is probably in the colour channels, as several tools save it: pass --matte-channel gray (channel='gray' in Python) to read them, or --matte-channel alpha to score the opaque alpha as an all-foreground matte
    >>> matte_plane(opaque, "gray").tolist()
    [[0, 128]]
    """
    if channel not in MATTE_CHANNELS:
        raise MatteError(f"matte channel {channel!r} is not one of {', '.join(MATTE_CHANNELS)}")
    matte = np.asarray(matte)
    if matte.ndim == 2 or (matte.ndim == 3 and matte.shape[2] == 1):
        plane = matte if matte.ndim == 2 else matte[:, :, 0]
        if channel == "alpha":
            raise MatteError(f"{where}: a single-channel matte has no alpha channel; do not ask for the alpha channel")
        return plane
    if matte.ndim != 3 or matte.shape[2] not in (2, 3, 4):
        raise MatteError(
            f"{where}: a matte must be an array (H, W), (H, W, 1), (H, W, 3) with three equal channels or "
            f"(H, W, 2/4) with the matte in the last (alpha) channel; got shape {matte.shape}"
        )
    channels = matte.shape[2]
    has_alpha = channels in (2, 4)
    colour = matte[:, :, : channels - 1] if has_alpha else matte
    if channel == "alpha":
        if not has_alpha:
            raise MatteError(f"{where}: {channels} channels and no alpha channel; do not ask for the alpha channel")
        return np.ascontiguousarray(matte[:, :, -1])
    grey = _equal_channels(colour)
    if channel == "gray" or not has_alpha:
        if grey is None:
            raise MatteError(
                f"{where}: {colour.shape[2]} colour channels with different values; a matte must be single-channel "
                "grayscale, three equal channels, or RGBA with the matte in the alpha channel (convert colour "
                "images to grayscale first)"
            )
        return np.ascontiguousarray(grey)
    alpha = matte[:, :, -1]
    full = _full_scale(matte.dtype)
    if full is not None and alpha.size and bool(np.all(alpha == full)) and not bool(np.all(colour == full)):
        shown = "True" if matte.dtype == np.bool_ else repr(full)
        if option is not None:
            fix = (
                f"pass {option} gray (channel='gray' in Python) to read them, or {option} alpha to score the "
                "opaque alpha as an all-foreground matte"
            )
        else:
            fix = "re-save it as a single-channel grayscale PNG"
        raise MatteError(
            f"{where}: the alpha channel is fully opaque ({shown} everywhere) while the colour channels are not; "
            f"the matte is probably in the colour channels, as several tools save it: {fix}"
        )
    return np.ascontiguousarray(alpha)


def to_alpha(matte: np.ndarray, *, float_scale: float = 1.0, where: str | None = None) -> np.ndarray:
    """Convert a matte to float64 alpha.

    Parameters
    ----------
    matte : numpy.ndarray
        A matte array as :func:`matte_plane` accepts it: ``uint8`` (alpha = v / 255),
        ``uint16`` (alpha = v / 65535), ``bool`` (0 or 1) or floating point (alpha = v /
        ``float_scale``, which must lie in [0, 1] within :data:`FLOAT_RANGE_TOLERANCE`; not
        clamped).
    float_scale : float
        What a float input counts in: 1 (alpha, the default) or e.g. 255 for floats holding 8-bit
        codes. Integer inputs ignore it (their dtype says their scale).
    where : str, optional
        What to name in errors (``"pred"``, a file's path).

    Returns
    -------
    numpy.ndarray
        float64 array (H, W).

    Raises
    ------
    MatteError
        Floats outside [0, 1], NaN or infinite values, an unusable shape or dtype.

    Examples
    --------
    >>> to_alpha(np.array([[0, 51, 255]], dtype=np.uint8))
    array([[0. , 0.2, 1. ]])
    >>> to_alpha(np.array([[0.0, 51.0, 255.0]]))
    Traceback (most recent call last):
    ...
    vbbench.errors.MatteError: float alpha must lie in [0, 1], but this matte spans [0, 255]; it looks like 8-bit codes: pass the uint8 array, or to_alpha(x, float_scale=255)
    >>> to_alpha(np.array([[0.0, 51.0, 255.0]]), float_scale=255)
    array([[0. , 0.2, 1. ]])
    """
    if float_scale != 1.0:
        plane = matte_plane(matte, where=where or "the matte")
        if np.issubdtype(plane.dtype, np.floating):
            if not (float_scale > 0 and np.isfinite(float_scale)):
                named = f"{where}: " if where else ""
                raise MatteError(f"{named}float_scale must be a positive number, got {float_scale!r}")
            # The range is checked on the scaled values, so 0 … 255 floats with float_scale=255 pass.
            return checked_matte(plane.astype(np.float64) / float_scale, where=where, scaled=True)
    return alpha_values(checked_matte(matte, where=where))


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


def checked_matte(matte, where: str | None = None, *, scaled: bool = False) -> np.ndarray:
    """The checks of :func:`to_alpha` without the conversion: integer codes stay codes.

    The plane is chosen by :func:`matte_plane`; integer types must be uint8, uint16 or bool;
    floats must be finite and lie in [0, 1] within :data:`FLOAT_RANGE_TOLERANCE`.

    Parameters
    ----------
    matte : array_like
        The matte.
    where : str, optional
        What to name in errors (``"pred"``, a file's path).
    scaled : bool
        The floats were already divided by a ``float_scale`` (the hints then do not suggest one).

    Returns
    -------
    numpy.ndarray
        The 2-D matte, of the input's dtype.

    Raises
    ------
    MatteError
        An unusable shape or dtype, NaN or infinite values, floats outside [0, 1].

    Examples
    --------
    >>> checked_matte(np.zeros((2, 2), np.uint8)).dtype
    dtype('uint8')
    """
    named = f"{where}: " if where else ""
    matte = matte_plane(matte, where=where or "the matte")
    if matte.dtype in CODE_MAX:
        return matte
    if not np.issubdtype(matte.dtype, np.floating):
        raise MatteError(
            f"{named}unsupported matte dtype {matte.dtype}: use uint8, uint16, bool or float alpha in [0, 1]"
            + (
                " (integer codes 0–255 as uint8: x.astype(numpy.uint8))"
                if np.issubdtype(matte.dtype, np.integer)
                else ""
            )
        )
    if matte.size == 0:
        return matte
    low, high = float(matte.min()), float(matte.max())
    if not (np.isfinite(low) and np.isfinite(high)):
        raise MatteError(f"{named}the matte holds NaN or infinite values")
    if low < -FLOAT_RANGE_TOLERANCE or high > 1.0 + FLOAT_RANGE_TOLERANCE:
        if low >= 0 and high <= 255 and not scaled:
            hint = "it looks like 8-bit codes: pass the uint8 array, or to_alpha(x, float_scale=255)"
        elif low >= 0 and high <= 65535 and not scaled:
            hint = "it looks like 16-bit codes: pass the uint16 array, or to_alpha(x, float_scale=65535)"
        else:
            hint = "clip it first (numpy.clip(x, 0, 1)) if the overshoot is the model's own"
        raise MatteError(f"{named}float alpha must lie in [0, 1], but this matte spans [{low:g}, {high:g}]; {hint}")
    return matte


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
    """Check that ``pred`` and ``gt`` (2-D planes, see :func:`matte_plane`) and ``region`` agree."""
    if np.shape(pred) != np.shape(gt):
        raise MatteError(f"pred and gt differ in shape: {np.shape(pred)} vs {np.shape(gt)}")
    if region is not None:
        if np.shape(region) != np.shape(gt):
            raise MatteError(f"region and gt differ in shape: {np.shape(region)} vs {np.shape(gt)}")
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
