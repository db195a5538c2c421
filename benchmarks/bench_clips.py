"""What clips and webcam degradations cost, beside the still variants and still scoring they extend.

Times, in this run, on ``--items`` embedded-sample portraits (default 4, 600×800):

* making one item's variant: baseline ``call16x9`` (one image, matte and trimap written), each
  webcam degradation, and a clip (``ClipSpec(frames=--frames)``, layers rendered, 3 × frames PNGs);
* scoring one clip's frames: baseline ``vbbench score`` of the frames as stills (every metric, both
  regions), then clip scoring of the same frames (every still metric per frame plus dtSSD, MESSDdt
  with the exact motion, flicker), and clip scoring with MAD only per frame.

It prints seconds per item (the best of ``--repeats``) and the ratio to the baseline. One process,
so the numbers are per core; the process pool divides them by the workers.

    python benchmarks/bench_clips.py [--items 4] [--frames 30] [--repeats 2]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from vbbench._memory import keep_freed_memory
from vbbench.clips import ClipSpec, make_clip, write_clip
from vbbench.clips.files import CLIP_MANIFEST_FIELDS
from vbbench.degradations import DEGRADATIONS
from vbbench.io import csv_text, read_matte, write_png
from vbbench.prepared import PreparedDataset
from vbbench.sample import render_layers, sample_id
from vbbench.score import score_directories
from vbbench.score_clips import score_clip_directories
from vbbench.variants import transform


def best(function, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=4)
    parser.add_argument("--frames", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    keep_freed_memory()  # as every worker of the process pool does
    portraits = [(sample_id(i), render_layers(0, i, 600, 800)) for i in range(args.items)]
    spec = ClipSpec(frames=args.frames)
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)

        def still(variant):
            def run():
                for item, layers in portraits:
                    image, alpha, trimap, _ = transform(layers.composite(), layers.alpha, variant, item)
                    for kind, array in (("images", image), ("alpha", alpha), ("trimaps", trimap)):
                        write_png(root / variant / kind / f"{item}.png", array, 1)

            return best(run, args.repeats) / args.items

        baseline = still("call16x9")
        rows.append(("make: call16x9 (baseline)", baseline, 1.0))
        for name in DEGRADATIONS:
            seconds = still(name)
            rows.append((f"make: {name}", seconds, seconds / baseline))
        files = PreparedDataset("sample", root).variant("clips")

        def clips():
            for item, layers in portraits:
                write_clip(make_clip(None, None, item, spec, layers=layers), files, item)

        seconds = best(clips, args.repeats) / args.items
        rows.append((f"make: clip of {args.frames} frames", seconds, seconds / baseline))

        item, layers = portraits[0]
        one = PreparedDataset("sample", root / "one").variant("clips")
        one.manifest.parent.mkdir(parents=True)
        clip_rows = write_clip(make_clip(None, None, item, spec, layers=layers), one, item)
        one.manifest.write_text(csv_text(clip_rows, CLIP_MANIFEST_FIELDS))
        rng = np.random.default_rng(0)
        pred = root / "pred"
        for path in sorted((one.alpha / item).glob("*.png")):
            noisy = np.clip(read_matte(path) + rng.integers(-10, 11, (360, 640)), 0, 255).astype(np.uint8)
            write_png(pred / item / path.name, noisy, 1)
        manifest = one.manifest
        quiet = {"workers": 1, "progress": False}
        base = best(lambda: score_directories(pred, one.alpha, one.trimaps, **quiet), args.repeats)
        rows.append((f"score: {args.frames} frames as stills (baseline)", base, 1.0))
        full = best(
            lambda: score_clip_directories(pred, one.alpha, one.trimaps, manifest=manifest, **quiet),
            args.repeats,
        )
        rows.append(("score: the clip, every metric", full, full / base))
        light = best(
            lambda: score_clip_directories(pred, one.alpha, one.trimaps, manifest=manifest, metrics=["mad"], **quiet),
            args.repeats,
        )
        rows.append(("score: the clip, MAD + clip metrics", light, light / base))
    width = max(len(label) for label, _, _ in rows)
    print(f"{'step':<{width}}  seconds  × baseline")
    for label, seconds, ratio in rows:
        print(f"{label:<{width}}  {seconds:7.3f}  {ratio:6.2f}")


if __name__ == "__main__":
    main()
