"""The portrait renderer of the embedded sample: one deterministic portrait per (seed, index).

Every image is drawn from scratch: a portrait-like subject (head, ears, neck, shoulders in
clothing with one of several necklines, hair with a fuzzy outline and thin semi-transparent
strands, sometimes glasses or a raised hand) in front of a varied background, under varied
lighting. The alpha matte is exact *by construction*: the opaque body is rasterised at 4×
supersampling and area-averaged, the hair is a blurred mass plus anti-aliased strands of partial
opacity, and the composite is computed from the quantised matte, ``I = round(a·F + (1 − a)·B)``
with ``a = alpha / 255``.

Each image has its own random generator, derived from ``(seed, index)`` with
:class:`numpy.random.SeedSequence` (``spawn_key=(index,)``, the same stream as
``SeedSequence(seed).spawn(n)[index]``), so image *i* does not depend on how many images are made.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from vbbench.sample.drawing import (
    _HAIR_RGB,
    _REFERENCE_WIDTH_PX,
    _SHIFT_BITS,
    _SKIN_RGB,
    _background,
    _bezier,
    _clothing,
    _draw_face,
    _draw_strands,
    _ellipse,
    _fill,
    _fixed,
    _grid,
    _hair_texture,
    _jitter_colour,
    _lerp_in_box,
    _low_resolution,
    _mask,
    _outline,
    _place,
    _random_rgb,
    _Silhouette,
    _smooth_noise,
)

__all__ = ["GENERATOR_VERSION", "MIN_SIZE_PX", "PortraitLayers", "render_layers", "render_portrait", "sample_id"]

#: Bumped whenever the generator's output changes for a given seed.
GENERATOR_VERSION = "3"
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
        hand_wrist = _place(np.array([[0.0, 0.9 * palm[1]]]), (hx, hy), spin)[0]
        hand_elbow = np.array([hx + side * rx * rng.uniform(0.2, 1.0), bottom + 0.1 * height])
        silhouette.polygon(palm_poly)
        silhouette.stroke(hand_wrist, hand_elbow, 0.62 * rx)
        _fill(hand, palm_poly)
        cv2.line(
            hand,
            tuple(_fixed(hand_wrist)),
            tuple(_fixed(hand_elbow)),
            255,
            max(1, int(0.62 * rx)),
            cv2.LINE_AA,
            _SHIFT_BITS,
        )
        sleeve_start = hand_wrist + (hand_elbow - hand_wrist) * rng.uniform(0.25, 0.6)
        cv2.line(
            sleeve,
            tuple(_fixed(sleeve_start)),
            tuple(_fixed(hand_elbow)),
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
