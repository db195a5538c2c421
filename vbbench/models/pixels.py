"""The pixel work of the virtual-background pipeline: fit the background, resize, blend, blur.

* :func:`fit_background` — ``cover`` (crop to fill, the default), ``contain`` (letterbox) or
  ``stretch``, with the exact geometry in its docstring.
* :func:`fast_resize` — area downscale in two steps (an exact k×k block mean, then INTER_AREA);
  at 1920×1080 → 256×144 (k = 2) within 2 codes of one-step INTER_AREA on the real clip's frames
  (mean 0.11, ``benchmarks/bench_pipeline.py``) and 2–2.5× faster; at the other usual sizes it is
  one-step INTER_AREA itself.
* :func:`blend` — person over background in one pass over uint8, exact integer rounding of
  ``(f·a + g·(255 − a)) / 255``, within 1 code of the float formula: one numba ``nogil``
  kernel, about 10× faster at 1080p than ``cv2.blendLinear`` with the per-frame ``1 − m`` it
  needs (1.6 ms against 17 ms, measured on the 2-core test machine under load).
* :func:`blur_background` — the call's "blur my background": a Gaussian of σ frame pixels,
  computed at reduced resolution and kept off the person (normalized convolution).

numba (extra ``video``) compiles the blend kernel on first use and caches it on disk; without
numba, :func:`blend` falls back to ``cv2.blendLinear`` (within 1 code of the exact result).
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from vbbench.errors import UsageError

__all__ = ["FIT_MODES", "fit_background", "fast_resize", "blend", "blur_background"]

FIT_MODES = ("cover", "contain", "stretch")


def _resize(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """INTER_AREA when shrinking in both directions, INTER_LINEAR otherwise."""
    if image.shape[1] == width and image.shape[0] == height:
        return image.copy()
    shrink = image.shape[1] >= width and image.shape[0] >= height
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)


def fit_background(
    image: np.ndarray, width: int, height: int, mode: str = "cover", fill: tuple[int, int, int] = (0, 0, 0)
) -> np.ndarray:
    """A background image (BGR uint8, h×w) fitted to a width×height frame.

    Geometry (``floor(x + 0.5)`` rounding; resampling INTER_AREA when shrinking, INTER_LINEAR when
    enlarging):

    ``cover`` (default)
        Crop, no distortion: the centred crop of the image with the frame's aspect ratio —
        if ``w·height > width·h`` (image relatively wider) the crop is ``cw = round(h·width/height)``
        × ``h`` at ``x0 = (w − cw) // 2``, else ``w`` × ``ch = round(w·height/width)`` at
        ``y0 = (h − ch) // 2`` — resized to width×height. The two scale factors differ by the crop's
        rounding only (< 0.5 source pixel over the crop, i.e. < 1/(2·cw) relative).
    ``contain``
        Letterbox, no distortion: the whole image scaled by ``s = min(width/w, height/h)`` to
        ``round(w·s)`` × ``round(h·s)`` (the limiting side exactly width or height), centred at
        ``((width − sw) // 2, (height − sh) // 2)`` on ``fill`` (BGR).
    ``stretch``
        The whole image resized to width×height (today's behaviour; distorts unless aspects match).
    """
    if mode not in FIT_MODES:
        raise UsageError(f"--fit {mode}: choose one of {', '.join(FIT_MODES)}")
    if image.ndim == 2:
        image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    elif image.shape[2] == 4:
        image = image[:, :, :3]
    image = np.ascontiguousarray(image)
    h, w = image.shape[:2]
    if mode == "stretch":
        return _resize(image, width, height)
    if mode == "cover":
        if w * height > width * h:
            cw = min(w, max(1, math.floor(h * width / height + 0.5)))
            x0 = (w - cw) // 2
            crop = image[:, x0 : x0 + cw]
        else:
            ch = min(h, max(1, math.floor(w * height / width + 0.5)))
            y0 = (h - ch) // 2
            crop = image[y0 : y0 + ch]
        return _resize(np.ascontiguousarray(crop), width, height)
    if width * h <= height * w:  # width limits
        sw, sh = width, min(height, max(1, math.floor(h * width / w + 0.5)))
    else:
        sw, sh = min(width, max(1, math.floor(w * height / h + 0.5))), height
    canvas = np.empty((height, width, 3), np.uint8)
    canvas[:] = np.asarray(fill, np.uint8)
    x0, y0 = (width - sw) // 2, (height - sh) // 2
    canvas[y0 : y0 + sh, x0 : x0 + sw] = _resize(image, sw, sh)
    return canvas


def _prefactor(width: int, height: int, target_width: int, target_height: int) -> int:
    """The first step's integer factor for :func:`fast_resize` (1: resize in one step)."""
    if width % target_width == 0 and height % target_height == 0:
        return 1  # one step is already OpenCV's integer fast path
    best = 1
    for factor in range(2, min(width, height) + 1):
        if width // factor < 3 * target_width or height // factor < 3 * target_height:
            break
        if width % factor == 0 and height % factor == 0:
            best = factor
    return best


def fast_resize(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """Area downscale in two steps: an exact k×k block mean, then INTER_AREA to width×height.

    ``k`` is the largest integer dividing both sides that leaves at least 3 intermediate pixels
    per output pixel for the second step (``W/k ≥ 3·width`` and ``H/k ≥ 3·height``); the
    first step is OpenCV's integer-ratio fast path. When no such k ≥ 2 exists, when the one-step
    ratio is already an integer, or when enlarging, this is ``cv2.resize(..., INTER_AREA)``.

    At 1920×1080 → 256×144 (k = 2) it is 2–3× faster than one step. It differs from one-step
    INTER_AREA only where a k×k block straddles an output pixel's edge (the block is weighted as
    a whole): by a few codes on natural frames (``benchmarks/bench_pipeline.py`` prints the
    difference it measures), more on adversarial noise.
    """
    source_height, source_width = image.shape[:2]
    if source_width <= width or source_height <= height:
        return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
    factor = _prefactor(source_width, source_height, width, height)
    if factor > 1:
        image = cv2.resize(image, (source_width // factor, source_height // factor), interpolation=cv2.INTER_AREA)
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)


_BLEND_KERNEL = None


def _blend_kernel():
    """The numba kernel, compiled on first use (cached on disk); None without numba."""
    global _BLEND_KERNEL
    if _BLEND_KERNEL is None:
        try:
            from numba import njit
        except ImportError:
            _BLEND_KERNEL = False
            return None

        @njit(cache=True, nogil=True)
        def kernel(frame, background, alpha, out):  # pragma: no cover - compiled
            for i in range(alpha.size):
                a = np.int32(alpha[i])
                b = 255 - a
                j = 3 * i
                for c in range(3):
                    x = np.int32(frame[j + c]) * a + np.int32(background[j + c]) * b + 128
                    out[j + c] = (x + (x >> 8)) >> 8  # = round((f·a + g·(255 − a)) / 255), exact

        _BLEND_KERNEL = kernel
    return _BLEND_KERNEL or None


def blend(
    frame: np.ndarray, background: np.ndarray, alpha: np.ndarray, out: np.ndarray | None = None, *, exact: bool = True
) -> np.ndarray:
    """Person over background in one pass over uint8: ``round((f·a + g·(255 − a)) / 255)``.

    Parameters
    ----------
    frame, background : (H, W, 3) uint8
    alpha : (H, W) uint8
        255 = person.
    out : (H, W, 3) uint8, optional
        Written in place (may be ``frame``).

    Rounding: exact integer rounding to nearest of ``(f·a + g·(255 − a)) / 255`` (a tie is
    impossible: 255 is odd), computed as ``(x + 128 + ((x + 128) >> 8)) >> 8`` — equal for every
    x in [0, 65025], checked exhaustively in the tests. Against the float formula
    ``round(f·α + g·(1 − α))`` with the unquantized α and ``a = round(255·α)``, the result differs
    by at most 1 code (the exact values differ by ``|f − g|·|α − a/255| ≤ 0.5``).

    Without numba (``exact`` then cannot hold) it falls back to ``cv2.blendLinear`` with weights
    a/255, within 1 code of the exact result.
    """
    if frame.shape != background.shape or frame.shape[:2] != alpha.shape or frame.dtype != np.uint8:
        raise ValueError(
            f"blend needs frame and background (H, W, 3) uint8 and alpha (H, W) uint8, got "
            f"{frame.shape}, {background.shape}, {alpha.shape}"
        )
    if out is None:
        out = np.empty_like(frame)
    kernel = _blend_kernel() if exact else None
    if kernel is not None and out.flags.c_contiguous:
        kernel(
            np.ascontiguousarray(frame).reshape(-1),
            np.ascontiguousarray(background).reshape(-1),
            np.ascontiguousarray(alpha).reshape(-1),
            out.reshape(-1),
        )
        return out
    weight = alpha.astype(np.float32) * np.float32(1 / 255)
    out[...] = cv2.blendLinear(frame, background, weight, 1.0 - weight)
    return out


def _blur_factor(width: int, height: int, sigma: float) -> int:
    """The integer reduction of :func:`blur_background`: largest f with f²·1.25 ≤ σ² + 1/12, dividing both sides."""
    limit = math.sqrt((sigma**2 + 1 / 12) / 1.25)
    for factor in range(min(int(limit), width // 4, height // 4), 1, -1):
        if width % factor == 0 and height % factor == 0:
            return factor
    return 1


def blur_background(frame: np.ndarray, sigma: float, alpha: np.ndarray | None = None) -> np.ndarray:
    """The frame blurred with a Gaussian of standard deviation ``sigma`` frame pixels (the call's blur).

    Computed at reduced resolution: an f×f block mean (``cv2.resize`` INTER_AREA, integer fast
    path; ``f`` the largest integer dividing both sides with ``1.25·f² ≤ σ² + 1/12``), a Gaussian
    of the remaining standard deviation ``√(σ² − (f² − 1)/12 − f²/6) / f`` there, and bilinear
    back up (the box's variance (f² − 1)/12 and the bilinear's f²/6 are subtracted). Versus
    ``cv2.GaussianBlur(frame, (0, 0), σ)`` it is an approximation, not the same filter (mean
    difference under one code on a rendered call frame, checked in the tests), and 3–20× faster
    at 1080p.

    With ``alpha`` (H, W) uint8 (255 = person) the person is left out (normalized convolution:
    blur(frame·(1 − a)) / blur(1 − a) at the reduced scale), so its colours do not bleed into
    the background as a halo around it (within about f pixels of its edge, which the matte covers
    anyway); where the person covers the whole neighbourhood, the plain blur is used.
    """
    if not sigma > 0:
        raise UsageError(f"--blur {sigma}: the blur's sigma must be positive (pixels)")
    height, width = frame.shape[:2]
    factor = _blur_factor(width, height, sigma)
    rest = math.sqrt(max(sigma**2 - (factor**2 - 1) / 12 - (factor**2 / 6 if factor > 1 else 0), 0.0)) / factor
    size = (width // factor, height // factor)
    small = cv2.resize(frame, size, interpolation=cv2.INTER_AREA) if factor > 1 else frame
    if alpha is None:
        blurred = cv2.GaussianBlur(small, (0, 0), rest) if rest > 0.05 else small
    else:
        weight = cv2.resize(255 - alpha, size, interpolation=cv2.INTER_AREA) if factor > 1 else 255 - alpha
        weight = weight.astype(np.float32) * np.float32(1 / 255)
        weighted = small.astype(np.float32) * weight[:, :, None]
        plain = small
        if rest > 0.05:
            weighted = cv2.GaussianBlur(weighted, (0, 0), rest)
            weight = cv2.GaussianBlur(weight, (0, 0), rest)
            plain = cv2.GaussianBlur(small, (0, 0), rest)
        covered = weight < 1e-3
        blurred = weighted / np.maximum(weight, 1e-3)[:, :, None]
        blurred[covered] = plain[covered]
        blurred = np.clip(blurred + 0.5, 0, 255).astype(np.uint8)
    if factor == 1:
        return blurred
    return cv2.resize(blurred, (width, height), interpolation=cv2.INTER_LINEAR)
