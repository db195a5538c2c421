"""Webcam degradations: still variants, scored per variant like the rotations.

Each degradation is a deterministic function of the image, its matte and the item's id: its
parameters come from ``numpy.random.SeedSequence`` seeded with the eight 32-bit words of
``sha256("<name>/<id>")`` (each degradation its own stream), and every drawn parameter is recorded
in the manifest. Same inputs and the same numpy / OpenCV / PyAV builds give the same bytes (the
codec versions are recorded too; across builds the codecs may differ).

:data:`DEGRADATIONS` lists them; each is one entry of :data:`vbbench.variants.VARIANTS`.
*Photometric* ones change only the recorded colours: the scene's coverage, hence the ground-truth
matte, is untouched (returned as the same array). Motion blur is geometric: blurring the frame
blurs the coverage, so the matte is blurred with the same kernel (and its trimap derived from the
blurred matte, as for every variant).

Why the matte stays valid: with I = a·F + (1 − a)·B (vbbench's composites are defined in 8-bit
code space), a global gain, noise, JPEG/H.264 coding and light added *behind* the person change
what was recorded, not which fraction of each pixel the person covers. Gain and noise keep the
compositing equation with F' = gF + n, B' = gB + n; light added to the background only (B' = B +
W) keeps it exactly: a·F + (1 − a)·(B + W) = I + (1 − a)·W. Low light's gamma round trip and the
codecs are non-linear: no (F', B') need reproduce the degraded pixel exactly, but the matte is
still the true coverage, which is what a matting model is asked for. Where the sensor saturates
(a bright window behind hair) the value is clipped after mixing, as a real sensor clips; those
pixels are counted in the parameters (``saturated_mixed_fraction``).
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from fractions import Fraction

import cv2
import numpy as np

from vbbench.errors import VariantError
from vbbench.registry import Registry

__all__ = [
    "DEGRADATIONS",
    "DegradationSpec",
    "degrade",
    "degradation_rng",
    "motion_blur_kernel",
    "h264_round_trip",
    "CALL_BITRATE_BPS",
    "CALL_BITRATE_PIXELS",
    "variant_transform",
]

#: H.264 call bitrate at 640×360 (bits per second); other sizes scale by pixel count.
CALL_BITRATE_BPS = 500_000
CALL_BITRATE_PIXELS = 640 * 360
_H264_FPS = 30
#: The stream the degraded frame ends: a key frame, six shaken noisy frames, then the frame itself
#: (a P-frame), so it is coded as a call codes it in steady state. Eight frames cost a third of
#: fifteen and gave the same quality (PSNR 38.2 vs 38.8 dB on a sample portrait at 645 kbit/s).
_H264_FRAMES = 8
_DISPLAY_GAMMA = 2.2
#: Linear light of every 8-bit code, (v / 255) ** 2.2.
_LINEAR = (np.arange(256) / 255.0) ** _DISPLAY_GAMMA


def degradation_rng(name: str, item_id: str) -> np.random.Generator:
    """The generator of one degradation of one item: sha256(f"{name}/{item_id}") → SeedSequence.

    Examples
    --------
    >>> a = degradation_rng("jpeg", "x").integers(1 << 30); b = degradation_rng("jpeg", "x").integers(1 << 30)
    >>> bool(a == b)
    True
    """
    digest = hashlib.sha256(f"{name}/{item_id}".encode()).digest()
    words = [int.from_bytes(digest[i : i + 4], "little") for i in range(0, 32, 4)]
    return np.random.default_rng(np.random.SeedSequence(words))


def _check(image: np.ndarray, alpha: np.ndarray) -> None:
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise VariantError(f"a degraded image must be uint8 BGR (H, W, 3), got {image.dtype} {image.shape}")
    if alpha is None or np.shape(alpha) != image.shape[:2]:
        raise VariantError(f"a degradation needs the image's matte: alpha {np.shape(alpha)}, image {image.shape[:2]}")


def _alpha01(alpha: np.ndarray) -> np.ndarray:
    alpha = np.asarray(alpha)
    if alpha.dtype == np.uint8:
        return alpha / 255.0
    if alpha.dtype == np.uint16:
        return alpha / 65535.0
    return alpha.astype(np.float64)


def _to_uint8(values: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(values), 0, 255).astype(np.uint8)


# ---- the degradations ------------------------------------------------------------------------


def _low_light(image, rng):
    exposure = rng.uniform(0.08, 0.25)
    full_well = rng.uniform(2000, 6000)
    read_noise = rng.uniform(2, 6)
    brightness = rng.uniform(0.45, 0.8)
    linear = _LINEAR[image]  # (v / 255) ** 2.2 per code, looked up
    electrons_mean = linear * exposure * full_well
    electrons = rng.poisson(electrons_mean).astype(np.float64) + read_noise * rng.standard_normal(image.shape)
    out_linear = np.clip(electrons / (exposure * full_well) * brightness, 0.0, 1.0)
    out = _to_uint8(255.0 * out_linear ** (1.0 / _DISPLAY_GAMMA))
    params = {
        "exposure": exposure,
        "full_well_e": full_well,
        "read_noise_e": read_noise,
        "brightness": brightness,
        "gain": brightness / exposure,
        "gamma": _DISPLAY_GAMMA,
        "mean_code_before": float(image.mean()),
        "mean_code_after": float(out.mean()),
    }
    return out, params


def _sensor_noise(image, rng):
    read = rng.uniform(1.5, 4.0)
    k = rng.uniform(0.03, 0.12)
    values = image.astype(np.float64)
    sigma = np.sqrt(read * read + k * values)
    out = _to_uint8(values + sigma * rng.standard_normal(image.shape))
    return out, {"read_sigma_codes": read, "shot_k_codes": k, "mean_sigma_codes": float(sigma.mean())}


def motion_blur_kernel(length_px: float, angle_deg: float, samples: int = 512) -> np.ndarray:
    """A normalised linear motion-blur kernel: a segment of ``length_px`` through the centre at
    ``angle_deg`` (counter-clockwise from +x, y down), rasterised by bilinear splatting of
    ``samples`` evenly spaced points (anti-aliased, exactly symmetric).

    Examples
    --------
    >>> k = motion_blur_kernel(5, 0)
    >>> k.shape, round(float(k.sum()), 12), bool(np.allclose(k, k[::-1, ::-1]))
    ((9, 9), 1.0, True)
    """
    half = int(math.ceil(length_px / 2.0)) + 1
    size = 2 * half + 1
    kernel = np.zeros((size, size), dtype=np.float64)
    angle = math.radians(angle_deg)
    s = np.linspace(-length_px / 2.0, length_px / 2.0, samples)
    xs = half + s * math.cos(angle)
    ys = half - s * math.sin(angle)
    x0 = np.floor(xs).astype(int)
    y0 = np.floor(ys).astype(int)
    fx = xs - x0
    fy = ys - y0
    for dy, wy in ((0, 1 - fy), (1, fy)):
        for dx, wx in ((0, 1 - fx), (1, fx)):
            np.add.at(kernel, (y0 + dy, x0 + dx), wx * wy)
    kernel = 0.5 * (kernel + kernel[::-1, ::-1])  # exact symmetry against rounding in the splat
    return kernel / kernel.sum()


def _motion_blur(image, alpha, rng):
    unit = min(image.shape[:2])
    length = max(3.0, rng.uniform(0.01, 0.03) * unit)
    angle = rng.uniform(0.0, 180.0)
    kernel = motion_blur_kernel(length, angle)
    # Symmetric kernel: correlation (OpenCV) = convolution.
    blurred = cv2.filter2D(image.astype(np.float32), -1, kernel.astype(np.float32), borderType=cv2.BORDER_REFLECT_101)
    out = _to_uint8(blurred)
    alpha_out = None
    if alpha is not None:
        alpha = np.asarray(alpha)
        full = 65535.0 if alpha.dtype == np.uint16 else 255.0 if alpha.dtype == np.uint8 else 1.0
        soft = cv2.filter2D(alpha.astype(np.float32), -1, kernel.astype(np.float32), borderType=cv2.BORDER_REFLECT_101)
        if alpha.dtype in (np.uint8, np.uint16):
            alpha_out = np.clip(np.rint(soft), 0, full).astype(alpha.dtype)
        else:
            alpha_out = soft.astype(alpha.dtype)
    params = {"length_px": length, "angle_deg": angle, "kernel_size_px": int(kernel.shape[0]), "border": "reflect101"}
    return out, alpha_out, params


def _jpeg(image, rng):
    quality = int(rng.integers(30, 61))
    ok, buffer = cv2.imencode(
        ".jpg",
        image,
        [cv2.IMWRITE_JPEG_QUALITY, quality, cv2.IMWRITE_JPEG_SAMPLING_FACTOR, cv2.IMWRITE_JPEG_SAMPLING_FACTOR_420],
    )
    if not ok:
        raise VariantError("JPEG encoding failed")
    out = cv2.imdecode(buffer, cv2.IMREAD_COLOR)
    params = {
        "quality": quality,
        "subsampling": "4:2:0",
        "encoder": "cv2.imencode (libjpeg-turbo)",
        "opencv": cv2.__version__,
        "bytes": int(buffer.size),
        "bits_per_pixel": 8.0 * buffer.size / (image.shape[0] * image.shape[1]),
    }
    return out, params


def _ou(rng: np.random.Generator, steps: int, sigma: float, rho: float) -> np.ndarray:
    draws = rng.standard_normal(steps)
    out = np.empty(steps)
    out[0] = sigma * draws[0]
    for k in range(1, steps):
        out[k] = rho * out[k - 1] + sigma * math.sqrt(1 - rho * rho) * draws[k]
    return out


def h264_round_trip(frames: list[np.ndarray], bitrate_bps: int, fps: int = _H264_FPS) -> tuple[list[np.ndarray], dict]:
    """Encode uint8 BGR frames with libx264 (through PyAV) and decode them back.

    yuv420p, ``preset=veryfast``, ``tune=zerolatency`` (no B-frames, no look-ahead, as real-time
    calls), ``profile=baseline``, one key frame, VBV max rate = ``bitrate_bps`` with a 1 s
    buffer, one thread (bit-exact). Odd sizes are padded by edge replication and cropped back.

    Returns
    -------
    decoded : list of numpy.ndarray
        uint8 BGR frames of the input size.
    info : dict
        Packet sizes, achieved bitrate, picture types, library versions.
    """
    try:
        import av  # PyAV: libx264 and FFmpeg's decoder, bundled in its wheels
    except ImportError:
        raise VariantError("the h264 variant needs PyAV: pip install 'vbbench[video]'") from None

    height, width = frames[0].shape[:2]
    pad_h, pad_w = height % 2, width % 2
    context = av.CodecContext.create("libx264", "w")
    context.width, context.height = width + pad_w, height + pad_h
    context.pix_fmt = "yuv420p"
    context.time_base = Fraction(1, fps)
    context.framerate = Fraction(fps, 1)
    context.bit_rate = int(bitrate_bps)
    kbps = max(1, int(round(bitrate_bps / 1000)))
    context.options = {
        "preset": "veryfast",
        "tune": "zerolatency",
        "profile": "baseline",
        "x264-params": f"keyint=600:min-keyint=600:scenecut=0:vbv-maxrate={kbps}:vbv-bufsize={kbps}:threads=1",
    }
    packets = []
    for index, frame in enumerate(frames):
        if pad_h or pad_w:
            frame = cv2.copyMakeBorder(frame, 0, pad_h, 0, pad_w, cv2.BORDER_REPLICATE)
        video_frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="bgr24").reformat(format="yuv420p")
        video_frame.pts = index
        packets.extend(context.encode(video_frame))
    packets.extend(context.encode(None))
    stream = b"".join(bytes(p) for p in packets)
    decoder = av.CodecContext.create("h264", "r")
    decoder.thread_count = 1
    decoded = []
    types = []
    for packet in [*packets, None]:  # None flushes the decoder
        for picture in decoder.decode(packet):
            decoded.append(picture.to_ndarray(format="bgr24")[:height, :width].copy())
            types.append(_picture_type(picture))
    if len(decoded) != len(frames):
        raise VariantError(f"H.264 round trip returned {len(decoded)} frames for {len(frames)}")
    version = re.search(rb"x264 - core \d+[^-]*", stream)
    info = {
        "codec": "libx264",
        "x264": version.group(0).decode().strip() if version else "unknown",
        "pyav": av.__version__,
        "libavcodec": ".".join(map(str, av.library_versions["libavcodec"])),
        "pix_fmt": "yuv420p",
        "preset": "veryfast",
        "tune": "zerolatency",
        "profile": "baseline",
        "gop_frames": 600,
        "vbv_buffer_s": 1.0,
        "fps": fps,
        "packet_bytes": [p.size for p in packets],
        "achieved_bps": 8.0 * len(stream) * fps / len(frames),
        "picture_types": types,
    }
    return decoded, info


def _picture_type(frame) -> str:
    """ "I", "P" or "B" (FFmpeg's AVPictureType 1, 2, 3), whatever PyAV's enum looks like."""
    value = frame.pict_type
    name = getattr(value, "name", None)
    if isinstance(name, str) and name in ("I", "P", "B"):
        return name
    return {1: "I", 2: "P", 3: "B"}.get(int(value), str(value))


def _h264(image, rng):
    height, width = image.shape[:2]
    factor = rng.uniform(0.6, 1.2)
    bitrate = int(round(CALL_BITRATE_BPS * (width * height) / CALL_BITRATE_PIXELS * factor))
    unit = min(width, height)
    sigma = 0.004 * unit
    rho = math.exp(-1.0 / (_H264_FPS * 0.25))
    xs = _ou(rng, _H264_FRAMES - 1, sigma, rho)
    ys = _ou(rng, _H264_FRAMES - 1, sigma, rho)
    noise_seed = int(rng.integers(1 << 62))
    noise_rng = np.random.default_rng(noise_seed)
    frames = []
    for dx, dy in zip(xs, ys):
        moved = cv2.warpAffine(
            image,
            np.float64([[1, 0, dx], [0, 1, dy]]),
            (width, height),
            flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_REFLECT_101,
        )
        # Sensor noise on the preceding frames, so that their residuals cost bits as a camera's do.
        frames.append(_to_uint8(moved + noise_rng.standard_normal(moved.shape, dtype=np.float32)))
    frames.append(image)
    decoded, info = h264_round_trip(frames, bitrate)
    params = {
        "bitrate_bps": bitrate,
        "bitrate_factor": factor,
        "frames": _H264_FRAMES,
        "scored_frame": _H264_FRAMES - 1,
        "shake_px": [[float(x), float(y)] for x, y in zip(xs, ys)],
        "shake_sigma_px": sigma,
        "preceding_noise_codes": 1.0,
        "noise_seed": noise_seed,
        **info,
    }
    return decoded[-1], params


def _subject_column(alpha01: np.ndarray) -> float:
    weights = alpha01.sum(axis=0)
    total = weights.sum()
    if total <= 0:
        return (alpha01.shape[1] - 1) / 2.0
    return float((weights * np.arange(alpha01.shape[1])).sum() / total)


def _backlight(image, alpha, rng):
    height, width = image.shape[:2]
    unit = min(width, height)
    a = _alpha01(alpha)
    win_w = rng.uniform(0.25, 0.45) * width
    win_h = rng.uniform(0.3, 0.5) * height
    top = rng.uniform(0.0, 0.15) * height
    side = rng.choice([-1.0, 1.0])
    centre = _subject_column(a) + side * rng.uniform(0.1, 0.3) * width
    x0 = int(round(min(max(centre - win_w / 2, 0), width - win_w)))
    y0 = int(round(top))
    x1 = int(round(min(x0 + win_w, width)))
    y1 = int(round(min(y0 + win_h, height)))
    intensity = rng.uniform(120.0, 200.0)
    glow = rng.uniform(0.2, 0.4)
    veil = rng.uniform(4.0, 16.0)
    exposure = rng.uniform(0.6, 0.85)
    tint = np.array([1.0, 0.97, 0.9])
    window = np.zeros((height, width), np.float32)
    window[y0:y1, x0:x1] = 1.0
    soft = cv2.GaussianBlur(window, (0, 0), max(0.5, 0.01 * unit), borderType=cv2.BORDER_CONSTANT)
    halo = cv2.GaussianBlur(window, (0, 0), 0.08 * unit, borderType=cv2.BORDER_CONSTANT)
    light = (soft + glow * halo).astype(np.float64)[..., None] * (intensity * tint)
    behind = (1.0 - a)[..., None]
    values = exposure * (image.astype(np.float64) + behind * light + veil)
    saturated = (values >= 255.0).any(axis=2)
    mixed = (a > 0) & (a < 1)
    out = _to_uint8(values)
    params = {
        "window_box_px": [x0, y0, x1, y1],
        "intensity_codes": intensity,
        "tint_bgr": tint.tolist(),
        "edge_sigma_px": max(0.5, 0.01 * unit),
        "glow": glow,
        "glow_sigma_px": 0.08 * unit,
        "veil_codes": veil,
        "exposure": exposure,
        "saturated_fraction": float(saturated.mean()),
        "saturated_mixed_fraction": float((saturated & mixed).sum() / max(1, mixed.sum())),
        "model": "I' = clip(exposure·(I + (1 − a)·W + veil))",
    }
    return out, params


# ---- the table -------------------------------------------------------------------------------


@dataclass(frozen=True)
class DegradationSpec:
    """One webcam degradation.

    Attributes
    ----------
    name : str
        Variant name (``variants/<name>/…``, ``--variant``).
    title : str
        What a call sees, in a few words.
    description : str
        The model, as the docs print it.
    photometric : bool
        True: the ground-truth matte is returned untouched.
    parameters : mapping of str to str
        Each drawn parameter with its distribution and unit (every one is in the manifest).
    apply : callable
        ``(image, alpha, rng) → (image, alpha or None, params)``; None = the matte untouched.
    extra : str or None
        The pip extra the degradation needs (``video`` for PyAV).
    """

    name: str
    title: str
    description: str
    photometric: bool
    parameters: Mapping[str, str]
    apply: Callable[[np.ndarray, np.ndarray, np.random.Generator], tuple[np.ndarray, np.ndarray | None, dict]]
    extra: str | None = None


def _photometric(function):
    def apply(image, alpha, rng):
        out, params = function(image, rng)
        return out, None, params

    return apply


def _backlight_apply(image, alpha, rng):
    out, params = _backlight(image, alpha, rng)
    return out, None, params


DEGRADATIONS: Registry[DegradationSpec] = Registry(
    "degradation",
    [
        DegradationSpec(
            "low_light",
            "a dim room",
            "linear light (codes^2.2) × exposure, photon shot noise (Poisson on the electrons) and read noise, "
            "amplified by the camera's gain to a still-dark image, re-encoded with gamma 1/2.2",
            True,
            {
                "exposure": "U(0.08, 0.25), fraction of a normal exposure",
                "full_well_e": "U(2000, 6000) electrons for a white pixel at normal exposure",
                "read_noise_e": "U(2, 6) electrons RMS",
                "brightness": "U(0.45, 0.8): output linear level relative to normal (gain = brightness/exposure)",
                "gamma": "2.2 (fixed)",
            },
            _photometric(_low_light),
        ),
        DegradationSpec(
            "sensor_noise",
            "a noisy sensor",
            "signal-dependent Gaussian noise in code space, σ² = σ_read² + k·I, independent per pixel and channel",
            True,
            {"read_sigma_codes": "U(1.5, 4) codes", "shot_k_codes": "U(0.03, 0.12) codes (σ² per code of signal)"},
            _photometric(_sensor_noise),
        ),
        DegradationSpec(
            "motion_blur",
            "a shaken camera",
            "a random linear kernel (anti-aliased segment of length U(1, 3) % of the short side, ≥ 3 px, angle "
            "U(0, 180°)) on image and matte alike, in code space, reflect-101 borders; the matte becomes k∗α",
            False,
            {
                "length_px": "U(0.01, 0.03) × min(W, H), at least 3 px",
                "angle_deg": "U(0, 180), counter-clockwise from the x axis",
            },
            _motion_blur,
        ),
        DegradationSpec(
            "jpeg",
            "a JPEG snapshot",
            "JPEG at quality U{30 … 60} (OpenCV's libjpeg-turbo, 4:2:0 chroma)",
            True,
            {"quality": "integer U{30 … 60}"},
            _photometric(_jpeg),
        ),
        DegradationSpec(
            "h264",
            "a call's video stream",
            "libx264 through PyAV (yuv420p, baseline, veryfast, zerolatency, VBV max rate = bitrate, 1 s buffer) "
            "at 500 kbit/s × pixels/(640·360) × U(0.6, 1.2): an 8-frame stream (key frame, six shaken noisy "
            "frames, then the frame itself as a P-frame), decoded with FFmpeg's h264 decoder",
            True,
            {
                "bitrate_bps": "500 kbit/s × (W·H)/(640·360) × U(0.6, 1.2)",
                "shake_sigma_px": "0.004 × min(W, H): stationary σ of the preceding frames' translation",
            },
            _photometric(_h264),
            extra="video",
        ),
        DegradationSpec(
            "backlight",
            "a bright window behind",
            "light added behind the person only, I' = clip(k·(I + (1 − a)·W + veil)): a soft window U(120, 200) "
            "codes beside the subject with a glow, veiling glare U(4, 16) codes, auto-exposure k U(0.6, 0.85); "
            "exact for the layered scene, the sensor clips after mixing",
            True,
            {
                "window_box_px": "width U(0.25, 0.45)·W, height U(0.3, 0.5)·H, top U(0, 0.15)·H, centre "
                "U(0.1, 0.3)·W beside the subject's centre column (side at random)",
                "intensity_codes": "U(120, 200), daylight tint BGR (1.0, 0.97, 0.9)",
                "glow": "U(0.2, 0.4) × intensity, Gaussian σ = 0.08 × min(W, H)",
                "veil_codes": "U(4, 16) added everywhere (lens flare)",
                "exposure": "U(0.6, 0.85), applied before the sensor clips",
            },
            _backlight_apply,
        ),
    ],
    error=VariantError,
)


def degrade(image: np.ndarray, alpha: np.ndarray, name: str, item_id: str) -> tuple[np.ndarray, np.ndarray, dict]:
    """Apply degradation ``name`` to an image and its matte, deterministically from ``item_id``.

    The signature of a variant's transform (:class:`vbbench.variants.VariantSpec`): backlight needs
    the matte (the window is behind the person) and motion blur changes it.

    Parameters
    ----------
    image : numpy.ndarray
        uint8 BGR (H, W, 3).
    alpha : numpy.ndarray
        The ground-truth matte (H, W); photometric degradations return it untouched (the same
        object).
    name : str
        A name in :data:`DEGRADATIONS`.
    item_id : str
        The item's id; fixes every random choice.

    Returns
    -------
    image, alpha : numpy.ndarray
        Degraded image (uint8, same shape) and the ground truth that goes with it.
    params : dict
        JSON-serialisable parameters (``degradation`` = name, plus what was drawn and measured).

    Examples
    --------
    >>> image = np.full((8, 8, 3), 128, np.uint8); alpha = np.zeros((8, 8), np.uint8)
    >>> out, same, params = degrade(image, alpha, "sensor_noise", "x")
    >>> out.shape, same is alpha, params["degradation"]
    ((8, 8, 3), True, 'sensor_noise')
    """
    spec = DEGRADATIONS[name]
    image = np.asarray(image)
    _check(image, alpha)
    out, alpha_out, params = spec.apply(image, alpha, degradation_rng(name, item_id))
    return out, alpha if alpha_out is None else alpha_out, {"degradation": name, **_plain(params)}


def variant_transform(name: str):
    """The ``VariantSpec.apply`` of degradation ``name``: ``(image, alpha, item_id) → (image, alpha,
    params)``.

    Examples
    --------
    >>> apply = variant_transform("jpeg")
    >>> apply(np.zeros((8, 8, 3), np.uint8), np.zeros((8, 8), np.uint8), "x")[2]["quality"] in range(30, 61)
    True
    """
    DEGRADATIONS[name]

    def apply(image, alpha, item_id):
        return degrade(image, alpha, name, item_id)

    apply.__name__ = f"degrade_{name}"
    return apply


def _plain(value):
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (np.floating, np.integer, np.bool_)):
        return value.item()
    return value
