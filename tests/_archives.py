"""Test helpers for dataset curation: a local HTTP server with Range support, and builders of
small trees and archives in every real layout (sources: /work/proto/datasets/LAYOUTS.md, the cards):

* AISegment: the original MEGA/Baidu download (``matting_human_half/{clip_img,matting}`` alone),
  the Kaggle archive (``clip_img/``, ``matting/`` and the second copy ``matting_human_half/``),
  with the known defects (an AppleDouble ``._`` file, the folder fork
  ``matting/1803201916/._matting_00000000``, the orphan matte ``1803201916-00000117``);
* Shen 2016: ``training/`` + ``testing/`` under wrapper folders (``Portrait-dataset-2000/``,
  ``HKdataset/HKdataset/``), and the Kaggle copy ``dataset_kaggle/{training,testing}/{sample,mask}/``;
* the EG 2016 segmentation set (``images_mask/*_mask.mat``, ``trainlist.mat``, ``testlist.mat``),
  which is another dataset.
"""

from __future__ import annotations

import http.server
import io
import re
import socketserver
import stat
import tarfile
import threading
import zipfile
from dataclasses import dataclass, field

import cv2
import numpy as np

WIDTH_PX, HEIGHT_PX = 30, 40  # tiny portraits keep the tests fast
ORPHAN_MATTE = "1803201916-00000117"  # AISegment's known matte without an image


# ---- HTTP server -----------------------------------------------------------------------------


@dataclass
class ServerLog:
    files: dict[str, bytes] = field(default_factory=dict)
    #: Number of upcoming requests to cut off after half the body (then close the connection).
    drops: int = 0
    #: Number of upcoming requests answered with a garbled status line (http.client.BadStatusLine).
    garbled: int = 0
    #: Paths answered 200 with Content-Type text/html (a sharing or login page).
    html: set = field(default_factory=set)
    ranges: list = field(default_factory=list)  # Range header of each request (None if absent)


class _Handler(http.server.BaseHTTPRequestHandler):
    log_state: ServerLog

    def log_message(self, *args):  # keep test output clean
        pass

    def do_GET(self):
        state = self.server.state  # type: ignore[attr-defined]
        data = state.files.get(self.path)
        header = self.headers.get("Range")
        state.ranges.append(header)
        if state.garbled > 0:
            state.garbled -= 1
            self.wfile.write(b"HTTP/1.1 BANANA\r\n\r\n")
            self.close_connection = True
            return
        if data is None:
            self.send_error(404)
            return
        if self.path in state.html:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        start = 0
        if header:
            match = re.fullmatch(r"bytes=(\d+)-", header)
            start = int(match[1])
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        body = data[start:]
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()
        if state.drops > 0:
            state.drops -= 1
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body)


class _Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class LocalServer:
    """``with LocalServer() as server: server.state.files["/a.zip"] = data; server.url("/a.zip")``."""

    def __init__(self):
        self.state = ServerLog()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.state = self.state
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}{path}"

    def __enter__(self) -> LocalServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()


# ---- images ----------------------------------------------------------------------------------


