"""The float32 / exact-integer core against the DIM reference values, the frozen float64 core it
replaced (``float64_metrics.py``), the straightforward implementation (``naive_metrics.py``) and
properties: float32's known weak spots (plateaus, small mat2gray ranges, near-cancelling
gradient magnitudes, constant offsets, tiny images), identical Conn codes, exact integer sums,
and results that do not depend on buffer alignment.

Tolerance everywhere: the conformance one, |x − ref| ≤ 1e-5·|ref| + 1e-9 in display units
(raw × 1e3 for means, raw × 1e-3 for sums), tighter where a test says so. Conn codes must be
*identical*.
"""

from __future__ import annotations

from fractions import Fraction

import cv2
import float64_metrics as B
import naive_metrics as naive
import numpy as np
import pytest
from conftest import CONFORMANCE
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy import ndimage

from vbbench.errors import MatteError
from vbbench.metrics import METRICS, Conventions, EmptyRegionError, PairMaps, conn_lower_levels, evaluate
from vbbench.metrics import _kernels as K
from vbbench.metrics import threshold_levels as fast_threshold_levels
from vbbench.metrics.filters import _DIM_DERIVATIVE32, _DIM_SMOOTH32
from vbbench.sample import SIMULATED_MODELS, make_trimap, render_portrait, simulate_prediction

ALL = list(METRICS)
DISPLAY = {name: spec.display_scale for name, spec in METRICS.items()}
SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)


def within(name, value, reference, rel=1e-5):
    """The conformance tolerance, in raw units."""
    return abs(value - reference) <= rel * abs(reference) + 1e-9 / DISPLAY[name]


def assert_close(ours, reference, context=""):
    for region, values in reference.items():
        for name, value in values.items():
            assert within(name, ours[region][name], value), (context, region, name, ours[region][name], value)


def all_conventions():
    for thresholds in ("exact", "float64"):
        for ties in ("column-major", "row-major"):
            for empty in ("stop", "skip"):
                yield dict(conn_thresholds=thresholds, conn_ties=ties, conn_empty=empty)


def load_cases():
    import json

    expected = json.loads((CONFORMANCE / "expected.json").read_text())
    cases = []
    for case in expected["cases"]:
        gt = cv2.imread(str(CONFORMANCE / case["gt"]), cv2.IMREAD_UNCHANGED)
        pred = cv2.imread(str(CONFORMANCE / case["pred"]), cv2.IMREAD_UNCHANGED)
        regions = {"whole": None}
        if case["trimap"]:
            regions["unknown"] = cv2.imread(str(CONFORMANCE / case["trimap"]), cv2.IMREAD_UNCHANGED) == 128
        cases.append((case, pred, gt, regions))
    return cases


CASES = load_cases()
CASE_IDS = [case["id"] for case, *_ in CASES]


def sample_renders():
    """The generated portraits of ``vbbench.sample`` (seed 0, renders 0 … 2, 600×800) with every
    simulated model's prediction and the trimap: [(name, pred, gt, trimap), …], 18 pairs."""
    if not _RENDERS:
        for index in range(3):
            _, gt = render_portrait(0, index)
            trimap = make_trimap(gt)
            for model in SIMULATED_MODELS:
                _RENDERS.append((f"s{index}_{model}", simulate_prediction(gt, model, 0, index), gt, trimap))
    return _RENDERS


_RENDERS: list = []


def conformance_key(key: str) -> str:
    return key.split("_x")[0].replace("_replicate", "")


def blob_levels(rng, shape, blur=2.0, top=10):
    field = ndimage.gaussian_filter(rng.standard_normal(shape), blur)
    field = (field - field.min()) / (np.ptp(field) + 1e-12)
    return np.clip(np.round(field * (top + 2) - 1), 0, top).astype(np.int8)


# ---- the DIM reference values (expected.json) ------------------------------------------------


@pytest.mark.parametrize("index", range(len(CASES)), ids=CASE_IDS)
def test_conformance_values(index):
    case, pred, gt, regions = CASES[index]
    scores = evaluate(pred, gt, regions)
    for region in regions:
        for key, reference in case[region].items():
            name = conformance_key(key)
            value = scores[region][name] * DISPLAY[name]
            assert abs(value - reference) <= 1e-5 * abs(reference) + 1e-9, (case["id"], region, key, value, reference)


def test_conformance_checks_every_reference_value():
    assert sum(len(case[region]) for case, _, _, regions in CASES for region in regions) == 63


@pytest.mark.parametrize("index", range(len(CASES)), ids=CASE_IDS)
def test_conformance_cases_as_16_bit_and_float_give_the_same_values(index):
    """v·257 / 65535 = v / 255 and v / 255.0 are the same alpha: same values, other code paths."""
    case, pred, gt, regions = CASES[index]
    reference = B.evaluate(pred, gt, regions)
    wide = evaluate(pred.astype(np.uint16) * 257, gt.astype(np.uint16) * 257, regions)
    assert_close(wide, reference, "16-bit")
    as_float = evaluate(pred / 255.0, gt / 255.0, regions)
    assert_close(as_float, reference, "float")
    mixed = evaluate(pred, gt.astype(np.uint16) * 257, regions)
    assert_close(mixed, reference, "mixed 8/16-bit")


