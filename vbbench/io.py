"""Reading images and mattes, checking files, and writing them safely.

Every stage reads mattes through :func:`read_matte` (one place that knows the accepted formats and
the error messages), checks whole files with :func:`integrity_problem`, hashes with
:func:`file_sha256`, reads and writes tables with :func:`read_csv` / :func:`csv_text`, and writes
through :func:`atomic_write_bytes` / :func:`write_png` / :func:`atomic_write_text`, so an
interrupted run never leaves a half-written file under its final name. Atomic writes give the file
the mode a plain ``open()`` would (``0o666`` minus the umask), so a team's shared data folder stays
readable to the team.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import os
import tempfile
import threading
from collections.abc import Iterable
from pathlib import Path

import cv2
import numpy as np

from vbbench.errors import MatteError

__all__ = [
    "MatteError",
    "integrity_problem",
    "file_sha256",
    "csv_text",
    "read_csv",
    "read_matte",
    "read_image",
    "encode_png",
    "write_png",
    "atomic_write_bytes",
    "atomic_write_text",
    "LOSSY_SUFFIXES",
    "IMAGE_SUFFIXES",
]

#: Suffixes read as mattes. JPEG is accepted but lossy: the scorer warns.
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp")
LOSSY_SUFFIXES = (".jpg", ".jpeg", ".webp")

_HASH_CHUNK_BYTES = 1 << 20  # 1 MiB


def integrity_problem(name: str, data: bytes) -> str | None:
    """Why the bytes of an image file are not a whole file, or None if they look whole.

    PNG needs its signature and the final IEND chunk, JPEG its end-of-image marker: decoders turn
    a cut-off file into a partly black image without failing, so the end marker is the only
    reliable sign that the file is whole.

    Parameters
    ----------
    name : str
        File name (its suffix decides the format).
    data : bytes
        The file's content.

    Returns
    -------
    str or None

    Examples
    --------
    >>> integrity_problem("a.png", b"\\x89PNG\\r\\n\\x1a\\n....")
    'truncated PNG (no IEND chunk)'
    >>> integrity_problem("a.txt", b"") is None
    False
    """
    if not data:
        return "empty file"
    suffix = os.path.splitext(name)[1].lower()
    if suffix == ".png":
        if not data.startswith(b"\x89PNG\r\n\x1a\n"):
            return "not a PNG file (it lacks the PNG signature)"
        if not data.rstrip(b"\0").endswith(b"IEND\xaeB`\x82"):
            return "truncated PNG (no IEND chunk)"
    elif suffix in (".jpg", ".jpeg") and not data.rstrip(b"\0").endswith(b"\xff\xd9"):
        return "truncated JPEG (no end-of-image marker)"
    return None


def file_sha256(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file, read in 1 MiB chunks (never the whole file in memory).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "f"; _ = path.write_bytes(b"abc")
    >>> file_sha256(path)[:16]
    'ba7816bf8f01cfea'
    """
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        while chunk := stream.read(_HASH_CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def csv_text(rows: Iterable[dict], fields: list[str]) -> str:
    """CSV text with a header of ``fields`` (extra keys ignored), ``\\n`` line ends.

    Examples
    --------
    >>> print(csv_text([{"id": "a", "n": 1, "x": 0}], ["id", "n"]), end="")
    id,n
    a,1
    """
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fields, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def read_csv(path: str | os.PathLike) -> list[dict[str, str]]:
    """Rows of a CSV file with a header, as dicts of strings."""
    with open(path, newline="", encoding="utf-8") as stream:
        return list(csv.DictReader(stream))


def _decode(path: Path) -> np.ndarray:
    try:
        data = path.read_bytes()
    except OSError as error:
        raise MatteError(f"{path}: cannot be read ({error.strerror or error})") from None
    problem = integrity_problem(path.name, data)
    if problem == "empty file":
        raise MatteError(f"{path}: the file is empty")
    if problem is not None:
        raise MatteError(f"{path}: {problem}; re-export or re-copy the file")
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise MatteError(f"{path}: not a decodable image (corrupt or unsupported format)")
    return image


def read_matte(path: str | os.PathLike, channel: str = "auto", option: str | None = "--matte-channel") -> np.ndarray:
    """Read an alpha matte, deciding which plane of the file is the matte and saying so.

    Accepted: single-channel 8-bit or 16-bit images (PNG preferred; alpha = v/255 or v/65535),
    grey saved as three equal colour channels, and images with an alpha channel (RGBA/BGRA cut-outs
    such as AISegment's, and grey+alpha PNGs, which OpenCV reads as 4 channels), whose alpha
    channel is the matte. The rule is :func:`vbbench.metrics.alpha.matte_plane`'s, the same as for
    arrays: colour images (channels that differ) are refused, and so is a fully opaque alpha over
    colour channels that hold something else, because then the matte is most likely in the colour
    channels (as several tools save it) and the alpha would score as an all-foreground matte;
    ``channel`` (the CLI's ``--matte-channel``) says which to read instead.

    Parameters
    ----------
    path : str or os.PathLike
        Image file.
    channel : {"auto", "alpha", "gray"}
        ``auto`` (the rule above), ``alpha`` (the alpha channel, whatever it holds) or ``gray``
        (the colour channels, which must be equal).
    option : str or None
        The command-line option named in the fix of an ambiguous file (None for ground truth,
        whose fix is to re-save it).

    Returns
    -------
    numpy.ndarray
        2-D ``uint8`` or ``uint16`` array (H, W).

    Raises
    ------
    MatteError
        If the file is missing, empty, truncated, undecodable, or has an unusable channel count,
        channel content or bit depth. The message names the file and the fix.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "m.png"
    >>> write_png(path, np.full((2, 3), 128, np.uint8))
    >>> read_matte(path).shape
    (2, 3)
    """
    from vbbench.metrics.alpha import matte_plane

    path = Path(path)
    image = _decode(path)
    if image.dtype not in (np.uint8, np.uint16):
        raise MatteError(f"{path}: unsupported bit depth ({image.dtype}); save mattes as 8- or 16-bit PNG")
    return matte_plane(image, channel, where=str(path), option=option)


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Read a colour image as an 8-bit BGR array (H, W, 3), refusing unreadable files.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "i.png"
    >>> write_png(path, np.zeros((2, 3, 3), np.uint8))
    >>> read_image(path).shape
    (2, 3, 3)
    """
    path = Path(path)
    image = _decode(path)
    if image.dtype == np.uint16:
        image = (image / 257.0).round().astype(np.uint8)
    elif image.dtype != np.uint8:
        raise MatteError(f"{path}: unsupported bit depth for an image")
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.shape[2] == 4:
        return np.ascontiguousarray(image[:, :, :3])
    return image


def encode_png(image: np.ndarray, compression: int = 3) -> bytes:
    """Encode an array (uint8/uint16, 1, 3 or 4 channels) as PNG bytes.

    Examples
    --------
    >>> encode_png(np.zeros((1, 1), np.uint8))[:4]
    b'\\x89PNG'
    """
    ok, buffer = cv2.imencode(".png", image, [cv2.IMWRITE_PNG_COMPRESSION, compression])
    if not ok:
        raise ValueError(f"cannot encode an array of shape {image.shape} and {image.dtype} as PNG")
    return buffer.tobytes()


_umask_lock = threading.Lock()


def _new_file_mode() -> int:
    """The mode ``open()`` gives a new file: 0o666 minus the process umask (read without a
    race-free call: setting and restoring it under a lock)."""
    with _umask_lock:
        mask = os.umask(0)
        os.umask(mask)
    return 0o666 & ~mask


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically: a temporary file in the same folder, fsync'd, then
    renamed over the target. Parent folders are created. The file gets the mode a plain
    ``open()`` would give it (``mkstemp`` alone makes it 0600, unreadable to a team).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "a" / "b.txt"
    >>> atomic_write_bytes(path, b"hi"); path.read_bytes()
    b'hi'
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fchmod(stream.fileno(), _new_file_mode())
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """:func:`atomic_write_bytes` for UTF-8 text."""
    atomic_write_bytes(path, text.encode("utf-8"))


def write_png(path: str | os.PathLike, image: np.ndarray, compression: int = 3) -> None:
    """Encode ``image`` as PNG and write it atomically (see :func:`atomic_write_bytes`)."""
    atomic_write_bytes(path, encode_png(image, compression))
