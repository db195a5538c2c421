"""Trimaps derived from a ground-truth matte: the one rule vbbench uses everywhere.

Deep Image Matting's evaluation counts some errors only in the trimap's unknown band (value 128).
Shen 2016 and AISegment ship no trimaps, so vbbench derives them from the ground truth with one
documented rule (:func:`make_trimap`), the same for the embedded sample and every variant.
"""

from __future__ import annotations

import numpy as np

__all__ = ["TRIMAP_RADIUS_PX", "UNKNOWN", "make_trimap"]

#: Half-width of the unknown band, in pixels of the source image.
TRIMAP_RADIUS_PX = 10
#: Trimap value of the unknown band (0 known background, 255 known foreground).
UNKNOWN = 128


def _disc(radius: int) -> np.ndarray:
    offsets = np.arange(-radius, radius + 1)
    return ((offsets[:, None] ** 2 + offsets[None, :] ** 2) <= radius**2).astype(np.uint8)


def make_trimap(alpha: np.ndarray, radius: int = TRIMAP_RADIUS_PX) -> np.ndarray:
    """Trimap of a matte: 255 known foreground, 0 known background, 128 unknown.

    A pixel is known foreground if every pixel within ``radius`` (Euclidean, in pixels) of it
    is opaque (full scale), known background if every such pixel is transparent (0); the rest —
    the soft region (0 < α < 1), the opaque region's boundary and ``radius`` pixels around them —
    is unknown. Pixels outside the frame do not count (the frame edge is not a boundary).

    Parameters
    ----------
    alpha : numpy.ndarray
        uint8 or uint16 matte (H, W).
    radius : int
        Half-width of the unknown band in pixels, ≥ 0; default 10.

    Returns
    -------
    numpy.ndarray
        uint8 (H, W) with values 0, 128 and 255.

    Examples
    --------
    >>> alpha = np.zeros((1, 9), np.uint8); alpha[0, 5:] = 255; alpha[0, 4] = 100
    >>> make_trimap(alpha, radius=1)
    array([[  0,   0,   0, 128, 128, 128, 255, 255, 255]], dtype=uint8)
    """
    import cv2

    alpha = np.asarray(alpha)
    if alpha.ndim != 2 or alpha.dtype not in (np.uint8, np.uint16):
        raise ValueError(f"alpha must be a 2-D uint8 or uint16 matte, got shape {alpha.shape} and {alpha.dtype}")
    if radius < 0:
        raise ValueError(f"radius must be ≥ 0 pixels, got {radius}")
    disc = _disc(int(radius))
    full = np.iinfo(alpha.dtype).max
    # cv2.erode pads with +inf by default: the outside of the frame never removes a pixel.
    foreground = cv2.erode((alpha == full).astype(np.uint8), disc)
    background = cv2.erode((alpha == 0).astype(np.uint8), disc)
    trimap = np.full(alpha.shape, UNKNOWN, np.uint8)
    trimap[foreground.astype(bool)] = 255
    trimap[background.astype(bool)] = 0
    return trimap
