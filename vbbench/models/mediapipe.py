"""MediaPipe selfie segmentation, the production baseline, run without installing mediapipe.

``mediapipe==0.10.21`` is the last release whose wheel carries the two selfie segmentation models
(``selfie_segmentation.tflite``, 256×256, and ``selfie_segmentation_landscape.tflite``, 256×144
W×H). Installing it would pin old numpy and opencv, so instead :func:`model_file` downloads the
wheel with ``pip download --no-deps`` (an ordinary registry client) into
``$VBBENCH_HOME/mediapipe``, takes the two ``.tflite`` members out, checks their sha256 against
``mediapipe_models.json`` (package data) and caches them; the wheel is deleted afterwards. The files
run under ``ai-edge-litert`` (extra ``mediapipe``), which coexists with numpy 2.4: float32 RGB input
in [0, 1], NHWC, output a foreground probability map of the input size. Images reach the network
the way MediaPipe's own graph brings them (:func:`mediapipe_input`), so vbbench's numbers for
these models are MediaPipe's: on rendered portraits the masks agree with ``mediapipe==0.10.21``'s
``SelfieSegmentation`` to within 2e-4 (``tests/data/mediapipe_reference.npz``, made by
``scripts/mediapipe_reference.py``).

Example
-------
>>> from vbbench.models.mediapipe import mediapipe_runner   # doctest: +SKIP
>>> runner = mediapipe_runner("mediapipe-landscape")        # doctest: +SKIP
>>> runner.input_width, runner.input_height                 # doctest: +SKIP
(256, 144)
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from vbbench.errors import ModelError
from vbbench.models.runner import Runner

__all__ = [
    "MODELS_FILE",
    "catalogue",
    "extract_models",
    "model_file",
    "mediapipe_input",
    "mediapipe_runner",
    "registered",
]

MODELS_FILE = Path(__file__).resolve().parent / "mediapipe_models.json"


def catalogue() -> dict:
    """The recorded MediaPipe models: wheel member, byte size, sha256 and input size per name."""
    return json.loads(MODELS_FILE.read_text())


def cache_dir() -> Path:
    """Where the verified ``.tflite`` files are kept: ``$VBBENCH_HOME/mediapipe``."""
    from vbbench.paths import vbbench_home

    return vbbench_home() / "mediapipe"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def extract_models(wheel: str | Path, destination: str | Path) -> dict[str, Path]:
    """Take the selfie segmentation models out of a mediapipe wheel and verify them.

    Parameters
    ----------
    wheel : path
        A ``mediapipe-0.10.21-*.whl`` file (a zip archive).
    destination : path
        Folder for ``<name>.tflite`` files; written atomically.

    Returns
    -------
    dict
        Model name → path of its verified file.

    Raises
    ------
    ValueError
        The wheel is not a zip, lacks a model, or a model's sha256 differs from the record.
    """
    destination = Path(destination)
    destination.mkdir(parents=True, exist_ok=True)
    found = {}
    try:
        archive = zipfile.ZipFile(wheel)
    except (zipfile.BadZipFile, OSError) as problem:
        raise ModelError(f"{wheel}: not a readable wheel ({problem})") from None
    with archive:
        members = set(archive.namelist())
        for name, entry in catalogue()["models"].items():
            if entry["member"] not in members:
                raise ModelError(
                    f"{wheel}: has no {entry['member']}; {catalogue()['package']} is the release "
                    "that ships the selfie segmentation models"
                )
            data = archive.read(entry["member"])
            digest = _sha256(data)
            if digest != entry["sha256"]:
                raise ModelError(
                    f"{wheel}: {entry['member']} has sha256 {digest}, expected {entry['sha256']} "
                    f"(recorded in {MODELS_FILE.name}); the wheel is not the recorded release"
                )
            from vbbench.io import atomic_write_bytes

            path = destination / f"{name}.tflite"
            atomic_write_bytes(path, data)
            found[name] = path
    return found


def model_file(name: str, download: bool = True) -> Path:
    """The verified ``.tflite`` file of a MediaPipe model, fetched from PyPI on first use.

    Parameters
    ----------
    name : str
        ``mediapipe-general`` or ``mediapipe-landscape``.
    download : bool
        Fetch the wheel with ``pip download`` when the file is not cached yet.

    Returns
    -------
    pathlib.Path
        ``$VBBENCH_HOME/mediapipe/<name>.tflite``, whose sha256 matches the record.
    """
    entry = catalogue()["models"][name]
    path = cache_dir() / f"{name}.tflite"
    if path.exists() and _sha256(path.read_bytes()) == entry["sha256"]:
        return path
    if not download:
        raise ModelError(f"{path}: not cached; run once with network access to PyPI")
    with tempfile.TemporaryDirectory(prefix="vbbench-mediapipe-") as scratch:
        command = [
            sys.executable,
            "-m",
            "pip",
            "download",
            catalogue()["package"],
            "--no-deps",
            "--only-binary=:all:",
            "--dest",
            scratch,
            "--quiet",
        ]
        result = subprocess.run(command, capture_output=True, text=True)
        wheels = sorted(Path(scratch).glob("mediapipe-*.whl"))
        if result.returncode != 0 or not wheels:
            raise ModelError(f"`{' '.join(command)}` failed (exit {result.returncode}): {result.stderr.strip()[-500:]}")
        extract_models(wheels[0], cache_dir())
    return path


def mediapipe_input(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """An image as MediaPipe's ``ImageToTensorCalculator`` (CPU) gives it to the selfie models.

    MediaPipe maps the corners of the whole image onto the corners of the tensor
    (``cv::getPerspectiveTransform`` of the region's box points) and samples the 8-bit image with
    ``cv::warpPerspective``, bilinear, no anti-aliasing, zero border (``keep_aspect_ratio: false``,
    so a portrait is stretched to 256×144 by the landscape model), then scales to [0, 1]. So
    tensor pixel ``x`` reads source ``x · W / width`` — not ``cv2.resize``'s half-pixel-centred
    ``(x + 0.5) · W / width − 0.5`` and not an area average. The selfie models are sensitive to
    this: with area resizing their masks move by up to 0.9 at edges.

    Parameters
    ----------
    image : numpy.ndarray
        BGR uint8 image (H, W, 3), as :func:`vbbench.io.read_image` returns.
    width, height : int
        Tensor size (256×256, or 256×144 for the landscape model).

    Returns
    -------
    numpy.ndarray
        float32 RGB, CHW, in [0, 1].

    Examples
    --------
    >>> image = np.zeros((4, 8, 3), np.uint8); image[:, :, 2] = 255   # pure red, BGR
    >>> mediapipe_input(image, 4, 2)[:, 0, 0].tolist()                 # R, G, B of the first pixel
    [1.0, 0.0, 0.0]
    """
    import cv2

    source_height, source_width = image.shape[:2]
    corners = np.array([[0, source_height], [0, 0], [source_width, 0], [source_width, source_height]], np.float32)
    targets = np.array([[0, height], [0, 0], [width, 0], [width, height]], np.float32)
    projection = cv2.getPerspectiveTransform(corners, targets)
    # Warp, then swap channels: the same bits as swapping the whole frame first (the warp treats
    # channels alike), at a fraction of the cost for a 1080p frame.
    warped = cv2.warpPerspective(
        image, projection, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0
    )
    return np.ascontiguousarray(warped[:, :, ::-1].transpose(2, 0, 1), dtype=np.float32) / 255.0


def mediapipe_runner(name: str, threads: int = 2, path: str | Path | None = None):
    """A :class:`vbbench.models.runner.Runner` for a MediaPipe selfie segmentation model.

    Parameters
    ----------
    name : str
        ``mediapipe-general`` (256×256) or ``mediapipe-landscape`` (256×144, W×H).
    threads : int
        TFLite interpreter threads.
    path : path, optional
        A ``.tflite`` file to use instead of the cached one (it is still sha256-checked).
    """
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        raise ModelError(
            f"{name}: MediaPipe selfie segmentation needs the TFLite runtime: pip install 'vbbench[mediapipe]' "
            "(ai-edge-litert==2.3.0; mediapipe itself is not installed)"
        ) from None
    entry = catalogue()["models"][name]
    model_path = Path(path) if path is not None else model_file(name)
    digest = _sha256(model_path.read_bytes())
    if digest != entry["sha256"]:
        raise ModelError(f"{model_path}: sha256 {digest} differs from the recorded {entry['sha256']}")
    interpreter = Interpreter(model_path=str(model_path), num_threads=threads)
    interpreter.allocate_tensors()
    source = interpreter.get_input_details()[0]
    target = interpreter.get_output_details()[0]
    _, height, width, _ = (int(v) for v in source["shape"])

    def predict(batch: np.ndarray) -> np.ndarray:
        # The runner contract is RGB CHW in [0, 1]; the TFLite graph wants NHWC with batch 1.
        alphas = []
        for image in batch:
            interpreter.set_tensor(
                source["index"], np.ascontiguousarray(image.transpose(1, 2, 0)[None], dtype=np.float32)
            )
            interpreter.invoke()
            alphas.append(interpreter.get_tensor(target["index"]).reshape(height, width).copy())
        return np.clip(np.stack(alphas), 0.0, 1.0)

    return Runner(
        name,
        width,
        height,
        "ai-edge-litert (TFLite)",
        None,
        digest,
        predict,
        f"Google MediaPipe selfie segmentation from {catalogue()['package']}, input resized as MediaPipe's graph does",
        to_input=mediapipe_input,
    )


def registered(spec, input_size: tuple[int, int], threads: int) -> Runner:
    """The loader of the registered MediaPipe models (their input size is their own)."""
    return mediapipe_runner(spec.name, threads)
