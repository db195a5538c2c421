"""`vbbench bench`: frames per second of the whole virtual-background pipeline, per stage.

The pipeline is the one ``vbbench composite`` runs (:mod:`vbbench.models.pipeline`): decode,
resize to the model input, the model, the matte back to the frame, the composite over a
background, H.264 encode. ``bench --video FILE`` (:func:`bench_video`) times a real video the
way ``composite`` runs it — decoding on a reader thread, encoding on a writer thread — and
reports p50 and p95 milliseconds per stage and the frames per second end to end (wall clock: the
stages overlap, so FPS is not ``1000 / Σ stages``). Without a video (:func:`benchmark`) one
static synthetic call frame per size stands in for the camera (no decode stage), and the report
says so. K. Zhang's "Real-time communication with Virtual Background" (the seed paper) measured
the same pipeline on phones in its Table 2; this measures it on the machine at hand.
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from vbbench.models.pipeline import STAGES, Pipeline, timed_run
from vbbench.models.runner import Runner

__all__ = ["STAGES", "benchmark", "bench_video", "call_frame", "format_report", "machine_description", "PAPER"]

#: The one row of the seed paper's Table 2 vbbench has (the paper itself is not available offline).
PAPER = (
    'K. Zhang, "Real-time communication with Virtual Background", Table 2: 25 FPS for the whole pipeline '
    "on an iPhone 11"
)
#: x264 settings of the benchmarks' throw-away encode (composite's own default is veryfast, CRF 20).
BENCH_ENCODE = {"preset": "ultrafast", "crf": 23}


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
    """The pipeline on one static synthetic call frame per size (:func:`call_frame`; no decode).

    Returns
    -------
    list of dict
        Per size: ``size``, ``source`` ("synthetic"), ``frames``, ``ms`` (p50 per stage),
        ``p95_ms``, ``stage_sum_ms``, ``fps`` (end to end, wall clock), ``cpu_ms_per_frame``,
        ``encoder``, ``recurrent``.
    """
    reports = []
    for width, height in sizes:
        frame, background = call_frame(width, height)
        pipeline = Pipeline(runner, width, height, background=background)
        # The warm-up is a whole short run, writer included: the first video file a process opens
        # loads and initialises the codec (~50 ms), which would otherwise be charged to the first
        # size (640x360 then measured slower than 1280x720).
        timed_run(pipeline, ((index / 30, frame) for index in range(warmup)), warmup, {"fps": 30, **BENCH_ENCODE},
                  decoded=False)  # fmt: skip
        stream = ((index / 30, frame) for index in range(frames))
        run = timed_run(pipeline, stream, frames, {"fps": 30, **BENCH_ENCODE}, decoded=False)
        reports.append({"size": f"{width}x{height}", "source": "synthetic", **run, "recurrent": runner.recurrent})
    return reports


def bench_video(runner: Runner, video: str | os.PathLike, frames: int | None = None, warmup: int = 5) -> dict:
    """The pipeline on a real video or clip folder: decode → … → H.264 encode, as ``composite`` runs it.

    The first ``warmup`` frames run once untimed (runtime warm-up, the blend kernel's compile);
    then the timed run starts from the first frame again, a recurrent runner reset before each.
    ``frames``: frames timed (default: the whole video). The background is a colour ramp fitted
    to the frame. Returns one report as :func:`benchmark`'s, ``source`` naming the video.
    """
    from vbbench.models.video import open_video

    source = open_video(video)
    width, height = source.width, source.height
    _, background = call_frame(width, height)
    pipeline = Pipeline(runner, width, height, background=background)
    pipeline.reset()
    for index, (_, frame) in enumerate(source.frames()):
        if index >= warmup:
            break
        pipeline.process(frame)
    limit = frames if frames is not None else (source.frame_count or 10**9)
    options = {"fps": source.fps, "time_base": source.time_base, **BENCH_ENCODE}
    run = timed_run(pipeline, source.frames(), limit, options, decoded=True)
    return {"size": f"{width}x{height}", "source": str(source.path), **run, "recurrent": runner.recurrent}


def format_report(runner: Runner, reports: list[dict]) -> str:
    """The bench table: p50/p95 ms per stage, their sum, CPU ms and FPS per report, and what the frames were."""
    size = (f", {runner.parameters:,} parameters" if runner.parameters is not None else "") + (
        f", {runner.macs / 1e6:.1f} M MACs per frame" if runner.macs is not None else ""
    )
    stages = [stage for stage in STAGES if any(stage in report["ms"] for report in reports)]
    recurrent = ", recurrent (state carried frame to frame)" if runner.recurrent else ""
    lines = [
        f"model {runner.name} ({runner.runtime}), input {runner.input_label}{size}{recurrent}",
        f"ms per frame, p50/p95; encode {reports[0]['encoder']} on a writer thread" if reports else "",
        f"{'frame':<11}" + "".join(f"{stage:>14}" for stage in stages) + f"{'sum p50':>9}{'CPU ms':>8}{'FPS':>8}",
    ]
    for report in reports:
        lines.append(
            f"{report['size']:<11}"
            + "".join(f"{report['ms'][s]:>7.2f}/{report['p95_ms'][s]:<6.2f}" for s in stages)
            + f"{report['stage_sum_ms']:>9.2f}{report['cpu_ms_per_frame']:>8.1f}{report['fps']:>8.1f}"
        )
    if any(report["source"] == "synthetic" for report in reports):
        lines.append(
            "frames: one static synthetic call frame per size, not decoded (bench --video FILE times a real clip)"
        )
    else:
        lines.append("frames: " + ", ".join(sorted({report["source"] for report in reports})) + " (decoded)")
    threads = (
        "the model and encode" if reports and reports[0]["source"] == "synthetic" else "decode, the model and encode"
    )
    lines.append(
        f"FPS: frames / wall time, first frame to closed file; {threads} run on their own threads and overlap; "
        "CPU ms: process CPU time per frame, all threads"
    )
    lines.append(f"for comparison, {PAPER}")
    return "\n".join(lines)
