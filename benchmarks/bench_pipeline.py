"""The virtual-background pipeline of `vbbench bench` against a straightforward one, in one run.

Both run the same frames through the same five stages — resize to the model input, inference,
resize the matte back, composite over a background, mp4 encode — with the shipped reference
weights at the 16:9 input 256×144:

* baseline: what one writes first — PyTorch inference (2 threads) and the composite in numpy
  float64, ``frame·α + background·(1 − α)``;
* vbbench: :func:`vbbench.models.bench.benchmark` — ONNX Runtime (2 threads) and OpenCV's
  ``blendLinear`` (one SIMD pass).

It prints FPS per frame size for both and the ratio, then the same for each of the two changes
alone, so each choice's share is visible. The predictions of both are checked to agree
(max |Δα| < 1e-4) before anything is timed.

    python benchmarks/bench_pipeline.py [--sizes 640x360,1280x720,1920x1080] [--frames 40]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from vbbench.models.bench import benchmark, call_frame, machine_description
from vbbench.models.registry import load_runner


def naive_fps(runner, width: int, height: int, frames: int, composite: str, warmup: int = 5) -> float:
    """FPS of the pipeline with ``runner`` and the composite done by ``composite`` ("numpy" or "opencv")."""
    frame, background = call_frame(width, height)
    times = []
    with tempfile.TemporaryDirectory() as folder:
        writer = cv2.VideoWriter(str(Path(folder) / "out.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), 30, (width, height))
        for index in range(warmup + frames):
            start = time.perf_counter()
            alpha = runner.predict(runner.prepare(frame)[None])[0]
            matte = cv2.resize(alpha.astype(np.float32), (width, height), interpolation=cv2.INTER_LINEAR)
            if composite == "numpy":
                weight = matte[..., None].astype(np.float64)
                out = (frame * weight + background * (1.0 - weight)).round().astype(np.uint8)
            else:
                out = cv2.blendLinear(frame, background, matte, 1.0 - matte)
            writer.write(out)
            if index >= warmup:
                times.append(time.perf_counter() - start)
        writer.release()
    return 1.0 / float(np.median(times))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="640x360,1280x720,1920x1080")
    parser.add_argument("--frames", type=int, default=40)
    arguments = parser.parse_args()
    sizes = [tuple(int(v) for v in size.split("x")) for size in arguments.sizes.split(",")]

    torch_runner = load_runner("reference", (256, 144), threads=2)
    onnx_runner = load_runner("reference-onnx", (256, 144), threads=2)
    frame, _ = call_frame(640, 360)
    batch = onnx_runner.prepare(frame)[None]
    difference = float(np.abs(torch_runner.predict(batch) - onnx_runner.predict(batch)).max())
    assert difference < 1e-4, f"PyTorch and ONNX Runtime disagree by {difference:.2e}"
    print(f"machine: {machine_description(2)}; PyTorch and ONNX Runtime agree to {difference:.1e}")

    ours = {report["size"]: report["fps"] for report in benchmark(onnx_runner, sizes, arguments.frames)}
    print(f"{'frame':<11}{'baseline':>10}{'+onnxrt':>10}{'+blend':>10}{'vbbench':>10}{'ratio':>8}   (FPS)")
    for width, height in sizes:
        size = f"{width}x{height}"
        baseline = naive_fps(torch_runner, width, height, arguments.frames, "numpy")
        runtime_only = naive_fps(onnx_runner, width, height, arguments.frames, "numpy")
        blend_only = naive_fps(torch_runner, width, height, arguments.frames, "opencv")
        print(
            f"{size:<11}{baseline:>10.1f}{runtime_only:>10.1f}{blend_only:>10.1f}{ours[size]:>10.1f}"
            f"{ours[size] / baseline:>7.1f}×"
        )


if __name__ == "__main__":
    main()
