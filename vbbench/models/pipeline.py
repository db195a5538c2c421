"""The virtual-background pipeline: one frame through a model onto a background, and a whole video.

Per frame (:meth:`Pipeline.process`), timed per stage:

``resize_in``
    :meth:`Runner.prepare` with :func:`~vbbench.models.pixels.fast_resize` (two-step area
    resize; a runtime with its own input warp, MediaPipe's, keeps it).
``inference``
    :attr:`Runner.predict` on the one frame.
``resize_back``
    alpha quantized to uint8 at the model's size (``round(255·α)``), then bilinear up to the
    frame in uint8 (fixed-point SIMD): within 1.22 codes of ``255 ×`` the float bilinear matte
    (measured by ``benchmarks/bench_pipeline.py``).
``composite``
    :func:`~vbbench.models.pixels.blend` over the fitted background, or over the frame's own
    background blurred (``--blur``).

:func:`composite_video` runs it over a video: decoding on a reader thread a few frames ahead,
encoding (:class:`~vbbench.models.writer.VideoWriter`, H.264) on a writer thread, so the three
overlap; a recurrent runner is reset once and then fed every frame in order, one at a time.
``fast=False`` gives the stages vbbench used before (one-step area resize, float matte,
``cv2.blendLinear``), which ``benchmarks/bench_pipeline.py`` times against.
"""

from __future__ import annotations

import os
import queue
import threading
import time
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from vbbench.errors import OutputError, UsageError, VideoError
from vbbench.models.pixels import blend, blur_background, fast_resize, fit_background
from vbbench.models.runner import Runner
from vbbench.models.video import Video, open_video

__all__ = [
    "DEFAULT_COMPOSITE_MODEL",
    "STAGES",
    "Pipeline",
    "training_warning",
    "check_outputs",
    "composite_video",
    "timed_run",
]

#: The best registered model on real images, at the 16:9 input calls are made at.
DEFAULT_COMPOSITE_MODEL = "mediapipe-landscape"
#: Stages of one frame, in order; ``decode`` only when frames come from a real video.
STAGES = ("decode", "resize_in", "inference", "resize_back", "composite", "encode")


def training_warning(runner: Runner) -> str | None:
    """The one-line warning for a model whose weights were trained on synthetic data only, or None.

    Examples
    --------
    >>> class Named:
    ...     name, synthetic_weights = "reference-onnx", True
    >>> print(training_warning(Named()))
    reference-onnx was trained on synthetic portraits only; its mattes on real video are poor (mediapipe-landscape, the default, works on real images)
    """
    if not runner.synthetic_weights:
        return None
    return (
        f"{runner.name} was trained on synthetic portraits only; its mattes on real video are poor "
        f"({DEFAULT_COMPOSITE_MODEL}, the default, works on real images)"
    )


