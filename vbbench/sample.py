"""The embedded sample: a deterministic, generated portrait-matting set that needs no download.

Every image is drawn from scratch: a portrait-like subject (head, ears, neck, shoulders in
clothing with one of several necklines, hair with a fuzzy outline and thin semi-transparent
strands, sometimes glasses or a raised hand) in front of a varied background (gradients, noise
textures, blurred shapes, stripes, indoor-like rectangles), under varied lighting. The alpha
matte is exact *by construction*: the opaque body is rasterised at 4× supersampling and
area-averaged, the hair is a blurred mass plus anti-aliased strands of partial opacity, and the
composite is computed from the quantised matte, ``I = round(a·F + (1 − a)·B)`` with
``a = alpha / 255``.

Each image has its own random generator, derived from ``(seed, index)`` with
:class:`numpy.random.SeedSequence` (``spawn_key=(index,)``, the same stream as
``SeedSequence(seed).spawn(n)[index]``), so image *i* does not depend on how many images are
made, and images can be made lazily or in parallel. Same seed, same numpy/OpenCV → same bytes.

Predictions of a few simulated "models" of graded quality (:data:`SIMULATED_MODELS`, best
first) come with the set so that scoring can be demonstrated offline with a meaningful
ranking. The set is synthetic: numbers measured on it say nothing about real portraits.
See ``docs/sample.md``.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import math
import multiprocessing
import warnings
import zlib
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import cv2
import numpy as np

from vbbench.io import atomic_write_bytes, atomic_write_text, encode_png

__all__ = [
    "SIMULATED_MODELS",
    "SCHEMA",
    "GENERATOR_VERSION",
    "TRIMAP_RADIUS_PX",
    "PNG_COMPRESSION",
    "MIN_SIZE_PX",
    "PortraitLayers",
    "render_layers",
    "render_portrait",
    "make_trimap",
    "simulate_prediction",
    "generate_sample",
    "sample_id",
]

#: Simulated models, best first by mean MAD on the generated set (see docs/sample.md).
SIMULATED_MODELS: tuple[str, ...] = (
    "sim-good",
    "sim-thresholded",
    "sim-coarse",
    "sim-blurred",
    "sim-shifted",
    "sim-holes",
)

#: Schema of ``sample.json``.
SCHEMA = "vbbench-sample/1"
#: Bumped whenever the generator's output changes for a given seed.
GENERATOR_VERSION = "3"
#: Half-width of the trimap's unknown band, in pixels.
TRIMAP_RADIUS_PX = 10
#: zlib level of every PNG written; fixed, so the bytes are reproducible. Level 1 encodes about
#: twice as fast as 3 for files about 15 % larger.
PNG_COMPRESSION = 1

#: Pixel sizes below are given for this reference frame (600×800, W×H) and scaled with the
#: frame, so a 256×256 render is the same scene in miniature.
_REFERENCE_WIDTH_PX, _REFERENCE_HEIGHT_PX = 600, 800
#: Linear supersampling factor of the opaque silhouette (4 → 17 coverage levels per edge pixel).
_SUPERSAMPLE = 4
#: Fractional bits of the fixed-point coordinates handed to OpenCV's drawing functions.
_SHIFT_BITS = 4
_FIXED_ONE = 1 << _SHIFT_BITS
#: Smallest frame the layout is designed for, in pixels.
MIN_SIZE_PX = 32


def sample_id(index: int) -> str:
    """The id of image ``index``: ``sample_0007``.

    Examples
    --------
    >>> sample_id(7)
    'sample_0007'
    """
    return f"sample_{index:04d}"


def _check_seed_index(seed: int, index: int) -> None:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    if isinstance(index, bool) or not isinstance(index, (int, np.integer)) or index < 0:
        raise ValueError(f"index must be a non-negative integer, got {index!r}")


def _rng(seed: int, *key: int) -> np.random.Generator:
    """Independent stream for ``(seed, key…)``: ``SeedSequence(seed).spawn(n)[i]`` for key (i,)."""
    return np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=tuple(key)))


# --------------------------------------------------------------------------------------------
# Geometry helpers (all coordinates in native pixels, x right, y down, pixel centres at integers)
# --------------------------------------------------------------------------------------------


def _place(local: np.ndarray, centre: tuple[float, float], angle: float) -> np.ndarray:
    """Rotate points (…, 2) given in a frame centred at ``centre`` by ``angle`` radians."""
    cos, sin = math.cos(angle), math.sin(angle)
    x, y = local[..., 0], local[..., 1]
    return np.stack([centre[0] + cos * x - sin * y, centre[1] + sin * x + cos * y], axis=-1)


def _ellipse(rx: float, ry: float, count: int = 64, start: float = 0.0, stop: float = 2 * math.pi):
    t = np.linspace(start, stop, count, endpoint=False if stop - start >= 2 * math.pi else True)
    return np.stack([rx * np.cos(t), ry * np.sin(t)], axis=-1)


def _bezier(p0, p1, p2, count: int = 12) -> np.ndarray:
    """Quadratic Bézier through control points of shape (…, 2) → (…, count, 2)."""
    t = np.linspace(0.0, 1.0, count)[:, None]
    p0, p1, p2 = (np.asarray(p, np.float64)[..., None, :] for p in (p0, p1, p2))
    return (1 - t) ** 2 * p0 + 2 * (1 - t) * t * p1 + t**2 * p2


def _fixed(points: np.ndarray, factor: int = 1) -> np.ndarray:
    """Native coordinates → OpenCV fixed-point coordinates on a canvas ``factor``× larger."""
    # Native pixel x covers [x − ½, x + ½]; on the fine canvas its centre is at (x + ½)·f − ½.
    return np.round(((points + 0.5) * factor - 0.5) * _FIXED_ONE).astype(np.int32)


class _Silhouette:
    """Union of opaque shapes, drawn binary at ``_SUPERSAMPLE``× and read back as area coverage."""

    def __init__(self, height: int, width: int):
        self.size = (width, height)
        self.canvas = np.zeros((height * _SUPERSAMPLE, width * _SUPERSAMPLE), np.uint8)

    def polygon(self, points: np.ndarray) -> None:
        cv2.fillPoly(self.canvas, [_fixed(points, _SUPERSAMPLE)], 255, cv2.LINE_8, _SHIFT_BITS)

    def stroke(self, start, end, thickness_px: float) -> None:
        """A thick segment with round caps (a finger, an arm)."""
        points = _fixed(np.array([start, end], np.float64), _SUPERSAMPLE)
        thickness = max(1, int(round(thickness_px * _SUPERSAMPLE)))
        cv2.line(self.canvas, tuple(points[0]), tuple(points[1]), 255, thickness, cv2.LINE_8, _SHIFT_BITS)

    def coverage(self) -> np.ndarray:
        """Fraction of each native pixel covered, float32 in [0, 1]."""
        area = cv2.resize(self.canvas, self.size, interpolation=cv2.INTER_AREA)
        return area.astype(np.float32) * np.float32(1 / 255)


def _mask(height: int, width: int) -> np.ndarray:
    return np.zeros((height, width), np.uint8)


def _fill(mask: np.ndarray, points: np.ndarray, value: int = 255) -> None:
    """Anti-aliased polygon on a native-resolution colour mask."""
    cv2.fillPoly(mask, [_fixed(points)], value, cv2.LINE_AA, _SHIFT_BITS)


def _smooth_noise(
    rng: np.random.Generator, height: int, width: int, cells: tuple[int, int], channels: int = 1
) -> np.ndarray:
    """Low-frequency noise (≈ unit std) of ``cells`` = (rows, columns) random knots, cubic-upsampled."""
    shape = (cells[0] + 2, cells[1] + 2) + ((channels,) if channels > 1 else ())
    knots = rng.standard_normal(shape, dtype=np.float32)
    return cv2.resize(knots, (width, height), interpolation=cv2.INTER_CUBIC)


def _lerp(base: np.ndarray, colour: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """``base + (colour − base)·weight`` with a (H, W) weight over (H, W, 3) colours."""
    blended = colour - base  # in place from here: half the memory traffic of the plain formula
    blended *= weight[..., None]
    blended += base
    return blended


def _lerp_in_box(base: np.ndarray, colour, weight: np.ndarray) -> None:
    """:func:`_lerp` in place, only over the bounding box of ``weight > 0`` (cheap for small parts).

    ``colour`` is a BGR triple, a full-frame (H, W, 3) field, or a function of the box (a pair of
    slices) returning the field inside it.
    """
    rows, columns = np.flatnonzero(weight.any(axis=1)), np.flatnonzero(weight.any(axis=0))
    if not len(rows):
        return
    box = np.s_[rows[0] : rows[-1] + 1, columns[0] : columns[-1] + 1]
    if callable(colour):
        colour = colour(box)
    elif np.ndim(colour) == 3:
        colour = colour[box]
    base[box] = _lerp(base[box], colour, weight[box])


def _jitter_colour(rng: np.random.Generator, rgb: Sequence[float], spread: float) -> np.ndarray:
    """An RGB palette colour, varied, as float32 BGR."""
    colour = np.asarray(rgb, np.float32)[::-1] + rng.normal(0.0, spread, 3).astype(np.float32)
    return np.clip(colour, 0, 255)


def _grid(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    y = np.arange(height, dtype=np.float32)[:, None]
    x = np.arange(width, dtype=np.float32)[None, :]
    return x, y


# --------------------------------------------------------------------------------------------
# Palettes (RGB)
# --------------------------------------------------------------------------------------------

_SKIN_RGB = [
    (255, 224, 196),
    (241, 194, 167),
    (234, 189, 157),
    (224, 172, 138),
    (198, 134, 96),
    (176, 120, 84),
    (161, 102, 69),
    (120, 75, 50),
    (96, 62, 42),
    (74, 48, 34),
]
_HAIR_RGB = [
    (22, 18, 16),
    (45, 32, 24),
    (70, 48, 30),
    (105, 70, 40),
    (140, 90, 50),
    (165, 95, 55),
    (205, 170, 110),
    (230, 205, 150),
    (160, 160, 160),
    (215, 215, 210),
    (190, 70, 120),
    (60, 90, 170),
]
_LIP_RGB = [(190, 100, 100), (160, 80, 80), (120, 60, 60), (200, 120, 120)]


def _random_rgb(rng: np.random.Generator, lightness: tuple[float, float] = (0, 255)) -> np.ndarray:
    low, high = lightness
    return rng.uniform(low, high, 3).astype(np.float32)


# --------------------------------------------------------------------------------------------
# Backgrounds
# --------------------------------------------------------------------------------------------


def _low_resolution(height: int, width: int) -> tuple[int, int]:
    """Size of the grid smooth fields are computed on before upsampling (¼ linear, ≥ 8 px)."""
    return max(8, height // 4), max(8, width // 4)


def _background(
    rng: np.random.Generator, height: int, width: int, scale: float, hard_colour: np.ndarray
) -> tuple[np.ndarray, str]:
    """A varied background, float32 BGR in [0, 255], and the name of its kind.

    Sometimes (15 %) the gradient starts from ``hard_colour`` (the hair's): hair that blends into
    the room is the hard case of portrait matting.

    Smooth parts (gradient, low-frequency noise, blurred shapes) are made on a ¼-resolution grid
    and upsampled; sharp parts (stripes, rectangles) are drawn at full resolution.
    """
    low_h, low_w = _low_resolution(height, width)
    x, y = _grid(low_h, low_w)
    first, second = _random_rgb(rng, (20, 235)), _random_rgb(rng, (20, 235))
    if rng.random() < 0.15:
        first = np.clip(hard_colour + rng.normal(0, 12, 3), 0, 255).astype(np.float32)
    direction = rng.uniform(0, 2 * math.pi)
    ramp = (x * math.cos(direction) * low_h / low_w + y * math.sin(direction)) / low_h
    ramp = (ramp - ramp.min()) / max(float(ramp.max() - ramp.min()), 1e-6)
    low = _lerp(np.broadcast_to(first, (low_h, low_w, 3)), second, ramp)

    kind = str(rng.choice(["noise", "shapes", "stripes", "indoor", "plain"], p=[0.25, 0.25, 0.15, 0.25, 0.1]))
    if kind == "noise":
        cells = int(rng.integers(2, 12))
        low += rng.uniform(15, 50) * _smooth_noise(rng, low_h, low_w, (cells, cells), 3)
    elif kind == "shapes":
        low = np.clip(low, 0, 255)
        for _ in range(int(rng.integers(4, 14))):
            colour = tuple(float(c) for c in rng.uniform(0, 255, 3))
            centre = rng.uniform([0, 0], [low_w, low_h])
            size = rng.uniform(0.04, 0.3) * min(low_w, low_h)
            if rng.random() < 0.5:
                cv2.circle(low, tuple(_fixed(centre)), int(size * _FIXED_ONE), colour, -1, cv2.LINE_AA, _SHIFT_BITS)
            else:
                corners = centre + rng.uniform(-size, size, (4, 2))
                cv2.fillPoly(low, [_fixed(corners)], colour, cv2.LINE_AA, _SHIFT_BITS)
        low = cv2.GaussianBlur(low, (0, 0), rng.uniform(2, 15) * scale * low_w / width)
    canvas = cv2.resize(np.clip(low, 0, 255), (width, height), interpolation=cv2.INTER_LINEAR)
    if kind == "noise" and rng.random() < 0.5:  # a finer texture on top (plaster, fabric)
        fine = max(4, int(width / (rng.uniform(6, 20) * scale)))
        canvas += rng.uniform(4, 15) * _smooth_noise(rng, height, width, (fine * height // width, fine))[..., None]
    elif kind == "stripes":
        full_x, full_y = _grid(height, width)
        period = rng.uniform(20, 120) * scale
        angle = rng.choice([0.0, math.pi / 2, rng.uniform(0, math.pi)])
        phase = (full_x * math.cos(angle) + full_y * math.sin(angle)) * np.float32(2 * math.pi / period)
        stripes = np.tanh(np.float32(rng.uniform(1, 8)) * np.sin(phase))
        stripes = (stripes + 1) * np.float32(0.5 * rng.uniform(0.3, 0.9))
        canvas = _lerp(canvas, _random_rgb(rng, (20, 235)), stripes)
    canvas = np.clip(canvas, 0, 255).astype(np.uint8)
    if kind == "indoor":
        floor = int(height * rng.uniform(0.7, 1.05))
        cv2.rectangle(canvas, (0, floor), (width, height), tuple(float(c) for c in rng.uniform(20, 180, 3)), -1)
        for _ in range(int(rng.integers(2, 7))):  # windows, doors, shelves, pictures
            w, h = rng.uniform(0.08, 0.45) * width, rng.uniform(0.05, 0.6) * height
            left, top = rng.uniform(-0.1 * width, width), rng.uniform(-0.1 * height, floor)
            fill = tuple(float(c) for c in rng.uniform(0, 255, 3))
            p0, p1 = _fixed(np.array([[left, top], [left + w, top + h]]))
            cv2.rectangle(canvas, tuple(p0), tuple(p1), fill, -1, cv2.LINE_AA, _SHIFT_BITS)
            if rng.random() < 0.6:  # a frame around it
                frame = tuple(float(c) for c in rng.uniform(0, 255, 3))
                thickness = max(1, int(rng.uniform(2, 10) * scale))
                cv2.rectangle(canvas, tuple(p0), tuple(p1), frame, thickness, cv2.LINE_AA, _SHIFT_BITS)
        if rng.random() < 0.7:  # depth of field
            canvas = cv2.GaussianBlur(canvas, (0, 0), rng.uniform(1, 5) * scale)
    elif kind in ("stripes", "plain") and rng.random() < 0.3:
        canvas = cv2.GaussianBlur(canvas, (0, 0), rng.uniform(1, 4) * scale)
    # The room's exposure: contrast about its mean colour, gain and colour cast, in one pass.
    mean = np.asarray(cv2.mean(canvas)[:3], np.float32)
    contrast = rng.uniform(0.6, 1.2)
    gain = rng.uniform(0.75, 1.2) * rng.uniform(0.9, 1.1, 3)
    transform = np.zeros((3, 4), np.float64)
    transform[:, :3] = np.diag(gain * contrast)
    transform[:, 3] = gain * mean * (1 - contrast)
    canvas = cv2.transform(canvas, transform)  # saturates to 0…255
    return canvas.astype(np.float32), kind


# --------------------------------------------------------------------------------------------
# The subject
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PortraitLayers:
    """What :func:`render_layers` draws: foreground, background and the matte that joins them.

    Attributes
    ----------
    foreground, background : numpy.ndarray
        float32 BGR (H, W, 3) colours in [0, 255]; the foreground is meaningful where alpha > 0.
    alpha : numpy.ndarray
        uint8 (H, W) ground-truth matte, alpha = value / 255.
    head : tuple of float
        Head ellipse ``(centre x, centre y, radius x, radius y, tilt in radians)``, in pixels.
    hair_style, background_kind : str
        Which variant was drawn (for inspection and tests).
    defocus_px, sensor_noise_codes : float
        σ of the subject's defocus blur in pixels and of the sensor noise in codes (0 = none).
    """

    foreground: np.ndarray
    background: np.ndarray
    alpha: np.ndarray
    head: tuple[float, float, float, float, float]
    hair_style: str
    background_kind: str
    defocus_px: float = 0.0
    sensor_noise_codes: float = 0.0

    def composite(self) -> np.ndarray:
        """``round(a·F + (1 − a)·B)`` with ``a = alpha / 255``, uint8 BGR (H, W, 3)."""
        a = self.alpha.astype(np.float32)[..., None] * np.float32(1 / 255)
        image = self.background + a * (self.foreground - self.background)
        return np.clip(np.rint(image), 0, 255).astype(np.uint8)


def _scene_scale(width: int, height: int) -> tuple[float, float]:
    """(unit in pixels, scale against the reference frame): the widest 3:4 box that fits."""
    unit = min(width, 0.75 * height)
    return unit, unit / _REFERENCE_WIDTH_PX


def render_layers(seed: int, index: int, width: int = 600, height: int = 800) -> PortraitLayers:
    """Draw portrait ``index`` of the sample with ``seed``: foreground, background and alpha.

    Parameters
    ----------
    seed, index : int
        Non-negative; image ``index`` depends on these (and the frame size) only.
    width, height : int
        Frame size in pixels (at least :data:`MIN_SIZE_PX`); the scene scales with it.

    Returns
    -------
    PortraitLayers

    Examples
    --------
    >>> layers = render_layers(0, 0, 96, 128)
    >>> layers.alpha.shape, layers.foreground.dtype
    ((128, 96), dtype('float32'))
    >>> bool((layers.alpha == 255).any() and (layers.alpha == 0).any())
    True
    """
    _check_seed_index(seed, index)
    if min(width, height) < MIN_SIZE_PX:
        raise ValueError(f"width and height must be at least {MIN_SIZE_PX} px, got {width}×{height}")
    rng = _rng(seed, index)
    unit, scale = _scene_scale(width, height)
    y = np.arange(height, dtype=np.float32)[:, None]  # row coordinate, for the hair's vertical shading
    silhouette = _Silhouette(height, width)

    # ---- head: an egg (narrower chin), tilted, anywhere from centred to half out of frame
    rx = unit * (rng.uniform(0.10, 0.17) if rng.random() < 0.8 else rng.uniform(0.17, 0.25))  # 20 % close-ups
    ry = rx * rng.uniform(1.18, 1.38)
    if rng.random() < 0.3:
        cx = width * rng.uniform(0.12, 0.88)
    else:
        cx = width * (0.5 + float(np.clip(rng.normal(0, 0.07), -0.15, 0.15)))
    cy = height * rng.uniform(0.24, 0.46)
    tilt = math.radians(rng.uniform(-16, 16))
    t = np.linspace(0, 2 * math.pi, 96, endpoint=False)
    chin = rng.uniform(0.05, 0.18)
    egg = np.stack([rx * np.cos(t) * (1 - chin * np.clip(np.sin(t), 0, None)), ry * np.sin(t)], -1)
    head_poly = _place(egg, (cx, cy), tilt)
    silhouette.polygon(head_poly)
    ears = [
        _place(_ellipse(0.17 * rx, 0.28 * ry, 24) + [side * 0.97 * rx, 0.05 * ry], (cx, cy), tilt) for side in (-1, 1)
    ]
    for ear in ears:
        silhouette.polygon(ear)

    # ---- neck and torso
    neck_half = rx * rng.uniform(0.40, 0.56)
    lean = float(np.clip(rng.normal(0, 0.3), -0.8, 0.8)) * rx
    shoulder_y = cy + ry * rng.uniform(1.1, 1.5)
    neck_top = _place(np.array([[-neck_half, 0.45 * ry], [neck_half, 0.45 * ry]]), (cx, cy), tilt)
    base_x = cx + lean
    neck_poly = np.concatenate(
        [
            neck_top,
            [[base_x + 1.15 * neck_half, shoulder_y + 0.2 * ry], [base_x - 1.15 * neck_half, shoulder_y + 0.2 * ry]],
        ]
    )
    silhouette.polygon(neck_poly)
    shoulder_half = rx * rng.uniform(1.9, 3.0)
    bottom = height * 1.05 + 2
    # Hands on hips: the bent arms leave holes of background between arm and waist.
    akimbo = rng.random() < 0.15 and shoulder_y + 3.2 * ry < height
    sides, arms = [], []
    for side in (1, -1):
        drop = ry * rng.uniform(0.2, 0.6)
        theta = np.linspace(0, math.pi / 2, 16)
        curve = np.stack(
            [
                base_x + side * (neck_half + (shoulder_half - neck_half) * np.sin(theta)),
                shoulder_y + drop * (1 - np.cos(theta)),
            ],
            -1,
        )
        if akimbo:
            waist = np.array(
                [
                    [base_x + side * 0.72 * shoulder_half, shoulder_y + 2.6 * ry],
                    [base_x + side * 0.76 * shoulder_half, bottom],
                ]
            )
            elbow = [base_x + side * (shoulder_half + rx * rng.uniform(0.6, 1.1)), shoulder_y + 1.9 * ry]
            hip = [base_x + side * 0.74 * shoulder_half, shoulder_y + rng.uniform(2.9, 3.2) * ry]
            arms.append(np.array([curve[-1], elbow, hip]))
            sides.append(np.concatenate([curve, waist]))
        else:
            flare = rx * rng.uniform(-0.2, 0.5)
            sides.append(np.concatenate([curve, [[base_x + side * (shoulder_half + flare), bottom]]]))
    torso_poly = np.concatenate([sides[0], sides[1][::-1]])
    if rng.random() < 0.3:  # knitted or creased clothing: an uneven outline
        torso_poly = torso_poly + rng.normal(0, 0.8 * scale, torso_poly.shape)
    silhouette.polygon(torso_poly)
    arm_thickness = 0.6 * rx
    for arm in arms:
        silhouette.stroke(arm[0] - [np.sign(arm[1, 0] - arm[0, 0]) * 0.3 * arm_thickness, 0], arm[1], arm_thickness)
        silhouette.stroke(arm[1], arm[2], arm_thickness)

    clothing = _mask(height, width)
    _fill(clothing, torso_poly)
    for arm in arms:  # sleeves
        cv2.polylines(clothing, [_fixed(arm)], False, 255, max(1, int(round(arm_thickness))), cv2.LINE_AA, _SHIFT_BITS)
    collar = _mask(height, width)
    neckline = rng.choice(["crew", "scoop", "v", "shirt", "turtleneck", "hoodie"])
    open_half = neck_half * rng.uniform(1.05, 1.6)
    if neckline in ("crew", "scoop", "hoodie"):
        depth = ry * (rng.uniform(0.1, 0.3) if neckline != "scoop" else rng.uniform(0.35, 0.7))
        cut = _ellipse(open_half * (1.0 if neckline != "scoop" else 1.5), depth, 48) + [base_x, shoulder_y]
        _fill(clothing, cut, 0)
    elif neckline in ("v", "shirt"):
        depth = ry * rng.uniform(0.4, 0.9)
        cut = np.array(
            [
                [base_x - open_half, shoulder_y - 0.1 * ry],
                [base_x + open_half, shoulder_y - 0.1 * ry],
                [base_x, shoulder_y + depth],
            ]
        )
        _fill(clothing, cut, 0)
        if neckline == "shirt":  # collar flaps stand out from the neck: part of the silhouette
            for side in (-1, 1):
                flap = np.array(
                    [
                        [base_x + side * neck_half * 0.95, shoulder_y - 0.35 * ry],
                        [base_x + side * neck_half * 1.6, shoulder_y + 0.05 * ry],
                        [base_x + side * 0.25 * neck_half, shoulder_y + 0.6 * depth],
                    ]
                )
                silhouette.polygon(flap)
                _fill(collar, flap)
    if neckline == "turtleneck":
        reach = rng.uniform(0.35, 0.8)
        top_y = shoulder_y - reach * (shoulder_y - (cy + 0.6 * ry))
        tube = np.array(
            [
                [base_x - 1.12 * neck_half, top_y],
                [base_x + 1.12 * neck_half, top_y],
                [base_x + 1.3 * neck_half, shoulder_y + 0.3 * ry],
                [base_x - 1.3 * neck_half, shoulder_y + 0.3 * ry],
            ]
        )
        silhouette.polygon(tube)
        _fill(clothing, tube)
    if neckline == "hoodie":  # the hood bunched behind the neck
        hood = _ellipse(neck_half * rng.uniform(1.8, 2.4), ry * rng.uniform(0.3, 0.5), 48) + [
            base_x,
            shoulder_y - 0.05 * ry,
        ]
        silhouette.polygon(hood)
        hood_mask = _mask(height, width)
        _fill(hood_mask, hood)
        clothing = np.maximum(clothing, hood_mask)
        _fill(clothing, _ellipse(neck_half * 1.05, 0.25 * ry, 32) + [base_x, shoulder_y - 0.05 * ry], 0)

    # ---- raised hand (in front of everything, including hair)
    hand = _mask(height, width)
    sleeve = _mask(height, width)
    if rng.random() < 0.2:
        side = 1 if rng.random() < 0.5 else -1
        hx = cx + side * rx * rng.uniform(1.6, 2.6)
        hy = cy + ry * rng.uniform(-0.4, 0.5)
        palm = (0.42 * rx, 0.5 * rx)
        spin = rng.uniform(-0.35, 0.35)
        palm_poly = _place(_ellipse(*palm, 32), (hx, hy), spin)
        wrist = _place(np.array([[0.0, 0.9 * palm[1]]]), (hx, hy), spin)[0]
        elbow = np.array([hx + side * rx * rng.uniform(0.2, 1.0), bottom + 0.1 * height])
        silhouette.polygon(palm_poly)
        silhouette.stroke(wrist, elbow, 0.62 * rx)
        _fill(hand, palm_poly)
        cv2.line(
            hand, tuple(_fixed(wrist)), tuple(_fixed(elbow)), 255, max(1, int(0.62 * rx)), cv2.LINE_AA, _SHIFT_BITS
        )
        sleeve_start = wrist + (elbow - wrist) * rng.uniform(0.25, 0.6)
        cv2.line(
            sleeve,
            tuple(_fixed(sleeve_start)),
            tuple(_fixed(elbow)),
            255,
            max(1, int(0.7 * rx)),
            cv2.LINE_AA,
            _SHIFT_BITS,
        )
        finger_thickness = 0.14 * rx
        for number, offset in enumerate(np.linspace(-0.28, 0.28, 4)):
            base = _place(np.array([[offset * rx, -0.65 * palm[1]]]), (hx, hy), spin)[0]
            angle = spin - math.pi / 2 + (number - 1.5) * rng.uniform(0.08, 0.25)
            length = rx * rng.uniform(0.45, 0.62) * (0.85 if number in (0, 3) else 1.0)
            tip = base + length * np.array([math.cos(angle), math.sin(angle)])
            silhouette.stroke(base, tip, finger_thickness)
            cv2.line(
                hand,
                tuple(_fixed(base)),
                tuple(_fixed(tip)),
                255,
                max(1, int(finger_thickness)),
                cv2.LINE_AA,
                _SHIFT_BITS,
            )
        thumb_base = _place(np.array([[-side * 0.3 * rx, 0.1 * palm[1]]]), (hx, hy), spin)[0]
        thumb_tip = thumb_base + rx * 0.45 * np.array([-side * math.cos(0.6), -math.sin(0.6)])
        silhouette.stroke(thumb_base, thumb_tip, 1.1 * finger_thickness)
        cv2.line(
            hand,
            tuple(_fixed(thumb_base)),
            tuple(_fixed(thumb_tip)),
            255,
            max(1, int(1.1 * finger_thickness)),
            cv2.LINE_AA,
            _SHIFT_BITS,
        )

    body = silhouette.coverage()

    # ---- hair: a mass with a fuzzy outline plus thin strands of partial opacity
    style = rng.choice(["short", "long", "bun", "curly", "buzz"], p=[0.28, 0.3, 0.1, 0.17, 0.15])
    hair_mask = _mask(height, width)
    grow = {
        "short": (1.04, 1.16),
        "long": (1.05, 1.18),
        "bun": (1.02, 1.08),
        "curly": (1.22, 1.55),
        "buzz": (1.01, 1.04),
    }[style]
    cap_rx = rx * rng.uniform(*grow)
    cap_ry = ry * rng.uniform(1.0, 0.5 + 0.5 * grow[1])
    cap = _place(_ellipse(cap_rx, cap_ry, 96) + [0, -rng.uniform(0.02, 0.1) * ry], (cx, cy), tilt)
    _fill(hair_mask, cap)
    # Hair ends around ear level (long styles add curtains below).
    cut = ry * rng.uniform(0.05, 0.4)
    _fill(
        hair_mask,
        _place(np.array([[-3 * rx, cut], [3 * rx, cut], [3 * rx, 3 * ry], [-3 * rx, 3 * ry]]), (cx, cy), tilt),
        0,
    )
    if style == "bun":
        bun = _ellipse(0.45 * rx, 0.4 * rx, 48) + [rng.uniform(-0.3, 0.3) * rx, -1.05 * ry]
        _fill(hair_mask, _place(bun, (cx, cy), tilt))
    # The face is cut out of the cap below a hairline, across the forehead.
    hairline = ry * rng.uniform(0.3, 0.6) if style != "buzz" else ry * rng.uniform(0.55, 0.75)
    temple_drop = ry * rng.uniform(-0.1, 0.25)
    edge_y = -hairline + temple_drop
    t_right = math.asin(max(-0.99, min(0.99, edge_y / ry)))
    arc_t = np.linspace(t_right, math.pi - t_right, 48)
    arc = np.stack([rx * np.cos(arc_t) * (1 - chin * np.clip(np.sin(arc_t), 0, None)), ry * np.sin(arc_t)], -1)
    line_x = np.linspace(arc[-1, 0], arc[0, 0], 24)
    line = np.stack([line_x, -hairline + temple_drop * (line_x / rx) ** 2], -1)
    face_poly = _place(np.concatenate([arc, line]) * 0.995, (cx, cy), tilt)
    _fill(hair_mask, face_poly, 0)
    if style == "long":
        length = ry * rng.uniform(1.1, 2.6)
        for side in (-1, 1):
            curtain = np.concatenate(
                [
                    _bezier(
                        [side * 0.7 * rx, -0.6 * ry],
                        [side * 1.35 * cap_rx, 0.0],
                        [side * rx * rng.uniform(1.1, 1.6), length],
                        12,
                    ),
                    _bezier(
                        [side * rx * rng.uniform(0.5, 0.9), length * rng.uniform(0.85, 1.0)],
                        [side * 0.95 * rx, 0.3 * ry],
                        [side * 0.88 * rx, -0.3 * ry],
                        12,
                    ),
                ]
            )
            _fill(hair_mask, _place(curtain, (cx, cy), tilt))
    hair_cover = hair_mask.astype(np.float32) * np.float32(1 / 255)
    fuzz = rng.uniform(0.6, 2.5) * scale * (1.6 if style == "curly" else 1.0)
    mass = cv2.GaussianBlur(hair_cover, (0, 0), fuzz)
    # Uneven wispiness: a spatially varying exponent keeps 0 and 1 but thins the fringe in places.
    wisp = np.exp(0.5 * _smooth_noise(rng, height, width, (6, 5))).astype(np.float32)
    mass = np.power(mass, wisp * np.float32(rng.uniform(0.8, 1.5)))

    outline = _outline(hair_mask)
    strands = _draw_strands(rng, outline, body, style, unit, scale, (cx, cy), height, width)
    hair = 1 - (1 - mass) * (1 - strands)
    alpha_float = hair + (1 - hair) * body

    # ---- colours of the subject: albedo first, then one low-resolution map of light and shade
    skin = _jitter_colour(rng, _SKIN_RGB[int(rng.integers(len(_SKIN_RGB)))], 8)
    hair_colour = _jitter_colour(rng, _HAIR_RGB[int(rng.integers(len(_HAIR_RGB)))], 10)
    cloth = _clothing(rng, height, width, scale)
    foreground = np.empty((height, width, 3), np.float32)
    foreground[:] = skin
    _lerp_in_box(foreground, cloth, clothing.astype(np.float32) * np.float32(1 / 255))
    if collar.any():
        collar_colour = _random_rgb(rng, (150, 255)) if rng.random() < 0.7 else _random_rgb(rng)
        _lerp_in_box(foreground, collar_colour, collar.astype(np.float32) * np.float32(1 / 255))
    if sleeve.any():
        _lerp_in_box(
            foreground, lambda box: cloth(box) * np.float32(0.85), sleeve.astype(np.float32) * np.float32(1 / 255)
        )
    _draw_face(rng, foreground, (cx, cy, rx, ry, tilt), hair_colour, skin)

    texture_box, texture = _hair_texture(rng, hair_mask, outline, (cx, cy, rx, ry, tilt), scale)
    vertical = np.clip((y - (cy - 1.2 * ry)) / (3 * ry), 0, 1)  # (H, 1): darker towards the ends
    # Hair in front of the body, premultiplied: F = (h·H + (1 − h)·body·F_body) / alpha.
    weight = np.divide(hair, alpha_float, out=np.zeros_like(hair), where=alpha_float > 1e-6)

    def hair_field(box):
        shading = np.broadcast_to(
            1.15 - 0.3 * vertical[box[0]], (box[0].stop - box[0].start, box[1].stop - box[1].start)
        ).copy()
        # Strand texture where it was drawn (strands leaving the mass are plain hair colour).
        top, left = max(box[0].start, texture_box[0].start), max(box[1].start, texture_box[1].start)
        bottom, right = min(box[0].stop, texture_box[0].stop), min(box[1].stop, texture_box[1].stop)
        if top < bottom and left < right:
            shading[top - box[0].start : bottom - box[0].start, left - box[1].start : right - box[1].start] *= texture[
                top - texture_box[0].start : bottom - texture_box[0].start,
                left - texture_box[1].start : right - texture_box[1].start,
            ]
        return np.multiply.outer(shading, hair_colour)

    _lerp_in_box(foreground, hair_field, np.minimum(weight, 1))
    if hand.any():
        hand_colour = skin * np.float32(1 + 0.05 * rng.uniform(-1, 1))
        _lerp_in_box(foreground, hand_colour, hand.astype(np.float32) * np.float32(1 / 255))
        if sleeve.any():
            sleeve_on_hand = (sleeve.astype(np.float32) * hand.astype(np.float32)) * np.float32(1 / 255**2)
            _lerp_in_box(foreground, lambda box: cloth(box) * np.float32(0.85), sleeve_on_hand)

    # ---- lighting: the subject and the room are lit differently (gain, colour cast, side light)
    low_h, low_w = _low_resolution(height, width)
    low_x, low_y = _grid(low_h, low_w)
    low_x, low_y = (low_x + 0.5) * np.float32(width / low_w) - 0.5, (low_y + 0.5) * np.float32(height / low_h) - 0.5
    radial = ((low_x - cx) / (1.3 * rx)) ** 2 + ((low_y - cy) / (1.3 * ry)) ** 2
    light_angle = rng.uniform(0, 2 * math.pi)
    side_light = (
        rng.uniform(-0.35, 0.35) * ((low_x - cx) * math.cos(light_angle) + (low_y - cy) * math.sin(light_angle)) / unit
    )
    texture = 0.04 * _smooth_noise(rng, low_h, low_w, (5, 4)) + 0.06 * _smooth_noise(rng, low_h, low_w, (4, 6))
    shade = (1 - 0.18 * np.clip(radial, 0, 1.5)) * (1 + side_light) * (1 + texture)
    shade = cv2.resize(shade.astype(np.float32), (width, height), interpolation=cv2.INTER_LINEAR)
    foreground *= shade[..., None]
    foreground *= (rng.uniform(0.7, 1.25) * rng.uniform(0.88, 1.12, 3)).astype(np.float32)
    np.clip(foreground, 0, 255, out=foreground)

    defocus_px = 0.0
    if rng.random() < 0.12:  # the subject out of focus: blur premultiplied colour and alpha alike
        sigma = defocus_px = rng.uniform(0.8, 2.5) * scale
        premultiplied = cv2.GaussianBlur(foreground * alpha_float[..., None], (0, 0), sigma)
        alpha_float = cv2.GaussianBlur(alpha_float, (0, 0), sigma)
        unblurred = foreground
        foreground = np.divide(
            premultiplied, alpha_float[..., None], out=unblurred.copy(), where=alpha_float[..., None] > 1e-4
        )
        np.clip(foreground, 0, 255, out=foreground)
    alpha = np.clip(np.rint(alpha_float * 255), 0, 255).astype(np.uint8)

    background_rng = _rng(seed, index, 1)  # a separate stream: the room varies independently
    background, background_kind = _background(background_rng, height, width, scale, hair_colour)
    level = 0.0
    if rng.random() < 0.5:  # sensor noise, in both layers so the composite stays an exact blend
        level = np.float32(rng.uniform(1, 4))
        foreground += level * rng.standard_normal((height, width, 1), dtype=np.float32)
        background += level * rng.standard_normal((height, width, 1), dtype=np.float32)
        np.clip(foreground, 0, 255, out=foreground)
        np.clip(background, 0, 255, out=background)
    return PortraitLayers(
        foreground=foreground.astype(np.float32, copy=False),
        background=background,
        alpha=alpha,
        head=(float(cx), float(cy), float(rx), float(ry), float(tilt)),
        hair_style=str(style),
        background_kind=background_kind,
        defocus_px=float(defocus_px),
        sensor_noise_codes=float(level),
    )


def _clothing(rng: np.random.Generator, height: int, width: int, scale: float):
    """Clothing: solid, stripes, checks or knit. Draws its parameters now and returns a function
    of a box (pair of slices) giving the float32 BGR field inside it, so the pattern is computed
    only where the clothes are."""
    colour = _random_rgb(rng, (10, 245))
    pattern = rng.choice(["solid", "stripes", "checks", "knit"], p=[0.4, 0.25, 0.15, 0.2])
    if pattern in ("stripes", "checks"):
        other = _random_rgb(rng, (10, 245))
        frequency = np.float32(2 * math.pi / (rng.uniform(8, 40) * scale))
        angle = rng.uniform(-0.3, 0.3) + (math.pi / 2 if rng.random() < 0.5 else 0)
        cos, sin = np.float32(math.cos(angle)), np.float32(math.sin(angle))
    elif pattern == "knit":
        cells = max(4, int(width / (3 * scale)))
        knots = rng.standard_normal((cells * height // width + 2, cells + 2), dtype=np.float32)

    def field(box: tuple[slice, slice]) -> np.ndarray:
        y = np.arange(box[0].start, box[0].stop, dtype=np.float32)[:, None]
        x = np.arange(box[1].start, box[1].stop, dtype=np.float32)[None, :]
        out = np.empty((len(y), x.shape[1], 3), np.float32)
        out[:] = colour
        if pattern in ("stripes", "checks"):
            wave = np.tanh(4 * np.sin((x * cos + y * sin) * frequency))
            if pattern == "checks":
                wave *= np.tanh(4 * np.sin((y * cos - x * sin) * frequency))
            out = _lerp(out, other, 0.5 + 0.5 * wave)
        elif pattern == "knit":
            noise = cv2.resize(knots, (width, height), interpolation=cv2.INTER_CUBIC)[box]
            out *= (1 + 0.12 * noise)[..., None]
        return out

    return field


def _draw_face(rng: np.random.Generator, foreground: np.ndarray, head, hair_colour, skin) -> None:
    """Eyes, brows, nose, mouth and sometimes glasses, painted into the float foreground in place.

    OpenCV's anti-aliased drawing needs 8-bit images, so only the box around the head makes the
    round trip through uint8.
    """
    cx, cy, rx, ry, tilt = head
    height, width = foreground.shape[:2]
    reach = 1.1 * max(rx, ry)
    top, bottom = max(0, int(cy - reach)), min(height, int(math.ceil(cy + reach)) + 1)
    left, right = max(0, int(cx - reach)), min(width, int(math.ceil(cx + reach)) + 1)
    if top >= bottom or left >= right:
        return
    image = np.clip(foreground[top:bottom, left:right], 0, 255).astype(np.uint8)
    cx, cy = cx - left, cy - top
    degrees = math.degrees(tilt)

    def at(local_x, local_y):
        return tuple(_fixed(_place(np.array([local_x, local_y], np.float64), (cx, cy), tilt)))

    def axes(a, b):
        return (max(1, int(a * _FIXED_ONE)), max(1, int(b * _FIXED_ONE)))

    eye_y = -0.05 * ry
    dark = tuple(float(c) for c in hair_colour * 0.6)
    for side in (-1, 1):
        ex = side * 0.38 * rx
        cv2.ellipse(
            image,
            at(ex, eye_y),
            axes(0.16 * rx, 0.07 * ry),
            degrees,
            0,
            360,
            (235, 235, 235),
            -1,
            cv2.LINE_AA,
            _SHIFT_BITS,
        )
        iris = tuple(float(c) for c in rng.uniform(20, 120, 3))
        cv2.ellipse(
            image, at(ex, eye_y), axes(0.065 * rx, 0.065 * rx), degrees, 0, 360, iris, -1, cv2.LINE_AA, _SHIFT_BITS
        )
        cv2.ellipse(
            image,
            at(ex, eye_y - 0.14 * ry),
            axes(0.2 * rx, 0.05 * ry),
            degrees,
            190,
            350,
            dark,
            max(1, int(0.05 * rx)),
            cv2.LINE_AA,
            _SHIFT_BITS,
        )
    shade = tuple(float(c) * 0.8 for c in skin)
    cv2.line(image, at(0, 0.05 * ry), at(0.05 * rx, 0.3 * ry), shade, max(1, int(0.04 * rx)), cv2.LINE_AA, _SHIFT_BITS)
    lip = _jitter_colour(rng, _LIP_RGB[int(rng.integers(len(_LIP_RGB)))], 10)
    cv2.ellipse(
        image,
        at(0, 0.5 * ry),
        axes(0.26 * rx, rng.uniform(0.04, 0.09) * ry),
        degrees,
        0,
        360,
        tuple(float(c) for c in lip),
        -1,
        cv2.LINE_AA,
        _SHIFT_BITS,
    )
    if rng.random() < 0.3:  # glasses
        frame = tuple(float(c) for c in (rng.uniform(0, 60, 3) if rng.random() < 0.7 else rng.uniform(100, 220, 3)))
        thickness = max(1, int(round(0.04 * rx)))
        sunglasses = rng.random() < 0.25
        for side in (-1, 1):
            ex = side * 0.38 * rx
            if sunglasses:
                cv2.ellipse(
                    image,
                    at(ex, eye_y),
                    axes(0.26 * rx, 0.17 * ry),
                    degrees,
                    0,
                    360,
                    (25, 25, 25),
                    -1,
                    cv2.LINE_AA,
                    _SHIFT_BITS,
                )
            cv2.ellipse(
                image,
                at(ex, eye_y),
                axes(0.26 * rx, 0.17 * ry),
                degrees,
                0,
                360,
                frame,
                thickness,
                cv2.LINE_AA,
                _SHIFT_BITS,
            )
            cv2.line(
                image,
                at(side * 0.64 * rx, eye_y - 0.05 * ry),
                at(side * 0.97 * rx, eye_y - 0.08 * ry),
                frame,
                thickness,
                cv2.LINE_AA,
                _SHIFT_BITS,
            )
        cv2.line(
            image,
            at(-0.12 * rx, eye_y - 0.03 * ry),
            at(0.12 * rx, eye_y - 0.03 * ry),
            frame,
            thickness,
            cv2.LINE_AA,
            _SHIFT_BITS,
        )
    foreground[top:bottom, left:right] = image


def _outline(mask: np.ndarray) -> np.ndarray:
    """Points (N, 2), float, along the outer contours of ``mask >= 128``."""
    contours, _ = cv2.findContours((mask >= 128).astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    return np.concatenate([c[:, 0, :] for c in contours]).astype(np.float64) if contours else np.zeros((0, 2))


def _hair_texture(
    rng: np.random.Generator, hair_mask: np.ndarray, outline: np.ndarray, head, scale: float
) -> tuple[tuple[slice, slice], np.ndarray]:
    """Strand-like shading inside the hair mass: curves from the crown to the outline.

    Returns the box it covers and a float32 multiplier around 1 for the hair colour there.
    """
    cx, cy, rx, ry, tilt = head
    rows, columns = np.flatnonzero(hair_mask.any(axis=1)), np.flatnonzero(hair_mask.any(axis=0))
    if not len(rows) or len(outline) < 2:
        return (slice(0, 0), slice(0, 0)), np.ones((0, 0), np.float32)
    box = (slice(rows[0], rows[-1] + 1), slice(columns[0], columns[-1] + 1))
    canvas = np.full((rows[-1] + 1 - rows[0], columns[-1] + 1 - columns[0]), 128, np.uint8)
    count = int(np.clip(len(outline) * rng.uniform(0.3, 0.7), 40, 900))
    crown = _place(np.array([0.0, -0.75 * ry]), (cx, cy), tilt)
    start = crown + rng.normal(0, 0.25 * rx, (count, 2))
    end = outline[rng.integers(0, len(outline), count)]
    middle = (start + end) / 2 + rng.normal(0, 0.12 * rx, (count, 2))
    points = _bezier(start, middle, end, 10) - [columns[0], rows[0]]
    contrast = rng.uniform(15, 45)
    thickness = 1 if scale < 1.5 else 2
    for value in (128 - contrast, 128 + contrast * 0.7):  # darker and lighter strands
        chosen = _fixed(points[rng.random(count) < 0.5])
        cv2.polylines(canvas, list(chosen), False, float(value), thickness, cv2.LINE_AA, _SHIFT_BITS)
    return box, canvas.astype(np.float32) * np.float32(1 / 128)


def _draw_strands(
    rng: np.random.Generator,
    outline: np.ndarray,
    body: np.ndarray,
    style: str,
    unit: float,
    scale: float,
    head_centre,
    height: int,
    width: int,
) -> np.ndarray:
    """Thin curved strands leaving the hair outline outwards; coverage·opacity in [0, 1]."""
    strands = np.zeros((height, width), np.float32)
    if len(outline) < 8:
        return strands
    # Outward normals: from the head centre, corrected with the outline's own tangent.
    step = 3
    tangent = np.roll(outline, -step, axis=0) - np.roll(outline, step, axis=0)
    normal = np.stack([tangent[:, 1], -tangent[:, 0]], -1)
    normal /= np.maximum(np.linalg.norm(normal, axis=1, keepdims=True), 1e-9)
    radial = outline - np.asarray(head_centre)
    flip = np.einsum("ij,ij->i", normal, radial) < 0
    normal[flip] *= -1
    # Prefer outline points that face the background (strands over the face do not change alpha).
    probe = np.round(outline + normal * 4 * max(scale, 0.5)).astype(np.int64)
    inside = (probe[:, 0] >= 0) & (probe[:, 0] < width) & (probe[:, 1] >= 0) & (probe[:, 1] < height)
    facing_out = np.zeros(len(outline), bool)
    facing_out[inside] = body[probe[inside, 1], probe[inside, 0]] < 0.5
    candidates = np.flatnonzero(facing_out)
    if len(candidates) < 4:
        candidates = np.arange(len(outline))
    density = {"curly": 0.8, "long": 0.35, "short": 0.3, "bun": 0.3, "buzz": 0.25}[style]
    count = int(np.clip(len(candidates) * density * rng.uniform(0.6, 1.4), 12, 1500))
    pick = candidates[rng.integers(0, len(candidates), count)]
    start = outline[pick] - normal[pick] * rng.uniform(0, 3, (count, 1)) * max(scale, 0.5)
    spread = rng.normal(0, 0.45, count)
    cos, sin = np.cos(spread), np.sin(spread)
    direction = np.stack(
        [cos * normal[pick, 0] - sin * normal[pick, 1], sin * normal[pick, 0] + cos * normal[pick, 1]], -1
    )
    if style == "long":  # gravity
        direction = direction + np.array([0.0, rng.uniform(0.3, 1.0)])
        direction /= np.linalg.norm(direction, axis=1, keepdims=True)
    short = {"buzz": 0.25, "curly": 0.6}.get(style, 1.0)
    length = unit * rng.uniform(0.015, 0.09, (count, 1)) * short * rng.uniform(0.5, 1.5, (count, 1)) ** 2
    side = np.stack([-direction[:, 1], direction[:, 0]], -1)
    bend = rng.uniform(-0.45, 0.45, (count, 1)) * length
    end = start + direction * length
    middle = start + direction * length / 2 + side * bend
    points = _bezier(start, middle, end, 10)
    if style == "curly":  # corkscrew wiggle
        t = np.linspace(0, 1, 10)[None, :, None]
        wiggle = (
            rng.uniform(1, 3, (count, 1, 1))
            * scale
            * np.sin(2 * math.pi * rng.uniform(1.5, 3.5, (count, 1, 1)) * t + rng.uniform(0, 6.3, (count, 1, 1)))
        )
        points = points + side[:, None, :] * wiggle
    fixed = _fixed(points)
    opacity_groups = np.array([0.3, 0.55, 0.85]) * rng.uniform(0.8, 1.15)
    group = rng.integers(0, len(opacity_groups), count)
    transparency = np.ones((height, width), np.float32)
    thickness = 1 if scale < 1.5 else 2
    for number, opacity in enumerate(opacity_groups):
        chosen = fixed[group == number]
        if not len(chosen):
            continue
        layer = np.zeros((height, width), np.uint8)
        # Within one layer AA blending only raises values (every stroke has the same value).
        cv2.polylines(
            layer, list(chosen), False, int(round(min(opacity, 1.0) * 255)), thickness, cv2.LINE_AA, _SHIFT_BITS
        )
        transparency *= 1 - layer.astype(np.float32) * np.float32(1 / 255)
    return 1 - transparency


def render_portrait(seed: int, index: int, width: int = 600, height: int = 800) -> tuple[np.ndarray, np.ndarray]:
    """Render portrait ``index`` of the sample with ``seed``.

    Parameters
    ----------
    seed, index : int
        Non-negative. Image ``index`` is the same whatever the number of images made.
    width, height : int
        Frame size in pixels; default 600×800 (W×H), the resolution of Shen et al. 2016 and
        AISegment.

    Returns
    -------
    image : numpy.ndarray
        uint8 BGR (H, W, 3) composite ``round(a·F + (1 − a)·B)``.
    alpha : numpy.ndarray
        uint8 (H, W) ground-truth matte: opaque core, transparent background, soft hair band.

    Examples
    --------
    >>> image, alpha = render_portrait(0, 3, 60, 80)
    >>> image.shape, alpha.shape, alpha.dtype
    ((80, 60, 3), (80, 60), dtype('uint8'))
    """
    layers = render_layers(seed, index, width, height)
    return layers.composite(), layers.alpha


# --------------------------------------------------------------------------------------------
# Trimaps and simulated predictions
# --------------------------------------------------------------------------------------------


def _disc(radius: int) -> np.ndarray:
    offsets = np.arange(-radius, radius + 1)
    return ((offsets[:, None] ** 2 + offsets[None, :] ** 2) <= radius**2).astype(np.uint8)


def make_trimap(alpha: np.ndarray, radius: int = TRIMAP_RADIUS_PX) -> np.ndarray:
    """Trimap of a matte: 255 known foreground, 0 known background, 128 unknown.

    A pixel is known foreground if every pixel within ``radius`` (Euclidean, in pixels) of it
    is opaque (255), known background if every such pixel is transparent (0); the rest — the
    soft region, the opaque region's boundary and ``radius`` pixels around them — is unknown.
    Pixels outside the frame do not count (the frame edge is not a boundary).

    Parameters
    ----------
    alpha : numpy.ndarray
        uint8 matte (H, W).
    radius : int
        Half-width of the unknown band in pixels, ≥ 0; default 10.

    Returns
    -------
    numpy.ndarray
        uint8 (H, W) with values 0, 128 and 255.

    Examples
    --------
    >>> alpha = np.zeros((1, 9), np.uint8); alpha[0, 5:] = 255; alpha[0, 4] = 100
    >>> make_trimap(alpha, radius=1)
    array([[  0,   0,   0, 128, 128, 128, 255, 255, 255]], dtype=uint8)
    """
    alpha = np.asarray(alpha)
    if alpha.ndim != 2 or alpha.dtype != np.uint8:
        raise ValueError(f"alpha must be a 2-D uint8 matte, got shape {alpha.shape} and {alpha.dtype}")
    if radius < 0:
        raise ValueError(f"radius must be ≥ 0 pixels, got {radius}")
    disc = _disc(int(radius))
    # cv2.erode pads with +inf by default: the outside of the frame never removes a pixel.
    foreground = cv2.erode((alpha == 255).astype(np.uint8), disc)
    background = cv2.erode((alpha == 0).astype(np.uint8), disc)
    trimap = np.full(alpha.shape, 128, np.uint8)
    trimap[foreground.astype(bool)] = 255
    trimap[background.astype(bool)] = 0
    return trimap


def _did_you_mean(name: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(known), n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def _check_model(model: str) -> None:
    if model not in SIMULATED_MODELS:
        raise ValueError(
            f"unknown simulated model {model!r}{_did_you_mean(model, SIMULATED_MODELS)} "
            f"(known: {', '.join(SIMULATED_MODELS)})"
        )


def simulate_prediction(alpha: np.ndarray, model: str, seed: int, index: int) -> np.ndarray:
    """The matte a simulated model of graded quality would predict for ``alpha``.

    Degradations are given for a 600×800 frame and scale with the image's linear size
    (``sqrt(H·W / (600·800))``):

    ``sim-good``
        Slightly soft: 75 % the exact matte, 25 % the matte blurred with σ = 1.5 px, plus
        Gaussian noise of σ = 1 code (of 255).
    ``sim-thresholded``
        Hard threshold at 0.5: every soft pixel becomes 0 or 1, thin hair is lost.
    ``sim-coarse``
        8× area downsampling then bilinear upsampling (a model run at 75×100 px).
    ``sim-blurred``
        Gaussian blur σ = 6 px.
    ``sim-shifted``
        The matte moved by 8–12 px in a random direction.
    ``sim-holes``
        6–10 holes (4–10 % of the frame width across) punched into the opaque body and
        40–100 specks in the background, then a σ = 1 px blur.

    Randomness comes from ``(seed, index, crc32(model))`` so each model's prediction for image
    ``index`` is reproducible on its own.

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
    _check_model(model)
    _check_seed_index(seed, index)
    alpha = np.asarray(alpha)
    if alpha.ndim != 2 or alpha.dtype != np.uint8:
        raise ValueError(f"alpha must be a 2-D uint8 matte, got shape {alpha.shape} and {alpha.dtype}")
    height, width = alpha.shape
    rng = _rng(seed, index, 2, zlib.crc32(model.encode()))
    scale = math.sqrt(height * width / (_REFERENCE_WIDTH_PX * _REFERENCE_HEIGHT_PX))
    matte = alpha.astype(np.float32)
    if model == "sim-good":
        # Mostly right, slightly soft: a quarter of the matte is blurred (σ = 1.5 px), plus noise.
        blurred = cv2.GaussianBlur(matte, (0, 0), 1.5 * scale)
        matte = 0.75 * matte + 0.25 * blurred + rng.normal(0, 1.0, alpha.shape).astype(np.float32)
    elif model == "sim-thresholded":
        matte = np.where(alpha >= 128, 255.0, 0.0)
    elif model == "sim-coarse":
        # The model sees the frame at 1/8 of the reference resolution, whatever the image size.
        factor = max(1.0, 8.0 * scale)
        small = (max(1, round(width / factor)), max(1, round(height / factor)))
        matte = cv2.resize(
            cv2.resize(matte, small, interpolation=cv2.INTER_AREA), (width, height), interpolation=cv2.INTER_LINEAR
        )
    elif model == "sim-blurred":
        matte = cv2.GaussianBlur(matte, (0, 0), 6.0 * scale)
    elif model == "sim-shifted":
        distance = rng.uniform(8, 12) * scale
        angle = rng.uniform(0, 2 * math.pi)
        shift = np.float32([[1, 0, distance * math.cos(angle)], [0, 1, distance * math.sin(angle)]])
        matte = cv2.warpAffine(matte, shift, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    elif model == "sim-holes":
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
        matte = cv2.GaussianBlur(matte, (0, 0), 1.0 * scale)
    return np.clip(np.rint(matte), 0, 255).astype(np.uint8)


# --------------------------------------------------------------------------------------------
# Writing the set
# --------------------------------------------------------------------------------------------


def _png_is_intact(data: bytes, width: int, height: int, channels: int) -> bool:
    """A whole 8-bit PNG of the expected size and channel count (IHDR and IEND checked)."""
    colour_type = {1: 0, 3: 2}[channels]
    return (
        len(data) > 45
        and data[:8] == b"\x89PNG\r\n\x1a\n"
        and data[12:16] == b"IHDR"
        and int.from_bytes(data[16:20], "big") == width
        and int.from_bytes(data[20:24], "big") == height
        and data[24] == 8
        and data[25] == colour_type
        and data.rstrip(b"\0").endswith(b"IEND\xaeB`\x82")
    )


def _relative_paths(index: int, models: Sequence[str]) -> dict[str, int]:
    """Files of image ``index``: relative path → channel count."""
    name = f"{sample_id(index)}.png"
    paths = {f"images/{name}": 3, f"alpha/{name}": 1, f"trimaps/{name}": 1}
    paths.update({f"predictions/{model}/{name}": 1 for model in models})
    return paths


def _write_image_set(
    index: int, out_dir: Path, seed: int, width: int, height: int, models: tuple[str, ...]
) -> tuple[dict[str, str], int]:
    """Write (or keep) every file of image ``index``; return ({relpath: sha256}, files written)."""
    paths = _relative_paths(index, models)
    existing: dict[str, bytes] = {}
    for relative, channels in paths.items():
        try:
            data = (out_dir / relative).read_bytes()
        except FileNotFoundError:
            continue
        if _png_is_intact(data, width, height, channels):
            existing[relative] = data
    if len(existing) == len(paths):  # nothing to do: the set of this image is complete
        return {relative: hashlib.sha256(data).hexdigest() for relative, data in existing.items()}, 0

    image, alpha = render_portrait(seed, index, width, height)
    name = f"{sample_id(index)}.png"
    arrays = {
        f"images/{name}": lambda: image,
        f"alpha/{name}": lambda: alpha,
        f"trimaps/{name}": lambda: make_trimap(alpha),
    }
    for model in models:
        arrays[f"predictions/{model}/{name}"] = partial(simulate_prediction, alpha, model, seed, index)
    digests, written = {}, 0
    for relative in paths:
        data = encode_png(arrays[relative](), PNG_COMPRESSION)
        if existing.get(relative) != data:  # missing, damaged, or from another generator version
            atomic_write_bytes(out_dir / relative, data)
            written += 1
        digests[relative] = hashlib.sha256(data).hexdigest()
    return digests, written


def _single_thread_opencv() -> None:
    # Each worker process is one core's worth of work; OpenCV's own threads would oversubscribe.
    cv2.setNumThreads(1)


def _check_generation_arguments(count, seed, width, height, models, workers) -> tuple[str, ...]:
    for label, value, minimum in (
        ("count", count, 1),
        ("seed", seed, 0),
        ("width", width, MIN_SIZE_PX),
        ("height", height, MIN_SIZE_PX),
        ("workers", workers, 1),
    ):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
            raise ValueError(f"{label} must be an integer ≥ {minimum}, got {value!r}")
    if count > 10_000:
        raise ValueError(f"count must be at most 10000 (ids are sample_0000…sample_9999), got {count}")
    models = tuple(models)
    if not models:
        raise ValueError("models is empty; give at least one of " + ", ".join(SIMULATED_MODELS))
    for model in models:
        _check_model(model)
    duplicates = sorted({model for model in models if models.count(model) > 1})
    if duplicates:
        raise ValueError(f"models are listed twice: {', '.join(duplicates)}")
    return models


def _check_same_sample(path: Path, parameters: dict) -> None:
    """Refuse to mix files of another seed, size or generator version into ``path``'s folder."""
    if not path.exists():
        return
    try:
        previous = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ValueError(f"{path}: unreadable ({error}); delete it or choose another output folder") from None
    different = {key: previous.get(key) for key, value in parameters.items() if previous.get(key) != value}
    if different:
        found = ", ".join(f"{key}={value!r}" for key, value in different.items())
        wanted = ", ".join(f"{key}={parameters[key]!r}" for key in different)
        raise ValueError(
            f"{path.parent} already holds a sample generated with {found}, not {wanted}; "
            "choose another output folder or delete it"
        )


def _warn_about_files_beyond(out_dir: Path, count: int) -> None:
    """Files of ids ≥ ``count`` (left by an earlier, larger run) are kept but are not in the manifest."""
    folders = [out_dir / "images", out_dir / "alpha", out_dir / "trimaps"]
    if (out_dir / "predictions").is_dir():
        folders += sorted(p for p in (out_dir / "predictions").iterdir() if p.is_dir())
    beyond = sorted(
        str(path.relative_to(out_dir))
        for folder in folders
        if folder.is_dir()
        for path in folder.glob("sample_*.png")
        if path.stem[len("sample_") :].isdigit() and int(path.stem[len("sample_") :]) >= count
    )
    if beyond:
        warnings.warn(
            f"{out_dir}: {len(beyond)} files beyond --count {count} (e.g. {beyond[0]}) are left from an "
            "earlier run and are not part of this sample (not in sample.json); delete them or rerun with "
            "a larger count",
            stacklevel=3,
        )


def generate_sample(
    out_dir,
    count: int = 40,
    seed: int = 0,
    width: int = 600,
    height: int = 800,
    models: Sequence[str] = SIMULATED_MODELS,
    workers: int = 1,
    progress: bool = True,
) -> Path:
    """Write the generated sample set: images, alpha mattes, trimaps, simulated predictions.

    Layout (ids ``sample_0000``, ``sample_0001``, …)::

        out_dir/images/<id>.png               composite colour image
        out_dir/alpha/<id>.png                ground-truth matte (8-bit grayscale)
        out_dir/trimaps/<id>.png              trimap, 0 / 128 / 255, unknown band 10 px
        out_dir/predictions/<model>/<id>.png  simulated model's matte
        out_dir/sample.json                   manifest, written last

    ``sample.json`` holds ``schema`` (``"vbbench-sample/1"``), ``generator_version``, ``seed``,
    ``count``, ``width``, ``height``, ``models``, ``trimap_radius_px`` and ``files``
    (relative path → SHA-256 of the file's bytes).

    Files are written atomically with a fixed PNG compression level, so the same arguments give
    the same bytes. An interrupted run resumes: files already present and whole are kept (an
    image is only re-rendered if one of its files is missing or damaged, and then only the files
    whose bytes differ are rewritten). A folder holding a sample of another seed, size or
    generator version is refused rather than mixed.

    Parameters
    ----------
    out_dir : str or os.PathLike
        Output folder; created if needed.
    count : int
        Number of images, 1 to 10000; default 40.
    seed : int
        Non-negative seed; default 0. Image *i* depends on ``(seed, i, width, height)`` only.
    width, height : int
        Frame size in pixels; default 600×800.
    models : sequence of str
        Simulated models whose predictions to write; default all of :data:`SIMULATED_MODELS`.
    workers : int
        Processes to generate with; default 1 (in this process). Workers are started with
        "spawn" (fresh interpreters; forked workers were seen to hang), so a script calling this
        with ``workers > 1`` needs the usual ``if __name__ == "__main__":`` guard.
    progress : bool
        Show a tqdm progress bar.

    Returns
    -------
    pathlib.Path
        ``out_dir`` (the sample's root folder).

    Raises
    ------
    ValueError
        Bad arguments, or ``out_dir`` holds a different sample.

    Examples
    --------
    >>> import tempfile
    >>> root = generate_sample(tempfile.mkdtemp(), count=2, width=48, height=64, progress=False)
    >>> sorted(p.name for p in (root / "predictions").iterdir())[:2]
    ['sim-blurred', 'sim-coarse']
    >>> json.loads((root / "sample.json").read_text())["count"]
    2
    """
    from tqdm.auto import tqdm

    models = _check_generation_arguments(count, seed, width, height, models, workers)
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise ValueError(f"{out_dir}: exists and is not a folder; choose a folder for the sample")
    identity = {
        "schema": SCHEMA,
        "generator_version": GENERATOR_VERSION,
        "seed": int(seed),
        "width": int(width),
        "height": int(height),
    }
    manifest_path = out_dir / "sample.json"
    in_progress_path = out_dir / ".sample-in-progress.json"
    _check_same_sample(manifest_path, identity)
    _check_same_sample(in_progress_path, identity)
    # Records what the folder is being filled with before the manifest exists, so a resumed run
    # with other arguments is refused instead of mixing two samples.
    atomic_write_text(in_progress_path, json.dumps(identity, indent=2, sort_keys=True) + "\n")

    task = partial(
        _write_image_set, out_dir=out_dir, seed=int(seed), width=int(width), height=int(height), models=models
    )
    files: dict[str, str] = {}
    bar = tqdm(total=count, desc="vbbench sample", unit="image", disable=not progress)
    try:
        if workers == 1:
            results = map(task, range(count))
            for digests, _ in results:
                files.update(digests)
                bar.update()
        else:
            # "spawn": forked workers hung under pytest after the parent had generated images
            # itself (an inherited lock, OpenCV's thread pool or tqdm's, is the likely cause);
            # fresh interpreters cost ~0.3 s each and are safe.
            context = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(
                max_workers=workers, mp_context=context, initializer=_single_thread_opencv
            ) as pool:
                for digests, _ in pool.map(task, range(count), chunksize=max(1, count // (4 * workers))):
                    files.update(digests)
                    bar.update()
    finally:
        bar.close()

    _warn_about_files_beyond(out_dir, count)
    manifest = dict(
        identity,
        count=int(count),
        models=list(models),
        trimap_radius_px=TRIMAP_RADIUS_PX,
        files=dict(sorted(files.items())),
    )
    atomic_write_text(manifest_path, json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    in_progress_path.unlink(missing_ok=True)
    return out_dir
