"""Compile (or load from numba's disk cache) the metric kernels before the first pair needs them.

``python -m vbbench.metrics.warm [--all]`` compiles them and prints how long it took and where
the cache is; CI runs it once before the test suite, so no test pays the ~8 s compilation.
The scoring pool's forkserver imports :mod:`vbbench.metrics._preload`, which calls
:func:`warm_up`, so every worker forked from it starts with the kernels loaded (see
:mod:`vbbench.metrics._jit` for the cost and the cache's place).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

__all__ = ["warm_up", "loaded_kernels", "cache_dir"]


def warm_up(every_input: bool = False) -> None:
    """Run every metric once on tiny mattes, whole and over a region, which compiles or loads
    each kernel signature they use.

    Parameters
    ----------
    every_input : bool
        Besides 8-bit mattes under the reference conventions (what scoring PNG files uses),
        also 16-bit, float, bool and mixed inputs and every convention.

    Examples
    --------
    >>> warm_up()
    """
    from vbbench.metrics import evaluate
    from vbbench.metrics.conventions import CHOICES, Conventions

    gt = np.zeros((12, 12), np.uint8)
    gt[3:9, 2:10] = 255
    gt[5, 5] = 128
    pred = np.roll(gt, 1, axis=1)
    regions = {"whole": None, "region": gt > 0}
    evaluate(pred, gt, regions)
    for name in ("sobel_l2", "sobel_l1"):  # the Sobel pass writing one map
        evaluate(pred, gt, metrics=[name])
    if not every_input:
        return
    inputs: list[tuple[np.ndarray, np.ndarray]] = [
        (pred.astype(np.uint16) * 257, gt.astype(np.uint16) * 257),
        (pred / 255.0, gt / 255.0),
        (pred > 100, gt > 100),
        (pred, gt.astype(np.uint16) * 257),
        (pred / 255.0, gt),
    ]
    for p, g in inputs:
        evaluate(p, g, regions)
    for name, values in CHOICES.items():
        for value in values:
            for p, g in [(pred, gt), *inputs[:2]]:
                evaluate(p, g, regions, conventions=Conventions(**{name: value}))
    evaluate(pred, (gt * 0.5).astype(np.uint8), regions)  # different mat2gray ranges


def loaded_kernels() -> int:
    """How many kernel signatures this process has compiled or loaded (0 before the first metric).

    Examples
    --------
    >>> warm_up(); loaded_kernels() > 10
    True
    """
    import sys

    count = 0
    for name in ("vbbench.metrics._kernels", "vbbench.metrics._conn_kernels"):
        module = sys.modules.get(name)
        for kernel in [getattr(module, attr) for attr in getattr(module, "__all__", [])]:
            count += len(kernel.signatures)
    return count


def cache_dir() -> str | None:
    """Where numba keeps the compiled kernels (None when they cannot be cached)."""
    from vbbench.metrics import _jit, _kernels

    if not _jit.CACHED:
        return None
    return str(getattr(_kernels.dim_gradient, "stats").cache_path)  # a numba dispatcher's


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--all", action="store_true", help="also 16-bit, float and bool inputs and every convention")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    warm_up(every_input=args.all)
    print(f"metric kernels ready in {time.perf_counter() - start:.1f} s; numba cache: {cache_dir() or 'none'}")


if __name__ == "__main__":
    main()
