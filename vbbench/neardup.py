"""Near-duplicate images: 64-bit difference hashes confirmed by colour, a multi-index search, clusters.

The split (:mod:`vbbench.split`) must keep near-duplicates — the same person in the same shoot,
consecutive frames, re-crops, re-encodes — on one side, whatever folder they sit in. Two images
are near-duplicates when their difference hashes differ in at most ``threshold`` of 64 bits *and*
their colour thumbnails agree within ``colour_threshold`` levels:

* :func:`dhash64` — the difference hash: the image in grayscale, shrunk to 9×8 pixels with
  ``cv2.INTER_AREA``, one bit per horizontally adjacent pair (``left > right``), row by row, most
  significant bit first [Krawetz 2013, "Kind of like that", hackerfactor.com];
* :func:`hash_image` — that hash and ten *probes*, the hashes of copies shifted by ±4 % (sideways,
  up, down) and ±3 % (diagonally) and scaled by 0.94 and 1.06 (:data:`PROBES`). A pair is near
  when any hash of one is within the threshold of the other's plain hash: the probes let small
  shifts and re-crops match at a low threshold, where distinct portraits do not (the measurement
  is in ``docs/datasets.md``);
* :func:`colour_thumbnail` — the image shrunk to 6×8 pixels (``INTER_AREA``), in colour; the
  hash sees only the coarse grayscale layout, so two different people in the same centred pose
  can match it by chance (and such chance matches chain at AISegment's size); their colours
  (clothes, skin, hair, background) differ. :func:`colour_distance` is the mean absolute
  difference of two thumbnails in 8-bit levels after removing each channel's mean difference (so
  a brightness change of the same picture does not count);
* :func:`near_pairs` — every pair within the hash threshold by multi-index hashing [Norouzi et
  al. 2012, "Fast search in Hamming space with multi-index hashing", CVPR]: the 64 bits are cut
  into ``m`` chunks; two hashes within ``threshold`` bits differ in at most ``threshold // m``
  bits in one chunk (pigeonhole), so only hashes in the buckets near a query's chunk values are
  compared. Equal to comparing every pair, in O(n · lookups) instead of O(n²); the candidates are
  then confirmed by colour;
* :func:`clusters` — connected components of that graph (near-duplicate of a near-duplicate is
  the same cluster: leak-freeness needs exactly this).

Both are computed from the decoded pixels, so identical files give identical signatures on any
machine with the same decoder; they are kept (``verify/dhash.csv``) and reused by image SHA-256.
The thresholds are measured on rendered portraits (``docs/datasets.md``, ``tests/test_neardup.py``).
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "HASH_VERSION",
    "PROBES",
    "HASHES_PER_IMAGE",
    "THUMBNAIL_SIZE",
    "to_gray",
    "dhash64",
    "hash_image",
    "colour_thumbnail",
    "colour_distance",
    "near_pairs",
    "clusters",
    "format_hashes",
    "parse_hashes",
    "format_thumbnail",
    "parse_thumbnail",
]

#: Identifies the signature definition; cached signatures of another version are recomputed.
HASH_VERSION = "dhash64-9x8-area+probes10+colour6x8-v1"
#: Width and height of the colour thumbnail in pixels.
THUMBNAIL_SIZE = (6, 8)
#: (dx, dy as a fraction of the width/height, scale) of the probe copies.
PROBES: tuple[tuple[float, float, float], ...] = (
    (0.04, 0.0, 1.0),
    (-0.04, 0.0, 1.0),
    (0.0, 0.04, 1.0),
    (0.0, -0.04, 1.0),
    (0.03, 0.03, 1.0),
    (-0.03, 0.03, 1.0),
    (0.03, -0.03, 1.0),
    (-0.03, -0.03, 1.0),
    (0.0, 0.0, 0.94),
    (0.0, 0.0, 1.06),
)
HASHES_PER_IMAGE = 1 + len(PROBES)
_PROBE_GRID = (72, 64)  # probes are warped at 8× the hash grid, then shrunk like the hash
_BITS = np.uint64(1) << np.arange(63, -1, -1, dtype=np.uint64)


def to_gray(image: np.ndarray) -> np.ndarray:
    """8-bit grayscale of a decoded image (gray, BGR or BGRA; 8 or 16 bits), as OpenCV weighs it.

    Examples
    --------
    >>> to_gray(np.full((2, 2, 3), 200, np.uint8)).tolist(), to_gray(np.full((1, 1), 65535, np.uint16)).tolist()
    ([[200, 200], [200, 200]], [[255]])
    """
    import cv2

    if image.dtype == np.uint16:
        image = (image >> 8).astype(np.uint8)
    if image.ndim == 2:
        return image
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2GRAY)
    if image.shape[2] == 1:
        return image[:, :, 0]
    return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)


def _bits(small: np.ndarray) -> int:
    bits = (small[:, :-1] > small[:, 1:]).ravel()
    return int(np.bitwise_or.reduce(_BITS[bits])) if bits.any() else 0


def dhash64(image: np.ndarray) -> int:
    """64-bit difference hash of an image (see the module docstring).

    Examples
    --------
    >>> ramp = np.tile(np.arange(90, 0, -10, dtype=np.uint8), (8, 1))   # darker to the right
    >>> hex(dhash64(ramp)), dhash64(np.zeros((80, 60), np.uint8))
    ('0xffffffffffffffff', 0)
    """
    import cv2

    return _bits(cv2.resize(to_gray(image), (9, 8), interpolation=cv2.INTER_AREA))


def hash_image(image: np.ndarray) -> np.ndarray:
    """``[dhash64(image), probe_1, …, probe_10]`` as ``uint64`` (see :data:`PROBES`).

    Examples
    --------
    >>> image = np.random.default_rng(0).integers(0, 255, (80, 60), dtype=np.uint8)
    >>> hashes = hash_image(image)
    >>> hashes.shape, int(hashes[0]) == dhash64(image)
    ((11,), True)
    """
    import cv2

    gray = to_gray(image)
    out = np.empty(HASHES_PER_IMAGE, np.uint64)
    out[0] = dhash64(gray)
    width, height = _PROBE_GRID
    grid = cv2.resize(gray, _PROBE_GRID, interpolation=cv2.INTER_AREA)
    for index, (dx, dy, scale) in enumerate(PROBES, start=1):
        matrix = cv2.getRotationMatrix2D(((width - 1) / 2, (height - 1) / 2), 0.0, scale)
        matrix[0, 2] += dx * width
        matrix[1, 2] += dy * height
        moved = cv2.warpAffine(grid, matrix, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        out[index] = _bits(cv2.resize(moved, (9, 8), interpolation=cv2.INTER_AREA))
    return out


def colour_thumbnail(image: np.ndarray) -> np.ndarray:
    """The image shrunk to 6×8 pixels with ``INTER_AREA``, 3 channels (BGR; gray repeated;
    16-bit: the high byte), flattened to 144 ``uint8`` values.

    Examples
    --------
    >>> colour_thumbnail(np.full((80, 60), 7, np.uint8)).shape, int(colour_thumbnail(np.full((8, 6), 7, np.uint8))[0])
    ((144,), 7)
    """
    import cv2

    if image.dtype == np.uint16:
        image = (image >> 8).astype(np.uint8)
    if image.ndim == 2 or image.shape[2] == 1:
        image = cv2.cvtColor(image.reshape(image.shape[:2]), cv2.COLOR_GRAY2BGR)
    elif image.shape[2] == 4:
        image = np.ascontiguousarray(image[:, :, :3])
    return cv2.resize(image, THUMBNAIL_SIZE, interpolation=cv2.INTER_AREA).reshape(-1)


def colour_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Mean absolute difference of colour thumbnails (8-bit levels) after removing each channel's
    mean difference; ``a`` and ``b`` are ``(144,)`` or ``(k, 144)``.

    Examples
    --------
    >>> base = np.arange(144, dtype=np.uint8)  # reversed: |6k − 141| per channel, k = 0…47, mean 72
    >>> float(colour_distance(base, base + 10)), float(colour_distance(base, base[::-1]))
    (0.0, 72.0)
    """
    difference = np.atleast_2d(a).astype(np.float64) - np.atleast_2d(b).astype(np.float64)
    difference = difference.reshape(len(difference), -1, 3)
    difference -= difference.mean(axis=1, keepdims=True)
    out = np.abs(difference).mean(axis=(1, 2))
    return out if np.ndim(a) > 1 or np.ndim(b) > 1 else out[0]


