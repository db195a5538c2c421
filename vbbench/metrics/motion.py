"""Reading a frame along a motion field, and the optical flow the published MESSDdt drivers use.

A motion field ``flow`` of shape (H, W, 2) holds, for every pixel x = (column, row) of frame t,
its displacement v_t(x) = (dx, dy) to frame t + 1 (OpenCV's convention: frame_t(y, x) ≈
frame_(t+1)(y + dy, x + dx)); pixel centres sit at integer coordinates and NaN marks a pixel with
no target (occluded). :func:`sample_forward` reads frame t + 1 at x + v_t(x) for every x,
:func:`farneback_flow` estimates v_t from two ground-truth mattes as OTVM's and MaGGIe's
evaluation drivers do when the true motion is unknown.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from vbbench.metrics.alpha import to_alpha

__all__ = ["FARNEBACK_PARAMS", "SAMPLINGS", "sample_forward", "farneback_flow", "check_flow"]

#: ``cv2.calcOpticalFlowFarneback`` arguments (pyr_scale, levels, winsize, iterations, poly_n,
#: poly_sigma, flags) of the published drivers (OTVM ``calcOpticalFlow``, MaGGIe ``MESSDdt``).
FARNEBACK_PARAMS = (0.5, 5, 10, 2, 7, 1.5, cv2.OPTFLOW_FARNEBACK_GAUSSIAN)
#: How a frame is read at a non-integer target (see :func:`sample_forward`).
SAMPLINGS = ("bilinear", "nearest")


def check_flow(flow: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """``flow`` as float64 (H, W, 2) of the frame's ``shape``, or a ValueError naming both shapes."""
    flow = np.asarray(flow, dtype=np.float64)
    if flow.shape != (*shape, 2):
        raise ValueError(f"a flow must have shape (H, W, 2) = {(*shape, 2)}, got {flow.shape}")
    return flow


def sample_forward(
    frames: Sequence[np.ndarray], flow: np.ndarray, sampling: str = "bilinear"
) -> tuple[list[np.ndarray], np.ndarray]:
    """Read frames of time t + 1 at x + v_t(x) for every pixel x of frame t.

    Parameters
    ----------
    frames : sequence of numpy.ndarray
        float 2-D arrays of time t + 1, all of the flow's height and width.
    flow : numpy.ndarray
        (H, W, 2) forward motion (dx, dy); NaN marks pixels without a valid target.
    sampling : {"bilinear", "nearest"}
        ``bilinear``: exact float64 bilinear interpolation; targets outside [0, W − 1] ×
        [0, H − 1] or with NaN motion are invalid. ``nearest``: the motion rounded half to even
        (``np.rint``) and the target clamped into the frame, as OTVM and MaGGIe do; only NaN motion
        is invalid.

    Returns
    -------
    (sampled, valid) : list of numpy.ndarray, numpy.ndarray of bool
        The sampled frames (0 where invalid) and the validity mask.

    Examples
    --------
    >>> nxt = np.array([[0.0, 1.0, 2.0]])
    >>> flow = np.zeros((1, 3, 2)); flow[..., 0] = 0.5
    >>> sampled, valid = sample_forward([nxt], flow)
    >>> sampled[0], valid
    (array([[0.5, 1.5, 0. ]]), array([[ True,  True, False]]))
    """
    if sampling not in SAMPLINGS:
        raise ValueError(f"sampling must be one of {', '.join(SAMPLINGS)}, got {sampling!r}")
    height, width = np.shape(frames[0])
    flow = check_flow(flow, (height, width))
    dx, dy = flow[..., 0], flow[..., 1]
    finite = np.isfinite(dx) & np.isfinite(dy)  # (not isfinite(flow).all(axis=2): 20× slower)
    all_finite = bool(finite.all())
    if not all_finite:
        dx, dy = np.where(finite, dx, 0.0), np.where(finite, dy, 0.0)
    cols = np.arange(width, dtype=np.float64)[None, :]
    rows = np.arange(height, dtype=np.float64)[:, None]
    flats = [np.asarray(frame, dtype=np.float64).ravel() for frame in frames]
    if sampling == "nearest":
        tx = np.clip(cols + np.rint(dx), 0, width - 1).astype(np.intp)
        ty = np.clip(rows + np.rint(dy), 0, height - 1).astype(np.intp)
        index = ty * width + tx
        sampled = [np.take(flat, index) for flat in flats]
        if not all_finite:
            for values in sampled:
                values[~finite] = 0.0
        return sampled, finite
    x = cols + dx
    y = rows + dy
    # A tiny tolerance so that a target computed as, say, (W − 1) + 1e-13 still counts as inside.
    eps = 1e-9
    valid = finite & (x >= -eps) & (x <= width - 1 + eps) & (y >= -eps) & (y <= height - 1 + eps)
    np.clip(x, 0, width - 1, out=x)
    np.clip(y, 0, height - 1, out=y)
    # The last row and column interpolate towards themselves (weight 1 on the edge sample).
    x0 = np.minimum(np.floor(x), max(width - 2, 0))
    y0 = np.minimum(np.floor(y), max(height - 2, 0))
    fx = x - x0
    fy = y - y0
    gx, gy = 1 - fx, 1 - fy
    index = y0.astype(np.intp) * width + x0.astype(np.intp)
    right = index + (1 if width > 1 else 0)
    below = index + (width if height > 1 else 0)
    below_right = below + (right - index)
    invalid = ~valid
    out = []
    for flat in flats:
        top = np.take(flat, index) * gx + np.take(flat, right) * fx
        bottom = np.take(flat, below) * gx + np.take(flat, below_right) * fx
        values = top * gy + bottom * fy
        values[invalid] = 0.0
        out.append(values)
    return out, valid