@pytest.mark.parametrize("index", range(len(CASES)), ids=CASE_IDS)
def test_conformance_cases_match_float64_vbbench_for_every_convention(index):
    case, pred, gt, regions = CASES[index]
    for extra in (
        {},
        dict(grad_rescale="none"),
        dict(sobel_border="reflect"),
        dict(sobel_border="zero"),
        *all_conventions(),
    ):
        conventions = Conventions(**extra)
        ours = evaluate(pred, gt, regions, conventions=conventions)
        assert_close(ours, B.evaluate(pred, gt, regions, conventions=conventions), extra)


# ---- exactness of the integer sums -----------------------------------------------------------


@pytest.mark.parametrize("dtype, code_max", [(np.uint8, 255), (np.uint16, 65535)])
def test_mad_mse_sad_are_the_correctly_rounded_exact_values(dtype, code_max):
    rng = np.random.default_rng(3)
    pred = rng.integers(0, code_max + 1, (57, 91)).astype(dtype)
    gt = rng.integers(0, code_max + 1, (57, 91)).astype(dtype)
    region = rng.random(pred.shape) < 0.3
    difference = pred.astype(np.int64) - gt
    for mask in (None, region):
        d = difference if mask is None else difference[mask]
        exact = {
            "sad": Fraction(int(np.abs(d).sum()), code_max),
            "mad": Fraction(int(np.abs(d).sum()), code_max * d.size),
            "mse": Fraction(int((d * d).sum()), code_max * code_max * d.size),
        }
        scores = evaluate(pred, gt, {"r": mask}, metrics=list(exact))["r"]
        for name, value in exact.items():
            assert scores[name] == float(value), name


def test_integer_sums_do_not_overflow_on_a_large_image():
    pred = np.full((4100, 4100), 255, np.uint8)  # Σ|v − w| = 4.3e9 > 2^32
    gt = np.zeros_like(pred)
    scores = evaluate(pred, gt, metrics=["sad", "mad", "mse"])["whole"]
    assert scores == {"sad": float(pred.size), "mad": 1.0, "mse": 1.0}


def test_sobel_is_exact_for_8_bit_codes():
    """Integer differences and dyadic taps: the float32 filter outputs are exact, so the L1 form
    equals the float64 value up to the float64 sum."""
    case, pred, gt, _ = CASES[1]
    ours = evaluate(pred, gt, metrics=["sobel_l1", "sobel_l2"])["whole"]
    reference = B.evaluate(pred, gt, metrics=["sobel_l1", "sobel_l2"])["whole"]
    assert abs(ours["sobel_l1"] - reference["sobel_l1"]) <= 1e-14 * reference["sobel_l1"]
    assert abs(ours["sobel_l2"] - reference["sobel_l2"]) <= 1e-7 * reference["sobel_l2"]


# ---- the straightforward implementation ----------------------------------------------------


def test_sample_renders_match_float64():
    """The generated portraits (vbbench.sample, seed 0, renders 0 … 2) with every simulated
    model's prediction, whole image and the trimap's unknown band."""
    checked = 0
    for name, pred, gt, trimap in sample_renders():
        regions = {"whole": None, "unknown": trimap == 128}
        assert_close(evaluate(pred, gt, regions), B.evaluate(pred, gt, regions), name)
        checked += 1
    assert checked == 18


@pytest.mark.parametrize(
    "shape, seed, code_max, blur",
    [((64, 80), 0, 255, 3.0), ((101, 77), 1, 255, 1.5), ((48, 64), 2, 65535, 2.0), ((90, 70), 3, 255, 8.0)],
)
def test_matches_the_naive_implementation(shape, seed, code_max, blur):
    rng = np.random.default_rng(seed)
    gt = naive.random_soft_matte(rng, shape, code_max, blur)
    pred = naive.random_soft_matte(rng, shape, code_max, blur)
    region = rng.random(shape) < 0.4
    for mask in (None, region):
        reference = naive.all_metrics(pred, gt, code_max, mask)
        ours = evaluate(pred, gt, {"r": mask})["r"]
        for name in ALL:
            assert within(name, ours[name], float(reference[name])), (name, ours[name], reference[name])


def test_a_prediction_close_to_gt_matches_naive():
    """Differences of one or two codes: the magnitudes of ∇p and ∇g nearly cancel in Grad."""
    rng = np.random.default_rng(5)
    gt = naive.random_soft_matte(rng, (120, 96), 255, 4.0)
    pred = np.clip(gt.astype(np.int16) + rng.integers(-2, 3, gt.shape), 0, 255).astype(np.uint8)
    reference = naive.all_metrics(pred, gt, 255)
    ours = evaluate(pred, gt)["whole"]
    for name in ALL:
        assert within(name, ours[name], float(reference[name])), name