class Pipeline:
    """One frame through the virtual-background pipeline, timed per stage.

    Parameters
    ----------
    runner : Runner
        The model.
    width, height : int
        Frame size.
    background : (H, W, 3) uint8, optional
        The fitted background (:func:`~vbbench.models.pixels.fit_background`).
    blur : float, optional
        Instead of a background: blur the frame's own background with this sigma (pixels).
    fast : bool
        The stages of the module docstring; False: vbbench's earlier stages (for benchmarks).
    """

    def __init__(
        self,
        runner: Runner,
        width: int,
        height: int,
        *,
        background: np.ndarray | None = None,
        blur: float | None = None,
        fast: bool = True,
    ):
        if (background is None) == (blur is None):
            raise UsageError("give exactly one of --background IMAGE or --blur SIGMA")
        if background is not None and background.shape != (height, width, 3):
            raise ValueError(f"background is {background.shape}, the frame is {(height, width, 3)}; fit it first")
        self.runner, self.width, self.height = runner, width, height
        self.background, self.blur, self.fast = background, blur, fast

    def reset(self) -> None:
        """Forget a recurrent runner's state (at the start of each video)."""
        if self.runner.reset is not None:
            self.runner.reset()

    def process(self, frame: np.ndarray, out: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, dict]:
        """Composite one BGR uint8 frame: ``(composite, matte uint8 (H, W), {stage: ms})``."""
        runner, size = self.runner, (self.width, self.height)
        marks = [time.perf_counter()]
        batch = runner.prepare(frame, resize=fast_resize if self.fast else None)[None]
        marks.append(time.perf_counter())
        alpha = runner.predict(batch)[0]
        marks.append(time.perf_counter())
        if self.fast:
            small = np.clip(alpha * np.float32(255) + np.float32(0.5), 0, 255).astype(np.uint8)
            matte = (
                small
                if small.shape == (self.height, self.width)
                else cv2.resize(small, size, interpolation=cv2.INTER_LINEAR)
            )
            marks.append(time.perf_counter())
            background = blur_background(frame, self.blur, matte) if self.blur is not None else self.background
            assert background is not None
            composite = blend(frame, background, matte, out)
        else:
            weight = cv2.resize(alpha.astype(np.float32), size, interpolation=cv2.INTER_LINEAR)
            marks.append(time.perf_counter())
            background = blur_background(frame, self.blur) if self.blur is not None else self.background
            composite = cv2.blendLinear(frame, background, weight, 1.0 - weight)
            matte = np.clip(weight * 255 + 0.5, 0, 255).astype(np.uint8)
        marks.append(time.perf_counter())
        return composite, matte, {stage: (b - a) * 1e3 for stage, a, b in zip(STAGES[1:5], marks, marks[1:])}


@dataclass
class _Failure:
    problem: BaseException


class Prefetch:
    """Runs an iterator on a reader thread, ``size`` items ahead; times each item (ms) in ``ms``."""

    _END = object()

    def __init__(self, iterable: Iterable, size: int = 4):
        self.ms: list[float] = []
        self._queue: queue.Queue = queue.Queue(size)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(iter(iterable),), daemon=True, name="vb-decode")
        self._thread.start()

    def _put(self, item) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _run(self, iterator: Iterator) -> None:
        try:
            while not self._stop.is_set():
                start = time.perf_counter()
                try:
                    item = next(iterator)
                except StopIteration:
                    break
                self.ms.append((time.perf_counter() - start) * 1e3)
                if not self._put(item):
                    break
        except BaseException as problem:  # handed to the consumer, raised there
            self._put(_Failure(problem))
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                close()
            self._put(self._END)

    def __iter__(self):
        while True:
            item = self._queue.get()
            if item is self._END:
                return
            if isinstance(item, _Failure):
                raise item.problem
            yield item

    def close(self) -> None:
        self._stop.set()
        while self._thread.is_alive():
            try:
                self._queue.get(timeout=0.05)
            except queue.Empty:
                pass
        self._thread.join()


class _BufferPool:
    """Reusable output frames: the writer hands each back once it has converted it (a fresh 6 MB
    array per 1080p frame pays its page faults, several ms under load)."""

    def __init__(self, shape: tuple[int, int, int]) -> None:
        self.shape = shape
        self._free: queue.SimpleQueue = queue.SimpleQueue()

    def get(self) -> np.ndarray:
        try:
            return self._free.get_nowait()
        except queue.Empty:
            return np.empty(self.shape, np.uint8)

    def put(self, array: np.ndarray) -> None:
        self._free.put(array)


def check_outputs(
    video: str | os.PathLike,
    out: str | os.PathLike,
    matte_out: str | os.PathLike | None = None,
    background: str | os.PathLike | None = None,
) -> None:
    """Check before the first frame (and before a model loads) that the outputs can be written and
    would not overwrite an input or each other (:mod:`vbbench.guards`).

    Raises
    ------
    OutputError
        Naming the output and the problem.

    Examples
    --------
    >>> check_outputs("call.mp4", "call.mp4")
    Traceback (most recent call last):
    ...
    vbbench.errors.OutputError: --out .../call.mp4 is VIDEO .../call.mp4: the output would overwrite the input; choose another --out
    """
    from vbbench.guards import check_outputs as check

    if matte_out is not None and Path(out).resolve() == Path(matte_out).resolve():
        raise OutputError(f"{matte_out}: --matte-out is the same file as --out")
    check(files={"--out": out, "--matte-out": matte_out}, inputs={"VIDEO": video, "--background": background})