def _codes_8bit(matte: np.ndarray) -> np.ndarray:
    matte = np.asarray(matte)
    if matte.dtype == np.uint8:
        return matte
    return np.rint(np.clip(to_alpha(matte), 0.0, 1.0) * 255.0).astype(np.uint8)


def farneback_flow(gt: np.ndarray, gt_next: np.ndarray) -> np.ndarray:
    """Farneback optical flow from ground-truth matte t to t + 1, as the published drivers take it.

    ``cv2.calcOpticalFlowFarneback(g_t, g_(t+1), None, 0.5, 5, 10, 2, 7, 1.5,
    OPTFLOW_FARNEBACK_GAUSSIAN)`` on 8-bit codes (:data:`FARNEBACK_PARAMS`, OTVM's and MaGGIe's
    ``calcOpticalFlow``). Other dtypes are rounded to codes (MaGGIe truncates ``(gt * 255)
    .astype(uint8)``, which can turn code 255 into 254 through float rounding).

    The flow is a stand-in when the true motion is unknown, and a poor one: a matte has no
    texture, and around thin strands the polynomial model degenerates. Between two *identical*
    sample mattes about 1 % of the pixels (nearly all within 10 px of an edge, i.e. inside the
    trimap's unknown band) get displacements of tens to hundreds of pixels, so a still clip can
    score MESSDdt > 0 under this convention (pinned by a test).

    Returns
    -------
    numpy.ndarray
        (H, W, 2) float32, (dx, dy).

    Examples
    --------
    >>> g = np.zeros((32, 32), np.uint8); g[8:24, 8:24] = 255
    >>> farneback_flow(g, g).shape
    (32, 32, 2)
    """
    if np.shape(gt) != np.shape(gt_next):
        raise ValueError(f"frames differ in shape: gt {np.shape(gt)}, gt_next {np.shape(gt_next)}")
    return cv2.calcOpticalFlowFarneback(_codes_8bit(gt), _codes_8bit(gt_next), None, *FARNEBACK_PARAMS)
