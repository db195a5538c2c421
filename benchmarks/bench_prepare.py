"""Throughput of dataset preparation on a synthetic AISegment-shaped archive.

Builds a zip in the real AISegment layout (``clip_img/<group>/clip_<8d>/<stem>.jpg`` and RGBA
``matting/…/<stem>.png``) with ``--pairs`` pairs (default 2,000) at ``--width``×``--height``
(default 600×800), then times, in this run:

* baseline: decoding every file once in one process (``cv2.imdecode``, no hashing or checks);
* verify (:func:`vbbench.verify.verify_dataset`) with ``--workers`` processes (default 2);
* variants (:func:`vbbench.variants.make_variants`) of the test split with the same workers.

It prints images/s (pairs/s) for each, the ratio to the baseline, and the peak resident memory
of the main process (workers hold one pair at a time).

    python benchmarks/bench_prepare.py [--pairs 2000] [--width 600] [--height 800] [--workers 2]
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import cv2
import numpy as np

from vbbench.sources import find_layout_root, get_dataset, safe_extract
from vbbench.split import assign_splits
from vbbench.variants import VARIANTS, make_variants
from vbbench.verify import read_pairs, verify_dataset

_BASES: dict = {}


def synthetic_pair(index: int, width: int, height: int) -> tuple[bytes, bytes]:
    """A smooth colour image (JPEG) and an RGBA cut-out whose alpha is a soft head-and-shoulders.

    Eight base scenes are drawn once; each index shifts one and tints it, so every file differs
    (verify would flag byte-identical images as duplicates) while the archive builds quickly.
    """
    key = (index % 8, width, height)
    if key not in _BASES:
        rng = np.random.default_rng(index % 8)
        y, x = np.mgrid[0:height, 0:width].astype(np.float32)
        base = rng.uniform(40, 200, 3).astype(np.float32)
        image = np.clip(
            base
            + 30 * np.sin(x[..., None] / rng.uniform(20, 60) + np.arange(3))
            + 20 * np.cos(y[..., None] / rng.uniform(20, 60)),
            0,
            230,
        ).astype(np.uint8)
        alpha = np.zeros((height, width), np.uint8)
        head_y = int(height * rng.uniform(0.15, 0.3))
        cv2.ellipse(alpha, (width // 2, head_y), (width // 7, height // 8), 0, 0, 360, 255, -1)
        cv2.ellipse(alpha, (width // 2, height), (width * 2 // 5, height // 2), 0, 180, 360, 255, -1)
        _BASES[key] = image, cv2.GaussianBlur(alpha, (9, 9), 0)
    image, alpha = _BASES[key]
    shift = (index // 8) % (width // 4)
    image = np.roll(image, shift, axis=1) + np.uint8(index // 8 // (width // 4) % 20)
    alpha = np.roll(alpha, shift - width // 8, axis=1)
    jpeg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes()
    rgba = cv2.imencode(".png", np.dstack([image, alpha]), [cv2.IMWRITE_PNG_COMPRESSION, 1])[1].tobytes()
    return jpeg, rgba


def build_archive(path: Path, pairs: int, width: int, height: int) -> None:
    """Sessions of 10 clips × 10 images (group = session/clip)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as bundle:
        for index in range(pairs):
            group = f"{1803000000 + index // 100}"
            clip = f"{(index // 10) % 10:08d}"
            stem = f"{group}-{index:08d}"
            jpeg, rgba = synthetic_pair(index, width, height)
            bundle.writestr(f"matting_human_datasets/clip_img/{group}/clip_{clip}/{stem}.jpg", jpeg)
            bundle.writestr(f"matting_human_datasets/matting/{group}/matting_{clip}/{stem}.png", rgba)


def decode_baseline(root: Path, pairs: list[dict]) -> float:
    start = time.perf_counter()
    for pair in pairs:
        for name in (pair["image"], pair["matte"]):
            data = np.frombuffer((root / name).read_bytes(), np.uint8)
            assert cv2.imdecode(data, cv2.IMREAD_UNCHANGED) is not None
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=2000)
    parser.add_argument("--width", type=int, default=600)
    parser.add_argument("--height", type=int, default=800)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    card = get_dataset("aisegment").replace(
        expected_pairs=args.pairs, expected_width_px=args.width, expected_height_px=args.height
    )
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        start = time.perf_counter()
        build_archive(scratch / "ais.zip", args.pairs, args.width, args.height)
        print(
            f"built {args.pairs} pairs at {args.width}×{args.height} px "
            f"({(scratch / 'ais.zip').stat().st_size / 2**20:.0f} MiB) in {time.perf_counter() - start:.1f} s"
        )
        start = time.perf_counter()
        safe_extract(scratch / "ais.zip", scratch / "raw", progress=False)
        print(f"extract: {time.perf_counter() - start:.1f} s")
        root = find_layout_root(scratch / "raw", "aisegment")

        start = time.perf_counter()
        report = verify_dataset(card, root, scratch / "data", workers=args.workers, progress=False)
        verify_s = time.perf_counter() - start
        pairs = read_pairs(scratch / "data", "aisegment")
        assert report.usable == args.pairs, report
        baseline_s = decode_baseline(root, pairs)

        rows = assign_splits(card, pairs)
        test_ids = {row["id"] for row in rows if row["split"] == "test"}
        test_pairs = [pair for pair in pairs if pair["id"] in test_ids]
        start = time.perf_counter()
        make_variants(card, root, scratch / "data", test_pairs, VARIANTS, workers=args.workers, progress=False)
        variants_s = time.perf_counter() - start

    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"baseline decode-only, 1 process: {args.pairs / baseline_s:7.1f} pairs/s ({baseline_s:.1f} s)")
    print(
        f"verify, {args.workers} workers:           {args.pairs / verify_s:7.1f} pairs/s ({verify_s:.1f} s; "
        f"decode, sha256, checks; {args.pairs / verify_s / (args.pairs / baseline_s):.2f}× the baseline)"
    )
    print(
        f"variants, {args.workers} workers:         {len(test_pairs) / variants_s:7.1f} test items/s "
        f"({len(test_pairs)} items × {len(VARIANTS)} variants = {len(test_pairs) * len(VARIANTS) / variants_s:.1f} "
        f"variant images/s; {variants_s:.1f} s)"
    )
    # forkserver workers are the forkserver's children, not ours: RUSAGE_CHILDREN does not see them
    print(f"peak RSS of this (main) process: {own:.0f} MiB")


if __name__ == "__main__":
    sys.exit(main())
