"""Simulated "models" of graded quality: synthetic degradations of the sample's ground truth.

They come with the embedded sample so that scoring can be demonstrated offline with a meaningful
ranking; they are not models. Each is one :class:`SimulatedModel` in :data:`SIMULATED`, best first
by mean MAD on the generated set. Degradations are given for a 600×800 frame and scale with the
image's linear size (``sqrt(H·W / (600·800))``). Randomness comes from
``(seed, index, 2, crc32(model))``, so each model's prediction for image ``index`` is reproducible
on its own.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from vbbench.registry import Registry
from vbbench.sample.drawing import _REFERENCE_HEIGHT_PX, _REFERENCE_WIDTH_PX
from vbbench.sample.render import _check_seed_index, _rng

__all__ = ["SimulatedModel", "SIMULATED", "SIMULATED_MODELS", "simulate_prediction"]

Degrade = Callable[[np.ndarray, np.ndarray, np.random.Generator, float], np.ndarray]


@dataclass(frozen=True)
class SimulatedModel:
    """One synthetic degradation: ``degrade(matte float32, alpha uint8, rng, scale) → matte``."""

    name: str
    description: str
    degrade: Degrade


def _good(matte, alpha, rng, scale):
    # Mostly right, slightly soft: a quarter of the matte is blurred (σ = 1.5 px), plus noise.
    blurred = cv2.GaussianBlur(matte, (0, 0), 1.5 * scale)
    return 0.75 * matte + 0.25 * blurred + rng.normal(0, 1.0, alpha.shape).astype(np.float32)


def _thresholded(matte, alpha, rng, scale):
    return np.where(alpha >= 128, 255.0, 0.0)


def _coarse(matte, alpha, rng, scale):
    # The model sees the frame at 1/8 of the reference resolution, whatever the image size.
    height, width = alpha.shape
    factor = max(1.0, 8.0 * scale)
    small = (max(1, round(width / factor)), max(1, round(height / factor)))
    shrunk = cv2.resize(matte, small, interpolation=cv2.INTER_AREA)
    return cv2.resize(shrunk, (width, height), interpolation=cv2.INTER_LINEAR)


def _blurred(matte, alpha, rng, scale):
    return cv2.GaussianBlur(matte, (0, 0), 6.0 * scale)


def _shifted(matte, alpha, rng, scale):
    height, width = alpha.shape
    distance = rng.uniform(8, 12) * scale
    angle = rng.uniform(0, 2 * math.pi)
    shift = np.float32([[1, 0, distance * math.cos(angle)], [0, 1, distance * math.sin(angle)]])
    return cv2.warpAffine(matte, shift, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def _holes(matte, alpha, rng, scale):
    height, width = alpha.shape
    unit = min(width, 0.75 * height)
    opaque_y, opaque_x = np.nonzero(alpha == 255)
    if len(opaque_x):
        for _ in range(int(rng.integers(6, 11))):
            pick = int(rng.integers(len(opaque_x)))
            size = unit * rng.uniform(0.04, 0.1)
            centre = (int(opaque_x[pick]), int(opaque_y[pick]))
            axes = (max(1, int(size)), max(1, int(size * rng.uniform(0.5, 1.5))))
            cv2.ellipse(matte, centre, axes, float(rng.uniform(0, 180)), 0, 360, float(rng.uniform(0, 60)), -1)
    for _ in range(int(rng.integers(40, 100))):
        centre = (int(rng.integers(width)), int(rng.integers(height)))
        cv2.circle(matte, centre, max(1, int(rng.uniform(1, 6) * scale)), float(rng.uniform(80, 255)), -1)
    return cv2.GaussianBlur(matte, (0, 0), 1.0 * scale)


SIMULATED: Registry[SimulatedModel] = Registry(
    "simulated model",
    [
        SimulatedModel(
            "sim-good",
            "slightly soft: 75 % the exact matte, 25 % blurred with σ = 1.5 px, plus noise of σ = 1 code",
            _good,
        ),
        SimulatedModel(
            "sim-thresholded", "hard threshold at 0.5: soft pixels become 0 or 1, thin hair is lost", _thresholded
        ),
        SimulatedModel(
            "sim-coarse", "8× area downsampling then bilinear upsampling (a model run at 75×100 px)", _coarse
        ),
        SimulatedModel("sim-blurred", "Gaussian blur σ = 6 px", _blurred),
        SimulatedModel("sim-shifted", "the matte moved by 8–12 px in a random direction", _shifted),
        SimulatedModel(
            "sim-holes",
            "6–10 holes (4–10 % of the frame width across) in the opaque body, 40–100 specks in the "
            "background, then a σ = 1 px blur",
            _holes,
        ),
    ],
)

#: The simulated models' names, best first.
SIMULATED_MODELS: tuple[str, ...] = SIMULATED.names()


def simulate_prediction(alpha: np.ndarray, model: str, seed: int, index: int) -> np.ndarray:
    """The matte a simulated model (:data:`SIMULATED`) would predict for ``alpha``.

    Parameters
    ----------
    alpha : numpy.ndarray
        uint8 (H, W) ground-truth matte.
    model : str
        One of :data:`SIMULATED_MODELS`.
    seed, index : int
        The sample's seed and the image index.

    Returns
    -------
    numpy.ndarray
        uint8 (H, W) predicted matte.

    Examples
    --------
    >>> alpha = np.zeros((40, 30), np.uint8); alpha[10:30, 8:22] = 255
    >>> prediction = simulate_prediction(alpha, "sim-thresholded", 0, 0)
    >>> bool((prediction == alpha).all())
    True
    """
    spec = SIMULATED[model]
    _check_seed_index(seed, index)
    alpha = np.asarray(alpha)
    if alpha.ndim != 2 or alpha.dtype != np.uint8:
        raise ValueError(f"alpha must be a 2-D uint8 matte, got shape {alpha.shape} and {alpha.dtype}")
    height, width = alpha.shape
    rng = _rng(seed, index, 2, zlib.crc32(model.encode()))
    scale = math.sqrt(height * width / (_REFERENCE_WIDTH_PX * _REFERENCE_HEIGHT_PX))
    matte = spec.degrade(alpha.astype(np.float32), alpha, rng, scale)
    return np.clip(np.rint(matte), 0, 255).astype(np.uint8)
