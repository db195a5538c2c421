"""Reading mattes and writing files safely.

Every stage reads mattes through :func:`read_matte` (one place that knows the accepted formats and
the error messages) and writes through :func:`atomic_write_bytes` / :func:`write_png` /
:func:`atomic_write_text`, so an interrupted run never leaves a half-written file under its final
name.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

import cv2
import numpy as np

__all__ = [
    "MatteError",
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


class MatteError(ValueError):
    """A file cannot be used as a matte; the message names the file and the problem."""


def _decode(path: Path) -> np.ndarray:
    try:
        data = path.read_bytes()
    except OSError as error:
        raise MatteError(f"{path}: cannot be read ({error.strerror or error})") from None
    if not data:
        raise MatteError(f"{path}: the file is empty")
    if path.suffix.lower() == ".png" and not data.startswith(b"\x89PNG\r\n\x1a\n"):
        raise MatteError(f"{path}: not a PNG file (it lacks the PNG signature)")
    if path.suffix.lower() == ".png" and not data.rstrip(b"\0").endswith(b"IEND\xaeB`\x82"):
        # libpng decodes a cut-off file into a partly black image without failing; the IEND
        # chunk is the only reliable sign that the file is whole.
        raise MatteError(f"{path}: truncated PNG (no IEND chunk); re-export or re-copy the file")
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise MatteError(f"{path}: not a decodable image (corrupt or unsupported format)")
    return image


def read_matte(path: str | os.PathLike) -> np.ndarray:
    """Read an alpha matte.

    Accepted: single-channel 8-bit or 16-bit images (PNG preferred; alpha = v/255 or v/65535)
    and 4-channel RGBA/BGRA images, whose alpha channel is the matte (AISegment's cut-outs).
    Two-channel gray+alpha PNGs are read by OpenCV as 4 channels and so use their alpha too.
    Three-channel (colour) images are refused: the matte would be ambiguous.

    Parameters
    ----------
    path : str or os.PathLike
        Image file.

    Returns
    -------
    numpy.ndarray
        2-D ``uint8`` or ``uint16`` array (H, W).

    Raises
    ------
    MatteError
        If the file is missing, empty, truncated, undecodable, or has an unusable channel count
        or bit depth. The message names the file.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "m.png"
    >>> write_png(path, np.full((2, 3), 128, np.uint8))
    >>> read_matte(path).shape
    (2, 3)
    """
    path = Path(path)
    image = _decode(path)
    if image.dtype not in (np.uint8, np.uint16):
        raise MatteError(f"{path}: unsupported bit depth ({image.dtype}); save mattes as 8- or 16-bit PNG")
    if image.ndim == 2:
        return image
    channels = image.shape[2]
    if channels == 4:
        return np.ascontiguousarray(image[:, :, 3])
    if channels == 1:
        return image[:, :, 0]
    raise MatteError(
        f"{path}: {channels} channels; a matte must be single-channel grayscale or RGBA with the "
        "matte in the alpha channel (convert colour images to grayscale first)"
    )


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
    if image.dtype != np.uint8:
        image = (image / 257.0).round().astype(np.uint8) if image.dtype == np.uint16 else None
        if image is None:
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


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically: a temporary file in the same folder, fsync'd, then
    renamed over the target. Parent folders are created.

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
