"""Compiled loops of the connectivity error (numba, see :mod:`vbbench.metrics._jit`).

:func:`conn_codes` is the one ordered union-find pass that gives every pixel its Conn code
(why it equals the reference's ten labellings, tie-break included, is in
:func:`vbbench.metrics.conn.conn_lower_levels`); :func:`conn_error_codes` and
:func:`conn_error_alpha` evaluate |φ(p) − φ(g)|; :func:`levels_by_division` and :func:`lookup`
count the thresholds a code passes. Self-contained: it calls no numba function of another
module (``_jit`` says why).
"""

from __future__ import annotations

import numpy as np

from vbbench.metrics._jit import jit
from vbbench.metrics._kernels import _column_total

__all__ = ["conn_codes", "conn_error_codes", "conn_error_alpha", "levels_by_division", "lookup"]


@jit
def _root(parent, x):
    # Path halving: every second node on the path is linked to its grandparent.
    while parent[x] != x:
        parent[x] = parent[parent[x]]
        x = parent[x]
    return x


@jit
def conn_codes(levels, column_major, skip, codes):
    """Conn (k − 1) codes of a level image, in one ordered union-find pass over the thresholds.

    ``levels``: int8 (H + 2, W + 2), values 0 … 10, with a border of width 1 holding 0 (so no
    neighbour test needs a bounds check); ``codes``: the int8 (H, W) output. Components are
    ordered by their first pixel in column-major (MATLAB) or row-major order: each root keeps
    the smallest such key of its set. Returns m, the last threshold up to which the largest
    components are nested (0 if no pixel passes t_1).

    Round 10 labels M_10 in raster order (the SAUF decision tree for 4-connectivity: a union
    only where the up and left neighbours are in M_10 and the up-left one is not), rounds
    9 … 1 add the pixels of each level to the union-find (union by index, path halving).
    After each round the largest set (ties: the smallest key) is Ω_k, and whether Ω_(k+1)
    lies inside it is recorded. Every root-to-root union of rounds 9 … 1 is recorded with its
    round, forming the merge forest, from which a pixel's code is read off (the proof is in
    :func:`vbbench.metrics.conn.conn_lower_levels`).
    """
    hp, wp = levels.shape
    lev = levels.ravel()
    n = hp * wp
    parent = np.full(n, -1, np.int32)
    size = np.empty(n, np.int32)
    key = np.empty(n, np.int32)  # tie-break key: min over the set, valid at label nodes / roots
    link = np.empty(n, np.int32)
    seq = np.empty(n, np.int32)
    seq_level = np.empty(n, np.int8)
    nseq = 0
    nxt = np.empty(n, np.int32)
    head = np.full(11, -1, np.int32)
    tail = np.full(11, -1, np.int32)
    best_at = np.full(12, -1, np.int32)
    nested = np.zeros(12, np.bool_)
    labels = np.empty(n, np.int32)  # created roots of round 10, in creation order
    nlabels = 0
    # ---- round 10: raster labelling of M_10 (SAUF decision tree, 4-connectivity)
    for i in range(1, hp - 1):
        base = i * wp
        for j in range(1, wp - 1):
            p = base + j
            v = lev[p]
            if v == 10:
                kp = (j * hp + i) if column_major else p
                up = p - wp
                if lev[up] == 10:
                    a = parent[up]
                    if lev[p - 1] == 10 and lev[up - 1] != 10:
                        ra = _root(parent, a)
                        rb = _root(parent, parent[p - 1])
                        if ra < rb:
                            parent[rb] = ra
                            a = ra
                        elif rb < ra:
                            parent[ra] = rb
                            a = rb
                        else:
                            a = ra
                    parent[p] = a
                elif lev[p - 1] == 10:
                    a = parent[p - 1]
                    parent[p] = a
                else:
                    a = p
                    parent[p] = p
                    size[p] = 0
                    key[p] = kp
                    labels[nlabels] = p
                    nlabels += 1
                # count the pixel at its label node (the root it joins, for a new root itself)
                if a != p:
                    link[p] = a
                size[a] += 1
                if kp < key[a]:
                    key[a] = kp
            elif v > 0:
                # per-level lists in raster order (appended at the tail): a pixel then usually
                # joins a root with a smaller index instead of becoming the root of everything
                # processed before it, which would chain the roots
                nxt[p] = -1
                if head[v] < 0:
                    head[v] = p
                else:
                    nxt[tail[v]] = p
                tail[v] = p
                key[p] = (j * hp + i) if column_major else p
    # fold label nodes into their roots (creation order: a node's root was created before it)
    best = -1
    best_size = 0
    best_key = 0
    folded = np.zeros(nlabels, np.bool_)  # label nodes that are no longer roots after round 10
    for t in range(nlabels):
        x = labels[t]
        r = _root(parent, x)
        if r != x:
            size[r] += size[x]
            if key[x] < key[r]:
                key[r] = key[x]
            link[x] = r  # its round-10 root; x is never a root again, so this stays
            folded[t] = True
        else:
            link[x] = -1  # a root: link is set if and when it merges in a later round
    for t in range(nlabels):
        r = labels[t]
        if parent[r] == r:
            s = size[r]
            if s > best_size or (s == best_size and key[r] < best_key):
                best = r
                best_size = s
                best_key = key[r]
    if best >= 0:
        best_at[10] = best
    # ---- rounds 9 … 1
    for k in range(9, 0, -1):
        p = head[k]
        while p >= 0:
            r = -1
            sz = 1
            for d in range(4):
                if d == 0:
                    q = p - wp
                elif d == 1:
                    q = p - 1
                elif d == 2:
                    q = p + 1
                else:
                    q = p + wp
                if parent[q] < 0:
                    continue
                rq = _root(parent, q)
                if r < 0:
                    if rq < p:
                        parent[p] = rq
                        link[p] = rq
                        sz = size[rq] + 1
                        size[rq] = sz
                        if key[p] < key[rq]:
                            key[rq] = key[p]
                        r = rq
                    else:
                        parent[p] = p
                        link[p] = -1
                        parent[rq] = p
                        link[rq] = p
                        seq[nseq] = rq
                        seq_level[nseq] = k
                        nseq += 1
                        sz = size[rq] + 1
                        size[p] = sz
                        if key[rq] < key[p]:
                            key[p] = key[rq]
                        r = p
                    continue
                if rq == r:
                    continue
                # Two roots meet: the smaller index stays root (a fixed, order-free tie-break).
                root, child = (rq, r) if rq < r else (r, rq)
                parent[child] = root
                link[child] = root
                seq[nseq] = child
                seq_level[nseq] = k
                nseq += 1
                sz = size[root] + size[child]
                size[root] = sz
                if key[child] < key[root]:
                    key[root] = key[child]
                r = root
            if r < 0:
                parent[p] = p
                link[p] = -1
                size[p] = 1
                r = p
                sz = 1
            kr = key[r]
            if sz > best_size or (sz == best_size and kr < best_key):
                best = r
                best_size = sz
                best_key = kr
            p = nxt[p]
        if best >= 0:
            best = _root(parent, best)
            best_size = size[best]
            best_key = key[best]
            best_at[k] = best
            if best_at[k + 1] >= 0:
                nested[k + 1] = _root(parent, best_at[k + 1]) == best
    h = hp - 2
    w = wp - 2
    if best_at[1] < 0:
        fill = 10 if skip else 0
        for i in range(h):
            for j in range(w):
                codes[i, j] = fill
        return 0
    m = 1
    while m < 10 and best_at[m + 1] >= 0 and nested[m + 1]:
        m += 1
    top = m  # the code of the pixels still in Ω_m after round m
    if m < 10 and skip and best_at[m + 1] < 0:
        top = 10  # M_(m+1) and all later thresholds are empty and skipped: l = 1

    # A pixel's code is min(R(p), m), R(p) the highest k at which p is connected to
    # s ∈ Ω_m inside M_k (p ∈ Ω_k ⟺ R(p) ≥ k for k ≤ m, the Ω_k being nested). In the merge
    # forest (link: the root a root was merged into, at round seq_level), the components at
    # the end of round k are the trees of the links made in rounds ≥ k, and link levels never
    # increase towards a root, so R(p) is the smallest link level between p and s.
    s = best_at[m]
    val = np.full(n, -1, np.int8)  # min(R, m) of root-born nodes; -1: not known yet
    mlev = np.empty(n, np.int8)  # round at which a merged root was merged (seq nodes only)
    for t in range(nseq):
        mlev[seq[t]] = seq_level[t]
    val[s] = m
    x = s
    while parent[x] != x:  # s's ancestors: the last (smallest) link level on the way up
        y = link[x]
        lv = mlev[x]
        val[y] = lv if lv < m else m
        x = y
    # Every other merged root: min(its link level, its parent's value); a root is merged
    # before the root it was merged into is, so the reverse order sees parents first.
    for t in range(nseq - 1, -1, -1):
        x = seq[t]
        if val[x] >= 0:
            continue
        pv = val[link[x]]
        if pv < 0:
            pv = 0  # a final root without s
        lv = seq_level[t]
        val[x] = lv if lv < pv else pv
    # Round-10 label nodes that stopped being roots in round 10: their round-10 root's value.
    for t in range(nlabels):
        if folded[t]:
            x = labels[t]
            val[x] = val[link[x]]
    # Pixels that joined an existing set when added (link = that set's root, or the label
    # node in round 10) are connected to it at their own level.
    for i in range(h):
        base = (i + 1) * wp + 1
        for j in range(w):
            p = base + j
            lv = lev[p]
            v = 0
            if lv > 0:
                v = val[p]
                if v < 0:
                    y = link[p]
                    if y >= 0:
                        v = val[y]
                        if v > lv:
                            v = lv
            if v < 0:
                v = 0
            if v == m:
                v = top
            codes[i, j] = v
    return m


