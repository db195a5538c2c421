"""The webcam degradations: reproducible byte for byte (in this process and a fresh one), the ground
truth untouched where photometric, each model checked against its formula, and their place in the
variants table."""

from __future__ import annotations

import hashlib
import json
import math
import subprocess
import sys
import textwrap

import cv2
import numpy as np
import pytest

from vbbench import degradations
from vbbench.degradations import DEGRADATIONS, degrade
from vbbench.errors import VariantError
from vbbench.sample import render_layers
from vbbench.trimaps import make_trimap
from vbbench.variants import VARIANTS, default_variants, transform


@pytest.fixture(scope="module")
def portrait():
    layers = render_layers(0, 3, 96, 128)
    return layers.composite(), layers.alpha


def _digest(array):
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()


def test_degradations_reproducible_byte_for_byte(portrait):
    image, alpha = portrait
    for name in DEGRADATIONS:
        first = degrade(image, alpha, name, "sample_0003")
        second = degrade(image.copy(), alpha.copy(), name, "sample_0003")
        assert first[0].tobytes() == second[0].tobytes(), name
        assert first[1].tobytes() == second[1].tobytes(), name
        assert json.dumps(first[2], sort_keys=True) == json.dumps(second[2], sort_keys=True), name
        other = degrade(image, alpha, name, "sample_0004")
        assert other[2] != first[2] and other[0].tobytes() != first[0].tobytes(), name


