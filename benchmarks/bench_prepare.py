"""Throughput and memory of dataset preparation on an AISegment-shaped tree, with the extrapolation.

Builds a zip in the real AISegment layout (``clip_img/<batch>/clip_<8d>/<stem>.jpg`` and RGBA
``matting/…/<stem>.png``, 600×800) with ``--pairs`` pairs (default 5,000) numbered like the real
set (block ``clip_<n>`` holds the numbers n·1000 … n·1000 + 999, 20 blocks per batch folder), of
which 2 % are near-duplicates (shifted, re-lit copies) of portraits in other blocks. Portraits are
rendered by vbbench.sample at 150×200 and scaled to 600×800 (rendering at full size would take
longer than everything measured). Then, in this run, on ``--workers`` processes (default 2):

* baseline: decoding every file once in one process (``cv2.imdecode``, nothing else);
* extraction (:func:`vbbench.archives.safe_extract`, the plan included);
* verify (:func:`vbbench.verify.verify_dataset`: decode, SHA-256, checks, near-duplicate signatures);
* near-duplicate clustering and the split (:func:`vbbench.split.make_split`), here and on
  ``--scale-signatures`` (34,425 rendered portraits' signatures written by bench_neardup.py) when given;
* variants of the test split (:func:`vbbench.variants.make_variants`, every variant).

It prints pairs/s for each, the ratio to the baseline, the peak resident memory of the main
process and of all its worker processes together (sampled from /proc every 50 ms), and the
time each step would take for AISegment's 34,425 pairs.

    python benchmarks/bench_prepare.py [--pairs 5000] [--workers 2] [--scale-signatures FILE]
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import threading
import time
import zipfile
from pathlib import Path

import cv2
import numpy as np

from vbbench.archives import safe_extract
from vbbench.cards import get_dataset
from vbbench.layout import find_layout_root
from vbbench.parallel import process_map
from vbbench.prepared import Pair, PreparedDataset
from vbbench.sample import render_portrait
from vbbench.split import make_split
from vbbench.variants import VARIANTS, make_variants
from vbbench.verify import read_hashes, verify_dataset

AISEGMENT_PAIRS = 34_425
SIZE = (600, 800)


def portrait_files(task: tuple[int, int]) -> tuple[bytes, bytes]:
    """A portrait's JPEG and RGBA PNG; with ``copy_of`` ≥ 0, a near-duplicate of that portrait."""
    index, copy_of = task
    cv2.setNumThreads(1)
    image, alpha = render_portrait(9, copy_of if copy_of >= 0 else index, 150, 200)
    image = cv2.resize(image, SIZE, interpolation=cv2.INTER_CUBIC)
    alpha = cv2.resize(alpha, SIZE, interpolation=cv2.INTER_CUBIC)
    if copy_of >= 0:  # the same shot moved about 1 %, a little brighter (each copy differently)
        shift = np.float32([[1, 0, 3 + index % 5], [0, 1, 4 + index % 7]])
        image = cv2.convertScaleAbs(
            cv2.warpAffine(image, shift, SIZE, borderMode=cv2.BORDER_REPLICATE), alpha=1.04, beta=1 + index % 4
        )
        alpha = cv2.warpAffine(alpha, shift, SIZE)
    jpeg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes()
    rgba = cv2.imencode(".png", np.dstack([image, alpha]), [cv2.IMWRITE_PNG_COMPRESSION, 3])[1].tobytes()
    return jpeg, rgba


