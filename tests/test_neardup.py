"""Near-duplicate hashes: the hash itself, the multi-index search against brute force, and the
Hamming threshold measured on rendered portraits (distinct ones for false merges, transformed
copies for recall). ``benchmarks/bench_neardup.py`` prints the full table for the docs."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from vbbench.cards import get_dataset, list_datasets
from vbbench.neardup import (
    HASHES_PER_IMAGE,
    clusters,
    colour_distance,
    colour_thumbnail,
    dhash64,
    format_hashes,
    hash_image,
    near_pairs,
    parse_hashes,
    to_gray,
)
from vbbench.sample import render_portrait

W, H = 150, 200  # 3:4 like the real 600×800 sets; the hash only sees 9×8 cells of it
DISTINCT = 700  # 244,650 distinct pairs: false-merge rates down to 4e-6
RECALL = 150  # portraits transformed per near-duplicate kind
AISEGMENT_PAIRS = 34_425
#: How often every near-duplicate kind must be caught at the chosen thresholds.
RECALL_WANTED = 0.95
#: Hash thresholds considered (chance matches are counted up to the largest).
THRESHOLDS = range(0, 11)


def shift(image, fx, fy):
    h, w = image.shape[:2]
    return cv2.warpAffine(image, np.float32([[1, 0, fx * w], [0, 1, fy * h]]), (w, h), borderMode=cv2.BORDER_REPLICATE)


def recrop(image, keep, ox=0.0, oy=0.0):
    """Keep ``keep`` of each side (off-centre by ox, oy) and scale back: a re-crop."""
    h, w = image.shape[:2]
    ch, cw = int(h * keep), int(w * keep)
    y, x = (h - ch) // 2 + int(oy * h), (w - cw) // 2 + int(ox * w)
    return cv2.resize(image[y : y + ch, x : x + cw], (w, h), interpolation=cv2.INTER_AREA)


def jpeg(image, quality):
    return cv2.imdecode(cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])[1], cv2.IMREAD_COLOR)


NEAR = {
    "shift 1 %": lambda im: shift(im, 0.01, 0.01),
    "shift 2 %": lambda im: shift(im, 0.02, 0.02),
    "re-crop 97 %": lambda im: recrop(im, 0.97),
    "re-crop 93 % off-centre": lambda im: recrop(im, 0.93, 0.02, -0.01),
    "brighter +8 %": lambda im: cv2.convertScaleAbs(im, alpha=1.08, beta=8),
    "darker -10 %": lambda im: cv2.convertScaleAbs(im, alpha=0.9, beta=-5),
    "JPEG q50": lambda im: jpeg(im, 50),
    "all, mild": lambda im: jpeg(cv2.convertScaleAbs(recrop(shift(im, 0.01, 0.01), 0.96), alpha=1.05, beta=6), 70),
}


def choose_thresholds(near_bits, near_colour, chance_colour):
    """The rules that pick the card's thresholds from measured distances.

    * colour: halfway between the largest colour distance of a true near-duplicate (any kind) and
      the smallest of a chance hash match within 10 bits, rounded down to a whole level;
    * hash: the smallest threshold at which every near-duplicate kind is caught (hash within it
      and colour within the colour threshold) at least :data:`RECALL_WANTED` of the time. Chance
      matches the colour check lets through are counted separately (they must be none).
    """
    worst_near = max(float(values.max()) for values in near_colour.values())
    colour = float(int((worst_near + float(chance_colour.min())) / 2))
    for t in THRESHOLDS:
        if all(((near_bits[k] <= t) & (near_colour[k] <= colour)).mean() >= RECALL_WANTED for k in near_bits):
            return t, colour
    raise AssertionError(
        f"no hash threshold up to {max(THRESHOLDS)} catches every kind {RECALL_WANTED:.0%} of the time"
    )


def distance(a, b):
    """The split's distance: the smallest over either image's hashes against the other's plain hash."""
    return int(min(np.bitwise_count(a ^ b[0]).min(), np.bitwise_count(b ^ a[0]).min()))


def brute_force_pairs(hashes, threshold):
    """Every pair compared: an independent implementation of :func:`near_pairs`."""
    out = []
    for i in range(len(hashes)):
        for j in range(i + 1, len(hashes)):
            if distance(hashes[i], hashes[j]) <= threshold:
                out.append((i, j))
    return np.array(out, np.int64).reshape(-1, 2)


@pytest.fixture(scope="module")
def portraits():
    return [render_portrait(11, index, W, H)[0] for index in range(DISTINCT)]


@pytest.fixture(scope="module")
def portrait_hashes(portraits):
    return np.stack([hash_image(image) for image in portraits])


# ---- the hash ---------------------------------------------------------------------------------


def test_dhash_bits_are_left_brighter_than_right_row_by_row():
    small = np.zeros((8, 9), np.uint8)
    small[0, 0] = 200  # row 0: only the pair (0, 1) has left > right: the most significant bit
    small[7, 7] = 10  # row 7: only the pair (7, 8): the least significant bit
    assert dhash64(small) == (1 << 63) | 1
    image = cv2.resize(small, (90, 80), interpolation=cv2.INTER_NEAREST)  # INTER_AREA brings it back
    assert dhash64(image) == dhash64(small)
    colour = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    assert dhash64(colour) == dhash64(cv2.cvtColor(colour, cv2.COLOR_BGR2BGRA)) == dhash64(small)
    assert dhash64(image.astype(np.uint16) * 257) == dhash64(small)  # 16-bit: the high byte
    assert np.array_equal(to_gray(colour), image)


