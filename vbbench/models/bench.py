"""`vbbench bench`: frames per second of the whole virtual-background pipeline, per stage.

For each frame size: resize the frame to the model input (area, or the model runtime's own
resize), run the model, resize the matte
back (bilinear), composite the person over a background image, and encode the frame into an mp4
(OpenCV, mp4v). The seed paper's Table 2 measured the same pipeline on phones; this measures it
on the machine at hand.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from vbbench.errors import ModelError
from vbbench.models.runner import Runner

__all__ = ["STAGES", "benchmark", "call_frame", "format_report", "machine_description", "PAPER"]

STAGES = ("resize_in", "inference", "resize_back", "composite", "encode")
#: What the issue states of the seed paper's Table 2; other rows are not reproduced here.
PAPER = "seed paper, Table 2: 25 FPS for the whole pipeline on an iPhone 11 (as quoted in vbbench's issue)"


def machine_description(threads: int) -> str:
    """The machine a speed was measured on, in one line: CPU model, logical CPUs, OS, threads.

    Frames per second mean nothing without the machine: the same model ran at 54 and at 85 FPS
    (720p) on two 2-core cloud VMs. Results files keep this line beside the speeds.

    Parameters
    ----------
    threads : int
        The runtime threads the benchmark used.

    Returns
    -------
    str
        E.g. ``"Intel(R) Xeon(R) Processor (AVX-512+AMX), 2 logical CPUs, Linux x86_64, 2 runtime threads"``.

    Example
    -------
    >>> "runtime threads" in machine_description(2)
    True
    """
    import os
    import platform

    cpu, flags = platform.processor() or platform.machine(), set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():  # the first processor's block
            key, _, value = line.partition(":")
            if key.strip() == "model name":
                cpu = value.strip()
            elif key.strip() == "flags":
                flags = set(value.split())
                break
    except OSError:  # not Linux: platform's answer stands
        pass
    # Cloud VMs often say only "Intel(R) Xeon(R) Processor"; the widest vector units tell machines apart.
    vector = [name for flag, name in (("avx512f", "AVX-512"), ("avx2", "AVX2"), ("amx_tile", "AMX")) if flag in flags]
    if "AVX-512" in vector:
        vector.remove("AVX2")
    isa = f" ({'+'.join(vector)})" if vector else ""
    return (
        f"{cpu}{isa}, {os.cpu_count()} logical CPUs, {platform.system()} {platform.machine()}, "
        f"{threads} runtime threads"
    )


def call_frame(width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """A call frame: a generated portrait placed in a width×height background, and a background."""
    from vbbench.sample import render_portrait

    portrait, _ = render_portrait(4, 0, 600, 800)
    scale = height / 800
    person = cv2.resize(portrait, (max(1, int(600 * scale)), height), interpolation=cv2.INTER_AREA)
    frame = np.full((height, width, 3), 90, np.uint8)
    left = (width - person.shape[1]) // 2
    frame[:, left : left + person.shape[1]] = person
    ramp = np.linspace(0, 255, width, dtype=np.float32)
    background = np.dstack(
        [np.tile(ramp, (height, 1)), np.full((height, width), 120, np.float32), np.tile(ramp[::-1], (height, 1))]
    ).astype(np.uint8)
    return frame, background


def benchmark(runner: Runner, sizes: list[tuple[int, int]], frames: int = 60, warmup: int = 5) -> list[dict]:
    """Median milliseconds per stage and FPS of the whole pipeline, for each frame size.

    Returns
    -------
    list of dict
        ``{"size": "1280x720", "ms": {stage: median ms}, "total_ms": ..., "fps": ...}``.
    """
    reports = []
    for width, height in sizes:
        frame, background = call_frame(width, height)
        times: dict[str, list[float]] = {stage: [] for stage in STAGES}
        with tempfile.TemporaryDirectory() as folder:
            writer = cv2.VideoWriter(
                str(Path(folder) / "out.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), 30, (width, height)
            )
            for index in range(warmup + frames):
                marks = [time.perf_counter()]
                batch = runner.prepare(frame)[None]
                marks.append(time.perf_counter())
                alpha = runner.predict(batch)[0]
                marks.append(time.perf_counter())
                matte = cv2.resize(alpha.astype(np.float32), (width, height), interpolation=cv2.INTER_LINEAR)
                marks.append(time.perf_counter())
                # One SIMD pass per pixel (frame·α + background·(1 − α)); numpy's float64 version
                # took 40 ms at 720p, more than the network.
                composite = cv2.blendLinear(frame, background, matte, 1.0 - matte)
                marks.append(time.perf_counter())
                writer.write(composite)
                marks.append(time.perf_counter())
                if index >= warmup:
                    for stage, start, stop in zip(STAGES, marks, marks[1:]):
                        times[stage].append((stop - start) * 1e3)
            writer.release()
        medians = {stage: float(np.median(values)) for stage, values in times.items()}
        total = sum(medians.values())
        reports.append({"size": f"{width}x{height}", "ms": medians, "total_ms": total, "fps": 1000.0 / total})
    return reports


def format_report(runner: Runner, reports: list[dict]) -> str:
    size = (f", {runner.parameters:,} parameters" if runner.parameters is not None else "") + (
        f", {runner.macs / 1e6:.1f} M MACs per frame" if runner.macs is not None else ""
    )
    lines = [
        f"model {runner.name} ({runner.runtime}), input {runner.input_width}x{runner.input_height}{size}; "
        "median ms per frame",
        f"{'frame':<11}" + "".join(f"{stage:>12}" for stage in STAGES) + f"{'total':>10}{'FPS':>8}",
    ]
    for report in reports:
        lines.append(
            f"{report['size']:<11}"
            + "".join(f"{report['ms'][s]:>12.2f}" for s in STAGES)
            + f"{report['total_ms']:>10.2f}{report['fps']:>8.1f}"
        )
    lines.append(f"for comparison, {PAPER}")
    return "\n".join(lines)


def composite_video(runner: Runner, video: Path, background: Path, out: Path, progress: bool = True) -> dict:
    """Replace the background of every frame of ``video`` and write ``out`` (mp4v).

    Returns
    -------
    dict
        ``{"frames": n, "fps": frames per second of the whole loop, "width": w, "height": h}``.
    """
    from tqdm import tqdm

    from vbbench.io import read_image

    capture = cv2.VideoCapture(str(video))
    if not capture.isOpened():
        raise ModelError(f"{video}: cannot be opened as a video")
    width, height = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
    rate = capture.get(cv2.CAP_PROP_FPS) or 30.0
    scenery = cv2.resize(read_image(background), (width, height), interpolation=cv2.INTER_AREA)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(f".{out.stem}.partial{out.suffix}")  # renamed when complete
    writer = cv2.VideoWriter(str(partial), cv2.VideoWriter_fourcc(*"mp4v"), rate, (width, height))
    total = int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) or None
    frames, started = 0, time.perf_counter()
    with tqdm(total=total, desc="compositing", unit="frame", disable=not progress) as bar:
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            alpha = runner.predict(runner.prepare(frame)[None])[0]
            matte = cv2.resize(alpha.astype(np.float32), (width, height), interpolation=cv2.INTER_LINEAR)
            writer.write(cv2.blendLinear(frame, scenery, matte, 1.0 - matte))
            frames += 1
            bar.update()
    elapsed = time.perf_counter() - started
    capture.release()
    writer.release()
    if frames == 0:
        partial.unlink(missing_ok=True)
        raise ModelError(f"{video}: no frame could be decoded")
    partial.replace(out)
    return {"frames": frames, "fps": frames / elapsed, "width": width, "height": height}