def build_archive(path: Path, pairs: int, workers: int) -> int:
    """The zip; returns the number of near-duplicate copies placed in other blocks."""
    rng = np.random.default_rng(0)
    copies = {int(k): int(rng.integers(0, pairs)) for k in rng.choice(pairs, pairs // 50, replace=False)}
    tasks = [(index, copies.get(index, -1)) for index in range(pairs)]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as bundle:
        for index, (jpeg, rgba) in enumerate(process_map(portrait_files, tasks, workers, chunksize=16)):
            batch = f"{1803151818 + index // 20000}"
            number = index % 20000
            stem = f"{batch}-{number:08d}"
            folder = f"{number // 1000:08d}"
            bundle.writestr(f"clip_img/{batch}/clip_{folder}/{stem}.jpg", jpeg)
            bundle.writestr(f"matting/{batch}/matting_{folder}/{stem}.png", rgba)
    return len(copies)


class MemoryWatch:
    """Peak RSS of this process and, separately, of all its descendants together (Linux /proc)."""

    def __init__(self) -> None:
        self.peak_children = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    @staticmethod
    def _rss_and_parent(pid: int) -> tuple[int, int]:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            return int(fields[21]) * os.sysconf("SC_PAGE_SIZE"), int(fields[1])
        except (OSError, IndexError, ValueError):
            return 0, -1

    def _watch(self) -> None:
        me = os.getpid()
        while not self._stop.is_set():
            info = {int(p): self._rss_and_parent(int(p)) for p in os.listdir("/proc") if p.isdigit()}
            descendants, frontier = set(), {me}
            while frontier:
                frontier = {pid for pid, (_, parent) in info.items() if parent in frontier} - descendants
                descendants |= frontier
            self.peak_children = max(self.peak_children, sum(info[pid][0] for pid in descendants))
            time.sleep(0.05)

    def __enter__(self) -> MemoryWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def decode_baseline(root: Path, pairs: list[Pair]) -> float:
    start = time.perf_counter()
    for pair in pairs:
        for name in (pair.image, pair.matte):
            assert cv2.imdecode(np.fromfile(str(root / name), np.uint8), cv2.IMREAD_UNCHANGED) is not None
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=5000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--scale-signatures", type=Path, default=None)
    parser.add_argument("--archive", type=Path, default=None, help="keep (and reuse) the built zip here")
    args = parser.parse_args()
    card = get_dataset("aisegment").replace(
        expected_pairs=args.pairs, expected_width_px=SIZE[0], expected_height_px=SIZE[1], known_defects=()
    )
    cv2.setNumThreads(1)
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; {args.workers} workers")
    with tempfile.TemporaryDirectory() as scratch, MemoryWatch() as watch:
        scratch = Path(scratch)
        archive = args.archive or scratch / "ais.zip"
        if not archive.is_file():
            start = time.perf_counter()
            copies = build_archive(archive, args.pairs, args.workers)
            print(f"built {args.pairs:,} pairs ({copies} near-duplicate copies) at 600×800 in "
                  f"{time.perf_counter() - start:.0f} s")  # fmt: skip
        size = archive.stat().st_size

        times: dict[str, float] = {}
        start = time.perf_counter()
        safe_extract(archive, scratch / "raw", card, progress=False)
        times["extract"] = time.perf_counter() - start
        root = find_layout_root(scratch / "raw", card)
        prepared = PreparedDataset(card, scratch / "data")

        start = time.perf_counter()
        report = verify_dataset(prepared, root, workers=args.workers, progress=False)
        times["verify"] = time.perf_counter() - start
        assert report.usable == args.pairs, report
        pairs = prepared.read_pairs()
        times["baseline"] = decode_baseline(root, pairs)

        cache = read_hashes(prepared)
        hashes = np.stack([cache[p.image_sha256][0] for p in pairs])
        thumbs = np.stack([cache[p.image_sha256][1] for p in pairs])
        start = time.perf_counter()
        rows, split = make_split(card, pairs, hashes, thumbs)
        times["split"] = time.perf_counter() - start

        test_ids = {row.id for row in rows if row.split == "test"}
        test_pairs = [pair for pair in pairs if pair.id in test_ids]
        start = time.perf_counter()
        make_variants(prepared, root, test_pairs, VARIANTS.names(), workers=args.workers, progress=False)
        times["variants"] = time.perf_counter() - start
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    def rate(step: str) -> float:
        return args.pairs / times[step]

    print(f"split: {split.describe()}")
    print(f"\n| step | throughput | time | AISegment ({AISEGMENT_PAIRS:,} pairs) |\n|---|---|---|---|")
    print(f"| baseline: decode every file once, 1 process | {rate('baseline'):.1f} pairs/s | {times['baseline']:.1f} s | "
          f"{AISEGMENT_PAIRS / rate('baseline') / 60:.1f} min |")  # fmt: skip
    print(f"| extraction ({size / 2**20:.0f} MiB zip) | {rate('extract'):.0f} pairs/s | {times['extract']:.1f} s | "
          f"{AISEGMENT_PAIRS / rate('extract') / 60:.1f} min |")  # fmt: skip
    print(f"| verify (decode, SHA-256, checks, signatures), {args.workers} workers | {rate('verify'):.1f} pairs/s "
          f"({rate('verify') / rate('baseline'):.2f}× the baseline) | {times['verify']:.1f} s | "
          f"{AISEGMENT_PAIRS / rate('verify') / 60:.1f} min |")  # fmt: skip
    print(f"| near-duplicate clustering + split | {rate('split'):,.0f} pairs/s | {times['split']:.2f} s | see below |")
    print(f"| variants of {len(test_pairs):,} test items × {len(VARIANTS)}, {args.workers} workers | "
          f"{len(test_pairs) / times['variants']:.1f} items/s | {times['variants']:.1f} s | "
          f"{0.15 * AISEGMENT_PAIRS / (len(test_pairs) / times['variants']) / 60:.1f} min for ~{0.15 * AISEGMENT_PAIRS:,.0f} |")  # fmt: skip
    print(
        f"\npeak resident memory: main process {own:.0f} MiB; worker processes together {watch.peak_children / 2**20:.0f} MiB"
    )

    if args.scale_signatures is not None and args.scale_signatures.is_file():
        scaled = np.load(args.scale_signatures)
        big_hashes = np.ascontiguousarray(scaled[:, :88]).view(np.uint64)
        big_thumbs = np.ascontiguousarray(scaled[:, 88:])
        for label, group_of in (
            ("37 blocks of 930 (the folders)", lambda k: f"b/clip_{k // 930:08d}"),
            ("runs of 465 (half blocks, the card's groups)", lambda k: f"b/clip_{k // 930:08d}/run_{k % 930 // 465}"),
        ):
            big = [Pair(f"b/{k:08d}", group_of(k), "", "", "", str(k)) for k in range(len(scaled))]
            start = time.perf_counter()
            _, big_split = make_split(get_dataset("aisegment"), big, big_hashes, big_thumbs)
            took = time.perf_counter() - start
            print(f"\nclustering + split of {len(big):,} rendered portraits' signatures, {label}: {took:.1f} s "
                  f"({len(big) / took:,.0f} pairs/s)\n  " + big_split.describe().replace("\n", "\n  "))  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