def format_thumbnail(thumbnail: np.ndarray) -> str:
    """A thumbnail as hex (two digits per value)."""
    return np.asarray(thumbnail, np.uint8).tobytes().hex()


def parse_thumbnail(text: str) -> np.ndarray:
    """The inverse of :func:`format_thumbnail`.

    Examples
    --------
    >>> parse_thumbnail(format_thumbnail(np.array([0, 255, 7], np.uint8))).tolist()
    [0, 255, 7]
    """
    return np.frombuffer(bytes.fromhex(text), np.uint8).copy()


def format_hashes(hashes: np.ndarray) -> str:
    """Hashes as space-separated 16-digit hex words (how ``dhash.csv`` stores them).

    Examples
    --------
    >>> format_hashes(np.array([1, 2**64 - 1], np.uint64))
    '0000000000000001 ffffffffffffffff'
    """
    return " ".join(f"{int(value):016x}" for value in hashes)


def parse_hashes(text: str) -> np.ndarray:
    """The inverse of :func:`format_hashes`.

    Examples
    --------
    >>> parse_hashes("0000000000000001 ffffffffffffffff").tolist()
    [1, 18446744073709551615]
    """
    return np.array([int(word, 16) for word in text.split()], np.uint64)


def _flips(bits: int, radius: int) -> np.ndarray:
    """Every ``bits``-bit mask with at most ``radius`` bits set (the Hamming ball around 0)."""
    from itertools import combinations

    masks = [sum(1 << b for b in chosen) for r in range(radius + 1) for chosen in combinations(range(bits), r)]
    return np.array(masks, np.int32)