@pytest.mark.parametrize("seed", [0, 1])
def test_every_convention_matches_naive(seed):
    rng = np.random.default_rng(seed)
    gt = naive.random_soft_matte(rng, (70, 90), 255, 3.0)
    pred = naive.random_soft_matte(rng, (70, 90), 255, 3.0)
    p, g = pred / 255.0, gt / 255.0
    for c in all_conventions():
        conn = evaluate(pred, gt, metrics=["conn"], conventions=Conventions(**c))["whole"]["conn"]
        reference = naive.conn(
            pred, gt, 255, thresholds=c["conn_thresholds"], ties=c["conn_ties"], empty=c["conn_empty"]
        )
        assert within("conn", conn, reference), c
    value = evaluate(pred, gt, metrics=["grad"], conventions=Conventions(grad_rescale="none"))["whole"]["grad"]
    assert within("grad", value, naive.grad(p, g, rescale="none"))
    for border in ("replicate", "reflect", "zero"):
        scores = evaluate(pred, gt, metrics=["sobel_l2", "sobel_l1"], conventions=Conventions(sobel_border=border))
        assert within("sobel_l2", scores["whole"]["sobel_l2"], naive.sobel_l2(p, g, border=border))
        assert within("sobel_l1", scores["whole"]["sobel_l1"], naive.sobel_l1(p, g, border=border))


# ---- float32 precision in the hard cases ------------------------------------------------------


def _dents(g):
    pred = g.copy()
    rng = np.random.default_rng(4)
    rows, cols = np.nonzero(cv2.erode(g, np.ones((9, 9), np.uint8)) == 255)
    for index in rng.choice(rows.size, 40, replace=False):
        pred[rows[index] : rows[index] + 2, cols[index] : cols[index] + 2] = 254
    return pred


def test_dents_in_an_opaque_plateau_match_float64():
    """Grad is dominated by one-code dents inside a plateau of 255: a float32 row-derivative
    residue on the plateau would bias it by 4e-5 (see fast._dim_gradient)."""
    gt = np.zeros((200, 200), np.uint8)
    gt[20:180, 20:180] = 255
    pred = _dents(gt)
    inner = np.zeros(gt.shape, bool)
    inner[40:165, 40:165] = True
    regions = {"whole": None, "inner": inner}
    ours, reference = evaluate(pred, gt, regions), B.evaluate(pred, gt, regions)
    assert_close(ours, reference)
    assert abs(ours["inner"]["grad"] - reference["inner"]["grad"]) <= 1e-6 * reference["inner"]["grad"]


def _portrait_pair():
    case, pred, gt, _ = CASES[1]
    return pred, gt


@pytest.mark.parametrize(
    "make",
    [
        lambda g: np.clip(g.astype(np.int16) + 1, 0, 255).astype(np.uint8),  # one code of bias
        lambda g: np.clip(g.astype(np.int16) + 40, 0, 255).astype(np.uint8),  # bias, range changes
        lambda g: (g.astype(np.float64) * 0.9).round().astype(np.uint8),  # scaled: mat2gray undoes it
        lambda g: np.roll(g, 1, axis=1),  # one-pixel shift
        lambda g: 255 - g,  # |∇p| = |∇g| everywhere: Grad is (nearly) 0
        lambda g: cv2.GaussianBlur(g, (0, 0), 0.7),
        _dents,  # one code off in a few spots inside the opaque region
    ],
    ids=["bias1", "bias40", "scaled", "shift", "inverted", "blurred", "dents"],
)
def test_adversarial_predictions_stay_within_tolerance_of_float64(make):
    _, gt = _portrait_pair()
    pred = make(gt)
    trimap = np.zeros(gt.shape, bool)
    trimap[100:400, 200:600] = True
    regions = {"whole": None, "unknown": trimap}
    assert_close(evaluate(pred, gt, regions), B.evaluate(pred, gt, regions))


def test_grad_where_the_two_magnitudes_nearly_cancel():
    """|∇p′| ≈ |∇g′| with p ≈ 1 − g, flipped or noisy: Grad is small next to the gradients, and
    forming ∇p′ + ∇g′ from separately filtered parts would lose 1e-5 (it did, on the first pair)."""
    p = np.array([[0.99861647, 1.0, 1.0, 0.99861528, 0.84005926, 0.27241106, 0.01341019]])
    g = np.array([[0.0, 0.0, 0.0, 0.0, 0.18431373, 0.71372549, 0.95294118]])
    pairs = [(p, g), (p.T.copy(), g.T.copy())]
    rng = np.random.default_rng(8)
    for _ in range(20):
        shape = (int(rng.integers(2, 30)), int(rng.integers(2, 30)))
        gt = naive.random_soft_matte(rng, shape, 255, float(rng.uniform(0.5, 5)))
        pairs.append((np.clip(255 - gt.astype(np.int16) + rng.integers(-2, 3, shape), 0, 255).astype(np.uint8), gt))
        pairs.append((np.ascontiguousarray(gt[::-1, ::-1]), gt))
    for pred, gt in pairs:
        for conventions in (Conventions(), Conventions(grad_rescale="none")):
            ours = evaluate(pred, gt, metrics=["grad"], conventions=conventions)["whole"]["grad"]
            reference = B.evaluate(pred, gt, metrics=["grad"], conventions=conventions)["whole"]["grad"]
            assert abs(ours - reference) <= 1e-6 * reference + 1e-12, (pred.shape, ours, reference)
    _, gt = _portrait_pair()
    inverse = evaluate(255 - gt, gt, metrics=["grad"])["whole"]["grad"]
    assert inverse == 0.0  # ∇(p + g) = ∇255 = 0 exactly (float64 gives rounding noise)


