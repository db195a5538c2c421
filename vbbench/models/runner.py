"""The base type every model runs behind: :class:`Runner`.

A runner takes a batch of float32 RGB CHW images in [0, 1] at its input size and returns alpha
(N, H, W) in [0, 1]. :meth:`Runner.prepare` turns one BGR uint8 frame into that input (area
resizing by default; a production model brings its own runtime's resize, e.g. MediaPipe's).
Loaders (the ``loader`` of each :class:`vbbench.models.registry.ModelSpec`) build runners; this
module imports nothing heavy, so the registry and the CLI stay light.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["Runner", "to_input", "file_sha256"]


def to_input(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """BGR uint8 image → float32 RGB CHW in [0, 1] at the network input size (area resize).

    Examples
    --------
    >>> to_input(np.zeros((8, 8, 3), np.uint8), 4, 2).shape
    (3, 2, 4)
    """
    import cv2

    resized = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(resized[:, :, ::-1].transpose(2, 0, 1), dtype=np.float32) / 255.0


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a model file (small enough to read at once)."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@dataclass
class Runner:
    """A loaded model: its metadata and a function from a batch to alpha.

    Attributes
    ----------
    name : str
        Name shown in results.
    input_width, input_height : int
        The input size the model sees, in pixels.
    runtime : str
        Runtime and version (``onnxruntime 1.32.0``).
    parameters : int or None
        Learned parameters, if known.
    weights_sha256 : str or None
        Content hash of the weights file.
    predict : callable
        ``(N, 3, H, W) float32 → (N, H, W) alpha``.
    notes : str
        One line about the model (becomes the results' description).
    macs : int or None
        Multiply-accumulates of one forward pass at the input size.
    to_input : callable, optional
        ``(BGR uint8 image, width, height) → model input``; default :func:`to_input`.
    synthetic_weights : bool
        The weights were trained on the embedded synthetic sample only (``composite`` warns).
    """

    name: str
    input_width: int
    input_height: int
    runtime: str
    parameters: int | None
    weights_sha256: str | None
    predict: Callable[[np.ndarray], np.ndarray]
    notes: str = ""
    macs: int | None = None
    to_input: Callable[[np.ndarray, int, int], np.ndarray] | None = None
    synthetic_weights: bool = False

    def prepare(self, image: np.ndarray) -> np.ndarray:
        """One BGR uint8 image as this model's input (float32 RGB CHW in [0, 1], input size)."""
        convert = self.to_input or to_input
        return convert(image, self.input_width, self.input_height)

    def metadata(self) -> dict:
        """What ``model.json`` and results files record about the model."""
        return {
            "name": self.name,
            "input_size": f"{self.input_width}x{self.input_height}",
            "runtime": self.runtime,
            "parameters": self.parameters,
            "macs": self.macs,
            "weights_sha256": self.weights_sha256,
            "notes": self.notes,
        }
