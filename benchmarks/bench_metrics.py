"""Time vbbench's metrics against the straightforward implementation, in one process.

The straightforward implementation (tests/naive_metrics.py) transcribes the reference code: a
full 2-D 9×9 convolution for Grad and whole-image labelling at every Conn threshold. Both run on
the same 600×800 pairs; the script checks that they agree and prints per-metric times and the
speed-up. A second part measures the scoring throughput on PNG files next to a decode-only run.

    python benchmarks/bench_metrics.py [--pairs 5] [--repeat 3] [--files 40]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import naive_metrics as naive  # noqa: E402

from vbbench import metrics  # noqa: E402
from vbbench._memory import keep_freed_memory  # noqa: E402
from vbbench.io import read_matte, write_png  # noqa: E402
from vbbench.metrics import METRICS, evaluate  # noqa: E402

NAIVE = {
    "mad": lambda p, g, pc, gc: naive.mad(p, g),
    "mse": lambda p, g, pc, gc: naive.mse(p, g),
    "sad": lambda p, g, pc, gc: naive.sad(p, g),
    "grad": lambda p, g, pc, gc: naive.grad(p, g),
    "conn": lambda p, g, pc, gc: naive.conn(pc, gc, 255),
    "sobel_l2": lambda p, g, pc, gc: naive.sobel_l2(p, g),
    "sobel_l1": lambda p, g, pc, gc: naive.sobel_l1(p, g),
    "gauss_grad": lambda p, g, pc, gc: naive.gauss_grad(p, g),
}


def make_pairs(count: int, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """Portrait-like 600×800 ground truth and a blurred, noisy, shifted prediction."""
    rng = np.random.default_rng(seed)
    pairs = []
    for _ in range(count):
        gt = naive.random_soft_matte(rng, (800, 600), 255, 25.0)
        noisy = cv2.GaussianBlur(np.roll(gt, 3, axis=1).astype(np.float64), (0, 0), 2.0)
        noisy += rng.normal(0, 6, gt.shape)
        pairs.append((np.clip(np.round(noisy), 0, 255).astype(np.uint8), gt))
    return pairs


def best_of(repeat: int, function) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def bench_metrics(pairs, repeat: int) -> None:
    print(f"Per-metric time on {len(pairs)} pairs of 600×800 (best of {repeat}), ms per pair")
    print(f"{'metric':<12} {'naive ms':>10} {'vbbench ms':>11} {'speed-up':>9}")
    naive_total = fast_total = 0.0
    for name in METRICS:

        def run_naive():
            for pred, gt in pairs:
                NAIVE[name](pred / 255.0, gt / 255.0, pred, gt)

        def run_fast():
            for pred, gt in pairs:
                evaluate(pred, gt, metrics=[name])

        slow = best_of(repeat, run_naive) / len(pairs)
        fast = best_of(repeat, run_fast) / len(pairs)
        naive_total += slow
        fast_total += fast
        print(f"{name:<12} {slow * 1e3:>10.2f} {fast * 1e3:>11.2f} {slow / fast:>8.1f}×")
    full_set = best_of(repeat, lambda: [evaluate(p, g) for p, g in pairs]) / len(pairs)
    print(f"{'sum':<12} {naive_total * 1e3:>10.2f} {fast_total * 1e3:>11.2f} {naive_total / fast_total:>8.1f}×")
    print(
        f"full metric set in one evaluate() call (filters shared): {full_set * 1e3:.2f} ms per pair; "
        f"ratio to the naive full set: {naive_total / full_set:.1f}×"
    )
    for pred, gt in pairs[:2]:  # same values
        fast = evaluate(pred, gt)["whole"]
        for name in METRICS:
            reference = NAIVE[name](pred / 255.0, gt / 255.0, pred, gt)
            assert abs(fast[name] - reference) <= 1e-9 * abs(reference) + 1e-12, name
    print("values: vbbench and naive agree to 1e-9 relative on every metric")


def bench_throughput(pairs, files: int) -> None:
    from vbbench.score import score_directories

    with tempfile.TemporaryDirectory() as root:
        root = Path(root)
        for index in range(files):
            pred, gt = pairs[index % len(pairs)]
            write_png(root / "gt" / f"{index:04d}.png", gt)
            write_png(root / "pred" / f"{index:04d}.png", pred)
        paths = sorted((root / "gt").glob("*.png")) + sorted((root / "pred").glob("*.png"))
        workers = os.cpu_count() or 1

        def decode_only():
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            context = multiprocessing.get_context("forkserver")  # as vbbench score does
            with ProcessPoolExecutor(workers, mp_context=context) as pool:
                list(pool.map(read_matte, paths, chunksize=8))

        decode = best_of(2, decode_only)
        scoring = best_of(2, lambda: score_directories(root / "pred", root / "gt", workers=workers, progress=False))
        print(
            f"\nThroughput on {files} PNG pairs, {workers} processes: decode only {files / decode:.1f} pairs/s, "
            f"decode + full metric set {files / scoring:.1f} pairs/s (scoring/decode time ratio "
            f"{scoring / decode:.2f})"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--files", type=int, default=120)
    args = parser.parse_args()
    # Both implementations run with freed memory kept in the process (what `vbbench score`
    # does), so page faults of fresh allocations do not dominate either side.
    keep_freed_memory()
    pairs = make_pairs(args.pairs)
    bench_metrics(pairs, args.repeat)
    bench_throughput(pairs, args.files)
    _ = metrics  # imported for the reader: the functions under test


if __name__ == "__main__":
    main()
