"""The base type every model runs behind: :class:`Runner`.

A runner turns one BGR uint8 frame into the item its model takes (:meth:`Runner.prepare`) and a
stacked batch of such items into alpha (N, h, w) in [0, 1] (:attr:`Runner.predict`); callers
resize the alpha to the frame themselves, so h×w need not be the input size. For the reference
runners an item is float32 RGB CHW in [0, 1] at the input size; a model card's runner gives its
model's own tensor (channel order, scale, mean/std, layout); a Python callable gets RGB uint8.

:meth:`Runner.prepare` resizes with one-step area interpolation unless told otherwise (the video
pipeline passes its faster two-step resize); a runtime that brings its own input warp
(MediaPipe's) sets :attr:`Runner.to_input` and always uses it.

A recurrent runner (RVM-style, state carried from frame to frame) has a :attr:`Runner.reset`:
``predict`` then takes consecutive frames of one clip and keeps the state between calls, and
callers call ``reset()`` at the start of every clip (``composite``, ``bench --video``) or every
image (``predict``). Loaders build runners (:mod:`vbbench.models.registry`); this module imports
nothing heavy, so the registry and the CLI stay light.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["Runner", "to_input", "area_resize", "rgb_chw", "file_sha256"]


def area_resize(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """``cv2.resize`` with ``INTER_AREA``: the resize every runner without its own uses.

    Examples
    --------
    >>> area_resize(np.zeros((8, 8, 3), np.uint8), 4, 2).shape
    (2, 4, 3)
    """
    import cv2

    return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)


def rgb_chw(resized: np.ndarray) -> np.ndarray:
    """BGR uint8 (H, W, 3) → float32 RGB CHW in [0, 1] (``p / 255``, correctly rounded).

    Examples
    --------
    >>> rgb_chw(np.array([[[0, 0, 255]]], np.uint8))[:, 0, 0].tolist()   # pure red, BGR
    [1.0, 0.0, 0.0]
    """
    return np.ascontiguousarray(resized[:, :, ::-1].transpose(2, 0, 1), dtype=np.float32) / np.float32(255.0)


def to_input(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """BGR uint8 image → float32 RGB CHW in [0, 1] at the network input size (area resize).

    Examples
    --------
    >>> to_input(np.zeros((8, 8, 3), np.uint8), 4, 2).shape
    (3, 2, 4)
    """
    return rgb_chw(area_resize(image, width, height))


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
    input_width, input_height : int or None
        The input size the model sees, in pixels; None for a model that takes each image at its
        own size (a Python callable without ``--input``).
    runtime : str
        Runtime and version (``onnxruntime 1.32.0``).
    parameters : int or None
        Learned parameters, if known.
    weights_sha256 : str or None
        Content hash of the weights file.
    predict : callable
        ``(N, …) stacked items of prepare → (N, h, w) alpha`` in [0, 1].
    notes : str
        One line about the model (becomes the results' description).
    macs : int or None
        Multiply-accumulates of one forward pass at the input size.
    to_input : callable, optional
        ``(BGR uint8 image, width, height) → item``: a runtime's own input warp (MediaPipe's),
        used instead of resize + :attr:`from_pixels`.
    synthetic_weights : bool
        The weights were trained on the embedded synthetic sample only (``composite`` warns).
    from_pixels : callable, optional
        ``BGR uint8 image at the input size → item``; default :func:`rgb_chw`.
    reset : callable, optional
        Set for a recurrent model: forgets the state carried between ``predict`` calls.
    kind : str
        How ``--model`` named it (``registered``, ``onnx``, ``checkpoint``, …; see
        :data:`vbbench.models.registry.KINDS`).
    """

    name: str
    input_width: int | None
    input_height: int | None
    runtime: str
    parameters: int | None
    weights_sha256: str | None
    predict: Callable[[np.ndarray], np.ndarray]
    notes: str = ""
    macs: int | None = None
    to_input: Callable[[np.ndarray, int, int], np.ndarray] | None = None
    synthetic_weights: bool = False
    from_pixels: Callable[[np.ndarray], np.ndarray] | None = None
    reset: Callable[[], None] | None = None
    kind: str = "registered"

    @property
    def recurrent(self) -> bool:
        """Whether the model carries state from one frame to the next."""
        return self.reset is not None

    @property
    def input_label(self) -> str:
        """``"256x144"``, or ``"native"`` for a model that sees each image at its own size."""
        if self.input_width is None or self.input_height is None:
            return "native"
        return f"{self.input_width}x{self.input_height}"

    def prepare(
        self, image: np.ndarray, resize: Callable[[np.ndarray, int, int], np.ndarray] | None = None
    ) -> np.ndarray:
        """One BGR uint8 image as this model's input item.

        Parameters
        ----------
        image : numpy.ndarray
            BGR uint8 (H, W, 3).
        resize : callable, optional
            ``(image, width, height) → image`` to the input size; default :func:`area_resize`.
            Ignored by a runner with its own :attr:`to_input`.
        """
        width, height = self.input_width, self.input_height
        if self.to_input is not None:
            assert width is not None and height is not None
            return self.to_input(image, width, height)
        if width is not None and height is not None and image.shape[:2] != (height, width):
            image = (resize or area_resize)(image, width, height)
        return (self.from_pixels or rgb_chw)(image)

    def metadata(self) -> dict:
        """What ``model.json`` and results files record about the model."""
        return {
            "name": self.name,
            "kind": self.kind,
            "input_size": self.input_label,
            "runtime": self.runtime,
            "parameters": self.parameters,
            "macs": self.macs,
            "weights_sha256": self.weights_sha256,
            "recurrent": self.recurrent,
            "synthetic_weights": self.synthetic_weights,
            "notes": self.notes,
        }