def _read_background(background: str | os.PathLike | np.ndarray) -> np.ndarray:
    if isinstance(background, np.ndarray):
        return background
    from vbbench.io import read_image

    return read_image(background)


def composite_video(
    runner: Runner,
    video: str | os.PathLike | Video,
    out: str | os.PathLike,
    *,
    background: str | os.PathLike | np.ndarray | None = None,
    blur: float | None = None,
    fit: str = "cover",
    matte_out: str | os.PathLike | None = None,
    progress: bool = True,
    crf: int = 20,
    preset: str = "veryfast",
    max_frames: int | None = None,
    fast: bool = True,
    threaded: bool = True,
) -> dict:
    """Replace (or blur) the background of every frame of ``video`` and write ``out``.

    ``out`` (and ``matte_out``, the matte as a gray video) are H.264 MP4s with the source's frame
    count, size (odd sizes padded to even by one repeated row or column) and timestamps, and its
    audio (AAC copied, other codecs transcoded to AAC). Both are checked before the first frame
    and renamed into place only when complete; on any failure neither is left behind and a file
    already at ``out`` is untouched. A recurrent runner is reset once, then fed every frame in
    order. A model trained on synthetic data only gets a one-line warning.

    Parameters
    ----------
    runner : Runner
        The model.
    video : path or Video
        A video file or a clip folder (:func:`~vbbench.models.video.open_video`).
    out : path
        The composite video.
    background, blur
        Exactly one: a background image (path or BGR array) fitted by ``fit`` (cover, contain,
        stretch), or the sigma (pixels) to blur the frame's own background with.
    matte_out : path, optional
        Also write the matte video.
    progress : bool
        Show a progress bar.
    crf, preset
        x264 quality (constant rate factor) and preset.
    max_frames : int, optional
        Stop after this many frames (the audio is cut there too).

    Returns
    -------
    dict
        ``frames``, ``fps`` (end to end), ``width``, ``height``, ``audio`` (None or how it was
        written), ``recurrent``, ``out``, ``matte_out``.
    """
    from tqdm import tqdm

    from vbbench.models.writer import VideoWriter

    source = video if isinstance(video, Video) else open_video(video)
    if (background is None) == (blur is None):
        raise UsageError("give exactly one of --background IMAGE or --blur SIGMA")
    if blur is not None and not blur > 0:
        raise UsageError(f"--blur {blur}: the blur's sigma must be positive (pixels)")
    check_outputs(source.path, out, matte_out, background if not isinstance(background, np.ndarray) else None)
    fitted = None
    if background is not None:
        fitted = fit_background(_read_background(background), source.width, source.height, fit)
    pipeline = Pipeline(runner, source.width, source.height, background=fitted, blur=blur, fast=fast)
    warning = training_warning(runner)
    if warning:
        warnings.warn(warning, stacklevel=2)
    options: dict = {"crf": crf, "preset": preset, "time_base": source.time_base, "threaded": threaded}
    writer = VideoWriter(out, source.width, source.height, source.fps, audio_from=source, **options)
    matte_writer = None
    try:
        if matte_out is not None:
            matte_writer = VideoWriter(matte_out, source.width, source.height, source.fps, **options)
    except BaseException:
        writer.abort()
        raise
    pool = _BufferPool((source.height, source.width, 3))
    frames_in = Prefetch(source.frames())
    count, started, last = 0, time.perf_counter(), 0.0
    total = source.frame_count if max_frames is None else min(max_frames, source.frame_count or max_frames)
    stopped_early = False
    try:
        pipeline.reset()
        with tqdm(total=total, desc=f"compositing with {runner.name}", unit="frame", disable=not progress) as bar:
            for moment, frame in frames_in:
                if max_frames is not None and count >= max_frames:
                    stopped_early = True
                    break
                composite, matte, _ = pipeline.process(frame, pool.get())
                writer.write(composite, moment, pool.put)
                if matte_writer is not None:
                    matte_writer.write(matte, moment)
                count, last = count + 1, moment
                bar.update()
        if count == 0:
            raise VideoError(f"{source.path}: no frame could be decoded")
        writer.close(audio_until=last + float(1 / source.fps) if stopped_early else None)
        if matte_writer is not None:
            matte_writer.close()
    except BaseException:
        writer.abort()
        if matte_writer is not None:
            matte_writer.abort()
        raise
    finally:
        frames_in.close()
    return {
        "frames": count,
        "fps": count / (time.perf_counter() - started),
        "width": source.width,
        "height": source.height,
        "audio": writer.audio.description if writer.audio is not None else None,
        "recurrent": runner.recurrent,
        "out": str(out),
        "matte_out": str(matte_out) if matte_out is not None else None,
    }


