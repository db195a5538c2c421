"""The clip metrics (dtSSD, MESSDdt, flicker) against values computed by hand on tiny sequences, an
independent re-implementation of RVM's dtSSD driver, and the behaviours the issue asks for: a
flickering model scores worse than a stable one with the same per-frame MAD; a still clip with a
constant prediction scores 0."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from vbbench.clips import ClipSpec, make_clip
from vbbench.errors import UsageError
from vbbench.metrics import (
    TEMPORAL_METRICS,
    TemporalAccumulator,
    TemporalConventions,
    dtssd,
    flicker,
    messddt,
    temporal,
)
from vbbench.metrics.alpha import EmptyRegionError
from vbbench.metrics.conventions import split_settings
from vbbench.metrics.motion import farneback_flow, sample_forward
from vbbench.metrics.temporal import messddt_term
from vbbench.sample import render_layers
from vbbench.trimaps import make_trimap

RVM = TemporalConventions(dtssd_first_frame="zero")
DRIVERS = TemporalConventions(messddt_flow="farneback", messddt_sampling="nearest")


def _sample_layers(index=3, width=96, height=128):
    return render_layers(0, index, width, height)


@pytest.fixture(scope="module")
def sample_clip():
    return make_clip(None, None, "sample_0003", ClipSpec(frames=8, framing="source"), layers=_sample_layers())


def _hand_clip():
    """Three 2×2 frames; term 1 and term 2 are both √(0.2²/4) = 0.1."""
    g = [np.array(v, np.uint8) for v in ([[0, 0], [0, 0]], [[255, 0], [0, 0]], [[255, 255], [0, 0]])]
    p = [np.array(v, np.uint8) for v in ([[0, 0], [0, 0]], [[255, 0], [0, 51]], [[255, 255], [0, 0]])]
    return p, g


def test_dtssd_hand_computed():
    preds, gts = _hand_clip()
    assert temporal.dtssd_terms(preds, gts) == pytest.approx([0.1, 0.1], abs=1e-15)
    assert dtssd(preds, gts) == pytest.approx(0.1, abs=1e-15)
    assert dtssd(preds, gts, conventions=RVM) == pytest.approx(0.2 / 3, abs=1e-15)
    # Displayed ×1e2 as RVM prints it.
    spec = TEMPORAL_METRICS["dtssd"]
    assert dtssd(preds, gts) * spec.display_scale == pytest.approx(10.0)
    # The region leaves the one differing pixel out.
    region = np.array([[True, True], [True, False]])
    assert dtssd(preds, gts, region=region) == 0.0
    # Per-frame regions: term t takes frame t − 1's mask.
    full = np.ones((2, 2), bool)
    assert temporal.dtssd_terms(preds, gts, region=[region, full, full]) == pytest.approx([0.0, 0.1])


def test_dtssd_matches_rvm_driver():
    """RVM's evaluate_lr.py: float32 /255, MetricDTSSD per frame (×1e2), 0 for frame 0, mean."""
    rng = np.random.default_rng(0)
    gts = [rng.integers(0, 256, (12, 10), dtype=np.uint8) for _ in range(6)]
    preds = [np.clip(g.astype(int) + rng.integers(-20, 21, g.shape), 0, 255).astype(np.uint8) for g in gts]

    def metric_dtssd(pred_t, pred_tm1, true_t, true_tm1):
        d = ((pred_t - pred_tm1) - (true_t - true_tm1)) ** 2
        return np.sqrt(np.sum(d) / true_t.size) * 1e2

    values, pred_tm1, true_tm1 = [], None, None
    for i in range(len(gts)):
        true = gts[i].astype(np.float32) / 255
        pred = preds[i].astype(np.float32) / 255
        if i == 0:
            values.append(0)
        else:
            values.append(metric_dtssd(pred, pred_tm1, true, true_tm1))
        pred_tm1, true_tm1 = pred, true
    rvm = float(np.mean(values))
    assert dtssd(preds, gts, conventions=RVM) * 1e2 == pytest.approx(rvm, rel=1e-5)
    assert dtssd(preds, gts) == pytest.approx(dtssd(preds, gts, conventions=RVM) * 6 / 5, rel=1e-12)


def test_dtssd_one_frame():
    frame = [np.zeros((2, 2))]
    with pytest.raises(ValueError, match="at least two frames"):
        dtssd(frame, frame)
    assert dtssd(frame, frame, conventions=RVM) == 0.0  # RVM: [0] averaged