@jit
def conn_error_codes(pred, gt, lower, code_max, out):
    """|φ(p) − φ(g)|·10·code_max exactly, in integers, for integer codes (alpha = v/code_max).

    d = v/M − c/10 = (10·v − M·c) / (10·M) = D / (10·M); d ≥ 0.15 ⟺ 2·D ≥ 3·M for the integer
    D, so φ = 1 − d·[d ≥ 0.15] gives |φp − φg| = |Dp·[..] − Dg·[..]| / (10·M) with no rounding.
    """
    h, w = pred.shape
    total = np.int64(0)
    for i in range(h):
        for j in range(w):
            c = np.int32(lower[i, j]) * code_max
            dp = np.int32(pred[i, j]) * 10 - c
            dg = np.int32(gt[i, j]) * 10 - c
            if 2 * dp < 3 * code_max:
                dp = 0
            if 2 * dg < 3 * code_max:
                dg = 0
            e = dp - dg
            e = e if e >= 0 else -e
            out[i, j] = e
            total += e
    return total


@jit
def conn_error_alpha(pred, gt, lower, out):
    """|φ(p) − φ(g)| for float alpha, with exactly the float64 operations of the reference
    implementation (l = code / 10, d = a − l, d·[d ≥ 0.15], 1 − d), so the same decisions."""
    h, w = pred.shape
    columns = np.zeros(w, np.float64)
    for i in range(h):
        for j in range(w):
            level = lower[i, j] / 10.0
            dp = pred[i, j] - level
            dg = gt[i, j] - level
            if not dp >= 0.15:
                dp = 0.0
            if not dg >= 0.15:
                dg = 0.0
            e = abs((1.0 - dp) - (1.0 - dg))
            out[i, j] = e
            columns[j] += e
    return _column_total(columns)


@jit
def levels_by_division(codes, code_max, out):
    """How many thresholds k/10 each code passes: ⌊10·v / code_max⌋, exactly, as int8."""
    h, w = codes.shape
    for i in range(h):
        for j in range(w):
            out[i, j] = (np.int64(codes[i, j]) * 10) // code_max


@jit
def lookup(codes, table, out):
    h, w = codes.shape
    for i in range(h):
        for j in range(w):
            out[i, j] = table[codes[i, j]]
