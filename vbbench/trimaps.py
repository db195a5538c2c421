"""Trimaps derived from a ground-truth matte: the one rule vbbench uses everywhere.

Deep Image Matting's evaluation counts some errors only in the trimap's unknown band (value 128).
Shen 2016 and AISegment ship no trimaps, so vbbench derives them from the ground truth with one
documented rule (:func:`make_trimap`), the same for the embedded sample and every variant.
Trimaps read back for scoring go through :func:`unknown_band`, which refuses values it cannot
place rather than reading them as known pixels.
"""

from __future__ import annotations

import numpy as np

from vbbench.errors import MatteError

__all__ = ["TRIMAP_RADIUS_PX", "UNKNOWN", "make_trimap", "unknown_band"]

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


def unknown_band(trimap: np.ndarray, where: str = "the trimap", unknown: int = UNKNOWN) -> np.ndarray:
    """The unknown band of an 8-bit trimap as a boolean mask, refusing values it cannot place.

    A trimap holds 0 (known background), ``unknown`` (default 128) and 255 (known foreground).
    Any other value is an error that lists the values found and how often: a tool that marks
    the band with 127 or 50 would otherwise have its band read as known pixels (and the band's
    scores computed over a few stray pixels). ``unknown`` is the CLI's ``--trimap-unknown``.

    Parameters
    ----------
    trimap : numpy.ndarray
        uint8 array (H, W).
    where : str
        What to name in errors (the file).
    unknown : int
        The value of the unknown band, 1 … 254.

    Returns
    -------
    numpy.ndarray
        bool (H, W), True in the unknown band.

    Raises
    ------
    MatteError
        Not 8-bit, other values than 0 / ``unknown`` / 255, or no unknown pixel.

    Examples
    --------
    >>> unknown_band(np.array([[0, 128, 255]], np.uint8)).tolist()
    [[False, True, False]]
    >>> unknown_band(np.array([[0, 127, 127, 255]], np.uint8), "t.png")
    Traceback (most recent call last):
    ...
    vbbench.errors.MatteError: t.png: 2 of 4 pixels hold values other than 0 (background), 128 (unknown) and 255 (foreground): 127 ×2 (and 0 ×1, 255 ×1); if your trimaps mark the unknown band with 127, pass --trimap-unknown 127
    >>> unknown_band(np.array([[0, 127, 255]], np.uint8), unknown=127).tolist()
    [[False, True, False]]
    """
    trimap = np.asarray(trimap)
    if trimap.dtype != np.uint8 or trimap.ndim != 2:
        raise MatteError(f"{where}: a trimap must be one 8-bit channel (0 / {unknown} / 255), found {trimap.dtype}")
    if not 0 < unknown < 255:
        raise MatteError(f"the trimap's unknown value must lie in 1 … 254, got {unknown}")
    counts = np.bincount(trimap.ravel(), minlength=256)
    allowed = (0, unknown, 255)
    others = [(int(value), int(counts[value])) for value in np.flatnonzero(counts) if value not in allowed]
    if others:
        others.sort(key=lambda item: (-item[1], item[0]))
        shown = ", ".join(f"{value} ×{count}" for value, count in others[:8])
        if len(others) > 8:
            shown += f", … {len(others) - 8} more values"
        known = ", ".join(f"{value} ×{counts[value]}" for value in allowed if counts[value])
        if len(others) == 1:
            advice = f"if your trimaps mark the unknown band with {others[0][0]}, pass --trimap-unknown {others[0][0]}"
        else:
            advice = (
                "a trimap holds three values (if yours marks the unknown band with another one, pass "
                "--trimap-unknown VALUE); this looks like a soft matte or a resized trimap"
            )
        raise MatteError(
            f"{where}: {sum(count for _, count in others)} of {trimap.size} pixels hold values other than 0 "
            f"(background), {unknown} (unknown) and 255 (foreground): {shown}"
            + (f" (and {known})" if known else "")
            + f"; {advice}"
        )
    band = trimap == unknown
    if not counts[unknown]:
        raise MatteError(
            f"{where}: the trimap has no unknown pixels (value {unknown}), so the unknown-band means are undefined"
        )
    return band