def test_dtssd_input_errors():
    with pytest.raises(ValueError, match="frames differ in shape"):
        dtssd([np.zeros((2, 2)), np.zeros((2, 3))], [np.zeros((2, 2)), np.zeros((2, 2))])
    with pytest.raises(ValueError, match="ground-truth frames"):
        dtssd([np.zeros((2, 2))] * 2, [np.zeros((2, 2))] * 3)
    with pytest.raises(EmptyRegionError):
        dtssd([np.zeros((2, 2))] * 2, [np.zeros((2, 2))] * 2, region=np.zeros((2, 2), bool))
    with pytest.raises(TypeError, match="boolean"):
        dtssd([np.zeros((2, 2))] * 2, [np.zeros((2, 2))] * 2, region=np.ones((2, 2), np.uint8))


small_frames = arrays(np.float64, (3, 4, 5), elements=st.floats(0, 1, allow_nan=False, width=32))
# Alpha must stay in [0, 1] (to_alpha refuses the rest), so the shifted copy starts in the lower half.
lower_half_frames = arrays(np.float64, (3, 4, 5), elements=st.floats(0, 0.5, allow_nan=False, width=32))


@settings(max_examples=40, deadline=None)
@given(preds=lower_half_frames, gts=small_frames, offset=st.floats(0, 0.5))
def test_dtssd_properties(preds, gts, offset):
    value = dtssd(list(preds), list(gts))
    assert value >= 0
    # Symmetric in prediction and ground truth; blind to a constant error; 0 for a perfect model.
    assert dtssd(list(gts), list(preds)) == pytest.approx(value, abs=1e-12)
    assert dtssd(list(preds + offset), list(gts)) == pytest.approx(value, abs=1e-9)
    assert dtssd(list(gts), list(gts)) == 0.0


# ============================================================================================
# MESSDdt
# ============================================================================================


def _row(*values):
    return np.array([values], np.float64)


def _flow(dx, shape=(1, 4)):
    flow = np.zeros((*shape, 2))
    flow[..., 0] = dx
    return flow


def test_messddt_hand_computed_integer_motion():
    g0, g1 = _row(0, 1, 0, 0), _row(0, 0, 1, 0)
    p0, p1 = _row(0, 0.5, 0.2, 0), _row(0, 0, 0.6, 0.1)
    # E0 = [0, .25, .04, 0], E1 = [0, 0, .16, .01]; x → x + 1; x = 3 leaves the frame.
    term = messddt_term(p0, g0, p1, g1, _flow(1.0))
    assert term.pixels == 3
    assert term.total == pytest.approx(0.0 + 0.09 + 0.03, abs=1e-15)
    assert term.mean == pytest.approx(0.04, abs=1e-15)
    assert messddt([p0, p1], [g0, g1], [_flow(1.0)]) == pytest.approx(0.04, abs=1e-15)


def test_messddt_hand_computed_subpixel_and_nearest():
    g0, g1 = _row(0, 1, 0, 0), _row(0, 0, 1, 0)
    p0, p1 = _row(0, 0.5, 0.2, 0), _row(0, 0, 0.6, 0.1)
    # Bilinear at x + 0.5: p̃ = [0, .3, .35, –], g̃ = [0, .5, .5, –] → E1 = [0, .04, .0225]
    term = messddt_term(p0, g0, p1, g1, _flow(0.5))
    assert term.pixels == 3
    assert term.total == pytest.approx(0.0 + 0.21 + 0.0175, abs=1e-15)
    # Nearest (OTVM / MaGGIe): 0.6 rounds to 1 and x = 3 is clamped to itself: |0 − .01| more.
    near = messddt_term(p0, g0, p1, g1, _flow(0.6), sampling="nearest")
    assert near == temporal.MessddtTerm(pytest.approx(0.13, abs=1e-15), 4)


def test_messddt_region_and_nan_motion():
    g0, g1 = _row(0, 1, 0, 0), _row(0, 0, 1, 0)
    p0, p1 = _row(0, 0.5, 0.2, 0), _row(0, 0, 0.6, 0.1)
    flow = _flow(1.0)
    flow[0, 1] = np.nan  # occluded: no target
    term = messddt_term(p0, g0, p1, g1, flow, region=np.array([[True, True, True, False]]))
    assert term == (pytest.approx(0.03), 2)
    with pytest.raises(EmptyRegionError):
        messddt([p0, p1], [g0, g1], [flow], region=np.zeros((1, 4), bool))


