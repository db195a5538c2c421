"""Compiled loops of the filters and reductions (numba, see :mod:`vbbench.metrics._jit`).

The DIM gradient filter (derivative first, on exact differences), the fused Grad error, the
magnitudes, the fused Sobel maps and the reductions over a region. Every floating-point loop
does the same IEEE-754 operations on every element whatever its position or the buffer's
alignment, and every total accumulates in a fixed order, so identical inputs give identical
bits (identical mattes score exactly 0, and a value does not change with where numpy happened
to allocate a buffer; ``cv2.magnitude`` does not promise that, see
``tests/test_metrics_fast.py``). Self-contained: it calls no numba function of another module.
"""

from __future__ import annotations

import numpy as np

from vbbench.metrics._jit import jit

__all__ = [
    "dim_gradient",
    "padded_sum_difference",
    "grad_error",
    "magnitude",
    "magnitude_squared",
    "sobel_codes",
    "sobel_alpha",
    "total_float",
    "total_int",
    "absdiff_total_float",
    "absdiff_total_int",
]

# --------------------------------------------------------------------------------------------
# Per-pixel maps, each with the total of what it writes
#
# Float32 IEEE arithmetic, branch-free, so LLVM vectorises the loops. Totals accumulate in
# float64 (int64 for integers) per column, colsum[j] += value[i, j], an elementwise update that
# vectorises without reordering any sum, then the columns are added left to right: a fixed
# order, so the same bits whatever the buffers' addresses (cv2.sumElems and cv2.magnitude do
# not promise that; see tests/test_metrics_fast.py).
# --------------------------------------------------------------------------------------------


@jit
def _column_total(columns):
    total = columns[0]
    for j in range(1, columns.size):
        total += columns[j]
    return total


@jit
def dim_gradient(padded, integer, smooth, derivative, gx, gy):
    """The DIM gaussgradient filter, derivative pass first: gx = S_y(D_x x), gy = S_x(D_y x).

    ``padded``: the image with a 4-pixel replicated border (``cv2.copyMakeBorder``), either
    float32 holding integers below 2^24 (``integer`` true: their differences are exact in
    float32) or float64 (differences taken in float64, then rounded once); ``smooth``:
    G(0) … G(4) (float32, symmetric); ``derivative``: the taps d_1 … d_4 of x[i+1] … x[i+4]
    in the convolution (those of x[i−t] are −d_t).

    The derivative is Σ_t d_t·(x[i+t] − x[i−t]) of exact differences, then smoothed: every
    rounding error is relative to the local *variation* of the image, never to its values
    (float32 sepFilter2D smooths first and rounds relative to values of up to 255: on a
    plateau of 255 that leaves gradients of 1e-5 codes, and on a 252 … 255 matte that
    mat2gray stretches, 2e-5 of Grad). Fixed order of operations, no FMA: identical inputs give
    identical bits. gx, gy: float32 outputs of the image's shape.
    """
    h, w = gx.shape
    hp, wp = padded.shape
    s0 = smooth[0]
    s1 = smooth[1]
    s2 = smooth[2]
    s3 = smooth[3]
    s4 = smooth[4]
    d1 = derivative[0]
    d2 = derivative[1]
    d3 = derivative[2]
    d4 = derivative[3]
    along_rows = np.empty((hp, w), np.float32)  # D_x x on every padded row
    for i in range(hp):
        for j in range(w):
            c = j + 4
            if integer:
                a1 = np.float32(padded[i, c + 1] - padded[i, c - 1])
                a2 = np.float32(padded[i, c + 2] - padded[i, c - 2])
                a3 = np.float32(padded[i, c + 3] - padded[i, c - 3])
                a4 = np.float32(padded[i, c + 4] - padded[i, c - 4])
            else:
                a1 = np.float32(np.float64(padded[i, c + 1]) - np.float64(padded[i, c - 1]))
                a2 = np.float32(np.float64(padded[i, c + 2]) - np.float64(padded[i, c - 2]))
                a3 = np.float32(np.float64(padded[i, c + 3]) - np.float64(padded[i, c - 3]))
                a4 = np.float32(np.float64(padded[i, c + 4]) - np.float64(padded[i, c - 4]))
            along_rows[i, j] = (d1 * a1 + d2 * a2) + (d3 * a3 + d4 * a4)
    column = np.empty(wp, np.float32)  # D_y x of one row, border columns included
    for i in range(h):
        r = i + 4
        for j in range(w):
            gx[i, j] = s0 * along_rows[r, j] + (
                (
                    s1 * (along_rows[r + 1, j] + along_rows[r - 1, j])
                    + s2 * (along_rows[r + 2, j] + along_rows[r - 2, j])
                )
                + (
                    s3 * (along_rows[r + 3, j] + along_rows[r - 3, j])
                    + s4 * (along_rows[r + 4, j] + along_rows[r - 4, j])
                )
            )
        for c in range(wp):
            if integer:
                a1 = np.float32(padded[r + 1, c] - padded[r - 1, c])
                a2 = np.float32(padded[r + 2, c] - padded[r - 2, c])
                a3 = np.float32(padded[r + 3, c] - padded[r - 3, c])
                a4 = np.float32(padded[r + 4, c] - padded[r - 4, c])
            else:
                a1 = np.float32(np.float64(padded[r + 1, c]) - np.float64(padded[r - 1, c]))
                a2 = np.float32(np.float64(padded[r + 2, c]) - np.float64(padded[r - 2, c]))
                a3 = np.float32(np.float64(padded[r + 3, c]) - np.float64(padded[r - 3, c]))
                a4 = np.float32(np.float64(padded[r + 4, c]) - np.float64(padded[r - 4, c]))
            column[c] = (d1 * a1 + d2 * a2) + (d3 * a3 + d4 * a4)
        for j in range(w):
            c = j + 4
            gy[i, j] = s0 * column[c] + (
                (s1 * (column[c + 1] + column[c - 1]) + s2 * (column[c + 2] + column[c - 2]))
                + (s3 * (column[c + 3] + column[c - 3]) + s4 * (column[c + 4] + column[c - 4]))
            )


