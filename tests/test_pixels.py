"""The pipeline's pixel work against straightforward implementations: blend, two-step resize, blur, I420."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from vbbench.models.pixels import (
    _prefactor,  # the first step's factor rule, tested directly
    blend,
    blur_background,
    fast_resize,
)


def _call_frame(width: int, height: int) -> np.ndarray:
    from vbbench.models.bench import call_frame

    return call_frame(width, height)[0]


def test_blend_is_exact_integer_rounding_for_every_input():
    x = np.arange(65026, dtype=np.int64)  # every possible f·a + g·(255 − a)
    assert np.array_equal((x + 128 + ((x + 128) >> 8)) >> 8, (x + 127) // 255)
    f, g = np.meshgrid(np.arange(256, dtype=np.uint8), np.arange(256, dtype=np.uint8))
    frame, background = np.repeat(f[:, :, None], 3, axis=2), np.repeat(g[:, :, None], 3, axis=2)
    for a in range(256):  # all 256³ (f, g, a)
        out = blend(frame, background, np.full((256, 256), a, np.uint8))
        exact = (f.astype(np.int64) * a + g.astype(np.int64) * (255 - a) + 127) // 255
        assert np.array_equal(out[:, :, 0], exact) and np.array_equal(out[:, :, 2], exact), a


def test_blend_is_within_one_code_of_the_float_formula_and_of_the_fallback():
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 256, (300, 400, 3), dtype=np.uint8)
    background = rng.integers(0, 256, (300, 400, 3), dtype=np.uint8)
    weight = rng.random((300, 400))
    weight[::7] = rng.integers(0, 2, weight[::7].shape) * 1.0  # exact 0 and 1 too
    alpha = np.floor(weight * 255 + 0.5).astype(np.uint8)
    exact_float = np.floor(frame * weight[:, :, None] + background * (1 - weight[:, :, None]) + 0.5)
    out = blend(frame, background, alpha)
    assert np.abs(out - exact_float).max() <= 1
    fallback = blend(frame, background, alpha, exact=False)  # cv2.blendLinear, as without numba
    assert np.abs(fallback.astype(int) - out).max() <= 1
    in_place = frame.copy()
    assert blend(in_place, background, alpha, out=in_place) is in_place and np.array_equal(in_place, out)


def test_fast_resize_is_close_to_one_step_area_and_identical_where_one_step_is_integer():
    frame = _call_frame(1920, 1080)
    one = cv2.resize(frame, (256, 144), interpolation=cv2.INTER_AREA).astype(int)
    two = fast_resize(frame, 256, 144).astype(int)
    assert 0 < np.abs(two - one).max() <= 8 and np.abs(two - one).mean() < 0.5
    hd = _call_frame(1280, 720)  # 5×: one step is OpenCV's integer fast path already
    assert np.array_equal(fast_resize(hd, 256, 144), cv2.resize(hd, (256, 144), interpolation=cv2.INTER_AREA))
    assert _prefactor(1920, 1080, 256, 144) == 2 and _prefactor(640, 360, 256, 144) == 1
    assert fast_resize(np.zeros((144, 176, 3), np.uint8), 256, 144).shape == (144, 256, 3)  # enlarging: one step


def test_blur_background_approximates_a_gaussian():
    frame = _call_frame(640, 360)
    for sigma in (2, 5, 12):
        difference = np.abs(blur_background(frame, sigma).astype(int) - cv2.GaussianBlur(frame, (0, 0), sigma))
        inner = difference[40:-40, 40:-40]
        assert inner.mean() < 1.0 and inner.max() <= 10, sigma
    with pytest.raises(ValueError, match="--blur 0: the blur's sigma must be positive"):
        blur_background(frame, 0)


def test_masked_blur_keeps_the_person_out_of_the_background():
    frame = np.zeros((120, 160, 3), np.uint8)
    frame[:, :] = (0, 200, 0)
    frame[30:90, 60:100] = (0, 0, 255)  # a red "person"
    alpha = np.zeros((120, 160), np.uint8)
    alpha[30:90, 60:100] = 255
    ring = (slice(25, 28), slice(60, 100))  # just above the person
    assert blur_background(frame, 8)[ring][:, :, 2].mean() > 40  # a plain blur bleeds the person's red
    masked = blur_background(frame, 8, alpha)
    assert masked[ring][:, :, 2].mean() < 8 and masked[ring][:, :, 1].mean() > 190


def test_bgr_to_i420_matches_swscale_within_a_code_or_two():
    av = pytest.importorskip("av", reason="needs the video extra: pip install 'vbbench[video]'")
    from vbbench.models.writer import bgr_to_i420

    frame = _call_frame(640, 360)
    ours = bgr_to_i420(frame).astype(int)
    swscale = av.VideoFrame.from_ndarray(frame, format="bgr24").reformat(format="yuv420p").to_ndarray().astype(int)
    assert np.abs(ours - swscale).max() <= 2 and np.abs(ours - swscale).mean() < 0.5
    checker = np.zeros((4, 4, 3), np.uint8)
    checker[0::2, 0::2] = (0, 0, 255)  # chroma from the 2×2 mean (119), not the top-left pixel
    assert abs(int(bgr_to_i420(checker)[4, 0]) - 119) <= 1


def test_mediapipe_input_warps_first_and_swaps_channels_after_with_the_same_bits():
    """The warp treats channels alike, so swapping BGR→RGB on the small tensor equals swapping the frame first."""
    from vbbench.models.mediapipe import mediapipe_input

    rng = np.random.default_rng(0)
    for height, width in ((1080, 1920), (800, 600), (101, 77)):
        image = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
        rgb = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
        corners = np.float32([[0, height], [0, 0], [width, 0], [width, height]])
        for size in ((256, 144), (256, 256)):
            targets = np.float32([[0, size[1]], [0, 0], [size[0], 0], [size[0], size[1]]])
            projection = cv2.getPerspectiveTransform(corners, targets)
            warped = cv2.warpPerspective(rgb, projection, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
            expected = np.ascontiguousarray(warped.transpose(2, 0, 1), dtype=np.float32) / 255.0
            np.testing.assert_array_equal(mediapipe_input(image, *size), expected)