def test_float_alpha_with_a_constant_offset_has_no_spurious_gradient():
    """p = g + 0.05 in float alpha: the difference is constant, so every gradient of it is 0
    (the DIM filters' derivative passes subtract before they multiply)."""
    _, gt = _portrait_pair()
    g = gt[:200, :200] / 255.0 * 0.9
    scores = evaluate(g + 0.05, g, metrics=["sobel_l2", "sobel_l1", "gauss_grad"])["whole"]
    assert scores == {"sobel_l2": 0.0, "sobel_l1": 0.0, "gauss_grad": 0.0}


# ---- Conn codes: identical to today's implementation -----------------------------------------


def assert_same_codes(levels, context=""):
    levels = np.asarray(levels, np.int8)
    for ties in ("column-major", "row-major"):
        for empty in ("stop", "skip"):
            ours = conn_lower_levels(levels, ties, empty)
            reference = B.conn_lower_levels(levels, ties, empty)
            assert ours.dtype == np.int8 and ours.shape == levels.shape
            assert np.array_equal(ours, reference), (context, ties, empty, levels, ours, reference)


@pytest.mark.parametrize("index", range(len(CASES)), ids=CASE_IDS)
def test_conn_codes_on_conformance_cases(index):
    _, pred, gt, _ = CASES[index]
    for thresholds in ("exact", "float64"):
        levels = np.minimum(B.threshold_levels(pred, thresholds), B.threshold_levels(gt, thresholds))
        assert np.array_equal(
            np.minimum(fast_threshold_levels(pred, thresholds), fast_threshold_levels(gt, thresholds)), levels
        )
        assert_same_codes(levels, thresholds)


def test_conn_codes_on_sample_renders():
    for name, pred, gt, _ in sample_renders():
        assert_same_codes(np.minimum(B.threshold_levels(pred), B.threshold_levels(gt)), name)


@settings(max_examples=300, **SETTINGS)
@given(arrays(np.int8, st.tuples(st.integers(1, 9), st.integers(1, 9)), elements=st.integers(0, 10)))
def test_conn_codes_on_random_level_images(levels):
    assert_same_codes(levels)


@settings(max_examples=150, **SETTINGS)
@given(arrays(np.int8, st.tuples(st.integers(1, 14), st.integers(1, 14)), elements=st.sampled_from([0, 0, 4, 7, 10])))
def test_conn_codes_on_sparse_level_images(levels):
    assert_same_codes(levels)


@pytest.mark.parametrize("seed", range(12))
def test_conn_codes_on_blobs(seed):
    rng = np.random.default_rng(seed)
    shape = tuple(rng.integers(20, 90, 2))
    for blur, top in ((1.0, 10), (2.5, 10), (4.0, 7), (1.5, 3)):
        assert_same_codes(blob_levels(rng, shape, blur, top), (seed, blur, top))


@pytest.mark.parametrize("seed", range(20))
def test_conn_ties_between_equal_components_in_every_order(seed):
    """Several equally large squares, at random places and levels, some nested in a lower
    plateau and some alone, so ties fall inside and outside Ω_(k−1) in both scan orders."""
    rng = np.random.default_rng(seed)
    levels = np.zeros((40, 52), np.int8)
    if seed % 2:
        levels[2:30, 3:40] = rng.integers(1, 6)  # a plateau holding some of the squares
    side = int(rng.integers(2, 6))
    for _ in range(int(rng.integers(2, 6))):
        r, c = rng.integers(0, 40 - side), rng.integers(0, 52 - side)
        levels[r : r + side, c : c + side] = rng.integers(5, 11)
    assert_same_codes(levels, seed)
    assert_same_codes(levels.T, seed)
    assert_same_codes(levels[::-1], seed)
    assert_same_codes(levels[:, ::-1], seed)


def test_conn_tie_between_inside_and_outside_components():
    """Ω_5 holds a 3×3 square of level 8; an equal square of level 8 stands alone. At k = 6 they
    tie; the first in the chosen order wins, and if that is the outside one, Ω_6 is disjoint
    from Ω_5 and every pixel of Ω_5 stops at code 5."""
    base = np.zeros((12, 12), np.int8)
    base[1:8, 1:8] = 5
    base[2:5, 2:5] = 8
    for r, c in ((9, 0), (0, 9), (9, 9), (8, 8)):
        levels = base.copy()
        levels[r : r + 3, c : c + 3] = 8
        assert_same_codes(levels, (r, c))
        assert_same_codes(levels.T, (r, c))