@jit
def padded_sum_difference(p, g, total, difference):
    """p + g and p − g of integer codes as float32 (exact: integers below 2^17) with a 4-pixel
    replicated border, in one pass: the inputs of :func:`dim_gradient` for Grad and the MMNet
    gradient. ``total``, ``difference``: float32 (H + 8, W + 8)."""
    h, w = p.shape
    for i in range(h + 8):
        r = min(max(i - 4, 0), h - 1)
        p_row = p[r]
        g_row = g[r]
        t_row = total[i]
        d_row = difference[i]
        for j in range(w):
            a = np.int32(p_row[j])
            b = np.int32(g_row[j])
            t_row[j + 4] = np.float32(a + b)
            d_row[j + 4] = np.float32(a - b)
        for j in range(4):
            t_row[j] = t_row[4]
            d_row[j] = d_row[4]
            t_row[w + 4 + j] = t_row[w + 3]
            d_row[w + 4 + j] = d_row[w + 3]


@jit
def grad_error(sx, sy, vx, vy, out):
    """(|P| − |U|)² from S = ∇(p′ + g′) = P + U and V = ∇(p′ − g′) = P − U, where P = ∇p′ and
    U = ∇g′, filtered directly from the sum and the difference of the mattes; returns the
    float64 total.

    |P| − |U| = (|P|² − |U|²) / (|P| + |U|) = 2·(S·V) / (|S + V| + |S − V|). The numerator is a
    product of two separately filtered gradients, each accurate relative to its own size, so
    the result stays accurate where |∇p′| and |∇g′| nearly cancel: when p ≈ g (V small) and
    when p ≈ 1 − g (S small) alike. A float32 port that subtracts two rounded magnitudes has
    an error of ε·|∇g| there instead. S·V is formed in float64 (exact products of float32),
    the magnitudes and the division in float32. V = 0 (identical mattes) or S = 0 (p′ + g′
    constant) gives exactly 0.
    """
    h, w = sx.shape
    columns = np.zeros(w, np.float64)
    for i in range(h):
        for j in range(w):
            ax = sx[i, j]
            ay = sy[i, j]
            bx = vx[i, j]
            by = vy[i, j]
            numerator = np.float32(np.float64(ax) * np.float64(bx) + np.float64(ay) * np.float64(by))
            px = ax + bx
            py = ay + by
            ux = ax - bx
            uy = ay - by
            denominator = np.sqrt(px * px + py * py) + np.sqrt(ux * ux + uy * uy)
            e = (numerator + numerator) / denominator if denominator > 0 else np.float32(0.0)
            e = e * e
            out[i, j] = e
            columns[j] += e
    return _column_total(columns)


