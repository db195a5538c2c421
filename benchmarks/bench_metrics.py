"""Time vbbench's metrics against three other implementations, and `vbbench score` against decoding.

**Per metric** (600×800 portraits, ms per pair), four implementations on the same pairs:

* ``naive f64``: the straightforward float64 transcription of the reference code
  (``tests/naive_metrics.py``: full 2-D 9×9 convolutions, a labelling per Conn threshold);
* ``before``: vbbench's previous float64 core, frozen in ``tests/float64_metrics.py`` (what
  ``evaluate()`` was before the float32 / exact-integer core);
* ``float32``: a straightforward float32 port, defined below (numpy float32, OpenCV float32
  ``sepFilter2D`` and ``cv2.magnitude``, ten ``connectedComponentsWithStats``);
* ``vbbench``: ``vbbench.metrics.evaluate(pred, gt, metrics=[name])``;

then all eight metrics in one ``evaluate()`` call (vbbench against ``before``). The values are
compared before anything is timed (vbbench must stay within the conformance tolerance of the
float64 core; the largest relative deviations of vbbench and of the float32 port are printed).

**Scoring** on PNG files (the embedded sample's portraits with its six simulated predictions):

* ``decode only``: reading every pair's two PNGs (``read_matte``, as a score worker does) in
  ``--workers`` processes of vbbench's pool, started and warmed before the clock starts;
* ``vbbench score``: the command as a user runs it (``vbbench score PRED --gt GT --workers W
  --quiet``), wall clock from launch to exit: imports, pool start-up, scoring, summary, files;
* with ``--compare-with TREE`` the same command from another vbbench source tree (e.g. an
  earlier commit, ``git archive <commit> | tar -x -C TREE``), in the same rounds;
* the fixed cost: the command on a few pairs (``--small``, default 1 and 10) with one worker
  (in-process) and with ``--workers``.

Every number is the median over interleaved rounds (the order rotates from round to round, so a
burst of load on a shared machine hits every column alike), ± half the interquartile range
relative to the median; ratios are ratios of medians.

    python benchmarks/bench_metrics.py [--rounds 9] [--score-rounds 5] [--pairs 240] [--workers 2]
                                       [--small 1,10] [--compare-with TREE] [--skip-naive] [--skip-score]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO / "tests"))

import float64_metrics as before  # noqa: E402
import naive_metrics as naive  # noqa: E402

from vbbench._memory import keep_freed_memory  # noqa: E402
from vbbench.io import write_png  # noqa: E402
from vbbench.metrics import METRICS, evaluate  # noqa: E402
from vbbench.models.bench import machine_description  # noqa: E402

CONFORMANCE = REPO / "tests" / "data" / "conformance"
NAMES = list(METRICS)

# ---- a straightforward float32 implementation of each metric (what a float32 port writes) ----

_R = cv2.BORDER_REPLICATE
_DIM_S = before._DIM_SMOOTH.astype(np.float32)
_DIM_D = np.ascontiguousarray(before._DIM_DERIVATIVE[::-1]).astype(np.float32)  # OpenCV correlates
_SOB_S = np.array([0.25, 0.5, 0.25], np.float32)
_SOB_D = np.array([0.5, 0.0, -0.5], np.float32)
_MM_S = before._MMNET_SMOOTH.astype(np.float32)
_MM_D = before._MMNET_DERIVATIVE.astype(np.float32)
_HALF = before._MMNET_HALF


def _f32(codes):
    return codes.astype(np.float32) * np.float32(1 / 255)


def _mat2gray32(a):
    low, high = float(a.min()), float(a.max())
    return np.zeros_like(a) if high == low else (a - low) / np.float32(high - low)


def _dim_magnitude32(a):
    gx = cv2.sepFilter2D(a, cv2.CV_32F, _DIM_D, _DIM_S, borderType=_R)
    gy = cv2.sepFilter2D(a, cv2.CV_32F, _DIM_S, _DIM_D, borderType=_R)
    return cv2.magnitude(gx, gy)


def f32_mad(pc, gc):
    return float(np.abs(_f32(pc) - _f32(gc)).mean())


def f32_mse(pc, gc):
    d = _f32(pc) - _f32(gc)
    return float((d * d).mean())


def f32_sad(pc, gc):
    return float(np.abs(_f32(pc) - _f32(gc)).sum())


def f32_grad(pc, gc):
    e = _dim_magnitude32(_mat2gray32(_f32(pc))) - _dim_magnitude32(_mat2gray32(_f32(gc)))
    return float((e * e).sum())


def f32_conn(pc, gc):
    p, g = _f32(pc), _f32(gc)
    lmap = np.full(p.shape, -1.0, np.float32)
    pt, gt = cv2.transpose(pc), cv2.transpose(gc)  # label the transpose: MATLAB's column-major order
    for k in range(1, 11):
        code = -(-255 * k // 10)  # v/255 ≥ k/10 exactly
        both = ((pt >= code) & (gt >= code)).view(np.uint8)
        count, labels, stats, _ = cv2.connectedComponentsWithStats(both, connectivity=4, ltype=cv2.CV_32S)
        omega = np.zeros(p.shape, bool)
        if count > 1:
            omega = cv2.transpose((labels == 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))).view(np.uint8)) > 0
        lmap[(lmap == -1) & ~omega] = (k - 1) / 10
    lmap[lmap == -1] = 1
    dp, dg = p - lmap, g - lmap
    return float(np.abs((1 - dp * (dp >= 0.15)) - (1 - dg * (dg >= 0.15))).sum())


def _sobel32(pc, gc):
    d = _f32(pc) - _f32(gc)
    dx = cv2.sepFilter2D(d, cv2.CV_32F, _SOB_D, _SOB_S, borderType=_R)
    return dx, cv2.sepFilter2D(d, cv2.CV_32F, _SOB_S, _SOB_D, borderType=_R)


def f32_sobel_l2(pc, gc):
    return float(cv2.magnitude(*_sobel32(pc, gc)).mean())


def f32_sobel_l1(pc, gc):
    dx, dy = _sobel32(pc, gc)
    return float((0.5 * (np.abs(dx) + np.abs(dy))).mean())


def f32_gauss_grad(pc, gc):
    def gradients(a):  # MMNet: correlation, 'VALID'
        inner = (slice(_HALF, -_HALF), slice(_HALF, -_HALF))
        gx = cv2.sepFilter2D(a, cv2.CV_32F, _MM_D, _MM_S, borderType=_R)[inner]
        return gx, cv2.sepFilter2D(a, cv2.CV_32F, _MM_S, _MM_D, borderType=_R)[inner]

    (px, py), (gx, gy) = gradients(_f32(pc)), gradients(_f32(gc))
    return float(cv2.magnitude(px - gx, py - gy).mean())


FLOAT32 = {name: globals()[f"f32_{name}"] for name in NAMES}


def _naive(name, pc, gc):
    if name == "conn":
        return naive.conn(pc, gc, 255)
    return getattr(naive, name)(pc / 255.0, gc / 255.0)


IMPLEMENTATIONS = {
    "naive f64": _naive,
    "before": lambda name, pc, gc: before.evaluate(pc, gc, metrics=[name])["whole"][name],
    "float32": lambda name, pc, gc: FLOAT32[name](pc, gc),
    "vbbench": lambda name, pc, gc: evaluate(pc, gc, metrics=[name])["whole"][name],
}

# ---- rounds and statistics ------------------------------------------------------------------


def median_spread(values):
    q25, q50, q75 = np.percentile(values, [25, 50, 75])
    return float(q50), float((q75 - q25) / 2 / q50)


def interleaved(jobs: dict, rounds: int) -> dict:
    """Run every job once per round, the order rotating (and reversing every other round);
    return each job's times in seconds."""
    names = list(jobs)
    times: dict = {name: [] for name in names}
    for index in range(rounds):
        order = names[index % len(names) :] + names[: index % len(names)]
        for name in order[::-1] if index % 2 else order:
            start = time.perf_counter()
            jobs[name]()
            times[name].append(time.perf_counter() - start)
    return times