@pytest.mark.parametrize(
    "levels",
    [
        np.zeros((5, 7)),  # empty from t_1
        np.full((5, 7), 10),  # all one
        np.full((6, 4), 6),  # t_7 … t_10 empty
        np.full((1, 1), 10),
        np.full((1, 1), 0),
        np.full((1, 1), 3),
        np.array([[10, 0, 10, 0, 10]]),  # 1 pixel high: three single-pixel ties
        np.array([[10], [0], [10], [10]]),  # 1 pixel wide
        np.tile([10, 0, 5, 5, 0, 10, 10], (1, 3)),
        (np.indices((9, 9)).sum(0) % 2) * 10,  # checkerboard: only diagonal contacts
        np.tril(np.full((8, 8), 10)) - np.tril(np.full((8, 8), 10), -1),  # a diagonal line
    ],
    ids=lambda a: f"{np.shape(a)}",
)
def test_conn_codes_on_structured_images(levels):
    assert_same_codes(levels)


@settings(max_examples=60, **SETTINGS)
@given(st.integers(1, 60), st.integers(1, 3), st.integers(0, 2**32 - 1))
def test_conn_codes_on_thin_images(length, width, seed):
    rng = np.random.default_rng(seed)
    levels = rng.choice([0, 2, 5, 10], (length, width)).astype(np.int8)
    assert_same_codes(levels)
    assert_same_codes(levels.T)


@pytest.mark.parametrize("kind", ["uint16", "float", "bool"])
def test_conn_codes_and_values_for_other_input_types(kind):
    rng = np.random.default_rng(11)
    gt8 = naive.random_soft_matte(rng, (60, 75), 255, 2.0)
    pred8 = naive.random_soft_matte(rng, (60, 75), 255, 2.0)
    if kind == "uint16":
        gt, pred = (
            naive.random_soft_matte(rng, (60, 75), 65535, 2.0),
            naive.random_soft_matte(rng, (60, 75), 65535, 2.0),
        )
    elif kind == "float":
        gt, pred = np.clip(gt8 / 255.0 + rng.normal(0, 1e-4, gt8.shape), 0, 1), pred8 / 255.0
    else:
        gt, pred = gt8 > 128, pred8 > 100
    for thresholds in ("exact", "float64"):
        levels = np.minimum(B.threshold_levels(pred, thresholds), B.threshold_levels(gt, thresholds))
        assert np.array_equal(
            np.minimum(fast_threshold_levels(pred, thresholds), fast_threshold_levels(gt, thresholds)), levels
        )
        assert_same_codes(levels, (kind, thresholds))
    for c in all_conventions():
        conventions = Conventions(**c)
        ours = evaluate(pred, gt, metrics=["conn"], conventions=conventions)["whole"]["conn"]
        assert within("conn", ours, B.evaluate(pred, gt, metrics=["conn"], conventions=conventions)["whole"]["conn"])


def test_conn_codes_on_a_full_size_noisy_case():
    _, pred, gt, _ = CASES[1]
    levels = np.minimum(B.threshold_levels(pred), B.threshold_levels(gt))
    noisy = levels.copy()
    rng = np.random.default_rng(0)
    holes = rng.random(levels.shape) < 0.05
    noisy[holes] = rng.integers(0, 11, int(holes.sum()))
    assert_same_codes(noisy)


def test_threshold_levels_examples_and_16_bit():
    codes = np.arange(65536, dtype=np.uint16).reshape(256, 256)
    assert np.array_equal(fast_threshold_levels(codes), B.threshold_levels(codes))
    assert np.array_equal(fast_threshold_levels(codes, "float64"), B.threshold_levels(codes, "float64"))
    codes8 = np.arange(256, dtype=np.uint8).reshape(16, 16)
    for thresholds in ("exact", "float64"):
        assert np.array_equal(fast_threshold_levels(codes8, thresholds), B.threshold_levels(codes8, thresholds))
        alpha = codes8 / 255.0
        assert np.array_equal(fast_threshold_levels(alpha, thresholds), B.threshold_levels(alpha, thresholds))


# ---- identical mattes -----------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["uint8", "uint16", "float", "bool"])
def test_identical_mattes_score_exactly_zero(kind):
    _, pred, gt, _ = CASES[2]
    matte = {"uint8": gt, "uint16": gt.astype(np.uint16) * 257, "float": gt / 255.0, "bool": gt > 127}[kind]
    copy = np.asfortranarray(matte)  # the same values in another buffer and layout
    regions = {"whole": None, "unknown": CASES[2][3]["unknown"]}
    for extra in ({}, dict(grad_rescale="none"), dict(sobel_border="zero"), *all_conventions()):
        scores = evaluate(matte, copy, regions, conventions=Conventions(**extra))
        for region in regions:
            assert scores[region] == dict.fromkeys(ALL, 0.0), (kind, extra, region, scores[region])


def test_same_inputs_in_differently_aligned_buffers_give_bit_identical_results():
    _, pred, gt, regions = CASES[1]

    def offset(array, shift):
        buffer = np.empty(array.nbytes + 64, np.uint8)
        view = buffer[shift : shift + array.nbytes].view(array.dtype).reshape(array.shape)
        view[...] = array
        return view

    reference = evaluate(pred, gt)
    for kind in ("uint8", "float"):
        p, g = (pred, gt) if kind == "uint8" else (pred / 255.0, gt / 255.0)
        base = evaluate(p, g)
        for shift in (1, 3, 4, 8, 12, 20):
            s = shift if kind == "uint8" else 8 * (shift % 8)
            assert evaluate(offset(p, s), offset(g, s + 8)) == base, (kind, shift)
    assert reference == evaluate(pred.copy(), gt.copy())


