"""The exact motion of a clip between consecutive frames, from the transforms in its manifest.

Every frame's manifest row holds the camera's transform ``K_t`` (moves the background plate) and
the person's ``P_t = K_t·R_t``, 3×3 matrices from source pixel coordinates to frame t. A pixel x of
frame t that shows a layer with transform M shows source point M_t⁻¹·x, which frame t + 1 shows at
M_(t+1)·M_t⁻¹·x: the motion is that minus x (:func:`motion_field`). :func:`layered_flow` joins the
two layers into one field for the matte: the person's motion where a_t > 0, the background's
elsewhere, NaN where a background pixel is covered by the person at t + 1 (occluded; MESSDdt
leaves it out). Equal matrices (a static stretch) give exactly zero motion.

The motion of semi-transparent hair is the person's, although the background seen through it moves
with the camera: right for a matte metric, since the matte moves with the person.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from vbbench.metrics.motion import sample_forward

__all__ = ["MotionField", "motion_field", "layered_flow", "clip_flows", "flows_from_manifest"]


@dataclass
class MotionField:
    """Per-pixel motion (dx, dy) from frame t to t + 1 of each layer: (H, W, 2) float64 arrays."""

    foreground: np.ndarray
    background: np.ndarray


def _matrix(value) -> np.ndarray:
    m = np.asarray(value, dtype=np.float64)
    if m.shape == (2, 3):
        m = np.vstack([m, [0.0, 0.0, 1.0]])
    if m.shape != (3, 3):
        raise ValueError(f"a transform must be 2×3 or 3×3, got shape {m.shape}")
    return m


def _flow_of(step: np.ndarray, height: int, width: int) -> np.ndarray:
    cols = np.arange(width, dtype=np.float64)[None, :]
    rows = np.arange(height, dtype=np.float64)[:, None]
    flow = np.empty((height, width, 2))
    if np.array_equal(step[2], [0.0, 0.0, 1.0]):  # affine: (A − I)·x + b, exact 0 for the identity
        flow[..., 0] = (step[0, 0] - 1.0) * cols + step[0, 1] * rows + step[0, 2]
        flow[..., 1] = step[1, 0] * cols + (step[1, 1] - 1.0) * rows + step[1, 2]
        return flow
    w = step[2, 0] * cols + step[2, 1] * rows + step[2, 2]
    flow[..., 0] = (step[0, 0] * cols + step[0, 1] * rows + step[0, 2]) / w - cols
    flow[..., 1] = (step[1, 0] * cols + step[1, 1] * rows + step[1, 2]) / w - rows
    return flow


def motion_field(params_t: dict, params_t1: dict, alpha_shape: tuple[int, int]) -> MotionField:
    """Exact motion from frame t to frame t + 1, for the person and for the background.

    A pixel x of frame t that shows the layer with transform M (source → frame) shows source
    point M_t⁻¹·x, which frame t + 1 shows at M_(t+1)·M_t⁻¹·x; the motion is that minus x.
    ``M = params["person"]`` for the foreground, ``params["camera"]`` for the background
    (3×3, or 2×3 affine). Works on manifest params as read back (lists).

    Returns
    -------
    MotionField

    Examples
    --------
    >>> t0 = {"camera": np.eye(3), "person": np.eye(3)}
    >>> t1 = {"camera": [[1, 0, 2.0], [0, 1, 0], [0, 0, 1]], "person": np.eye(3)}
    >>> field = motion_field(t0, t1, (2, 3))
    >>> field.background[0, 0].tolist(), field.foreground[1, 2].tolist()
    ([2.0, 0.0], [0.0, 0.0])
    """
    height, width = alpha_shape
    out = {}
    for layer, key in (("foreground", "person"), ("background", "camera")):
        before, after = _matrix(params_t[key]), _matrix(params_t1[key])
        # Equal transforms (a static stretch) move nothing: exactly, not to rounding.
        step = np.eye(3) if np.array_equal(before, after) else after @ np.linalg.inv(before)
        out[layer] = _flow_of(step, height, width)
    return MotionField(**out)


def layered_flow(
    params_t: dict, params_t1: dict, alpha_t: np.ndarray, alpha_t1: np.ndarray | None = None
) -> np.ndarray:
    """One flow for the clip's matte: the person's motion where a_t > 0, the background's elsewhere.

    With ``alpha_t1`` given, background pixels whose target is covered by the person at t + 1
    (a_(t+1) > 0 there, bilinear) are occluded and get NaN, which MESSDdt leaves out.

    Returns
    -------
    numpy.ndarray
        (H, W, 2) float64.

    Examples
    --------
    >>> a0 = np.array([[0, 255, 0, 0]], np.uint8); a1 = np.array([[0, 0, 255, 0]], np.uint8)
    >>> t0 = {"camera": np.eye(3), "person": np.eye(3)}
    >>> t1 = {"camera": np.eye(3), "person": [[1, 0, 1.0], [0, 1, 0], [0, 0, 1]]}
    >>> layered_flow(t0, t1, a0, a1)[0, :, 0].tolist()    # pixel 2 gets covered
    [0.0, 1.0, nan, 0.0]
    """
    alpha_t = np.asarray(alpha_t)
    field_ = motion_field(params_t, params_t1, alpha_t.shape)
    person = (alpha_t > 0)[..., None]
    flow = np.where(person, field_.foreground, field_.background)
    if alpha_t1 is not None:
        (covered,), valid = sample_forward([np.asarray(alpha_t1, dtype=np.float64)], field_.background)
        occluded = ~person[..., 0] & valid & (covered > 0)
        flow[occluded] = np.nan
    return flow


def clip_flows(frames: Sequence) -> list[np.ndarray]:
    """The T − 1 layered flows (with occlusions) between consecutive frames of a clip."""
    return [
        layered_flow(frames[t].params, frames[t + 1].params, frames[t].alpha, frames[t + 1].alpha)
        for t in range(len(frames) - 1)
    ]


def flows_from_manifest(rows: Sequence[dict], alphas: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Exact layered flows of a clip from its manifest rows and ground-truth mattes."""
    return [
        layered_flow(rows[t]["params"], rows[t + 1]["params"], alphas[t], alphas[t + 1]) for t in range(len(rows) - 1)
    ]