@jit
def magnitude(x, y, out, top, bottom, left, right):
    """√(x² + y²) in float32 IEEE operations; returns the float64 total over
    [top:bottom, left:right] (MMNet's valid interior)."""
    h, w = x.shape
    columns = np.zeros(w, np.float64)
    for i in range(h):
        inside = top <= i < bottom
        for j in range(w):
            a = x[i, j]
            b = y[i, j]
            v = np.sqrt(a * a + b * b)
            out[i, j] = v
            columns[j] += v if inside and left <= j < right else np.float32(0.0)
    return _column_total(columns)


@jit
def magnitude_squared(x, y, out):
    h, w = x.shape
    columns = np.zeros(w, np.float64)
    for i in range(h):
        for j in range(w):
            a = x[i, j]
            b = y[i, j]
            v = a * a + b * b
            out[i, j] = v
            columns[j] += v
    return _column_total(columns)


@jit
def sobel_codes(padded, l2, l1, want_l2, want_l1):
    """The seed's Sobel/8 maps of an 8-bit code difference (int16, |D| ≤ 255) with its 1-pixel
    border (``cv2.copyMakeBorder`` with the metric's border rule), in one pass.

    kx, ky = 8·dx, 8·dy are exact int32 (|kx| ≤ 2040), kx² + ky² < 2^24 is exact in float32,
    so l2 = √(kx² + ky²)/8 has one correctly rounded square root, and l1 = (|kx| + |ky|)/16 is
    exact. Returns (Σ l2 as float64, Σ (|kx| + |ky|) as int64, exact). ``want_l2`` /
    ``want_l1``: which maps to write (the other's total is 0); each combination is its own
    branch-free loop, so that it vectorises.
    """
    h, w = l2.shape
    columns2 = np.zeros(w, np.float64)
    columns1 = np.zeros(w, np.int64)
    if want_l2 and want_l1:
        for i in range(h):
            for j in range(w):
                kx, ky = _sobel_taps(padded, i, j)
                v2 = np.sqrt(np.float32(kx * kx + ky * ky)) * np.float32(0.125)
                l2[i, j] = v2
                columns2[j] += v2
                s1 = (kx if kx >= 0 else -kx) + (ky if ky >= 0 else -ky)
                l1[i, j] = np.float32(s1) * np.float32(0.0625)
                columns1[j] += s1
    elif want_l2:
        for i in range(h):
            for j in range(w):
                kx, ky = _sobel_taps(padded, i, j)
                v2 = np.sqrt(np.float32(kx * kx + ky * ky)) * np.float32(0.125)
                l2[i, j] = v2
                columns2[j] += v2
    elif want_l1:
        for i in range(h):
            for j in range(w):
                kx, ky = _sobel_taps(padded, i, j)
                s1 = (kx if kx >= 0 else -kx) + (ky if ky >= 0 else -ky)
                l1[i, j] = np.float32(s1) * np.float32(0.0625)
                columns1[j] += s1
    return _column_total(columns2), _column_total(columns1)


