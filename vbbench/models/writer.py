"""Writing videos: H.264 in MP4 with the source's audio, encoded on a writer thread, renamed into place.

:class:`VideoWriter` writes H.264 High (libx264 through PyAV, the ``video`` extra) in MP4,
yuv420p, BT.601 matrix, limited range, tagged in the stream, ``+faststart`` so that browsers
start playing early; the source's timestamps are kept. Frames are converted and encoded on a
writer thread behind a bounded queue, so encoding overlaps the rest of the pipeline. The file is
written to a temporary ``.<name>.*.partial.mp4`` beside the target, made (with its MP4 header)
when the writer is made — an unwritable target fails before the first frame — and renamed over
the target only by :meth:`VideoWriter.close`; :meth:`VideoWriter.abort` deletes it.

Audio: the source's first audio stream, interleaved as frames are written. AAC packets are
copied unchanged (shifted so that the first video frame is at 0); any other codec is decoded,
resampled and encoded as AAC (FFmpeg's native encoder, 64 kb/s per channel).

Colour: :func:`bgr_to_i420` is within 1 code of swscale's ``bgr24 → yuv420p`` (chroma of each
2×2 block from the block's mean colour, as swscale does; ``COLOR_BGR2YUV_I420`` alone takes one
pixel's chroma per block and is off by 28 codes on a red/black checker). A matte (H, W) is
written as gray: Y = round(16 + 219·a/255), U = V = 128, which decodes to (a, a, a) within 1 code
plus the codec's error.
"""

from __future__ import annotations

import os
import queue
import tempfile
import threading
import time
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from vbbench.errors import OutputError, VideoError
from vbbench.io import _new_file_mode
from vbbench.models.video import Video, import_av

__all__ = ["VideoWriter", "bgr_to_i420", "gray_to_i420"]

_K = 224 / 255
# Full-range YCbCr chroma (what COLOR_BGR2YCrCb gives) → limited range: 128 + (224/255)·(c − 128).
_CHROMA_LUT = np.clip(np.round(128 + _K * (np.arange(256) - 128)), 0, 255).astype(np.uint8)
_LUMA_LUT = np.clip(np.round(16 + 219 / 255 * np.arange(256)), 0, 255).astype(np.uint8)