def _percentiles(values: list[float]) -> tuple[float, float]:
    if not values:
        return float("nan"), float("nan")
    p50, p95 = np.percentile(np.asarray(values, np.float64), [50, 95])
    return float(p50), float(p95)


def timed_run(
    pipeline: Pipeline,
    frames: Iterable[tuple[float, np.ndarray]],
    count: int,
    writer_options: dict,
    *,
    decoded: bool,
    threaded: bool = True,
) -> dict:
    """Run ``count`` frames through ``pipeline`` into a throw-away H.264 file, timing every stage.

    ``decoded``: the frames come from a real video (a ``decode`` stage, on a reader thread when
    ``threaded``); else they are in memory. Encoding runs on the writer thread when ``threaded``.

    Returns
    -------
    dict
        ``frames``, ``ms`` (p50 per stage), ``p95_ms``, ``stage_sum_ms``, ``fps`` (frames / wall
        seconds from the first frame to the closed file, encoder flush included),
        ``cpu_ms_per_frame`` (process CPU time over all threads: what the pipeline costs, whatever
        else loads the machine), ``encoder``.
    """
    import tempfile

    from vbbench.models.writer import VideoWriter

    times: dict[str, list[float]] = {stage: [] for stage in STAGES[1:5]}
    pool = _BufferPool((pipeline.height, pipeline.width, 3))
    with tempfile.TemporaryDirectory(prefix="vbbench-bench-") as folder:
        started, cpu = time.perf_counter(), time.process_time()
        writer = VideoWriter(
            Path(folder) / "out.mp4", pipeline.width, pipeline.height, threaded=threaded, **writer_options
        )
        source = Prefetch(frames) if decoded and threaded else _Timed(frames)
        done = 0
        try:
            pipeline.reset()
            for moment, frame in source:
                composite, _, ms = pipeline.process(frame, pool.get())
                writer.write(composite, moment, pool.put)
                for stage, value in ms.items():
                    times[stage].append(value)
                done += 1
                if done >= count:
                    break
            writer.close()
        except BaseException:
            writer.abort()
            raise
        finally:
            source.close()
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    if decoded:
        times = {"decode": source.ms[:done], **times}
    times["encode"] = writer.encode_ms
    p50 = {stage: _percentiles(values)[0] for stage, values in times.items()}
    return {
        "frames": done,
        "ms": p50,
        "p95_ms": {stage: _percentiles(values)[1] for stage, values in times.items()},
        "stage_sum_ms": sum(p50.values()),
        "fps": done / elapsed,
        "cpu_ms_per_frame": cpu * 1e3 / max(done, 1),
        "encoder": writer.description,
    }


class _Timed:
    """An iterator timed inline (no thread), with :class:`Prefetch`'s ``ms`` and ``close``."""

    def __init__(self, iterable: Iterable):
        self.ms: list[float] = []
        self._iterator = iter(iterable)

    def __iter__(self):
        while True:
            start = time.perf_counter()
            try:
                item = next(self._iterator)
            except StopIteration:
                return
            self.ms.append((time.perf_counter() - start) * 1e3)
            yield item

    def close(self) -> None:
        close = getattr(self._iterator, "close", None)
        if close is not None:
            close()