# ---- cv2.magnitude and buffer alignment -------------------------------------------------------


def _offset_float32(array, elements):
    """A copy of ``array`` starting ``elements`` float32 past a 64-byte boundary."""
    buffer = np.empty(array.size + 32, np.float32)
    start = (-buffer.ctypes.data % 64) // 4 + elements
    view = buffer[start : start + array.size].reshape(array.shape)
    view[...] = array
    return view


def test_cv2_magnitude_depends_on_buffer_alignment_and_the_kernel_does_not():
    """Why the magnitudes are computed by ``_kernels.magnitude`` and not ``cv2.magnitude``.

    The same float32 inputs, with the *output* buffer starting 1, 2 or 3 elements past a 64-byte
    boundary instead of on it: cv2.magnitude's SIMD body and its scalar head and tail then
    cover different elements, and they round differently (3 pixels of 600×800, by up to 2 ulp,
    on this machine). From Python the output is a numpy allocation, aligned to 16 bytes only,
    so which one happens varies from call to call: identical images could get different
    gradient magnitudes. The numba kernel does the same float32 IEEE operations (no FMA
    contraction, no reassociation) on every element: bit-identical for every offset of inputs
    and output, within 2 ulp of √(x² + y²) like cv2.magnitude, and about as fast
    (``bench.py --magnitude``: ~0.1 ms at 600×800 for both, numpy's three passes ~0.3 ms).
    """
    rng = np.random.default_rng(0)
    x = rng.standard_normal((600, 800)).astype(np.float32)
    y = rng.standard_normal((600, 800)).astype(np.float32)
    exact = np.sqrt(x.astype(np.float64) ** 2 + y.astype(np.float64) ** 2)
    zeros = np.zeros_like(x)
    reference_cv = cv2.magnitude(_offset_float32(x, 0), _offset_float32(y, 0), _offset_float32(zeros, 0))
    reference_kernel = _offset_float32(zeros, 0)
    K.magnitude(_offset_float32(x, 0), _offset_float32(y, 0), reference_kernel, 0, 600, 0, 800)
    cv_differences = {}
    for in_offset in range(4):
        for out_offset in range(4):
            xo, yo = _offset_float32(x, in_offset), _offset_float32(y, in_offset)
            ours = _offset_float32(zeros, out_offset)
            K.magnitude(xo, yo, ours, 0, 600, 0, 800)
            assert np.array_equal(ours.view(np.int32), reference_kernel.view(np.int32)), (in_offset, out_offset)
            theirs = cv2.magnitude(xo, yo, _offset_float32(zeros, out_offset))
            ulps = np.abs(theirs.view(np.int32) - reference_cv.view(np.int32))
            if ulps.any():
                cv_differences[(in_offset, out_offset)] = (int(np.count_nonzero(ulps)), int(ulps.max()))
    ulp = np.spacing(exact.astype(np.float32)).astype(np.float64)
    assert np.max(np.abs(reference_kernel - exact) / ulp) <= 2.0
    if not cv_differences:
        pytest.skip("cv2.magnitude gives the same bits for every buffer offset on this CPU / OpenCV build")
    # Recorded on the development machine (AVX2, OpenCV 4.14): {(i, o): (3, 2) for o in 1, 2, 3}.
    assert all(1 <= ulps <= 4 for _, ulps in cv_differences.values()), cv_differences


