"""The near-duplicate thresholds, measured, and what they do at AISegment's scale.

1. On rendered portraits (``--distinct`` distinct ones, default 2,000 = 1,999,000 pairs;
   ``--recall`` transformed copies per near-duplicate kind): per Hamming threshold, the chance
   matches of the hash alone and after the colour check, the recall per kind, and the colour
   distances of chance matches and of true near-duplicates; then the thresholds the rules of
   ``tests/test_neardup.py`` pick from these numbers.
2. Chaining at scale: ``--scale`` rendered portraits (default 34,425 at 150×200; signatures cached
   in ``--cache``), clustered at each threshold with and without the colour check: clusters,
   images in them, the largest cluster, the search time, against a brute-force comparison of a
   subset (time extrapolated).

    python benchmarks/bench_neardup.py [--distinct 2000] [--recall 300] [--scale 34425] [--workers 2]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from test_neardup import NEAR, choose_thresholds, distance  # noqa: E402

from vbbench.neardup import clusters, colour_distance, colour_thumbnail, hash_image, near_pairs  # noqa: E402
from vbbench.parallel import process_map  # noqa: E402
from vbbench.sample import render_portrait  # noqa: E402

AISEGMENT_PAIRS = 34_425


def rendered_signature(task: tuple[int, int, int, int]) -> np.ndarray:
    seed, index, width, height = task
    image = render_portrait(seed, index, width, height)[0]
    return np.concatenate([hash_image(image).view(np.uint8), colour_thumbnail(image)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--distinct", type=int, default=2000)
    parser.add_argument("--recall", type=int, default=300)
    parser.add_argument("--scale", type=int, default=AISEGMENT_PAIRS)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--cache", type=Path, default=Path("/tmp/vbbench-bench-neardup"))
    args = parser.parse_args()
    args.cache.mkdir(parents=True, exist_ok=True)

    # 1. the thresholds
    start = time.perf_counter()
    portraits = [render_portrait(11, index, 150, 200)[0] for index in range(max(args.distinct, args.recall))]
    hashes = np.stack([hash_image(image) for image in portraits[: args.distinct]])
    thumbs = np.stack([colour_thumbnail(image) for image in portraits[: args.distinct]])
    chance = near_pairs(hashes, 10)  # every chance match up to 10 bits, with its distances
    chance_bits = np.array([distance(hashes[i], hashes[j]) for i, j in chance])
    chance_colour = colour_distance(thumbs[chance[:, 0]], thumbs[chance[:, 1]])
    near_bits, near_colour = {}, {}
    for name, transform in NEAR.items():
        copies = [transform(portraits[i]) for i in range(args.recall)]
        near_bits[name] = np.array([distance(hash_image(portraits[i]), hash_image(c)) for i, c in enumerate(copies)])
        near_colour[name] = colour_distance(thumbs[: args.recall], np.stack([colour_thumbnail(c) for c in copies]))
    pairs = args.distinct * (args.distinct - 1) // 2
    print(
        f"{args.distinct:,} distinct rendered portraits ({pairs:,} pairs), {args.recall} of each near-duplicate "
        f"kind, 150×200 px ({time.perf_counter() - start:.0f} s)\n"
    )
    chosen = choose_thresholds(near_bits, near_colour, chance_colour)
    print(f"| t | chance matches, hash only | per image at 34,425 | after colour ≤ {chosen[1]:g} | "
          + " | ".join(NEAR) + " |")  # fmt: skip
    print("|---" * (4 + len(NEAR)) + "|")
    for t in range(2, 11):
        merges = int((chance_bits <= t).sum())
        kept = int(((chance_bits <= t) & (chance_colour <= chosen[1])).sum())
        recall = " | ".join(f"{((near_bits[k] <= t) & (near_colour[k] <= chosen[1])).mean():.2f}" for k in NEAR)
        print(f"| {t} | {merges:,} | {merges / pairs * AISEGMENT_PAIRS:.2f} | {kept} | {recall} |")
    print("\ncolour distance (8-bit levels) of chance hash matches within 10 bits: "
          f"min {chance_colour.min():.1f}, 1st percentile {np.percentile(chance_colour, 1):.1f}, "
          f"median {np.median(chance_colour):.1f} ({len(chance):,} pairs)")  # fmt: skip
    for name in NEAR:
        values = near_colour[name]
        print(f"  {name:24s} median {np.median(values):4.1f}, 99th percentile {np.percentile(values, 99):4.1f}, "
              f"max {values.max():4.1f}")  # fmt: skip
    print(f"\nthe rules pick dhash_threshold = {chosen[0]}, colour_threshold = {chosen[1]:g}\n")

    # 2. chaining at scale
    if not args.scale:
        return
    cache = args.cache / f"signatures-{args.scale}.npy"
    if cache.is_file():
        scaled = np.load(cache)
    else:
        start = time.perf_counter()
        tasks = [(3, index, 150, 200) for index in range(args.scale)]
        scaled = np.stack(list(process_map(rendered_signature, tasks, args.workers, chunksize=256)))
        np.save(cache, scaled)
        print(f"rendered and hashed {args.scale:,} portraits in {time.perf_counter() - start:.0f} s")
    scaled_hashes = np.ascontiguousarray(scaled[:, :88]).view(np.uint64)
    scaled_thumbs = np.ascontiguousarray(scaled[:, 88:])
    print(f"{args.scale:,} rendered portraits, clustered:")
    for t in sorted({4, 5, 6, chosen[0]}):
        for colour in (None, chosen[1]):
            start = time.perf_counter()
            found = near_pairs(scaled_hashes, t, scaled_thumbs if colour else None, colour)
            search = time.perf_counter() - start
            labels = clusters(len(scaled), found)
            sizes = np.bincount(labels)
            how = f"colour ≤ {colour:g}" if colour else "hash only"
            print(
                f"  t={t}, {how:15s}: search {search:5.2f} s, {len(found):,} pairs, {(sizes >= 2).sum():,} clusters "
                f"of 2+, {sizes[sizes >= 2].sum():,} images in them, largest {sizes.max():,} "
                f"({100 * sizes.max() / len(scaled):.2f} %)"
            )
    subset = scaled_hashes[:3000]
    start = time.perf_counter()
    np.bitwise_count(subset[:, :, None] ^ subset[None, None, :, 0]).min(1)
    brute = time.perf_counter() - start
    print(
        f"  all pairs of 3,000 in numpy: {brute:.2f} s -> ~{brute * (args.scale / 3000) ** 2:.0f} s for {args.scale:,}"
    )


if __name__ == "__main__":
    main()