def bgr_to_i420(image: np.ndarray) -> np.ndarray:
    """BGR uint8 (H, W, 3), H and W even → I420 (yuv420p) planes stacked as (3H/2, W) uint8.

    BT.601 matrix, limited range (Y 16–235, chroma 16–240), the same as FFmpeg's swscale
    ``bgr24 → yuv420p``: Y within 1 code of swscale, chroma within 1 code (chroma of each 2×2 block
    from the block's average colour, as swscale does; OpenCV's ``COLOR_BGR2YUV_I420`` alone takes
    the top-left pixel's chroma, which aliases at edges — off by 28 codes on a red/black checker).
    1.5 ms at 1080p against 2.7 ms for swscale.
    """
    height, width = image.shape[:2]
    planes = np.empty((height * 3 // 2, width), np.uint8)
    cv2.cvtColor(image, cv2.COLOR_BGR2YUV_I420, dst=planes)  # Y exact; chroma replaced below
    half = cv2.resize(image, (width // 2, height // 2), interpolation=cv2.INTER_AREA)  # 2×2 means
    ycrcb = cv2.LUT(cv2.cvtColor(half, cv2.COLOR_BGR2YCrCb), _CHROMA_LUT)  # Y channel unused
    chroma = planes[height:].reshape(2, height // 2, width // 2)
    cv2.extractChannel(ycrcb, 2, dst=chroma[0])  # U = Cb
    cv2.extractChannel(ycrcb, 1, dst=chroma[1])  # V = Cr
    return planes


def gray_to_i420(gray: np.ndarray) -> np.ndarray:
    """A matte (H, W) uint8 as I420 whose decoded RGB is (a, a, a) within 1 code: Y = 16 + 219a/255, U = V = 128."""
    height, width = gray.shape
    planes = np.empty((height * 3 // 2, width), np.uint8)
    cv2.LUT(gray, _LUMA_LUT, dst=planes[:height])
    planes[height:] = 128
    return planes


#: Sample rates the AAC encoder accepts; other rates are resampled to 48 kHz.
_AAC_RATES = (96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000)
_AAC_LAYOUTS = ("mono", "stereo", "3.0", "4.0", "5.0", "5.1", "7.1")


class _AudioFeed:
    """The source's first audio stream, muxed into the output in step with the video.

    AAC packets are copied untouched (timestamps shifted so that the first video frame is 0);
    any other codec is decoded, resampled to planar float at an AAC rate and encoded as AAC
    (FFmpeg's native encoder, 128 kb/s per two channels).
    """

    def __init__(self, source: Path, output, offset: float):
        av = import_av()

        self.input = av.open(str(source))
        self.source = self.input.streams.audio[0]
        self.output = output
        self.offset = offset
        self.copy = self.source.codec_context.name == "aac"
        if self.copy:
            self.stream = output.add_stream_from_template(self.source)
            self.description = "aac (copied)"
        else:
            context = self.source.codec_context
            rate = context.sample_rate if context.sample_rate in _AAC_RATES else 48000
            layout = (
                context.layout.name
                if context.layout.name in _AAC_LAYOUTS
                else ("mono" if context.channels == 1 else "stereo")
            )
            self.stream = output.add_stream("aac", rate=rate, layout=layout)
            self.stream.bit_rate = 64000 * max(1, min(context.channels, 6))
            self.resampler = av.AudioResampler(format="fltp", layout=layout, rate=rate, frame_size=1024)
            self.rate = rate
            self.description = f"aac (transcoded from {context.name})"
        self.packets = self.input.demux(self.source)
        self.pending = None
        self.finished = False
        self.muxed = 0

    def _next(self):
        if self.pending is not None:
            packet, self.pending = self.pending, None
            return packet
        for packet in self.packets:
            if packet.dts is None and packet.size == 0:  # demuxer's flush packet
                continue
            return packet
        return None

    def mux_until(self, seconds: float | None) -> None:
        """Mux source audio whose start lies before ``seconds`` after the first video frame (None: all)."""
        if self.finished:
            return
        base = self.source.time_base
        shift = round(self.offset / base)
        while True:
            packet = self._next()
            if packet is None:
                self.finished = True
                return
            start = float((packet.pts if packet.pts is not None else packet.dts) * base) - self.offset
            if seconds is not None and start >= seconds:
                self.pending = packet
                return
            if self.copy:
                if packet.pts is not None:
                    packet.pts -= shift
                if packet.dts is not None:
                    packet.dts -= shift
                packet.stream = self.stream
                self.output.mux(packet)
                self.muxed += 1
            else:
                for frame in packet.decode():
                    if frame.pts is not None:
                        pts = round((float(frame.pts * frame.time_base) - self.offset) * frame.sample_rate)
                        if pts < 0:
                            continue
                        frame.pts, frame.time_base = pts, Fraction(1, frame.sample_rate)
                    self._encode(frame)

    def _encode(self, frame) -> None:
        for resampled in self.resampler.resample(frame):
            for packet in self.stream.encode(resampled):
                self.output.mux(packet)
                self.muxed += 1

    def close(self, seconds: float | None) -> None:
        try:
            self.mux_until(seconds)
            if not self.copy:
                self._encode(None)
                for packet in self.stream.encode(None):
                    self.output.mux(packet)
                    self.muxed += 1
        finally:
            self.input.close()


class VideoWriter:
    """H.264 (libx264, yuv420p) in MP4, encoded on a writer thread, renamed into place when complete.

    Parameters
    ----------
    path : path
        The final ``.mp4``. Its folder is created. Writing goes to a temporary
        ``.<name>.*.partial.mp4`` beside it, renamed over ``path`` by :meth:`close`; :meth:`abort`
        (or leaving a ``with`` block by an exception) deletes it, so ``path`` never holds a partial
        video. The temporary file and the MP4 header are created here, so an unwritable target
        fails before the first frame, with a :class:`VideoError` naming ``path``.
    width, height : int
        Frame size. Odd sizes are padded to even (edge pixels repeated) for 4:2:0; the file is
        then one pixel wider or taller, see :attr:`encoded_size`.
    fps : number
        Nominal frame rate (rate control, and timestamps of frames written without a time).
    crf : int
        x264 constant rate factor (0 lossless … 51; 23 is x264's default). Ignored if ``bitrate``.
    bitrate : int, optional
        Target bits per second instead of CRF.
    preset : str
        x264 preset (``ultrafast`` … ``veryslow``).
    audio_from : Video, optional
        Source whose first audio stream is copied (AAC) or transcoded to AAC.
    audio_offset : float
        Source time of the first video frame written (seconds): audio is shifted by it.
    time_base : Fraction, optional
        Timestamp unit (default 1/fps); pass the source's to keep its timing exactly.
    threaded : bool
        Encode on a writer thread behind a queue of ``queue_size`` frames (False: in ``write``).
    codec : str
        ``libx264`` (default) or ``mpeg4`` (MPEG-4 Part 2, only to compare with OpenCV's mp4v).
    threads : int, optional
        Encoder threads (default: FFmpeg's choice).

    Frames handed to :meth:`write` must not be modified until ``release`` is called for them
    (threaded mode: the writer converts them later).
    """

    def __init__(
        self,
        path: str | os.PathLike,
        width: int,
        height: int,
        fps: float | Fraction = 30,
        *,
        crf: int = 20,
        bitrate: int | None = None,
        preset: str = "veryfast",
        audio_from: Video | None = None,
        audio_offset: float = 0.0,
        time_base: Fraction | None = None,
        threaded: bool = True,
        queue_size: int = 8,
        codec: str = "libx264",
        threads: int | None = None,
    ):
        av = import_av()

        self.path = Path(path)
        self.width, self.height = int(width), int(height)
        self.encoded_size = (self.width + self.width % 2, self.height + self.height % 2)
        self.fps = Fraction(fps).limit_denominator(1001) if not isinstance(fps, Fraction) else fps
        self.time_base = Fraction(time_base) if time_base else 1 / self.fps
        self.encode_ms: list[float] = []
        self.frames = 0
        self.audio: _AudioFeed | None = None
        self._last_pts = -1
        self._last_time: float | None = None
        self._error: BaseException | None = None
        self._closed = False
        if self.path.is_dir():
            raise OutputError(f"{self.path}: is a folder; give the output video's file name")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(
                prefix=f".{self.path.stem}.", suffix=".partial.mp4", dir=self.path.parent
            )
            os.close(handle)
        except OSError as problem:
            raise OutputError(
                f"{self.path}: cannot write the output video here ({problem.strerror or problem})"
            ) from None
        self._temporary = Path(temporary)
        try:
            self._container = av.open(str(self._temporary), "w", format="mp4", options={"movflags": "+faststart"})
            stream = self._container.add_stream(codec, rate=self.fps)
            stream.width, stream.height = self.encoded_size
            stream.pix_fmt = "yuv420p"
            stream.time_base = self.time_base
            stream.codec_context.time_base = self.time_base
            if codec == "libx264":
                options = {"preset": preset}
                if bitrate is None:
                    options["crf"] = str(crf)
                stream.options = options
                self.description = f"H.264 libx264 {preset} " + (f"{bitrate} b/s" if bitrate else f"crf {crf}")
            else:
                self.description = f"{codec}"
            if bitrate is not None:
                stream.bit_rate = int(bitrate)
            if threads is not None:
                stream.codec_context.thread_count = threads
            # What the pixels are: BT.601 matrix, limited range (players then convert back exactly).
            stream.codec_context.colorspace = 6  # AVCOL_SPC_SMPTE170M
            stream.codec_context.color_range = 1  # AVCOL_RANGE_MPEG
            self._stream = stream
            if audio_from is not None and audio_from.has_audio and audio_from.kind == "file":
                self.audio = _AudioFeed(audio_from.path, self._container, audio_offset)
            self._container.start_encoding()
        except Exception as problem:
            self._discard()
            if isinstance(problem, VideoError):
                raise
            raise VideoError(f"{self.path}: cannot start writing the output video ({problem})") from None
        self._queue: queue.Queue = queue.Queue(queue_size)
        self._thread: threading.Thread | None = None
        if threaded:
            self._thread = threading.Thread(target=self._drain, daemon=True, name="vb-encode")
            self._thread.start()

    # -- the encoding itself (writer thread, or caller in unthreaded mode)

    def _encode(self, image: np.ndarray, moment: float | None, release: Callable | None) -> None:
        av = import_av()

        start = time.perf_counter()
        if image.shape[0] != self.height or image.shape[1] != self.width:
            raise VideoError(
                f"{self.path}: frame is {image.shape[1]}x{image.shape[0]}, the writer was made for {self.width}x{self.height}"
            )
        padded = image
        if (self.width, self.height) != self.encoded_size:
            padded = cv2.copyMakeBorder(
                image, 0, self.encoded_size[1] - self.height, 0, self.encoded_size[0] - self.width, cv2.BORDER_REPLICATE
            )
        planes = gray_to_i420(padded) if padded.ndim == 2 else bgr_to_i420(padded)
        if release is not None:
            release(image)
        frame = av.VideoFrame.from_ndarray(planes, format="yuv420p")
        if moment is None:
            moment = 0.0 if self._last_time is None else self._last_time + float(1 / self.fps)
        pts = max(round(moment / self.time_base), self._last_pts + 1)
        self._last_pts, self._last_time = pts, moment
        frame.pts = pts
        frame.time_base = self.time_base
        frame.colorspace = 5  # swscale's ITU601 enum for the frame (BT.601)
        frame.color_range = 1
        for packet in self._stream.encode(frame):
            self._container.mux(packet)
        if self.audio is not None:
            self.audio.mux_until(moment)  # interleave: the audio that starts before this frame
        self.frames += 1
        self.encode_ms.append((time.perf_counter() - start) * 1e3)

    def _drain(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            if self._error is not None:  # keep consuming so that write() never blocks forever
                if item[2] is not None:
                    item[2](item[0])
                continue
            try:
                self._encode(*item)
            except BaseException as problem:
                self._error = problem

    def _raise_pending(self) -> None:
        if self._error is not None:
            problem = self._error
            if isinstance(problem, VideoError):
                raise problem
            raise VideoError(f"{self.path}: encoding failed ({problem})") from problem

    # -- public API

    def write(self, image: np.ndarray, time: float | None = None, release: Callable | None = None) -> None:
        """Queue one frame: BGR uint8 (H, W, 3), or a matte uint8 (H, W) written as gray.

        ``time`` is seconds since the first frame (default: previous + 1/fps); ``release(image)``
        is called once the writer no longer needs the array. Blocks while the queue is full.
        """
        if self._closed:
            raise VideoError(f"{self.path}: writer already closed")
        self._raise_pending()
        if self._thread is None:
            self._encode(image, time, release)
        else:
            self._queue.put((image, time, release))

    def _stop_thread(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()

    def close(self, audio_until: float | None = None) -> None:
        """Flush the encoder, finish the audio, and rename the file into place.

        ``audio_until``: keep only source audio starting before that many seconds (default: all of it).
        """
        if self._closed:
            return
        try:
            self._stop_thread()
            self._raise_pending()
            if self.frames == 0:
                raise VideoError(f"{self.path}: no frame was written")
            start = time.perf_counter()
            for packet in self._stream.encode(None):
                self._container.mux(packet)
            if self.audio is not None:
                self.audio.close(audio_until)
            self._container.close()
            self.flush_ms = (time.perf_counter() - start) * 1e3
            os.chmod(self._temporary, _new_file_mode())
            os.replace(self._temporary, self.path)
            self._closed = True
        except BaseException:
            self.abort()
            raise

    def abort(self) -> None:
        """Stop, and delete the temporary file; ``path`` is left as it was."""
        if self._closed:
            return
        self._closed = True
        if self._thread is not None and self._thread.is_alive():
            self._error = self._error or VideoError("aborted")
            self._queue.put(None)
            self._thread.join()
        self._discard()

    def _discard(self) -> None:
        audio = getattr(self, "audio", None)
        for closing in (audio.input if audio is not None else None, getattr(self, "_container", None)):
            if closing is not None:
                try:
                    closing.close()
                except Exception:  # already failing: the temporary file goes regardless
                    pass
        self._temporary.unlink(missing_ok=True)

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, kind, value, traceback) -> None:
        if kind is None:
            self.close()
        else:
            self.abort()
