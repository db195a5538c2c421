"""Reading videos: a file through PyAV (FFmpeg), or a clip folder of frames, as one :class:`Video`.

:func:`open_video` opens either. A file's frames are decoded by FFmpeg (its own frame and slice
threads) and converted to BGR by swscale with the stream's own colour matrix and range
(untagged streams: BT.601 limited range, FFmpeg's default); their times come from the stream's
timestamps, so variable frame rates survive. A clip folder's frames are its images
(``.png``, ``.jpg``) in name order (:func:`frame_order`: digits compared as numbers, which for
zero-padded names is the plain name order), every one of the same size, at ``fps`` (default 30)
— the same order ``vbbench predict`` gives a recurrent model the frames of a clip.

PyAV is the ``video`` extra (``pip install 'vbbench[video]'``); it is imported inside the
functions that need it.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np

from vbbench.errors import VideoError

__all__ = ["Video", "open_video", "frame_order", "FRAME_SUFFIXES", "import_av"]

#: Image files a clip folder's frames may be.
FRAME_SUFFIXES = (".png", ".jpg", ".jpeg")


def import_av():
    """PyAV, or a :class:`VideoError` naming the extra that brings it."""
    try:
        import av
    except ImportError:
        raise VideoError("reading and writing videos needs PyAV: pip install 'vbbench[video]'") from None
    return av


def frame_order(name: str) -> list:
    """Sort key of frame names: ``2.png`` before ``10.png``; the plain name order for zero-padded names.

    Examples
    --------
    >>> sorted(["10.png", "2.png", "1.png"], key=frame_order)
    ['1.png', '2.png', '10.png']
    """
    return [(0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.split(r"(\d+)", name) if part]


@dataclass
class Video:
    """An opened video: a file (PyAV) or a clip folder of frames.

    Attributes
    ----------
    path : Path
        The file or folder.
    kind : str
        ``"file"`` or ``"folder"``.
    width, height : int
        Frame size in pixels.
    fps : Fraction
        The stream's average frame rate (a folder: the ``fps`` given to :func:`open_video`).
    frame_count : int or None
        Frames the container's header announces (None when it does not say); a folder's count.
    time_base : Fraction
        Unit of the source timestamps (a folder: 1/fps).
    has_audio : bool
        Whether the file has an audio stream (its first one is kept by ``composite``).
    audio_codec, video_codec : str or None
        E.g. ``"aac"``, ``"h264"``.
    """

    path: Path
    kind: str
    width: int
    height: int
    fps: Fraction
    frame_count: int | None
    time_base: Fraction
    has_audio: bool = False
    audio_codec: str | None = None
    video_codec: str | None = None
    files: list[Path] = field(default_factory=list, repr=False)

    def frames(self) -> Iterator[tuple[float, np.ndarray]]:
        """``(seconds since the first frame, BGR uint8 (H, W, 3) C-contiguous)`` in presentation order.

        Each call reads from the start again.

        Raises
        ------
        VideoError
            A frame that cannot be decoded, or a folder frame of another size (naming it).
        """
        if self.kind == "folder":
            from vbbench.io import read_image

            for index, path in enumerate(self.files):
                image = read_image(path)
                if image.shape[:2] != (self.height, self.width):
                    raise VideoError(
                        f"{path}: frame is {image.shape[1]}x{image.shape[0]}, the clip's first frame is "
                        f"{self.width}x{self.height}; every frame of a clip folder must have one size"
                    )
                yield float(index / self.fps), image
            return
        av = import_av()
        try:
            container = av.open(str(self.path))
        except (av.FFmpegError, OSError) as problem:
            raise VideoError(f"{self.path}: cannot be opened as a video ({problem})") from None
        try:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"  # FFmpeg's frame and slice threads
            first: float | None = None
            previous = -math.inf
            step = float(1 / self.fps)
            for index, frame in enumerate(container.decode(stream)):
                image = frame.to_ndarray(format="bgr24")
                moment = frame.time
                if moment is None:
                    moment = index * step + (first or 0.0)
                if first is None:
                    first = moment
                moment -= first
                if moment <= previous:  # broken or missing timestamps: keep them increasing
                    moment = previous + step
                previous = moment
                yield moment, image
        except av.FFmpegError as problem:
            raise VideoError(f"{self.path}: decoding failed ({problem})") from None
        finally:
            container.close()

    def __iter__(self) -> Iterator[np.ndarray]:
        for _, image in self.frames():
            yield image

    def describe(self) -> str:
        """One line: path, size, rate, frames and audio."""
        count = self.frame_count if self.frame_count is not None else "?"
        audio = f", audio {self.audio_codec}" if self.has_audio else ", no audio"
        return f"{self.path}: {self.width}x{self.height}, {float(self.fps):.3f} fps, {count} frames{audio}"


def open_video(path: str | os.PathLike, fps: float | Fraction | None = None) -> Video:
    """Open a video file or a clip folder.

    Parameters
    ----------
    path : path
        A video file FFmpeg reads, or a folder of frame images (:data:`FRAME_SUFFIXES`, in
        :func:`frame_order`; other files are ignored).
    fps : number, optional
        Frame rate of a clip folder (default 30); files carry their own.

    Raises
    ------
    VideoError
        Missing path, unreadable or frameless video, folder without frames (naming the path).

    Examples
    --------
    >>> open_video("/no/such/clip.mp4")
    Traceback (most recent call last):
    ...
    vbbench.errors.VideoError: /no/such/clip.mp4: no such video file or clip folder
    """
    path = Path(path)
    if path.is_dir():
        from vbbench.io import read_image

        files = sorted(
            (p for p in path.iterdir() if p.suffix.lower() in FRAME_SUFFIXES and p.is_file()),
            key=lambda p: frame_order(p.name),
        )
        if not files:
            raise VideoError(f"{path}: a clip folder needs frame images ({', '.join(FRAME_SUFFIXES)}); found none")
        rate = Fraction(fps if fps is not None else 30).limit_denominator(1001)
        if rate <= 0:
            raise VideoError(f"{path}: fps must be positive, got {fps}")
        first = read_image(files[0])
        return Video(path, "folder", first.shape[1], first.shape[0], rate, len(files), 1 / rate, files=files)
    if not path.exists():
        raise VideoError(f"{path}: no such video file or clip folder")
    av = import_av()
    try:
        container = av.open(str(path))
    except (av.FFmpegError, OSError) as problem:
        raise VideoError(f"{path}: cannot be opened as a video ({problem})") from None
    with container:
        if not container.streams.video:
            raise VideoError(f"{path}: cannot be opened as a video (no video stream)")
        stream = container.streams.video[0]
        context = stream.codec_context
        if not context.width or not context.height:
            raise VideoError(f"{path}: cannot be opened as a video (no frame size)")
        rate = Fraction(stream.average_rate or stream.guessed_rate or 30)
        count = stream.frames or None
        if count is None and stream.duration and stream.time_base:
            count = round(float(stream.duration * stream.time_base * rate)) or None
        audio = container.streams.audio[0] if container.streams.audio else None
        return Video(
            path,
            "file",
            context.width,
            context.height,
            rate,
            count,
            Fraction(stream.time_base or (1 / rate)),
            audio is not None,
            audio.codec_context.name if audio is not None else None,
            context.name,
        )
