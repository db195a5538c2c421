"""The connectivity error's "last connected level" l of every pixel (Rhemann et al. 2009, as the
DIM reference code computes it)."""

from __future__ import annotations

import cv2
import numpy as np

__all__ = ["conn_lower_levels", "conn_phi"]


def _first_in_column_major(component: np.ndarray, offset: tuple[int, int], height: int) -> int:
    """Column-major index, in the full image, of the first pixel of a component mask."""
    column = int(np.argmax(component.any(axis=0)))
    row = int(np.argmax(component[:, column]))
    return (column + offset[1]) * height + row + offset[0]


def _first_in_row_major(component: np.ndarray, offset: tuple[int, int], height: int) -> tuple[int, int]:
    """(row, column), in the full image, of the first pixel in row-major order."""
    row = int(np.argmax(component.any(axis=1)))
    column = int(np.argmax(component[row]))
    return row + offset[0], column + offset[1]


def _largest_component(
    mask: np.ndarray, offset: tuple[int, int], height: int, total: int, order=_first_in_column_major
):
    """Largest 4-connected component of ``mask`` (a crop at ``offset`` of an image ``height`` tall,
    holding ``total`` true pixels).

    Returns ``(size, order_key, component_mask)``, or ``(0, None, None)`` when the mask is empty.
    Ties go to the component whose first pixel in column-major order comes first (MATLAB
    ``bwconncomp`` numbering); OpenCV numbers components in its own order, so ties are resolved
    explicitly. ``order_key()`` gives that pixel's column-major index in the full image; it is
    a function because only a tie with a component outside the crop needs it.
    """
    count, labels = cv2.connectedComponents(mask.view(np.uint8), connectivity=4, ltype=cv2.CV_32S)
    if count <= 1:
        return 0, None, None
    # Usually one component holds most of the mask. Guess it from a sparse grid of pixels and
    # count it alone: holding more than half of the mask, it is the unique largest. Only when
    # the guess fails are all components counted.
    grid = labels[::8, ::8].ravel()
    grid = grid[grid > 0]
    if grid.size:
        guess = int(np.bincount(grid).argmax())
        component = labels == guess
        size = int(np.count_nonzero(component))
        if 2 * size > total:
            return size, (lambda: order(component, offset, height)), component
    areas = np.bincount(labels.ravel(), minlength=count)
    areas[0] = 0
    best_size = int(areas.max())
    tied = np.flatnonzero(areas == best_size)
    if tied.size == 1:
        component = labels == tied[0]
    else:
        candidates = [labels == label for label in tied]
        component = min(candidates, key=lambda c: order(c, offset, height))
    return best_size, (lambda: order(component, offset, height)), component


def _bounding_box(mask: np.ndarray) -> tuple[slice, slice]:
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    return slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1)


def conn_lower_levels(levels: np.ndarray, ties: str = "column-major", empty: str = "stop") -> np.ndarray:
    """The Conn "last connected level" l of every pixel, as an integer code l·10.

    ``levels`` holds, per pixel, how many thresholds t_k = k/10 both mattes pass (the minimum of
    :func:`threshold_levels` of pred and gt), so M_k = {levels ≥ k}. Ω_k is the largest
    4-connected component of M_k; l = t_(k−1) at the first k where the pixel is not in Ω_k, and 1
    if it never leaves.

    Incremental, without relabelling the image at every threshold: Ω_k lies inside one component
    of M_(k−1), so it is either inside Ω_(k−1) or disjoint from it. Only M_k ∩ Ω_(k−1) (cropped to
    its bounding box) is labelled; the pixels of M_k outside Ω_(k−1) are labelled only when there
    are at least as many of them as the largest component inside (otherwise none of them can
    win). Once Ω_k leaves Ω_(k−1) every remaining pixel has its level and the loop stops.

    ``ties`` and ``empty`` select the conventions of other implementations (see
    :class:`Conventions`).

    Returns
    -------
    numpy.ndarray
        int8 array of (k − 1) codes in 0 … 10 (l = code / 10).
    """
    order = _first_in_column_major if ties == "column-major" else _first_in_row_major
    levels = np.asarray(levels, dtype=np.int8)
    height = levels.shape[0]
    counts_at_least = np.cumsum(np.bincount(levels.ravel(), minlength=11)[::-1])[::-1]
    lower = np.zeros(levels.shape, dtype=np.int8)  # pixels outside Ω_1 keep l = t_0 = 0

    # k = 1: the only full-image labelling.
    size, _, omega = _largest_component(levels >= 1, (0, 0), height, int(counts_at_least[1]), order)
    if size == 0:
        return lower if empty == "stop" else np.full(levels.shape, 10, dtype=np.int8)
    rows, cols = _bounding_box(omega)
    omega = omega[rows, cols]
    omega_count = size
    for k in range(2, 11):
        # Ω_(k−1) sits at (rows, cols); pixels still in it have not left any Ω yet.
        inside = omega & (levels[rows, cols] >= k)
        inside_count = int(np.count_nonzero(inside))
        if inside_count == omega_count:
            # Nothing of Ω_(k−1) drops out at this threshold: it stays one component.
            size, candidate = inside_count, omega
            key = lambda: order(omega, (rows.start, cols.start), height)  # noqa: E731
        else:
            size, key, candidate = _largest_component(inside, (rows.start, cols.start), height, inside_count, order)
        outside_count = int(counts_at_least[k]) - inside_count
        winner_is_inside = size > 0
        if outside_count > 0 and outside_count >= size:
            outside = levels >= k
            outside[rows, cols] &= ~omega
            out_size, out_key, _ = _largest_component(outside, (0, 0), height, outside_count, order)
            if out_size > size or (out_size == size and out_size > 0 and out_key() < key()):
                winner_is_inside = False
        window = lower[rows, cols]
        if not winner_is_inside:
            # M_k empty under the "skip" convention: the threshold is skipped, and since all
            # later ones are empty too, the remaining pixels end with l = 1.
            skipped = empty == "skip" and size == 0 and counts_at_least[k] == 0
            window[omega] = 10 if skipped else k - 1
            return lower
        if candidate is omega:
            continue
        window[omega & ~candidate] = k - 1
        sub_rows, sub_cols = _bounding_box(candidate)
        omega = candidate[sub_rows, sub_cols]
        omega_count = size
        rows = slice(rows.start + sub_rows.start, rows.start + sub_rows.stop)
        cols = slice(cols.start + sub_cols.start, cols.start + sub_cols.stop)
    lower[rows, cols][omega] = 10
    return lower


def conn_phi(alpha: np.ndarray, lower: np.ndarray) -> np.ndarray:
    """φ = 1 − d·[d ≥ 0.15], d = alpha − l, in place on one temporary."""
    d = alpha - lower
    d *= d >= 0.15
    return np.subtract(1.0, d, out=d)