def test_messddt_needs_motion_unless_farneback():
    frames = [np.zeros((16, 16))] * 3
    with pytest.raises(ValueError, match="exact motion"):
        messddt(frames, frames)
    with pytest.raises(ValueError, match="needs 2 flows"):
        messddt(frames, frames, [np.zeros((16, 16, 2))])
    assert messddt(frames, frames, conventions=DRIVERS) == 0.0


def test_messddt_error_that_travels_costs_nothing(sample_clip):
    gts = [f.alpha for f in sample_clip.frames]
    flows = sample_clip.flows()
    # Every frame's error as a function of its own ground truth: it moves with the content.
    travelling = [np.clip(g / 255.0 * 0.8 + 0.1, 0, 1) for g in gts]
    exact = messddt(travelling, gts, flows)
    # Bilinear re-sampling of the sharp matte leaves a small residual, not zero.
    jumping = [np.clip(g / 255.0 * (0.8 if t % 2 else 0.6) + 0.1, 0, 1) for t, g in enumerate(gts)]
    assert exact < 0.2 * messddt(jumping, gts, flows)


def test_sample_forward_matches_cv2_remap_to_fixed_point():
    rng = np.random.default_rng(1)
    frame = rng.random((20, 30))
    flow = rng.uniform(-3, 3, (20, 30, 2))
    (ours,), valid = sample_forward([frame], flow)
    grid_x, grid_y = np.meshgrid(np.arange(30.0), np.arange(20.0))
    remapped = cv2.remap(
        frame.astype(np.float32),
        (grid_x + flow[..., 0]).astype(np.float32),
        (grid_y + flow[..., 1]).astype(np.float32),
        cv2.INTER_LINEAR,
    )
    # OpenCV interpolates with 1/32-pixel fixed-point weights.
    assert np.abs(ours - remapped)[valid].max() < 0.05


def test_driver_index_arithmetic_reads_the_frame_transposed():
    """Documents the claim in messddt's docstring about OTVM / MaGGIe ``MESSDdt`` (numpy
    emulation of ``torch.meshgrid([y, x])`` (ij) + ``torch.take(frame, coords_y * w + coords_x)``
    with zero flow): on a non-square frame it does not give the frame back."""
    h, w = 3, 4
    frame = np.arange(h * w, dtype=float).reshape(h, w)
    xx, yy = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")  # torch.meshgrid([y, x])
    coords = np.stack([yy, xx], axis=2)  # [..., 0] = column (x), [..., 1] = row (y)
    coords_y = coords[..., 0].clip(0, h - 1)
    coords_x = coords[..., 1].clip(0, w - 1)
    taken = np.take(frame, coords_y * w + coords_x)
    assert not np.array_equal(taken, frame)
    (ours,), _ = sample_forward([frame], np.zeros((h, w, 2)), "nearest")
    assert np.array_equal(ours, frame)


def test_flicker_hand_computed():
    gts = [np.array([[0, 255]], np.uint8), np.array([[0, 255]], np.uint8), np.array([[0, 200]], np.uint8)]
    preds = [_row(0.0, 0.0), _row(0.3, 1.0), _row(0.6, 0.5)]
    # Pixel 1's ground truth changes: left out. Pixel 0: σ of (0, .3, .6) = √(.06).
    assert flicker(preds, gts) == pytest.approx(math.sqrt(0.06), abs=1e-15)
    # Two stretches of two frames, pooled: pixel 0 in (0, 2) σ .15; (1, 3) σ .15 on pixel 0 only.
    assert flicker(preds, gts, static=[(0, 2), (1, 3)]) == pytest.approx((0.15 + 0.5 + 0.15) / 3)
    assert flicker(preds, gts, static=[True, True, False]) == pytest.approx((0.15 + 0.5) / 2)
    with pytest.raises(ValueError, match="static stretch"):
        flicker(preds, gts, static=[True, False, True])
    with pytest.raises(EmptyRegionError):
        flicker(preds, gts, region=np.array([[False, True]]))


# ============================================================================================
# The behavioural tests
# ============================================================================================


