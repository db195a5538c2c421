"""How a call frames a portrait: the 16:9 crop of the ``call16x9`` variant and the clips.

One module of its own because both the still variant (:mod:`vbbench.variants`) and the clips'
layers (:mod:`vbbench.clips.layers`) frame the person the same way, and the clips are themselves
made by :mod:`vbbench.variants`: here neither imports the other for it.
"""

from __future__ import annotations

import numpy as np

__all__ = ["CALL_SIZE_PX", "CALL_HEADROOM", "SUBJECT_LEVEL", "call16x9_crop"]

#: Output size of ``call16x9`` (width, height) in pixels.
CALL_SIZE_PX = (640, 360)
#: Space above the subject's top in ``call16x9``, as a fraction of the crop height.
CALL_HEADROOM = 0.10
#: Matte level (fraction of full scale) that marks the subject's top row in ``call16x9``.
SUBJECT_LEVEL = 0.10


def call16x9_crop(alpha: np.ndarray) -> tuple[int, int, int, int]:
    """The full-width 16:9 crop box ``(x0, y0, x1, y1)`` (pixels, end exclusive) for a portrait.

    Crop height is ``round(width · 9 / 16)``, capped at the image height. The top sits
    ``round(CALL_HEADROOM · crop height)`` px above the first row where the matte reaches
    ``SUBJECT_LEVEL``, clamped to the image; with no subject the crop is centred.

    Examples
    --------
    >>> alpha = np.zeros((800, 600), np.uint8); alpha[300:, 200:400] = 255
    >>> call16x9_crop(alpha)
    (0, 266, 600, 604)
    """
    height, width = alpha.shape
    crop_height = min(int(round(width * 9 / 16)), height)
    full_scale = 65535 if alpha.dtype == np.uint16 else 255
    rows = np.flatnonzero((alpha >= SUBJECT_LEVEL * full_scale).any(axis=1))
    if rows.size:
        top = int(rows[0]) - int(round(CALL_HEADROOM * crop_height))
    else:
        top = (height - crop_height) // 2
    top = min(max(top, 0), height - crop_height)
    return 0, top, width, top + crop_height