def test_degradations_reproducible_in_a_fresh_process(portrait):
    image, alpha = portrait
    here = {name: _digest(degrade(image, alpha, name, "sample_0003")[0]) for name in DEGRADATIONS}
    script = textwrap.dedent(
        """
        import hashlib, json
        import numpy as np
        from vbbench.degradations import DEGRADATIONS, degrade
        from vbbench.sample import render_layers
        layers = render_layers(0, 3, 96, 128)
        image = layers.composite()
        digest = lambda a: hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()
        print(json.dumps({n: digest(degrade(image, layers.alpha, n, "sample_0003")[0]) for n in DEGRADATIONS}))
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True)
    assert json.loads(result.stdout.strip().splitlines()[-1]) == here


def test_photometric_degradations_leave_the_matte_untouched(portrait):
    image, alpha = portrait
    before = alpha.copy(), image.copy()
    for spec in DEGRADATIONS.values():
        out, alpha_out, params = degrade(image, alpha, spec.name, "sample_0003")
        assert out.shape == image.shape and out.dtype == np.uint8
        assert params["degradation"] == spec.name
        json.dumps(params)
        assert set(spec.parameters) <= set(params), spec.name  # every documented parameter is recorded
        if spec.photometric:
            assert alpha_out is alpha, spec.name
        else:
            assert not np.array_equal(alpha_out, alpha), spec.name
        assert not np.array_equal(out, image), spec.name
    assert np.array_equal(alpha, before[0]) and np.array_equal(image, before[1])  # inputs unchanged


def test_low_light_is_darker_and_noisier(portrait):
    image, alpha = portrait
    out, _, params = degrade(image, alpha, "low_light", "sample_0003")
    assert 0.08 <= params["exposure"] <= 0.25 and 0.45 <= params["brightness"] <= 0.8
    # Without noise the image would be 255·(brightness·(v/255)^2.2)^(1/2.2): the mean follows it.
    expected = 255.0 * (params["brightness"] * (image / 255.0) ** 2.2) ** (1 / 2.2)
    assert abs(out.mean() - expected.mean()) < 3
    assert params["mean_code_after"] < params["mean_code_before"]
    residual = out.astype(float) - expected
    assert residual.std() > 2  # shot and read noise


def test_sensor_noise_sigma_follows_the_signal(portrait):
    image, alpha = portrait
    out, _, params = degrade(image, alpha, "sensor_noise", "sample_0003")
    sigma = np.sqrt(params["read_sigma_codes"] ** 2 + params["shot_k_codes"] * image.astype(float))
    z = (out.astype(float) - image) / sigma
    unclipped = (out > 0) & (out < 255)
    assert abs(z[unclipped].mean()) < 0.05 and 0.9 < z[unclipped].std() < 1.1


def test_motion_blur_blurs_image_and_matte_with_one_kernel(portrait):
    image, alpha = portrait
    out, blurred, params = degrade(image, alpha, "motion_blur", "sample_0003")
    kernel = degradations.motion_blur_kernel(params["length_px"], params["angle_deg"]).astype(np.float32)
    expected = cv2.filter2D(alpha.astype(np.float32), -1, kernel, borderType=cv2.BORDER_REFLECT_101)
    assert np.array_equal(blurred, np.clip(np.rint(expected), 0, 255).astype(np.uint8))
    expected_image = cv2.filter2D(image.astype(np.float32), -1, kernel, borderType=cv2.BORDER_REFLECT_101)
    assert np.array_equal(out, np.clip(np.rint(expected_image), 0, 255).astype(np.uint8))
    assert 3.0 <= params["length_px"] <= max(3.0, 0.03 * 96) + 1e-9
    kernel = degradations.motion_blur_kernel(9.0, 90.0)
    assert kernel.sum() == pytest.approx(1.0)
    assert np.abs(kernel - kernel[::-1, ::-1]).max() == 0.0  # symmetric: correlation = convolution
    assert kernel[:, kernel.shape[1] // 2].sum() > 0.9  # a vertical segment
    # Through the variants table the trimap is derived from the blurred matte.
    _, matte, trimap, _ = transform(image, alpha, "motion_blur", "sample_0003")
    assert np.array_equal(matte, blurred) and np.array_equal(trimap, make_trimap(blurred))


def test_jpeg_is_a_libjpeg_round_trip_at_the_drawn_quality(portrait):
    image, alpha = portrait
    out, _, params = degrade(image, alpha, "jpeg", "sample_0003")
    assert 30 <= params["quality"] <= 60
    flags = [cv2.IMWRITE_JPEG_QUALITY, params["quality"], cv2.IMWRITE_JPEG_SAMPLING_FACTOR]
    ok, buffer = cv2.imencode(".jpg", image, [*flags, cv2.IMWRITE_JPEG_SAMPLING_FACTOR_420])
    assert ok and np.array_equal(out, cv2.imdecode(buffer, cv2.IMREAD_COLOR))
    assert params["bytes"] == buffer.size


def test_backlight_lights_only_behind_the_person(portrait):
    image, alpha = portrait
    out, same, params = degrade(image, alpha, "backlight", "sample_0003")
    k, veil = params["exposure"], params["veil_codes"]
    opaque = alpha == 255
    expected = np.clip(np.rint(k * (image.astype(np.float64) + veil)), 0, 255)
    assert np.array_equal(out[opaque], expected[opaque].astype(np.uint8))
    x0, y0, x1, y1 = params["window_box_px"]
    window = np.zeros(alpha.shape, bool)
    window[y0:y1, x0:x1] = True
    clear = window & (alpha == 0)
    assert clear.any()
    assert out[clear].mean() > expected[clear].mean() + 50


def test_h264_round_trip_at_call_bitrate(portrait):
    pytest.importorskip("av", reason="the h264 variant needs the 'video' extra (PyAV)")
    image, alpha = portrait
    out, _, params = degrade(image, alpha, "h264", "sample_0003")
    pixels = image.shape[0] * image.shape[1]
    assert params["bitrate_bps"] == pytest.approx(500_000 * pixels / (640 * 360) * params["bitrate_factor"], abs=1)
    assert params["picture_types"][0] == "I" and params["picture_types"][-1] == "P"
    assert params["frames"] == 8 and params["scored_frame"] == 7 and params["pix_fmt"] == "yuv420p"
    mse = np.mean((out.astype(float) - image) ** 2)
    assert 0 < mse and 10 * math.log10(255**2 / mse) > 22  # lossy, but the same picture
    odd = np.ascontiguousarray(image[:47, :63])
    decoded, info = degradations.h264_round_trip([odd] * 3, 100_000)
    assert decoded[-1].shape == odd.shape and len(info["packet_bytes"]) >= 1


def test_degradations_are_variants_and_need_their_extras(portrait, monkeypatch):
    image, alpha = portrait
    for spec in DEGRADATIONS.values():
        variant = VARIANTS[spec.name]
        assert variant.title == spec.title and not variant.landscape and not variant.clips
        assert variant.geometry.endswith("; matte untouched") == spec.photometric
        assert (
            transform(image, alpha, spec.name, "sample_0003")[3] == degrade(image, alpha, spec.name, "sample_0003")[2]
        )
    with pytest.raises(VariantError, match="unknown degradation 'jpg'; did you mean 'jpeg'"):
        degrade(image, alpha, "jpg", "x")
    with pytest.raises(VariantError, match="needs the image's matte"):
        degrade(image, alpha[:10], "jpeg", "x")
    # Without PyAV the default set leaves h264 out with a warning, and asking for it says what to install.
    from vbbench import variants

    monkeypatch.setitem(variants.EXTRA_MODULES, "video", "vbbench_no_such_module")
    with pytest.warns(UserWarning, match=r"variant h264 is not made: it needs the 'video' extra"):
        chosen = default_variants()
    assert "h264" not in chosen and "jpeg" in chosen
    with pytest.raises(VariantError, match=r"pip install 'vbbench\[video\]'"):
        transform(image, alpha, "h264", "x")