def portrait(index: int, width: int = WIDTH_PX, height: int = HEIGHT_PX) -> tuple[np.ndarray, np.ndarray]:
    """A tiny colour image and a soft matte: a head (ellipse) above shoulders, unique per index."""
    rng = np.random.default_rng(index)
    image = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    alpha = np.zeros((height, width), np.uint8)
    top = 5 + index % 5
    cv2.ellipse(alpha, (width // 2, top + 7), (6, 7), 0, 0, 360, 255, -1)
    alpha[top + 14 :, 4 : width - 4] = 255
    alpha = cv2.GaussianBlur(alpha, (3, 3), 0)
    return image, alpha


def png(array: np.ndarray) -> bytes:
    return cv2.imencode(".png", array)[1].tobytes()


def jpg(array: np.ndarray) -> bytes:
    return cv2.imencode(".jpg", array, [cv2.IMWRITE_JPEG_QUALITY, 95])[1].tobytes()


def zip_bytes(
    entries: dict[str, bytes],
    symlinks: dict[str, str] | None = None,
    folders: bool = False,
    also: list[tuple[str, bytes]] | None = None,
    compression: int = zipfile.ZIP_STORED,
) -> bytes:
    """A zip of ``entries``; with ``folders`` also the folder entries (``x/``) that Kaggle's and
    Finder's zips hold; ``also`` appends entries as given (a name may repeat, as zip allows)."""
    import warnings

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as bundle, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Duplicate name" for the repeated entries of `also`
        made: set[str] = set()
        for name, data in entries.items():
            if folders:
                parts = name.split("/")[:-1]
                for end in range(1, len(parts) + 1):
                    folder = "/".join(parts[:end]) + "/"
                    if folder not in made:
                        bundle.writestr(folder, b"")
                        made.add(folder)
            bundle.writestr(name, data)
        for name, target in (symlinks or {}).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            bundle.writestr(info, target)
        for name, data in also or []:
            bundle.writestr(name, data)
    return buffer.getvalue()


def tar_bytes(entries: dict[str, bytes], mode: str = "w:gz", symlinks: dict[str, str] | None = None) -> bytes:
    """A tar (``mode`` ``w``, ``w:gz``, ``w:bz2``, ``w:xz``) of ``entries``, optionally with links."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode=mode) as bundle:
        for name, data in entries.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            bundle.addfile(info, io.BytesIO(data))
        for name, target in (symlinks or {}).items():
            info = tarfile.TarInfo(name)
            info.type = tarfile.SYMTYPE
            info.linkname = target
            bundle.addfile(info)
    return buffer.getvalue()


def write_tree(root, entries: dict[str, bytes]):
    """Write ``entries`` under ``root``; return ``root``."""
    for name, data in entries.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


# ---- layouts ---------------------------------------------------------------------------------


def shen_entries(train: int = 6, test: int = 3, wrap: str = "PortraitMatting/") -> dict[str, bytes]:
    """Shen 2016 layout: training/ and testing/ with NNNNN.png + NNNNN_matte.png; ids repeat."""
    entries = {}
    index = 0
    for folder, count in (("training", train), ("testing", test)):
        for number in range(1, count + 1):
            image, alpha = portrait(index)
            index += 1
            entries[f"{wrap}{folder}/{number:05d}.png"] = png(image)
            entries[f"{wrap}{folder}/{number:05d}_matte.png"] = png(alpha)
    return entries


def aisegment_entries(
    sessions: dict[str, int] | None = None,
    clips_per_group: int = 2,
    defects: bool = True,
    half: bool = False,
    wrap: str = "matting_human_datasets/",
) -> dict[str, bytes]:
    """AISegment layout: clip_img/<g>/clip_<8d>/<g>-<8d>.jpg ↔ matting/<g>/matting_<8d>/<stem>.png (RGBA).

    ``sessions`` maps group → images per clip. With ``defects``: a ``._`` fork beside an image,
    the orphan matte ``1803201916-00000117``. With ``half``: a second copy under matting_human_half/.
    """
    # 1803290918/clip_00000001 falls in the test split (salt vbbench-split-v1); the others in train
    sessions = sessions or {"1803201916": 3, "1803241125": 2, "1803290918": 2}
    entries = {}
    index = 0
    for group, per_clip in sessions.items():
        for clip in range(clips_per_group):
            for _ in range(per_clip):
                image, alpha = portrait(index)
                stem = f"{group}-{index:08d}"
                index += 1
                rgba = np.dstack([image, alpha])
                entries[f"{wrap}clip_img/{group}/clip_{clip:08d}/{stem}.jpg"] = jpg(image)
                entries[f"{wrap}matting/{group}/matting_{clip:08d}/{stem}.png"] = png(rgba)
    if defects:
        first_image = next(name for name in entries if "/clip_img/" in name or name.startswith("clip_img/"))
        fork = first_image.rsplit("/", 1)
        entries[f"{fork[0]}/._{fork[1]}"] = APPLEDOUBLE
        entries[f"{wrap}matting/1803201916/._matting_00000000"] = APPLEDOUBLE  # a folder's fork, as in every copy
        image, alpha = portrait(999)
        entries[f"{wrap}matting/1803201916/matting_00000000/{ORPHAN_MATTE}.png"] = png(np.dstack([image, alpha]))
    if half:
        for name, data in list(entries.items()):
            entries[f"{wrap}matting_human_half/{name[len(wrap) :]}"] = data
    return entries


#: The AppleDouble magic and header macOS writes into ``._*`` files.
APPLEDOUBLE = b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X        "


def aisegment_original(**options) -> dict[str, bytes]:
    """The original MEGA/Baidu download: ``matting_human_half.zip`` unpacks as
    ``matting_human_half/{clip_img,matting}`` and nothing else."""
    return aisegment_entries(wrap="matting_human_half/", **options)


def aisegment_kaggle(wrap: str = "", **options) -> dict[str, bytes]:
    """Kaggle's laurentmih/aisegmentcom-matting-human-datasets (``archive.zip``): ``clip_img/`` and
    ``matting/`` at the top and the same tree again under ``matting_human_half/``."""
    return aisegment_entries(wrap=wrap, half=True, **options)


def shen_kaggle(train: int = 6, test: int = 3, wrap: str = "dataset_kaggle/") -> dict[str, bytes]:
    """Kaggle's tommzzhou/human-img-seg: ``dataset_kaggle/{training,testing}/{sample,mask}/`` with
    ``sample/NNNNN.png`` and ``mask/NNNNN_matte.png``; the same portraits as :func:`shen_entries`."""
    renamed = {}
    for name, data in shen_entries(train, test, wrap="").items():
        folder, file = name.split("/")
        renamed[f"{wrap}{folder}/{'mask' if file.endswith('_matte.png') else 'sample'}/{file}"] = data
    return renamed


def eg2016_entries(count: int = 4, wrap: str = "") -> dict[str, bytes]:
    """The EG 2016 portrait *segmentation* set as its users hold it: ``images_mask/NNNNN_mask.mat``,
    ``trainlist.mat``, ``testlist.mat``, ``meanmask.png`` and the separately downloaded
    ``images_data_crop/NNNNN.jpg``."""
    mat = b"MATLAB 5.0 MAT-file, Platform: GLNXA64"
    entries = {f"{wrap}trainlist.mat": mat, f"{wrap}testlist.mat": mat, f"{wrap}meanmask.png": png(portrait(0)[1])}
    for number in range(1, count + 1):
        entries[f"{wrap}images_mask/{number:05d}_mask.mat"] = mat
        entries[f"{wrap}images_data_crop/{number:05d}.jpg"] = jpg(portrait(number)[0])
    return entries
