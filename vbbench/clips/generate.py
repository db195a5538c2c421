"""The call-like clip of one portrait: deterministic motion, lighting and noise, exact ground truth.

From one portrait's layers (foreground colour F, background plate B, matte α; see
:mod:`vbbench.clips.layers`) :func:`make_clip` makes a short clip (default 30 frames at 30 fps)
that looks like a video call:

* **camera** (moves the whole scene, plate and person alike): shake, a mean-reverting random walk
  (Ornstein–Uhlenbeck, time constant 0.25 s) of translation (stationary σ 0.4 % of the frame's
  short side) and rotation (σ 0.15°), plus either a slow zoom (a cosine breathing of 3–8 %) or a
  slow pan (a sine of 1.5–3.5 % of the short side), chosen from the id;
* **person** (moves against the background): sway (sideways sine, 0.8–2 % of the short side),
  bob (vertical, 0.2–0.6 %), lean (0.5–2° about a pivot a quarter of the frame height below the
  bottom edge, at the subject's centre column) and a turn of 3–10°, drawn in 2-D as a horizontal
  foreshortening cos ψ about the subject's centre column;
* **lighting drift**: a global gain (±2–6 %) and white balance (±0–2 % per channel), slow sines;
* **sensor noise**: Gaussian, σ = ``noise_codes`` (default 1.5 codes), independent in every frame,
  also on the static stretch (a webcam never sends two identical frames, and flicker can only show
  if the input changes).

All motions are bounded sines or mean-reverting walks of the *motion time* τ, which stops on the
static stretch (``ClipSpec.static``, by default the last third of the clip), so camera, person and
lighting hold still there while the noise goes on. Everything is drawn from
``numpy.random.SeedSequence`` seeded with the eight 32-bit words of ``sha256(item_id)`` followed by
``ClipSpec.seed``; each curve and each frame's noise has its own child stream, so frame t does not
depend on the clip's length.

Frame t is ``I_t = round(gain·wb·(B_t + a_t/255·(F_t − B_t)) + noise)`` with ``a_t`` the quantised
matte under the person's transform ``P_t`` (the ground truth, exact by construction), ``F_t`` the
foreground under ``P_t`` and ``B_t`` the plate under the camera's transform ``K_t``. Both are 3×3
matrices mapping source pixel coordinates (x right, y down, pixel centres at integers) to frame t;
``P_t = K_t·R_t`` with ``R_t`` the person's motion in the scene. The person layer's borders are
replicated (a portrait is cut at the bottom edge; moving it must not open a gap under the body),
the plate's mirrored (``BORDER_REFLECT_101``); a base zoom of 4 % keeps the plate's edge out of
view. The warps use OpenCV's fixed-point bilinear interpolation (1/32 px), so images and mattes
follow the matrices to 1/64 px.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import asdict, dataclass, field
from typing import Any

import cv2
import numpy as np

from vbbench.errors import VariantError
from vbbench.trimaps import TRIMAP_RADIUS_PX, make_trimap

__all__ = [
    "GENERATOR_VERSION",
    "CAMERA_MOVES",
    "FRAMINGS",
    "MAX_FRAMES",
    "ClipSpec",
    "ClipFrame",
    "Clip",
    "clip_seed_sequence",
    "make_clip",
]

#: Bumped whenever the clips made for a given spec and portrait change.
GENERATOR_VERSION = "1"
CAMERA_MOVES = ("zoom", "pan", "none")
#: ``call16x9``: the portrait's 640×360 call frame (the ``call16x9`` variant's crop and size);
#: ``source``: the portrait as it is.
FRAMINGS = ("call16x9", "source")
#: Frame names have four digits.
MAX_FRAMES = 9999
BASE_ZOOM = 1.04


@dataclass(frozen=True)
class ClipSpec:
    """How a clip is made (recorded in the manifest; another spec makes other clips).

    Attributes
    ----------
    frames : int
        Number of frames (1 … 9999).
    fps : float
        Frame rate; the motions are defined in seconds, so it sets their per-frame steps.
    seed : int
        Mixed with sha256(item_id): another seed, another clip of the same portrait.
    static : (int, int), "last-third" or None
        Half-open frame range ``[start, stop)`` on which camera, person and lighting hold the state
        of frame ``start`` (sensor noise continues); ``"last-third"`` (default) is
        ``(frames − frames // 3, frames)``, None none. ``(0, frames)`` is a clip of a still picture.
    framing : {"call16x9", "source"}
        ``call16x9`` (default): the clip shows the portrait's 16:9 call frame, the ``call16x9``
        variant's crop resized to 640×360; ``source``: the portrait at its own size.
    camera_shake, person_motion, lighting : bool
        Switch the components off (for tests and ablations).
    camera_move : {"auto", "zoom", "pan", "none"}
        ``auto`` picks zoom or pan from the id.
    noise_codes : float
        σ of the per-frame Gaussian sensor noise in 8-bit codes (0 = none).
    trimap_radius : int
        Radius of the trimaps' band (:func:`vbbench.trimaps.make_trimap`).
    count : int or None
        How many clips the ``clips`` variant makes: one for each of the first ``count`` test items
        in id order; None (default) one for every test item.

    Examples
    --------
    >>> ClipSpec().static, ClipSpec(frames=12).static, ClipSpec(static=None).static
    ((20, 30), (8, 12), None)
    """

    frames: int = 30
    fps: float = 30.0
    seed: int = 0
    static: tuple[int, int] | str | None = "last-third"
    framing: str = "call16x9"
    camera_shake: bool = True
    camera_move: str = "auto"
    person_motion: bool = True
    lighting: bool = True
    noise_codes: float = 1.5
    trimap_radius: int = TRIMAP_RADIUS_PX
    count: int | None = None

    def __post_init__(self):
        if not 1 <= int(self.frames) <= MAX_FRAMES:
            raise VariantError(f"a clip needs 1 … {MAX_FRAMES} frames, got frames={self.frames}")
        if not self.fps > 0:
            raise VariantError(f"a clip's fps must be > 0, got {self.fps}")
        if int(self.seed) < 0:
            raise VariantError(f"a clip's seed must be ≥ 0, got {self.seed}")
        if self.framing not in FRAMINGS:
            raise VariantError(f"framing must be one of {', '.join(FRAMINGS)}; got {self.framing!r}")
        if self.camera_move not in ("auto", *CAMERA_MOVES):
            raise VariantError(f"camera_move must be one of auto, {', '.join(CAMERA_MOVES)}; got {self.camera_move!r}")
        if self.noise_codes < 0:
            raise VariantError(f"noise_codes must be ≥ 0, got {self.noise_codes}")
        if self.count is not None and int(self.count) < 1:
            raise VariantError(f"a clips variant needs at least one clip, got count={self.count}")
        static = self.static
        if static == "last-third":
            third = int(self.frames) // 3
            static = (int(self.frames) - third, int(self.frames)) if third >= 2 else None
        elif static is not None:
            if isinstance(static, str) or len(static) != 2:
                raise VariantError(f"static must be (start, stop), 'last-third' or None; got {static!r}")
            start, stop = (int(v) for v in static)
            if not 0 <= start < stop <= self.frames:
                raise VariantError(f"static={tuple(static)} must be a range [start, stop) inside 0 … {self.frames}")
            static = (start, stop)
        object.__setattr__(self, "static", static)
        object.__setattr__(self, "frames", int(self.frames))

    def is_static(self, frame: int) -> bool:
        """Whether ``frame`` lies in the static stretch."""
        return isinstance(self.static, tuple) and self.static[0] <= frame < self.static[1]

    def record(self) -> dict:
        """The spec as the manifest records it (JSON types)."""
        record = asdict(self)
        record["static"] = list(self.static) if isinstance(self.static, tuple) else None
        return record

    @classmethod
    def from_record(cls, record: dict) -> ClipSpec:
        """The spec a manifest recorded (:meth:`record`)."""
        values = dict(record)
        values["static"] = tuple(values["static"]) if values.get("static") is not None else None
        return cls(**values)


@dataclass
class ClipFrame:
    """One frame: uint8 BGR image (H, W, 3), uint8 matte and trimap (H, W), and its parameters."""

    image: np.ndarray
    alpha: np.ndarray
    trimap: np.ndarray
    params: dict


@dataclass
class Clip:
    """A generated clip: frames, and the clip-level parameters (in frame 0's params too)."""

    source_id: str
    spec: ClipSpec
    frames: list[ClipFrame]
    params: dict = field(default_factory=dict)

    def flows(self) -> list[np.ndarray]:
        """The exact layered motion between consecutive frames (:func:`vbbench.clips.clip_flows`)."""
        from vbbench.clips.motion import clip_flows

        return clip_flows(self.frames)


# ---- randomness ------------------------------------------------------------------------------


def clip_seed_sequence(item_id: str, seed: int = 0) -> np.random.SeedSequence:
    """``SeedSequence`` of the eight little-endian 32-bit words of sha256(item_id), then ``seed``.

    Examples
    --------
    >>> clip_seed_sequence("sample_0000").entropy == clip_seed_sequence("sample_0000").entropy
    True
    """
    digest = hashlib.sha256(item_id.encode("utf-8")).digest()
    words = [int.from_bytes(digest[i : i + 4], "little") for i in range(0, 32, 4)]
    return np.random.SeedSequence([*words, int(seed)])


_STREAMS = ("parameters", "shake_x", "shake_y", "shake_rotation", "noise")


def _streams(item_id: str, seed: int) -> dict[str, np.random.SeedSequence]:
    return dict(zip(_STREAMS, clip_seed_sequence(item_id, seed).spawn(len(_STREAMS))))


def _ou_walk(seq: np.random.SeedSequence, steps: int, stationary_sigma: float, rho: float) -> np.ndarray:
    """Ornstein–Uhlenbeck walk x_0 ~ N(0, s²), x_k = ρ·x_(k−1) + s·√(1 − ρ²)·ε_k; draws in order, so
    the first k values do not depend on ``steps``."""
    draws = np.random.default_rng(seq).standard_normal(max(steps, 1))
    out = np.empty(max(steps, 1))
    out[0] = stationary_sigma * draws[0]
    innovation = stationary_sigma * math.sqrt(1.0 - rho * rho)
    for k in range(1, len(out)):
        out[k] = rho * out[k - 1] + innovation * draws[k]
    return out


# ---- geometry --------------------------------------------------------------------------------


def _translate(dx: float, dy: float) -> np.ndarray:
    return np.array([[1.0, 0.0, dx], [0.0, 1.0, dy], [0.0, 0.0, 1.0]])


def _rotate(degrees: float) -> np.ndarray:
    """Counter-clockwise on screen (y down), as ``cv2.getRotationMatrix2D``."""
    r = math.radians(degrees)
    c, s = math.cos(r), math.sin(r)
    return np.array([[c, s, 0.0], [-s, c, 0.0], [0.0, 0.0, 1.0]])


def _scale(sx: float, sy: float) -> np.ndarray:
    return np.diag([sx, sy, 1.0])


def _about(point: tuple[float, float], matrix: np.ndarray) -> np.ndarray:
    return _translate(*point) @ matrix @ _translate(-point[0], -point[1])


def _subject_column(alpha: np.ndarray) -> float:
    weights = alpha.astype(np.float64)
    total = weights.sum()
    if total == 0:
        return (alpha.shape[1] - 1) / 2.0
    return float((weights.sum(axis=0) * np.arange(alpha.shape[1])).sum() / total)


def _draw_parameters(seq: np.random.SeedSequence, spec: ClipSpec, width: int, height: int, alpha) -> dict:
    rng = np.random.default_rng(seq)
    unit = float(min(width, height))
    u = rng.uniform
    move = spec.camera_move
    move_draw = u()
    if move == "auto":
        move = "zoom" if move_draw < 0.5 else "pan"
    params: dict[str, Any] = {
        "camera_move": move,
        "zoom": {"amplitude": u(0.03, 0.08), "hz": u(0.1, 0.25), "phase": u(0, 2 * math.pi)},
        "pan": {
            "amplitude_px": [u(0.015, 0.035) * unit * rng.choice([-1, 1]), u(0.0, 0.01) * unit],
            "hz": u(0.1, 0.25),
            "phase": u(0, 2 * math.pi),
        },
        "shake": {"translation_sigma_px": 0.004 * unit, "rotation_sigma_deg": 0.15, "time_constant_s": 0.25},
        "sway": {"amplitude_px": u(0.008, 0.02) * unit, "hz": u(0.2, 0.5), "phase": u(0, 2 * math.pi)},
        "bob": {"amplitude_px": u(0.002, 0.006) * unit, "hz": u(0.3, 0.8), "phase": u(0, 2 * math.pi)},
        "lean": {"amplitude_deg": u(0.5, 2.0), "hz": u(0.1, 0.35), "phase": u(0, 2 * math.pi)},
        "turn": {"amplitude_deg": u(3.0, 10.0), "hz": u(0.1, 0.3), "phase": u(0, 2 * math.pi)},
        "gain": {"amplitude": u(0.02, 0.06), "hz": u(0.1, 0.4), "phase": u(0, 2 * math.pi)},
        "white_balance": {
            "amplitude": [u(0.0, 0.02) for _ in range(3)],
            "hz": u(0.1, 0.3),
            "phase": [u(0, 2 * math.pi) for _ in range(3)],
        },
        "pivot_px": [_subject_column(alpha), (height - 1) + 0.25 * height],
        "base_zoom": BASE_ZOOM,
    }
    if move == "pan":
        # Keep the plate's edge out of view while panning.
        reach = max(abs(a) for a in params["pan"]["amplitude_px"]) + 3 * params["shake"]["translation_sigma_px"]
        params["base_zoom"] = BASE_ZOOM + 2.0 * reach / unit
    return params


def _motion_times(spec: ClipSpec) -> list[int]:
    """τ_t in frame steps: advances by one per frame except inside the static stretch."""
    tau, out = 0, []
    for t in range(spec.frames):
        if t > 0 and not (spec.is_static(t) and spec.is_static(t - 1)):
            tau += 1
        out.append(tau)
    return out


def _sine(curve: dict, seconds: float, key: str = "amplitude") -> float:
    return curve[key] * math.sin(2 * math.pi * curve["hz"] * seconds + curve["phase"])


def _frame_geometry(spec: ClipSpec, p: dict, shake: dict, tau: int, width: int, height: int) -> dict:
    seconds = tau / spec.fps
    centre = ((width - 1) / 2.0, (height - 1) / 2.0)
    zoom = p["base_zoom"]
    pan = [0.0, 0.0]
    if p["camera_move"] == "zoom":
        z = p["zoom"]
        zoom += z["amplitude"] * 0.5 * (1 - math.cos(2 * math.pi * z["hz"] * seconds + z["phase"]))
    elif p["camera_move"] == "pan":
        s = math.sin(2 * math.pi * p["pan"]["hz"] * seconds + p["pan"]["phase"])
        pan = [p["pan"]["amplitude_px"][0] * s, p["pan"]["amplitude_px"][1] * s]
    if spec.camera_shake:
        shake_xy = [float(shake["x"][tau]), float(shake["y"][tau])]
        shake_deg = float(shake["r"][tau])
    else:
        shake_xy, shake_deg = [0.0, 0.0], 0.0
    camera = (
        _translate(centre[0] + pan[0] + shake_xy[0], centre[1] + pan[1] + shake_xy[1])
        @ _rotate(shake_deg)
        @ _scale(zoom, zoom)
        @ _translate(-centre[0], -centre[1])
    )
    if spec.person_motion:
        sway, bob = _sine(p["sway"], seconds, "amplitude_px"), _sine(p["bob"], seconds, "amplitude_px")
        lean, turn = _sine(p["lean"], seconds, "amplitude_deg"), _sine(p["turn"], seconds, "amplitude_deg")
    else:
        sway = bob = lean = turn = 0.0
    pivot = tuple(p["pivot_px"])
    relative = (
        _translate(sway, bob)
        @ _about(pivot, _rotate(lean))
        @ _about((pivot[0], 0.0), _scale(math.cos(math.radians(turn)), 1.0))
    )
    person = camera @ relative
    if spec.lighting:
        gain = 1.0 + _sine(p["gain"], seconds)
        wb = p["white_balance"]
        balance = [
            1.0 + wb["amplitude"][c] * math.sin(2 * math.pi * wb["hz"] * seconds + wb["phase"][c]) for c in range(3)
        ]
    else:
        gain, balance = 1.0, [1.0, 1.0, 1.0]
    return {
        "camera": camera,
        "person": person,
        "camera_parts": {"zoom": zoom, "pan_px": pan, "shake_px": shake_xy, "shake_deg": shake_deg},
        "person_parts": {"sway_px": sway, "bob_px": bob, "lean_deg": lean, "turn_deg": turn, "pivot_px": list(pivot)},
        "lighting": {"gain": gain, "white_balance_bgr": balance},
    }


# ---- the clip --------------------------------------------------------------------------------


def _jsonable(value):
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    return value


def make_clip(
    image: np.ndarray | None,
    alpha: np.ndarray | None,
    item_id: str,
    spec: ClipSpec | None = None,
    layers=None,
) -> Clip:
    """Make the clip of one portrait (see the module docstring for the model).

    Parameters
    ----------
    image : numpy.ndarray or None
        uint8 BGR (H, W, 3) composite; unused when ``layers`` is given.
    alpha : numpy.ndarray or None
        Its uint8 (H, W) matte; unused when ``layers`` is given.
    item_id : str
        The portrait's id: with ``spec.seed`` it fixes every random choice.
    spec : ClipSpec, optional
        Default ``ClipSpec()`` (30 frames at 30 fps, the 640×360 call frame, last third static).
    layers : PortraitLayers or (foreground, background, alpha), optional
        Float32 BGR layers in [0, 255] and a uint8 matte, used as they are (the embedded sample
        renders them); without them they are estimated from ``image`` and ``alpha``
        (:func:`vbbench.clips.estimate_layers`, needs pymatting).

    Returns
    -------
    Clip
        ``frames[t]`` holds the uint8 image, matte and trimap of frame t and its params
        (``camera`` and ``person`` 3×3 matrices, their parts, lighting, noise, static flag;
        frame 0's also the clip's generator, spec and drawn curves under ``clip``).

    Examples
    --------
    >>> fg = np.full((40, 30, 3), 200, np.float32); bg = np.full((40, 30, 3), 50, np.float32)
    >>> a = np.zeros((40, 30), np.uint8); a[10:, 8:22] = 255
    >>> clip = make_clip(None, None, "toy", ClipSpec(frames=3, framing="source"), layers=(fg, bg, a))
    >>> len(clip.frames), clip.frames[0].image.shape, clip.frames[2].params["frame"]
    (3, (40, 30, 3), 2)
    """
    from vbbench.clips.layers import clip_layers

    spec = spec or ClipSpec()
    foreground, background, source_alpha, layer_info = clip_layers(image, alpha, layers, spec.framing)
    height, width = source_alpha.shape
    streams = _streams(item_id, spec.seed)
    drawn = _draw_parameters(streams["parameters"], spec, width, height, source_alpha)
    taus = _motion_times(spec)
    rho = math.exp(-1.0 / (spec.fps * drawn["shake"]["time_constant_s"]))
    steps = taus[-1] + 1
    shake = {
        "x": _ou_walk(streams["shake_x"], steps, drawn["shake"]["translation_sigma_px"], rho),
        "y": _ou_walk(streams["shake_y"], steps, drawn["shake"]["translation_sigma_px"], rho),
        "r": _ou_walk(streams["shake_rotation"], steps, drawn["shake"]["rotation_sigma_deg"], rho),
    }
    noise_streams = streams["noise"].spawn(spec.frames)
    clip_params = _jsonable(
        {
            "generator": f"vbbench-clips/{GENERATOR_VERSION}",
            "source_id": item_id,
            "spec": spec.record(),
            "drawn": drawn,
            **layer_info,
        }
    )
    alpha_float = source_alpha.astype(np.float32)
    size = (width, height)
    frames = []
    for t in range(spec.frames):
        geometry = _frame_geometry(spec, drawn, shake, taus[t], width, height)
        person = geometry["person"][:2]
        camera = geometry["camera"][:2]
        warped_alpha = cv2.warpAffine(
            alpha_float, person, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
        )
        matte = np.clip(np.rint(warped_alpha), 0, 255).astype(np.uint8)
        fg = cv2.warpAffine(foreground, person, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        bg = cv2.warpAffine(background, camera, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
        # Composited from the quantised matte, so the ground truth is exact by construction.
        a = matte.astype(np.float32)[..., None] * np.float32(1 / 255)
        colour = bg + a * (fg - bg)
        light = geometry["lighting"]
        colour *= np.asarray(light["white_balance_bgr"], np.float32) * np.float32(light["gain"])
        noise_seed = int(noise_streams[t].generate_state(1)[0])
        if spec.noise_codes > 0:
            noise = np.random.default_rng(noise_streams[t]).standard_normal(colour.shape, dtype=np.float32)
            colour += np.float32(spec.noise_codes) * noise
        frame_image = np.clip(np.rint(colour), 0, 255).astype(np.uint8)
        params = _jsonable(
            {
                "frame": t,
                "time_s": t / spec.fps,
                "motion_time_s": taus[t] / spec.fps,
                "static": spec.is_static(t),
                "camera": geometry["camera"],
                "person": geometry["person"],
                "camera_parts": geometry["camera_parts"],
                "person_parts": geometry["person_parts"],
                "lighting": light,
                "noise_codes": spec.noise_codes,
                "noise_stream": noise_seed,
            }
        )
        if t == 0:
            params["clip"] = clip_params  # once per clip: the manifest stays small
        frames.append(ClipFrame(frame_image, matte, make_trimap(matte, spec.trimap_radius), params))
    return Clip(item_id, spec, frames, clip_params)
