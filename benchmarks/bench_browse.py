"""What a re-run of ``vbbench browse`` draws: everything (the prototype's way) against only what changed.

Generates the embedded sample (``--count`` portraits at ``--width``×``--height``, default 20 at
600×800), scores two simulated models, then times, in this run, the drawing step of
:func:`vbbench.browse.build` (no FiftyOne needed):

* baseline: every picture drawn, as on a first build (and, before, on every build), for two and
  for three models;
* re-run of the same runs: nothing changed, every picture is up to date;
* a third model added: its three pictures per image and each side-by-side picture;
* one prediction rewritten: that image's pictures of that model and its side by side.

It prints seconds, files drawn and the ratio to the baseline.

    python benchmarks/bench_browse.py [--count 20] [--width 600] [--height 800] [--workers 2]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from vbbench.browse import _draw
from vbbench.browse_names import load_run
from vbbench.pairing import find_mattes
from vbbench.sample import generate_sample
from vbbench.score import score_directories, write_outputs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20)
    parser.add_argument("--width", type=int, default=600)
    parser.add_argument("--height", type=int, default=800)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    models = ("sim-good", "sim-holes", "sim-blurred")
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        generate_sample(root / "s", args.count, 0, args.width, args.height, models, args.workers, progress=False)
        for model in models:
            result = score_directories(root / "s/predictions" / model, root / "s/alpha", workers=args.workers,
                                       progress=False)  # fmt: skip
            write_outputs(result, root / "runs" / model)
        runs = [load_run(root / "runs" / model) for model in models]
        images = find_mattes(root / "s/images")
        media = root / "media"

        def timed(what: str, folder: Path, drawn_runs, rows) -> float:
            started = time.perf_counter()
            drawn, kept = _draw(folder, drawn_runs, rows, images, args.workers)
            seconds = time.perf_counter() - started
            print(f"{what:<40} {seconds:8.2f} s  {drawn:5d} drawn  {kept:5d} up to date", flush=True)
            return seconds

        print(f"{args.count} images at {args.width}x{args.height}, {args.workers} workers")
        names = [run.model for run in runs]
        two = timed("baseline: draw all, two models", root / "all-two", runs[:2], names[:2])
        three = timed("baseline: draw all, three models", root / "all-three", runs, names)
        timed("first build, two models", media, runs[:2], names[:2])
        rerun = timed("re-run, nothing changed", media, runs[:2], names[:2])
        added = timed("third model added", media, runs[2:], names)
        touched = runs[1].predictions[next(iter(runs[1].predictions))]
        os.utime(touched, ns=(time.time_ns(), time.time_ns() + 10**9))  # the same bytes, rewritten
        changed = timed("one prediction rewritten", media, runs[1:2], names)
        print(f"re-run: {two / rerun:.0f}x faster than drawing all (two models)")
        print(f"third model added: {three / added:.1f}x faster than drawing all (three models)")
        print(f"one prediction rewritten: {three / changed:.0f}x faster than drawing all (three models)")


if __name__ == "__main__":
    main()