def test_flickering_model_scores_worse_than_stable_model_with_same_mad(sample_clip):
    """Independent noise per frame vs the same noise every frame: equal MAD, worse dtSSD."""
    # Ground truth squeezed into [0.25, 0.75] and noise bounded by 0.2, so no prediction leaves
    # [0, 1] and no clipping breaks the equal-MAD premise.
    gts = [0.25 + 0.5 * (f.alpha / 255.0) for f in sample_clip.frames]
    rng = np.random.default_rng(7)
    noise = np.clip(rng.normal(0, 0.05, gts[0].shape), -0.2, 0.2)
    stable = [g + noise for g in gts]
    flickering = [g + rng.permutation(noise.ravel()).reshape(noise.shape) for g in gts]
    for s, f, g in zip(stable, flickering, gts):
        assert np.abs(s - g).mean() == pytest.approx(np.abs(f - g).mean(), rel=1e-12)
    assert dtssd(flickering, gts) > 10 * max(dtssd(stable, gts), 1e-6)
    flows = sample_clip.flows()
    assert messddt(flickering, gts, flows) > messddt(stable, gts, flows)
    # A sign-flipping error keeps E = (p − g)² per pixel: dtSSD sees it; MESSDdt read at whole
    # pixels does not (bilinear reads interpolate p and g before squaring, and partly see it).
    band = [(f.trimap == 128) * 0.1 for f in sample_clip.frames]
    steady = [g + b for g, b in zip(gts, band)]
    flipping = [g + b * rng.choice([-1.0, 1.0], b.shape) for g, b in zip(gts, band)]
    assert dtssd(flipping, gts) > 2 * dtssd(steady, gts)
    nearest = TemporalConventions(messddt_sampling="nearest")
    assert messddt(flipping, gts, flows, conventions=nearest) == pytest.approx(
        messddt(steady, gts, flows, conventions=nearest), abs=1e-12
    )
    assert messddt(flipping, gts, flows) > messddt(steady, gts, flows)


def test_still_picture_with_constant_prediction_scores_zero():
    layers = _sample_layers()
    clip = make_clip(None, None, "sample_0003", ClipSpec(frames=6, static=(0, 6), noise_codes=0.0), layers=layers)
    images = {f.image.tobytes() for f in clip.frames}
    alphas = {f.alpha.tobytes() for f in clip.frames}
    assert len(images) == 1 and len(alphas) == 1
    gts = [f.alpha for f in clip.frames]
    constant = [np.full(gts[0].shape, 0.3)] * len(gts)  # wrong, but the same every frame
    flows = clip.flows()
    assert all(np.nanmax(np.abs(f)) < 1e-9 for f in flows)
    for conventions in (None, RVM):
        assert dtssd(constant, gts, conventions=conventions) == 0.0
    assert messddt(constant, gts, flows) == 0.0
    assert messddt(constant, gts, flows, conventions=TemporalConventions(messddt_sampling="nearest")) == 0.0
    assert flicker(constant, gts) == 0.0
    assert flicker(constant, gts, static=[f.params["static"] for f in clip.frames]) == 0.0


def test_farneback_on_identical_mattes_is_not_still():
    """Why vbbench prefers the exact motion: Farneback flow between two *identical* sample
    mattes is not zero. Around thin strands its polynomial model degenerates and ~1 % of the
    pixels, nearly all within 10 px of an edge (so inside a trimap's unknown band), get
    displacements of tens to hundreds of pixels. A still clip predicted with a constant (wrong)
    matte then scores MESSDdt > 0 under the drivers' convention, even in the unknown band."""
    layers = _sample_layers()
    gt = layers.alpha
    flow = farneback_flow(gt, gt)
    magnitude = np.linalg.norm(flow, axis=2)
    assert magnitude.max() > 5 and 0.001 < (magnitude > 0.5).mean() < 0.05
    gts = [gt] * 4
    constant = [np.full(gt.shape, 0.3)] * 4
    band = make_trimap(gt) == 128
    assert messddt(constant, gts, region=band, conventions=DRIVERS) > 0
    assert messddt(constant, gts, [np.zeros((*gt.shape, 2))] * 3, region=band) == 0.0


def test_accumulator_equals_clip_functions(sample_clip):
    frames = sample_clip.frames
    gts = [f.alpha for f in frames]
    rng = np.random.default_rng(5)
    preds = [np.clip(g / 255.0 + rng.normal(0, 0.02, g.shape), 0, 1) for g in gts]
    regions = [f.trimap == 128 for f in frames]
    flows = sample_clip.flows()
    static = [False, True, True, True, False, True, True, False]
    for conventions in (None, RVM, DRIVERS):
        acc = TemporalAccumulator(conventions=conventions)
        for t, (p, g) in enumerate(zip(preds, gts)):
            acc.update(p, g, region=regions[t], flow=flows[t - 1] if t else None, static=static[t])
        result = acc.result()
        assert result["dtssd"] == pytest.approx(dtssd(preds, gts, regions, conventions), rel=1e-12)
        assert result["messddt"] == pytest.approx(messddt(preds, gts, flows, regions, conventions), rel=1e-12)
    whole = TemporalAccumulator(["flicker"])
    for t, (p, g) in enumerate(zip(preds, gts)):
        whole.update(p, g, static=static[t])
    assert whole.result()["flicker"] == pytest.approx(flicker(preds, gts, static), rel=1e-12)


