"""Drawing primitives of the embedded sample: shapes on fixed-point canvases, palettes,
backgrounds, clothing, faces and hair strands. :mod:`vbbench.sample.render` composes them into a
portrait. Coordinates are native pixels, x right, y down, pixel centres at integers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import cv2
import numpy as np

#: Pixel sizes are given for this reference frame (600×800, W×H) and scaled with the frame, so a
#: 256×256 render is the same scene in miniature.
_REFERENCE_WIDTH_PX, _REFERENCE_HEIGHT_PX = 600, 800
#: Linear supersampling factor of the opaque silhouette (4 → 17 coverage levels per edge pixel).
_SUPERSAMPLE = 4
#: Fractional bits of the fixed-point coordinates handed to OpenCV's drawing functions.
_SHIFT_BITS = 4
_FIXED_ONE = 1 << _SHIFT_BITS


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