@jit
def _sobel_taps(padded, i, j):
    """(8·dx, 8·dy) at (i, j) of the padded integer difference, exact int32."""
    a = np.int32(padded[i, j])
    b = np.int32(padded[i, j + 1])
    c = np.int32(padded[i, j + 2])
    d = np.int32(padded[i + 1, j])
    f = np.int32(padded[i + 1, j + 2])
    g = np.int32(padded[i + 2, j])
    m = np.int32(padded[i + 2, j + 1])
    k = np.int32(padded[i + 2, j + 2])
    return (c - a) + 2 * (f - d) + (k - g), (g - a) + 2 * (m - b) + (k - c)


@jit
def sobel_alpha(padded, l2, l1):
    """As :func:`sobel_codes` for a float64 difference image, in float64 (returns Σ l2, Σ l1).
    Also used for 16-bit codes, whose differences are exact in float64, as are dx, dy (k/8),
    their squares and Σ l1."""
    h, w = l2.shape
    columns2 = np.zeros(w, np.float64)
    columns1 = np.zeros(w, np.float64)
    for i in range(h):
        for j in range(w):
            a = padded[i, j]
            b = padded[i, j + 1]
            c = padded[i, j + 2]
            d = padded[i + 1, j]
            f = padded[i + 1, j + 2]
            g = padded[i + 2, j]
            m = padded[i + 2, j + 1]
            k = padded[i + 2, j + 2]
            dx = ((c - a) + 2.0 * (f - d) + (k - g)) * 0.125
            dy = ((g - a) + 2.0 * (m - b) + (k - c)) * 0.125
            v2 = np.sqrt(dx * dx + dy * dy)
            v1 = 0.5 * (abs(dx) + abs(dy))
            l2[i, j] = v2
            l1[i, j] = v1
            columns2[j] += v2
            columns1[j] += v1
    return _column_total(columns2), _column_total(columns1)


# --------------------------------------------------------------------------------------------
# Reductions over a region: the same fixed order, float64 (or int64) accumulation
# --------------------------------------------------------------------------------------------


@jit
def total_float(values, mask, use_mask):
    """(Σ values, count) over ``mask`` (or every pixel) in float64, by columns."""
    h, w = values.shape
    columns = np.zeros(w, np.float64)
    counts = np.zeros(w, np.int64)
    for i in range(h):
        for j in range(w):
            if use_mask:
                m = mask[i, j]
                columns[j] += np.float64(values[i, j]) if m else 0.0
                counts[j] += m
            else:
                columns[j] += values[i, j]
    count = _column_total(counts) if use_mask else h * w
    return _column_total(columns), count


@jit
def total_int(values, mask, use_mask):
    """(Σ values, count) over ``mask`` (or every pixel) in int64: exact."""
    h, w = values.shape
    total = np.int64(0)
    count = 0
    for i in range(h):
        for j in range(w):
            if use_mask:
                m = np.int64(mask[i, j])
                total += values[i, j] * m
                count += m
            else:
                total += values[i, j]
    if not use_mask:
        count = h * w
    return total, count


@jit
def absdiff_total_float(pred, gt, mask, use_mask, squared):
    """Σ |p − g| (or (p − g)²) of float64 alpha over ``mask``, by columns."""
    h, w = pred.shape
    columns = np.zeros(w, np.float64)
    for i in range(h):
        for j in range(w):
            d = pred[i, j] - gt[i, j]
            e = d * d if squared else abs(d)
            if use_mask and not mask[i, j]:
                e = 0.0
            columns[j] += e
    return _column_total(columns)


@jit
def absdiff_total_int(pred, gt, mask, use_mask, squared):
    """Σ |v − w| (or (v − w)²) of integer codes over ``mask``, in int64: exact (integer sums
    may be reordered freely, so LLVM vectorises this loop)."""
    h, w = pred.shape
    total = np.int64(0)
    for i in range(h):
        for j in range(w):
            d = np.int64(pred[i, j]) - np.int64(gt[i, j])
            e = d * d if squared else (d if d >= 0 else -d)
            if use_mask:
                e *= np.int64(mask[i, j])
            total += e
    return total