def test_every_float_kernel_is_alignment_independent():
    rng = np.random.default_rng(1)
    a, b, c, d = (rng.standard_normal((37, 53)).astype(np.float32) for _ in range(4))
    kernels = {
        "grad_error": lambda a, b, c, d, out: K.grad_error(a, b, c, d, out),
        "magnitude": lambda a, b, c, d, out: K.magnitude(a, b, out, 2, 30, 3, 50),
        "magnitude_squared": lambda a, b, c, d, out: K.magnitude_squared(a, b, out),
    }
    for name, kernel in kernels.items():
        reference = np.empty_like(a)
        reference_total = kernel(a, b, c, d, reference)
        for elements in range(1, 8):
            out = _offset_float32(np.zeros_like(a), (elements * 3) % 8)
            total = kernel(*(_offset_float32(v, elements) for v in (a, b, c, d)), out)
            assert np.array_equal(out.view(np.int32), reference.view(np.int32)), (name, elements)
            assert total == reference_total, (name, elements)
    total = K.total_float(a, np.ones((1, 1), bool), False)
    mask = b > 0
    masked = K.total_float(a, mask, True)
    for elements in range(1, 8):
        assert K.total_float(_offset_float32(a, elements), np.ones((1, 1), bool), False) == total
        assert K.total_float(_offset_float32(a, elements), mask, True) == masked
    # the DIM filter
    padded_dim = cv2.copyMakeBorder(codes_dim := (a * 60).round().astype(np.float32), 4, 4, 4, 4, cv2.BORDER_REPLICATE)
    gx, gy = np.empty_like(a), np.empty_like(a)
    K.dim_gradient(padded_dim, True, _DIM_SMOOTH32, _DIM_DERIVATIVE32, gx, gy)
    for elements in range(1, 8):
        gxo, gyo = _offset_float32(np.zeros_like(a), elements), _offset_float32(np.zeros_like(a), 8 - elements)
        K.dim_gradient(_offset_float32(padded_dim, elements), True, _DIM_SMOOTH32, _DIM_DERIVATIVE32, gxo, gyo)
        assert np.array_equal(gxo.view(np.int32), gx.view(np.int32)) and np.array_equal(
            gyo.view(np.int32), gy.view(np.int32)
        )
    assert codes_dim.shape == a.shape
    # the fused Sobel kernels (maps and totals)
    codes = (a * 60).astype(np.int16)
    padded = cv2.copyMakeBorder(codes, 1, 1, 1, 1, cv2.BORDER_REPLICATE)
    sobel_codes = lambda image, l2, l1: K.sobel_codes(image, l2, l1, True, True)  # noqa: E731
    for kernel, image in ((sobel_codes, padded), (K.sobel_alpha, padded / 255.0)):
        l2, l1 = np.empty_like(a), np.empty_like(a)
        reference = kernel(image, l2, l1)
        for elements in range(1, 8):
            buffer = np.empty(image.size + 8, image.dtype)
            shifted = buffer[elements : elements + image.size].reshape(image.shape)
            shifted[...] = image
            l2o, l1o = _offset_float32(np.zeros_like(a), elements), _offset_float32(np.zeros_like(a), 7 - elements)
            assert kernel(shifted, l2o, l1o) == reference
            assert np.array_equal(l2o.view(np.int32), l2.view(np.int32)) and np.array_equal(l1o, l1)


# ---- regions, errors, maps --------------------------------------------------------------------


def test_empty_region_is_an_error_for_means_and_zero_for_sums():
    gt = np.zeros((20, 20), np.uint8)
    gt[5:15, 5:15] = 200
    empty = np.zeros(gt.shape, bool)
    scores = evaluate(gt, gt, {"empty": empty}, metrics=["sad", "grad", "conn"])
    assert scores == {"empty": {"sad": 0.0, "grad": 0.0, "conn": 0.0}}
    for name in ("mad", "mse", "sobel_l2", "sobel_l1", "gauss_grad"):
        with pytest.raises(EmptyRegionError, match=f"{name}: the region holds no pixel"):
            evaluate(gt, gt, {"empty": empty}, metrics=[name])


def test_bad_inputs_name_the_problem():
    good = np.zeros((10, 10), np.uint8)
    with pytest.raises(ValueError, match="differ in shape"):
        evaluate(good, np.zeros((10, 11), np.uint8))
    colour = np.dstack([good, good + 1, good])
    with pytest.raises(MatteError, match="3 colour channels with different values"):
        evaluate(colour, colour)
    with pytest.raises(MatteError, match="got shape \\(10, 10, 5\\)"):
        evaluate(np.zeros((10, 10, 5), np.uint8), np.zeros((10, 10, 5), np.uint8))
    with pytest.raises(MatteError, match="unsupported matte dtype"):
        evaluate(good.astype(np.int32), good.astype(np.int32))
    with pytest.raises(ValueError, match="NaN"):
        evaluate(np.full((10, 10), np.nan), np.zeros((10, 10)))
    with pytest.raises(TypeError, match="boolean mask"):
        evaluate(good, good, {"r": good})
    with pytest.raises(ValueError, match="unknown metric 'psnr'"):
        evaluate(good, good, metrics=["psnr"])
    with pytest.raises(ValueError, match="gauss_grad needs images larger"):
        evaluate(np.zeros((8, 30), np.uint8), np.zeros((8, 30), np.uint8), metrics=["gauss_grad"])


def test_maps_equal_the_float64_maps():
    _, pred, gt, _ = CASES[1]
    ours, reference = PairMaps(pred, gt), B._Pair(pred, gt)
    for method in ("difference", "absolute", "squared", "conn_map"):
        assert np.allclose(getattr(ours, method)(), getattr(reference, method)(), rtol=1e-12, atol=1e-15), method
    for method in ("grad_map", "sobel_l2_map", "sobel_l1_map", "gauss_grad_map"):
        a, b = getattr(ours, method)(), getattr(reference, method)()
        assert a.shape == b.shape and np.abs(a - b).max() <= 1e-5 * np.abs(b).max(), method


# ---- properties ---------------------------------------------------------------------------------