def _chunking(count: int, threshold: int) -> list[int]:
    """Chunk widths (bits) for :func:`near_pairs`: the split of 64 bits into ``m`` chunks that
    minimises a rough cost, lookups × (lookup cost + expected candidates per lookup). Any ``m``
    gives the same, exact result; only the speed differs (measured in benchmarks/bench_neardup.py)."""
    from math import comb

    best: tuple[float, list[int]] = (float("inf"), [])
    for m in range(3, 17):  # 3 chunks of ≤ 22 bits … 16 chunks of 4 bits
        widths = [64 // m + (1 if k < 64 % m else 0) for k in range(m)]
        if max(widths) > 24:
            continue
        radius = threshold // m
        lookups = m * sum(comb(max(widths), r) for r in range(radius + 1))
        lookup_cost = 1.0 if max(widths) <= 16 else 4.0  # tables beyond 64 K entries leave the cache
        cost = lookups * (lookup_cost + 4.0 * count / 2 ** min(widths))
        best = min(best, (cost, widths))
    return best[1]


def near_pairs(
    hashes: np.ndarray,
    threshold: int,
    thumbnails: np.ndarray | None = None,
    colour_threshold: float | None = None,
    budget: int = 1 << 22,
) -> np.ndarray:
    """Every pair ``(i, j)``, ``i < j``, where some hash of row ``i`` is within ``threshold`` bits
    of ``hashes[j, 0]`` or some hash of row ``j`` is within it of ``hashes[i, 0]`` — and, when
    ``thumbnails`` are given, whose :func:`colour_distance` is at most ``colour_threshold``.

    Multi-index hashing: the 64 bits are cut into ``m`` chunks; two hashes within ``threshold``
    bits differ in at most ``threshold // m`` bits in one of the chunks (pigeonhole), so each
    query looks up the buckets of its chunk values flipped in at most that many bits, in a dense
    table of bucket sizes, and only those candidates are compared in full. ``m`` is chosen for
    speed (e.g. 5 chunks of 12–13 bits searched within 1 bit at 8 bits and 34,425 images).

    Parameters
    ----------
    hashes : numpy.ndarray
        ``(n,)`` plain hashes or ``(n, p)`` (column 0 the hash, the rest probes), ``uint64``.
    threshold : int
        Hamming distance in bits, 0 to 63.
    thumbnails : numpy.ndarray, optional
        ``(n, 144)`` colour thumbnails (:func:`colour_thumbnail`), same order.
    colour_threshold : float, optional
        Largest colour distance of a near-duplicate, in 8-bit levels.
    budget : int
        Candidates compared at once (bounds the memory when many hashes are equal).

    Returns
    -------
    numpy.ndarray
        ``(e, 2)`` int64, sorted, unique.

    Examples
    --------
    >>> near_pairs(np.array([0b1111, 0b0111, 0xFF00], np.uint64), threshold=1).tolist()
    [[0, 1]]
    """
    if not 0 <= threshold < 64:
        raise ValueError(f"threshold must be 0 to 63 bits, got {threshold}")
    hashes = np.asarray(hashes, np.uint64)
    if hashes.ndim == 1:
        hashes = hashes[:, None]
    n, p = hashes.shape
    if n < 2:
        return np.empty((0, 2), np.int64)
    base = hashes[:, 0]
    queries = hashes.reshape(-1)
    owners = np.repeat(np.arange(n, dtype=np.int64), p)
    widths = _chunking(n, threshold)
    radius = threshold // len(widths)
    found = []
    shift = 64
    for bits in widths:
        shift -= bits
        mask = np.uint64((1 << bits) - 1)
        base_keys = ((base >> np.uint64(shift)) & mask).astype(np.int32)
        order = np.argsort(base_keys, kind="stable")
        bucket_sizes = np.bincount(base_keys, minlength=1 << bits).astype(np.int32)
        starts = np.concatenate([[0], np.cumsum(bucket_sizes)[:-1]]).astype(np.int64)
        query_keys = ((queries >> np.uint64(shift)) & mask).astype(np.int32)
        for flip in _flips(bits, radius):
            keys = query_keys ^ flip
            counts = bucket_sizes[keys]  # one gather per query; most buckets are empty
            hit = np.flatnonzero(counts)
            if not len(hit):
                continue
            low, counts = starts[keys[hit]], counts[hit].astype(np.int64)
            step = max(1, budget // max(1, int(counts.max())))
            for first in range(0, len(hit), step):
                batch = hit[first : first + step]
                sizes = counts[first : first + step]
                batch_low = low[first : first + step]
                total = int(sizes.sum())
                where = np.repeat(batch_low - (np.cumsum(sizes) - sizes), sizes) + np.arange(total)
                other = order[where]
                query = np.repeat(batch, sizes)
                owner = owners[query]
                near = (np.bitwise_count(queries[query] ^ base[other]) <= threshold) & (owner != other)
                if near.any():
                    a, b = owner[near], other[near]
                    found.append(np.stack([np.minimum(a, b), np.maximum(a, b)], 1))
    if not found:
        return np.empty((0, 2), np.int64)
    pairs = np.unique(np.concatenate(found), axis=0).astype(np.int64)
    if thumbnails is not None and colour_threshold is not None and len(pairs):
        thumbnails = np.asarray(thumbnails, np.uint8)
        keep = np.concatenate(
            [
                colour_distance(thumbnails[pairs[k : k + 65536, 0]], thumbnails[pairs[k : k + 65536, 1]])
                <= colour_threshold
                for k in range(0, len(pairs), 65536)
            ]
        )
        pairs = pairs[keep]
    return pairs


def clusters(count: int, pairs: np.ndarray) -> np.ndarray:
    """Connected-component label (0 … k−1) of each of ``count`` items under ``pairs``.

    Examples
    --------
    >>> clusters(5, np.array([[0, 3], [3, 4]])).tolist()
    [0, 1, 2, 0, 0]
    """
    if count == 0:
        return np.empty(0, np.int64)
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    pairs = np.asarray(pairs, np.int64).reshape(-1, 2)
    graph = coo_matrix((np.ones(len(pairs), np.int8), (pairs[:, 0], pairs[:, 1])), shape=(count, count))
    return connected_components(graph, directed=False)[1].astype(np.int64)