def test_accumulator_with_several_regions_equals_one_accumulator_per_region(sample_clip):
    """The motion compensation is computed once per frame for every region; the numbers are those of
    one accumulator per region (and of the clip functions)."""
    frames = sample_clip.frames
    gts = [f.alpha for f in frames]
    rng = np.random.default_rng(6)
    preds = [np.clip(g / 255.0 + rng.normal(0, 0.03, g.shape), 0, 1) for g in gts]
    bands = [f.trimap == 128 for f in frames]
    flows = sample_clip.flows()
    static = [f.params["static"] for f in frames]
    both = TemporalAccumulator(regions=["whole", "unknown"])
    single = {"whole": TemporalAccumulator(), "unknown": TemporalAccumulator()}
    for t, (p, g) in enumerate(zip(preds, gts)):
        flow = flows[t - 1] if t else None
        both.update(p, g, region={"whole": None, "unknown": bands[t]}, flow=flow, static=static[t])
        single["whole"].update(p, g, flow=flow, static=static[t])
        single["unknown"].update(p, g, region=bands[t], flow=flow, static=static[t])
    result = both.result()
    assert result == {name: acc.result() for name, acc in single.items()}
    assert result["unknown"]["dtssd"] == pytest.approx(dtssd(preds, gts, bands), rel=1e-12)
    assert result["whole"]["messddt"] == pytest.approx(messddt(preds, gts, flows), rel=1e-12)
    assert result["unknown"]["messddt"] != result["whole"]["messddt"]
    with pytest.raises(ValueError, match="must map every one of whole, unknown"):
        both.update(preds[0], gts[0], region={"whole": None})


def test_accumulator_requires_flow_for_exact_messddt():
    acc = TemporalAccumulator(["messddt"])
    acc.update(np.zeros((4, 4)), np.zeros((4, 4)))
    with pytest.raises(ValueError, match="flow"):
        acc.update(np.zeros((4, 4)), np.zeros((4, 4)))
    with pytest.raises(UsageError, match="unknown clip metric 'sad'"):
        TemporalAccumulator(["sad"])


def test_conventions_parse_and_split():
    parsed = TemporalConventions.parse(["dtssd_first_frame=zero", "messddt-sampling=nearest"])
    assert parsed == TemporalConventions("zero", "exact", "nearest")
    assert parsed.differences() == {"dtssd_first_frame": "zero", "messddt_sampling": "nearest"}
    for bad in (["dtssd_first_frame"], ["conn_ties=row-major"]):
        with pytest.raises(UsageError, match="expected NAME=VALUE"):
            TemporalConventions.parse(bad)
    with pytest.raises(UsageError, match="is not one of skip, zero"):
        TemporalConventions(dtssd_first_frame="one")
    still, clip = split_settings(["conn_ties=row-major", "messddt_flow=farneback", "dtssd-first-frame=zero"])
    assert still == ["conn_ties=row-major"] and clip == ["messddt_flow=farneback", "dtssd-first-frame=zero"]
    with pytest.raises(UsageError, match="NAME one of conn_thresholds, .*, messddt_sampling"):
        split_settings(["dtssd=zero"])


def test_registry_declares_units_and_scales():
    assert TEMPORAL_METRICS.names() == ("dtssd", "messddt", "flicker")
    assert [(s.header, s.display_key, s.raw_column) for s in TEMPORAL_METRICS.values()] == [
        ("dtSSD (×10⁻²)", "dtssd_in_1e-2", "dtssd [alpha/frame]"),
        ("MESSDdt (×10⁻⁴)", "messddt_in_1e-4", "messddt [alpha²]"),
        ("Flicker (×10⁻³)", "flicker_in_1e-3", "flicker [alpha]"),
    ]
    preds, gts = _hand_clip()
    assert TEMPORAL_METRICS["dtssd"].compute(preds, gts) == pytest.approx(0.1, abs=1e-15)
    # Frames 1 and 2: three pixels keep their ground truth; one of them goes 0.2 → 0, σ = 0.1.
    assert TEMPORAL_METRICS["flicker"].compute(preds[1:], gts[1:], static=[(0, 2)]) == pytest.approx(0.1 / 3)