@settings(max_examples=40, **SETTINGS)
@given(
    st.sampled_from(["uint8", "uint16", "float", "bool", "mixed"]),
    st.integers(10, 40),
    st.integers(10, 40),
    st.integers(0, 2**32 - 1),
)
def test_random_pairs_match_float64(kind, height, width, seed):
    rng = np.random.default_rng(seed)
    code_max = 65535 if kind == "uint16" else 255
    gt = naive.random_soft_matte(rng, (height, width), code_max, float(rng.uniform(0.5, 4)))
    pred = naive.random_soft_matte(rng, (height, width), code_max, float(rng.uniform(0.5, 4)))
    if kind == "float":
        gt, pred = gt / 255.0, np.clip(pred / 255.0 + rng.normal(0, 0.01, pred.shape), 0, 1)
    elif kind == "bool":
        gt, pred = gt > 100, pred > 150
    elif kind == "mixed":
        gt = gt.astype(np.uint16) * 257
    region = rng.random((height, width)) < 0.5
    regions = {"whole": None, "r": region}
    for extra in ({}, dict(grad_rescale="none"), dict(sobel_border="reflect")):
        conventions = Conventions(**extra)
        assert_close(
            evaluate(pred, gt, regions, conventions=conventions),
            B.evaluate(pred, gt, regions, conventions=conventions),
            (kind, extra),
        )


@settings(max_examples=40, **SETTINGS)
@given(arrays(np.uint8, st.tuples(st.integers(10, 24), st.integers(10, 24))), st.integers(0, 2**32 - 1))
def test_arbitrary_8_bit_pairs_match_float64(gt, seed):
    rng = np.random.default_rng(seed)
    pred = rng.integers(0, 256, gt.shape).astype(np.uint8)
    same = rng.random(gt.shape) < 0.5
    pred[same] = gt[same]
    assert_close(evaluate(pred, gt), B.evaluate(pred, gt))
    assert_close(evaluate(gt, gt), B.evaluate(gt, gt))


def test_numba_is_imported_only_when_a_metric_is_computed():
    """Commands that only read the declarations (``vbbench --help``, ``leaderboard``, ``metrics``)
    do not pay numba's import (~0.3 s) and start-up (~0.5 s)."""
    import subprocess
    import sys

    code = (
        "import sys, numpy as np; import vbbench.metrics, vbbench.cli, vbbench.score;"
        "print('numba' in sys.modules);"
        "vbbench.metrics.mad(np.zeros((2, 2), np.uint8), np.zeros((2, 2), np.uint8));"
        "print('numba' in sys.modules)"
    )
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert output.split() == ["False", "True"]


@settings(max_examples=80, **SETTINGS)
@given(st.sampled_from(["uint8", "uint16", "float"]), st.integers(1, 9), st.integers(1, 9), st.integers(0, 2**32 - 1))
def test_tiny_noise_images_match_float64(kind, height, width, seed):
    """Noise of a few pixels is float32's hardest case: the filters' sums cancel and one pixel can
    carry the whole Grad (the worst seen in 8,600 random pairs: 9e-7, on a 1×5 float pair)."""
    rng = np.random.default_rng(seed)
    code_max = {"uint8": 255, "uint16": 65535, "float": 1}[kind]
    if kind == "float":
        pred, gt = rng.random((height, width)), rng.random((height, width))
    else:
        dtype = np.uint8 if kind == "uint8" else np.uint16
        pred, gt = (rng.integers(0, code_max + 1, (height, width)).astype(dtype) for _ in range(2))
    names = [name for name in ALL if name != "gauss_grad"]  # its 'VALID' filter needs more than 8×8
    for extra in ({}, dict(grad_rescale="none")):
        conventions = Conventions(**extra)
        ours = evaluate(pred, gt, metrics=names, conventions=conventions)
        assert_close(ours, B.evaluate(pred, gt, metrics=names, conventions=conventions), (kind, extra))


def test_a_new_metric_is_reduced_from_its_declared_map():
    """A metric whose map PairMaps does not reduce itself (what "add a metric" in
    docs/architecture.md declares) goes through ``per_pixel`` and a float64 sum, margin included."""
    import dataclasses

    from vbbench.metrics import MetricSpec

    rng = np.random.default_rng(6)
    gt = naive.random_soft_matte(rng, (40, 50), 255, 3.0)
    pred = naive.random_soft_matte(rng, (40, 50), 255, 3.0)
    region = rng.random(gt.shape) < 0.5

    def absolute_in_foreground(maps):
        return maps.absolute() * (maps.gt > 0)

    spec = dataclasses.replace(METRICS["mad"], name="mad_fg", per_pixel=absolute_in_foreground)
    assert isinstance(spec, MetricSpec)
    error = np.abs(pred / 255.0 - gt / 255.0) * (gt > 0)
    pair = PairMaps(pred, gt)
    assert pair.reduce(spec, None) == pytest.approx(error.mean(), rel=1e-12)
    assert pair.reduce(spec, region) == pytest.approx(error[region].mean(), rel=1e-12)
    framed = dataclasses.replace(spec, reduction="sum", valid_margin_px=3)
    assert pair.reduce(framed, region) == pytest.approx(error[3:-3, 3:-3][region[3:-3, 3:-3]].sum(), rel=1e-12)
    with pytest.raises(EmptyRegionError, match="mad_fg: the region holds no pixel"):
        pair.reduce(spec, np.zeros(gt.shape, bool))