def cell(values, scale=1e3, width=8):
    median, spread = median_spread(values)
    return f"{median * scale:{width}.2f} ±{spread * 100:3.0f}%"


# ---- part 1: per metric ---------------------------------------------------------------------


def metric_pairs() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The conformance case c03 (600×800) and two sample portraits with simulated predictions."""
    from vbbench.sample import render_portrait, simulate_prediction

    cases = CONFORMANCE / "cases"
    pairs = {
        "c03": (
            cv2.imread(str(cases / "c03_600x800_noisy_pred_pred.png"), cv2.IMREAD_UNCHANGED),
            cv2.imread(str(cases / "c03_600x800_noisy_pred_gt.png"), cv2.IMREAD_UNCHANGED),
        )
    }
    for index, model in ((0, "sim-good"), (1, "sim-holes")):
        _, gt = render_portrait(0, index)
        pairs[f"s{index}-{model}"] = (simulate_prediction(gt, model, 0, index), gt)
    return pairs


def check_values(pairs) -> tuple[dict, dict]:
    worst = {"vbbench": dict.fromkeys(NAMES, 0.0), "float32": dict.fromkeys(NAMES, 0.0)}
    for pred, gt in pairs.values():
        reference = before.evaluate(pred, gt)["whole"]
        ours = evaluate(pred, gt)["whole"]
        for name, value in reference.items():
            tolerance = 1e-5 * abs(value) + 1e-9 / METRICS[name].display_scale
            assert abs(ours[name] - value) <= tolerance, (name, ours[name], value)
            for label, got in (("vbbench", ours[name]), ("float32", FLOAT32[name](pred, gt))):
                deviation = abs(got - value) / abs(value) if value else abs(got)
                worst[label][name] = max(worst[label][name], deviation)
    return worst["vbbench"], worst["float32"]


def bench_metrics(rounds: int, skip_naive: bool) -> None:
    pairs = metric_pairs()
    worst_ours, worst_f32 = check_values(pairs)
    columns = [label for label in IMPLEMENTATIONS if not (skip_naive and label == "naive f64")]
    jobs = {}
    for name in NAMES:
        for label in columns:
            jobs[(name, label)] = lambda name=name, f=IMPLEMENTATIONS[label]: [f(name, p, g) for p, g in pairs.values()]
    jobs[("all eight", "before")] = lambda: [before.evaluate(p, g) for p, g in pairs.values()]
    jobs[("all eight", "vbbench")] = lambda: [evaluate(p, g) for p, g in pairs.values()]
    for job in jobs.values():  # warm-up: kernels loaded, memory touched
        job()
    times = {key: [t / len(pairs) for t in values] for key, values in interleaved(jobs, rounds).items()}
    print(f"\nper metric, ms per pair: {', '.join(pairs)} (600×800); {rounds} interleaved rounds")
    header = "".join(f"{label:>16}" for label in columns)
    print(f"{'metric':<11}{header} {'before/vb':>10} {'f32/vb':>7}  max rel. dev. vbbench | float32")
    for name in NAMES:
        row = "".join(f"{cell(times[(name, label)]):>16}" for label in columns)
        ours = median_spread(times[(name, "vbbench")])[0]
        ratio_before = median_spread(times[(name, "before")])[0] / ours
        ratio_f32 = median_spread(times[(name, "float32")])[0] / ours
        print(f"{name:<11}{row} {ratio_before:9.1f}× {ratio_f32:6.1f}×  {worst_ours[name]:.1e} | {worst_f32[name]:.1e}")
    all_before, all_ours = times[("all eight", "before")], times[("all eight", "vbbench")]
    blank = "".join(f"{'':>16}" for _ in columns[:-3])
    ratio = median_spread(all_before)[0] / median_spread(all_ours)[0]
    print(f"{'all eight':<11}{blank}{cell(all_before):>16}{'':>16}{cell(all_ours):>16} {ratio:9.1f}×")


# ---- part 2: scoring against decoding -------------------------------------------------------


def write_sample_set(root: Path, count: int) -> list[tuple[str, str]]:
    """``count`` pairs: sample portraits (seed 0) with each simulated model's prediction."""
    from vbbench.sample import SIMULATED_MODELS, render_portrait, simulate_prediction

    paths = []
    for index in range(-(-count // len(SIMULATED_MODELS))):
        _, gt = render_portrait(0, index)
        for model in SIMULATED_MODELS:
            if len(paths) == count:
                break
            name = f"{index:03d}_{model}.png"
            write_png(root / "gt" / name, gt)
            write_png(root / "pred" / name, simulate_prediction(gt, model, 0, index))
            paths.append((str(root / "gt" / name), str(root / "pred" / name)))
    return paths


def score_command(tree: Path, root: Path, workers: int, out: Path) -> list[str]:
    code = f"import sys; sys.path.insert(0, {str(tree)!r}); sys.argv[0] = 'vbbench'; from vbbench.cli import app; app()"
    args = ["score", str(root / "pred"), "--gt", str(root / "gt"), "--workers", str(workers), "--quiet"]
    return [sys.executable, "-c", code, *args, "--out", str(out)]


def run_score(tree: Path, root: Path, workers: int, scratch: Path) -> None:
    out = scratch / "out"
    shutil.rmtree(out, ignore_errors=True)
    environment = dict(os.environ, PYTHONPATH=str(tree))
    # Output to a file, not a pipe: reading a pipe to its end would also wait for the pool's
    # forkserver, which inherits it and exits on its own after the command (a shell does not wait).
    with open(scratch / "stderr.txt", "w+") as errors:
        command = score_command(tree, root, workers, out)
        done = subprocess.run(command, env=environment, stdout=subprocess.DEVNULL, stderr=errors)
        errors.seek(0)
        if done.returncode != 0 or not (out / "summary.json").is_file():
            raise SystemExit(f"vbbench score failed ({tree}):\n{errors.read()[-3000:]}")


def bench_scoring(count: int, workers: int, rounds: int, small: list[int], compare_with: Path | None) -> None:
    from _decode import decode_pair

    from vbbench.parallel import pool

    trees = {"vbbench": REPO} | ({str(compare_with): compare_with} if compare_with else {})
    with tempfile.TemporaryDirectory() as folder:
        scratch = Path(folder)
        paths = write_sample_set(scratch / "set", count)
        for size in small:
            write_sample_set(scratch / f"small{size}", size)
        # The workers import _decode by name (the forkserver does not inherit sys.path).
        os.environ["PYTHONPATH"] = os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")])
        chunk = max(1, min(8, count // (workers * 4)))  # score's own chunk size
        with pool(workers, ["_decode"]) as executor:
            list(executor.map(decode_pair, paths, chunksize=chunk))  # warm: workers up, files cached
            jobs = {("decode only", count, workers): lambda: list(executor.map(decode_pair, paths, chunksize=chunk))}
            for label, tree in trees.items():
                jobs[(label, count, workers)] = lambda tree=tree: run_score(tree, scratch / "set", workers, scratch)
                for size in small:
                    for processes in (1, workers):
                        folder_ = scratch / f"small{size}"
                        jobs[(label, size, processes)] = lambda t=tree, f=folder_, w=processes: run_score(
                            t, f, w, scratch
                        )
            for tree in trees.values():  # warm: the numba cache, the interpreter's files
                run_score(tree, scratch / f"small{small[0]}" if small else scratch / "set", workers, scratch)
            times = interleaved(jobs, rounds)
    decode = median_spread(times[("decode only", count, workers)])[0]
    print(f"\nscoring PNG pairs (sample portraits, 600×800); {rounds} interleaved rounds; wall clock of")
    print("`vbbench score PRED --gt GT --workers W --quiet` from launch to exit, against decoding the same")
    print("pairs in W warm processes of vbbench's pool")
    print(f"{'run':<40} {'pairs':>5} {'W':>3} {'wall s':>14} {'pairs/s':>8} {'÷ decode':>9}")
    for (label, size, processes), values in times.items():
        median = median_spread(values)[0]
        ratio = f"{median / decode:8.1f}×" if size == count else ""
        what = label if label == "decode only" else f"vbbench score ({label})"
        print(f"{what:<40} {size:>5} {processes:>3} {cell(values, 1, 7):>14} {size / median:8.1f} {ratio:>9}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9, help="rounds of the per-metric part")
    parser.add_argument("--score-rounds", type=int, default=5, help="rounds of the scoring part")
    parser.add_argument("--pairs", type=int, default=240, help="PNG pairs scored")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--small", default="1,10", help="also score this many pairs with 1 and W workers")
    parser.add_argument("--compare-with", type=Path, help="another vbbench source tree to run `vbbench score` from")
    parser.add_argument("--skip-naive", action="store_true", help="leave out the slow straightforward float64 column")
    parser.add_argument("--skip-score", action="store_true", help="only the per-metric part")
    args = parser.parse_args()
    # As a score worker runs: one OpenCV thread, freed memory kept for reuse.
    cv2.setNumThreads(1)
    keep_freed_memory()
    print(f"machine: {machine_description(1)} (OpenCV threads: 1 per process)")
    print(f"load average before: {', '.join(f'{v:.1f}' for v in os.getloadavg())}")
    bench_metrics(args.rounds, args.skip_naive)
    if not args.skip_score:
        small = [int(size) for size in args.small.split(",") if size]
        bench_scoring(args.pairs, args.workers, args.score_rounds, small, args.compare_with)
    print(f"load average after: {', '.join(f'{v:.1f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