def test_probes_are_the_hashes_of_shifted_and_scaled_copies(portraits):
    image = portraits[0]
    hashes = hash_image(image)
    assert hashes.shape == (HASHES_PER_IMAGE,) and hashes.dtype == np.uint64 and int(hashes[0]) == dhash64(image)
    # a probe is the hash the image gets when moved 4 % sideways, computed on the 72×64 grid
    grid = cv2.resize(to_gray(image), (72, 64), interpolation=cv2.INTER_AREA)
    moved = cv2.warpAffine(grid, np.float64([[1, 0, 0.04 * 72], [0, 1, 0]]), (72, 64), flags=cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_REPLICATE)  # fmt: skip
    assert int(hashes[1]) == dhash64(moved)
    assert np.array_equal(parse_hashes(format_hashes(hashes)), hashes)


@pytest.mark.parametrize("threshold, chunks", [(0, None), (2, None), (4, None), (7, None), (8, 3), (8, 4), (8, 9)])
def test_multi_index_search_finds_exactly_the_brute_force_pairs(threshold, chunks, monkeypatch):
    if chunks is not None:  # any chunking is exact; the cost model only picks the fastest
        import vbbench.neardup as neardup

        widths = [64 // chunks + (1 if k < 64 % chunks else 0) for k in range(chunks)]
        monkeypatch.setattr(neardup, "_chunking", lambda count, threshold: widths)
    rng = np.random.default_rng(threshold)
    hashes = rng.integers(0, 2**63, (300, HASHES_PER_IMAGE), dtype=np.int64).astype(np.uint64)
    for k in range(0, 298, 5):  # plant near pairs at every distance up to threshold + 2, in base or probe
        flips = rng.choice(64, size=int(rng.integers(0, threshold + 3)), replace=False)
        mask = np.uint64(sum(1 << int(bit) for bit in flips))
        hashes[k + 1, int(rng.integers(0, HASHES_PER_IMAGE))] = hashes[k, 0] ^ mask
    expected = brute_force_pairs(hashes, threshold)
    assert len(expected) >= 10
    assert np.array_equal(near_pairs(hashes, threshold, budget=97), expected)  # tiny batches
    assert np.array_equal(near_pairs(hashes, threshold), expected)


def test_clusters_are_connected_components():
    labels = clusters(6, np.array([[0, 4], [4, 5], [1, 2]]))
    assert labels[0] == labels[4] == labels[5] and labels[1] == labels[2] and len(set(labels.tolist())) == 3


# ---- the threshold, measured -------------------------------------------------------------------


def measure(portraits, portrait_hashes):
    """Hash and colour distances of chance matches (distinct portraits within 10 bits) and of each
    near-duplicate kind (transformed copies)."""
    thumbs = np.stack([colour_thumbnail(image) for image in portraits])
    chance = near_pairs(portrait_hashes, max(THRESHOLDS))
    chance_bits = np.array([distance(portrait_hashes[i], portrait_hashes[j]) for i, j in chance])
    chance_colour = colour_distance(thumbs[chance[:, 0]], thumbs[chance[:, 1]])
    near_bits, near_colour = {}, {}
    for name, transform in NEAR.items():
        copies = [transform(portraits[i]) for i in range(RECALL)]
        near_bits[name] = np.array([distance(portrait_hashes[i], hash_image(c)) for i, c in enumerate(copies)])
        near_colour[name] = colour_distance(thumbs[:RECALL], np.stack([colour_thumbnail(c) for c in copies]))
    return chance_bits, chance_colour, near_bits, near_colour


def test_the_cards_thresholds_are_the_ones_measured_on_rendered_portraits(portraits, portrait_hashes, capsys):
    chance_bits, chance_colour, near_bits, near_colour = measure(portraits, portrait_hashes)
    t, colour = choose_thresholds(near_bits, near_colour, chance_colour)
    with capsys.disabled():
        print(f"\n{DISTINCT} distinct portraits, {len(chance_bits):,} chance hash matches within 10 bits; "
              f"recall on {RECALL} copies per kind; chosen t = {t}, colour = {colour:g}")  # fmt: skip
        print("  t  chance (hash)  chance (hash+colour)  " + " | ".join(NEAR))
        for bits in range(2, 11):
            recall = " | ".join(f"{((near_bits[k] <= bits) & (near_colour[k] <= colour)).mean():.2f}" for k in NEAR)
            both = int(((chance_bits <= bits) & (chance_colour <= colour)).sum())
            print(f"  {bits:2d} {int((chance_bits <= bits).sum()):6d} {both:12d}            {recall}")
    for name in list_datasets():
        spec = get_dataset(name).split
        assert (spec.dhash_threshold, spec.colour_threshold) == (t, colour), name
    # the colour check removes every chance match the hash lets through, and keeps every true one
    assert not ((chance_bits <= t) & (chance_colour <= colour)).any()
    assert all(values.max() <= colour for values in near_colour.values())
    # the hash alone would merge distinct portraits by the thousand at AISegment's size
    pairs = DISTINCT * (DISTINCT - 1) // 2
    assert (chance_bits <= t).sum() / pairs * AISEGMENT_PAIRS > 1
