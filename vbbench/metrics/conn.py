"""The connectivity error's "last connected level" l of every pixel (Rhemann et al. 2009, as the
DIM reference code computes it), in one ordered union-find pass instead of ten labellings."""

from __future__ import annotations

import cv2
import numpy as np

__all__ = ["conn_lower_levels"]


def conn_lower_levels(levels: np.ndarray, ties: str = "column-major", empty: str = "stop") -> np.ndarray:
    """The Conn "last connected level" l of every pixel, as an integer code l·10.

    ``levels`` holds, per pixel, how many thresholds t_k = k/10 both mattes pass (the minimum of
    :func:`~vbbench.metrics.alpha.threshold_levels` of pred and gt), so M_k = {levels ≥ k}. Ω_k
    is the largest 4-connected component of M_k (ties: the first in column-major order, MATLAB's
    ``bwconncomp`` numbering, or row-major with ``ties="row-major"``), empty if M_k is; l =
    t_(k−1) at the first k where the pixel is not in Ω_k, and 1 if it never leaves. An empty M_k
    stops (every remaining pixel gets t_(k−1)) or, with ``empty="skip"``, is skipped (those
    pixels end with l = 1).

    **One ordered pass** (``_conn_kernels.conn_codes``), the same result as the ten labellings:

    1. Ω_k is connected and lies in M_(k−1), so inside one component of M_(k−1): it is inside
       Ω_(k−1) or disjoint from it.
    2. Let m be the largest k with Ω_1 ⊇ … ⊇ Ω_m, all non-empty. A pixel of Ω_i outside Ω_(i+1)
       (i < m) gets code i, a pixel outside Ω_1 code 0, and the pixels still in Ω_m a top code:
       m if Ω_(m+1) is disjoint from Ω_m or M_(m+1) is empty under ``stop``; 10 if M_(m+1) is
       empty under ``skip`` (every later threshold is empty and skipped) or m = 10.
    3. For s ∈ Ω_m and k ≤ m, Ω_k is the component of M_k holding s, so p ∈ Ω_k ⟺ R(p) ≥ k,
       R(p) the highest k at which p and s are connected in M_k; hence code(p) = min(R(p), m).
    4. Union-find adds the pixels of level k in round k = 10 … 1, each united with its present
       4-neighbours: after round k the sets are the components of M_k. Every root keeps its
       set's size and smallest key (the column-major index col·H + row, or the row-major one),
       i.e. its first pixel in the reference's numbering; the largest set by (size, −key) after
       round k is Ω_k, ties included, whatever the order within a level.
    5. Each root-to-root union is recorded with its round; R(p) is the smallest round on the path
       from p to s in that merge forest, read off in one reverse pass over the unions.

    Parameters
    ----------
    levels : numpy.ndarray
        int8 array in 0 … 10, 2-D.
    ties : {"column-major", "row-major"}
        The ``conn_ties`` convention.
    empty : {"stop", "skip"}
        The ``conn_empty`` convention.

    Returns
    -------
    numpy.ndarray
        int8 array of (k − 1) codes in 0 … 10 (l = code / 10), the shape of ``levels``.

    Raises
    ------
    ValueError
        For an unknown convention, a non-2-D array, levels outside 0 … 10, or an image of 2^31
        pixels or more (the union-find's indices are 32-bit).

    Examples
    --------
    >>> levels = np.array([[10, 10, 0, 7], [10, 3, 0, 7]], dtype=np.int8)
    >>> conn_lower_levels(levels)
    array([[10, 10,  0,  0],
           [10,  3,  0,  0]], dtype=int8)
    """
    from vbbench.metrics import _conn_kernels

    if ties not in ("column-major", "row-major"):
        raise ValueError(f"convention conn_ties={ties!r} is not one of column-major, row-major")
    if empty not in ("stop", "skip"):
        raise ValueError(f"convention conn_empty={empty!r} is not one of stop, skip")
    levels = np.asarray(levels, dtype=np.int8)
    if levels.ndim != 2:
        raise ValueError(f"levels must be a 2-D array, got shape {levels.shape}")
    if levels.size == 0:
        return np.zeros(levels.shape, np.int8)
    if (levels.shape[0] + 2) * (levels.shape[1] + 2) >= 2**31 - 1:
        raise ValueError(f"image too large for the 32-bit union-find: {levels.shape}")
    # A zero border spares the pass every bounds check; border pixels are never in M_1.
    padded = cv2.copyMakeBorder(np.ascontiguousarray(levels).view(np.uint8), 1, 1, 1, 1, cv2.BORDER_CONSTANT, value=0)
    if cv2.minMaxLoc(padded)[1] > 10:  # as uint8, a negative level is ≥ 128
        raise ValueError("levels must lie in 0 … 10 (threshold_levels counts the thresholds t_1 … t_10)")
    codes = np.empty(levels.shape, np.int8)
    _conn_kernels.conn_codes(padded.view(np.int8), ties == "column-major", empty == "skip", codes)
    return codes
