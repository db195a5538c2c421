"""The metrics against hand-worked values, the shared reference values, an independent
straightforward implementation (tests/naive_metrics.py) and properties."""

from __future__ import annotations

import math

import cv2
import naive_metrics as naive
import numpy as np
import pytest
from conftest import CONFORMANCE, FLOAT64_REL
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from vbbench import metrics
from vbbench.metrics import METRICS, EmptyRegionError, evaluate

ALL = list(METRICS)

REL = FLOAT64_REL


def close(value, reference, rel=1e-9, abs_=1e-12):
    return abs(value - reference) <= rel * abs(reference) + abs_


# ---- the shared reference values (DIM semantics, cross-checked against the MATLAB code) -----


def _conformance_key(key: str) -> str:
    return key.split("_x")[0].replace("_replicate", "")


def test_conformance_cases_match_reference_values(conformance_cases):
    checked = 0
    for case in conformance_cases["cases"]:
        gt = cv2.imread(str(CONFORMANCE / case["gt"]), cv2.IMREAD_UNCHANGED)
        pred = cv2.imread(str(CONFORMANCE / case["pred"]), cv2.IMREAD_UNCHANGED)
        regions = {"whole": None}
        if case["trimap"]:
            regions["unknown"] = cv2.imread(str(CONFORMANCE / case["trimap"]), cv2.IMREAD_UNCHANGED) == 128
        scores = evaluate(pred, gt, regions)
        for region in regions:
            for key, reference in case[region].items():
                name = _conformance_key(key)
                value = scores[region][name] * METRICS[name].display_scale
                # the tolerance expected.json states
                assert abs(value - reference) <= 1e-5 * abs(reference) + 1e-9, (case["id"], region, key)
                checked += 1
    assert checked == 63


def test_display_scales_match_the_conformance_units(conformance_cases):
    # expected.json names a displayed value by its multiplier (mad_x1e3 = 1e3 · MAD); vbbench names it
    # by the unit the number is counted in (mad_in_1e-3: 12.3 stands for 0.0123), the papers' way.
    keys = set(conformance_cases["cases"][1]["whole"])
    for key in keys:
        name, multiplier = _conformance_key(key), float(key.split("_x")[1].split("_")[0])
        assert METRICS[name].display_scale == multiplier, key
        exponent = -round(math.log10(multiplier))
        assert METRICS[name].display_key == f"{name}_in_1e{exponent}", key
        assert METRICS[name].header.endswith(
            f"(×10{str(exponent).translate(str.maketrans('-0123456789', '⁻⁰¹²³⁴⁵⁶⁷⁸⁹'))})"
        )


# ---- values worked out by hand --------------------------------------------------------------


def test_mad_mse_sad_by_hand():
    pred = np.array([[0, 255], [51, 102]], np.uint8)  # 0, 1, 0.2, 0.4
    gt = np.array([[255, 255], [0, 0]], np.uint8)  # 1, 1, 0, 0
    # |d| = 1, 0, 0.2, 0.4
    assert close(metrics.sad(pred, gt), 1.6)
    assert close(metrics.mad(pred, gt), 0.4)
    assert close(metrics.mse(pred, gt), (1 + 0 + 0.04 + 0.16) / 4)
    region = np.array([[False, False], [True, True]])
    assert close(metrics.sad(pred, gt, region), 0.6)
    assert close(metrics.mse(pred, gt, region), 0.1)


def test_sixteen_bit_inputs_are_divided_by_65535():
    pred = np.array([[65535, 13107]], np.uint16)  # 1.0, 0.2
    gt = np.zeros((1, 2), np.uint16)
    assert close(metrics.sad(pred, gt), 1.2)


def test_sobel_on_a_ramp_by_hand():
    # p − g = 0.25·column: S∗ramp is −0.25 inside (|S|/8 over a slope 0.25 per pixel) and
    # −0.125 at the replicated left and right borders; Sᵀ∗ramp = 0 (constant down columns).
    ramp = np.tile(np.arange(4) * 0.25, (4, 1))
    dx, dy = metrics.sobel_gradient(ramp)
    assert np.allclose(dx, np.tile([-0.125, -0.25, -0.25, -0.125], (4, 1)), atol=1e-15)
    assert np.allclose(dy, 0.0, atol=1e-15)
    zero = np.zeros((4, 4))
    assert close(metrics.sobel_l2(ramp, zero), (0.125 + 0.25 + 0.25 + 0.125) / 4)
    assert close(metrics.sobel_l1(ramp, zero), 0.5 * 0.1875)


def test_conn_by_hand_exact_threshold_at_153():
    # 153/255 = 0.6 exactly: p passes t_6, so pixel 1 leaves at k = 7 and l = 0.6.
    # φ_p = 1 − 0·[…] = 1, φ_g = 1 − (1 − 0.6) = 0.6 → Conn = 0.4. (A float64 np.arange
    # threshold 0.6000000000000001 rejects 153 at k = 6, gives l = 0.5 and Conn = 0.5.)
    gt = np.array([[255, 255]], np.uint8)
    pred = np.array([[255, 153]], np.uint8)
    assert close(metrics.conn(pred, gt), 0.4)
    assert close(metrics.conn(pred / 255.0, gt / 255.0), 0.4)  # float inputs behave the same
    assert close(metrics.conn(pred.astype(np.uint16) * 257, gt.astype(np.uint16) * 257), 0.4)


def test_conn_by_hand_split_component():
    # p = [1, 0.4, 1], g = [1, 1, 0.8]. Up to k = 4 all three pixels form Ω. At k = 5 the middle
    # pixel drops out: two 1-pixel components tie; MATLAB keeps the first in column order (pixel
    # 0). Pixels 1 and 2 get l = 0.4; pixel 0 never leaves (l = 1).
    # pixel 1: d_p = 0 → φ 1, d_g = 0.6 → φ 0.4: 0.6.  pixel 2: d_p = 0.6 → φ 0.4, d_g = 0.4 →
    # φ 0.6: 0.2. pixel 0: 0. Conn = 0.8.
    pred = np.array([[255, 102, 255]], np.uint8)
    gt = np.array([[255, 255, 204]], np.uint8)
    assert close(metrics.conn(pred, gt), 0.8)


def test_conn_all_zero_prediction_is_the_sum_of_confident_gt():
    # p = 0 leaves every M_k empty, so l = 0 everywhere: φ_p = 1, φ_g = 1 − g·[g ≥ 0.15].
    rng = np.random.default_rng(3)
    gt = naive.random_soft_matte(rng, (64, 48))
    a = gt / 255.0
    expected = float(np.sum(a * (a >= 0.15)))
    assert close(metrics.conn(np.zeros_like(gt), gt), expected)


def test_conn_ties_break_in_column_major_order():
    # Two 20×20 squares: A at the top right, B at the bottom left. Row-major labelling meets A
    # first; MATLAB (column-major) meets B first and keeps B. The grey pixel inside A then has
    # l = 1 only if A is kept, changing Conn.
    gt = np.zeros((60, 60), np.uint8)
    gt[5:25, 35:55] = 255
    gt[35:55, 5:25] = 255
    pred = gt.copy()
    pred[10, 40] = 200  # inside A: its own φ depends on whether A is Ω
    levels = np.minimum(metrics.threshold_levels(pred), metrics.threshold_levels(gt))
    lower = metrics.conn_lower_levels(levels)
    assert lower[40, 10] == 10  # B kept to the end
    assert lower[6, 36] == 0  # A is not Ω_1
    assert close(metrics.conn(pred, gt), naive.conn(pred, gt, 255))


def test_grad_of_a_vertical_step_by_hand():
    # p = 0 left of column 10, 1 from there on (20×20); g = 0 has zero gradient. Columns are
    # constant, so gy = 0 and the vertical smoothing sums G: gx(x) = ΣG · Σ_j G'(j) p(x − j) / N
    # (true convolution, p replicated past the borders), N = ‖G‖₂·‖G'‖₂.
    sigma, half = 1.4, 4
    taps = range(-half, half + 1)
    gauss = {j: math.exp(-j * j / (2 * sigma**2)) / (sigma * math.sqrt(2 * math.pi)) for j in taps}
    dgauss = {j: -j * gauss[j] / sigma**2 for j in taps}
    norm = math.sqrt(sum(v * v for v in gauss.values())) * math.sqrt(sum(v * v for v in dgauss.values()))
    step = [0.0] * 10 + [1.0] * 10
    total = 0.0
    for x in range(20):
        gx = sum(gauss.values()) * sum(dgauss[j] * step[min(max(x - j, 0), 19)] for j in taps) / norm
        total += 20 * gx * gx  # 20 identical rows
    pred = np.tile(np.array(step), (20, 1))
    assert close(metrics.grad(pred, np.zeros((20, 20))), total, rel=REL["grad"])


def test_gauss_grad_of_a_vertical_step_by_hand():
    # MMNet: sum-1 Gaussian g(i)g(j), gx = −x·g/σ², correlation over the valid 12×12 interior of
    # a 20×20 image. Rows are constant: gy = 0, gx(x) = Σ_j (−j·g(j)/σ²) p(x + j).
    sigma = 1.4
    weights = {j: math.exp(-j * j / (2 * sigma**2)) for j in range(-4, 5)}
    total_weight = sum(weights.values())
    g = {j: w / total_weight for j, w in weights.items()}
    step = [0.0] * 10 + [1.0] * 10
    per_column = [abs(sum(-j * g[j] / sigma**2 * step[x + j] for j in g)) for x in range(4, 16)]
    pred = np.tile(np.array(step), (20, 1))
    assert close(metrics.gauss_grad(pred, np.zeros((20, 20))), sum(per_column) / len(per_column), rel=REL["gauss_grad"])


def test_all_zero_prediction_by_hand():
    gt = naive.random_soft_matte(np.random.default_rng(9), (30, 40))
    zero = np.zeros_like(gt)
    a = gt / 255.0
    assert close(metrics.mad(zero, gt), a.mean())
    assert close(metrics.sad(zero, gt), a.sum())
    assert close(metrics.mse(zero, gt), (a * a).mean())


def test_grad_kernel_matches_the_matlab_construction():
    smooth, derivative = metrics.dim_gradient_kernels()
    assert smooth.shape == (9,)
    hx = np.outer(smooth, derivative)
    reference = np.array([[naive._gauss(i, 1.4) * naive._dgauss(j, 1.4) for j in range(-4, 5)] for i in range(-4, 5)])
    reference /= np.sqrt(np.sum(reference**2))
    assert np.allclose(hx, reference, rtol=1e-13, atol=1e-16)
    assert close(np.linalg.norm(hx), 1.0)


def test_grad_is_invariant_to_min_max_rescaling():
    rng = np.random.default_rng(5)
    gt = naive.random_soft_matte(rng, (50, 40)) / 255.0
    assert metrics.grad(0.5 * gt + 0.25, gt) < 1e-20  # mat2gray undoes the affine map


# ---- against the independent straightforward implementation ----------------------------------


@pytest.mark.parametrize(
    "shape, seed, code_max, blur",
    [
        ((37, 53), 1, 255, 3.0),
        ((101, 77), 2, 255, 5.0),
        ((800, 600), 3, 255, 12.0),
        ((144, 256), 4, 65535, 6.0),
        ((240, 320), 5, 255, 1.0),
    ],
)
def test_fast_metrics_equal_the_naive_implementation(shape, seed, code_max, blur):
    rng = np.random.default_rng(seed)
    gt = naive.random_soft_matte(rng, shape, code_max, blur)
    pred = naive.random_soft_matte(rng, shape, code_max, blur)
    region = rng.random(shape) < 0.3
    fast = evaluate(pred, gt, {"whole": None, "unknown": region})
    for name, region_mask in (("whole", None), ("unknown", region)):
        reference = naive.all_metrics(pred, gt, code_max, region_mask)
        for metric in ALL:
            assert close(fast[name][metric], reference[metric], rel=REL[metric], abs_=1e-12), (name, metric)


def test_prediction_close_to_gt_matches_naive_including_conn():
    # A realistic case: the prediction is a blurred, noisy copy of the ground truth, so Conn's
    # components shrink threshold by threshold inside the previous one.
    rng = np.random.default_rng(11)
    gt = naive.random_soft_matte(rng, (300, 200), 255, 10.0)
    noisy = cv2.GaussianBlur(gt.astype(np.float64), (0, 0), 2.0) + rng.normal(0, 8, gt.shape)
    pred = np.clip(np.round(noisy), 0, 255).astype(np.uint8)
    reference = naive.all_metrics(pred, gt, 255)
    fast = evaluate(pred, gt)["whole"]
    for metric in ALL:
        assert close(fast[metric], reference[metric], rel=REL[metric]), metric


def test_float_inputs_equal_integer_inputs():
    rng = np.random.default_rng(7)
    gt = naive.random_soft_matte(rng, (90, 70))
    pred = naive.random_soft_matte(rng, (90, 70))
    as_int = evaluate(pred, gt)["whole"]
    as_float = evaluate(pred / 255.0, gt / 255.0)["whole"]
    for metric in ALL:
        assert close(as_float[metric], as_int[metric], rel=REL[metric], abs_=1e-12), metric


@pytest.mark.slow
def test_full_hd_matches_the_naive_implementation():
    rng = np.random.default_rng(1080)
    gt = naive.random_soft_matte(rng, (1080, 1920), 255, 20.0)
    pred = naive.random_soft_matte(rng, (1080, 1920), 255, 20.0)
    reference = naive.all_metrics(pred, gt, 255)
    fast = evaluate(pred, gt)["whole"]
    for metric in ALL:
        assert close(fast[metric], reference[metric], rel=REL[metric]), metric


# ---- properties --------------------------------------------------------------------------------

mattes = st.integers(min_value=12, max_value=40).flatmap(
    lambda h: st.integers(min_value=12, max_value=40).flatmap(
        lambda w: st.tuples(
            arrays(np.uint8, (h, w), elements=st.sampled_from([0, 0, 30, 76, 128, 153, 200, 255, 255])),
            arrays(np.uint8, (h, w), elements=st.sampled_from([0, 0, 30, 76, 128, 153, 200, 255, 255])),
        )
    )
)


@settings(max_examples=60, deadline=None)
@given(mattes)
def test_properties(pair):
    pred, gt = pair
    forward = evaluate(pred, gt)["whole"]
    backward = evaluate(gt, pred)["whole"]
    identical = evaluate(gt, gt)["whole"]
    for metric in ALL:
        assert identical[metric] == 0.0, metric
        assert close(forward[metric], backward[metric]), metric  # every metric is symmetric
        assert forward[metric] >= 0.0
    assert 0.0 <= forward["mad"] <= 1.0
    assert forward["mse"] <= forward["mad"] + 1e-15  # |d| ≤ 1 ⇒ d² ≤ |d|
    assert close(forward["sad"], forward["mad"] * gt.size)
    assert forward["sobel_l1"] <= forward["sobel_l2"] + 1e-15
    assert close(forward["conn"], naive.conn(pred, gt, 255))


# ---- errors -------------------------------------------------------------------------------------


def test_empty_region_is_an_error_for_means_and_zero_for_sums():
    gt = np.zeros((16, 16), np.uint8)
    empty = np.zeros((16, 16), dtype=bool)
    with pytest.raises(EmptyRegionError, match="mse: the region holds no pixel"):
        metrics.mse(gt, gt, empty)
    with pytest.raises(EmptyRegionError, match="mad: the region holds no pixel"):
        metrics.mad(gt, gt, empty)
    assert metrics.sad(gt, gt, empty) == 0.0
    assert metrics.conn(gt, gt, empty) == 0.0


def test_bad_inputs_name_the_problem():
    with pytest.raises(ValueError, match=r"pred and gt differ in shape: \(2, 3\) vs \(3, 2\)"):
        metrics.sad(np.zeros((2, 3)), np.zeros((3, 2)))
    colour = np.zeros((2, 3, 3))
    colour[..., 0] = 0.5
    with pytest.raises(ValueError, match="pred: 3 colour channels with different values"):
        metrics.sad(colour, colour)
    with pytest.raises(ValueError, match=r"a matte must be an array \(H, W\), \(H, W, 1\)"):
        metrics.sad(np.zeros((2, 3, 5)), np.zeros((2, 3, 5)))
    with pytest.raises(ValueError, match="NaN or infinite"):
        metrics.sad(np.full((2, 2), np.nan), np.zeros((2, 2)))
    with pytest.raises(TypeError, match="region must be a boolean mask"):
        metrics.sad(np.zeros((2, 2)), np.zeros((2, 2)), np.ones((2, 2), np.uint8))
    with pytest.raises(ValueError, match="unknown metric 'sadd'; did you mean 'sad'"):
        evaluate(np.zeros((2, 2)), np.zeros((2, 2)), metrics=["sadd"])
    with pytest.raises(ValueError, match="gauss_grad needs images larger than 8"):
        metrics.gauss_grad(np.zeros((8, 20)), np.zeros((8, 20)))


def test_registry_documents_every_metric():
    for spec in METRICS.values():
        assert spec.reduction in ("sum", "mean")
        assert spec.raw_unit and spec.border and spec.reference and spec.definition
        assert math.isclose(spec.display_scale, 1e3) or math.isclose(spec.display_scale, 1e-3)
        assert spec.label and not spec.higher_is_better
        assert spec.raw_column == f"{spec.name} [{spec.unit_symbol}]"
    assert METRICS["sad"].display_key == "sad_in_1e3" and METRICS["sad"].header == "SAD (×10³)"
    assert METRICS["mse"].display_key == "mse_in_1e-3" and METRICS["mse"].header == "MSE (×10⁻³)"
    assert [spec.name for spec in METRICS.values() if spec.valid_margin_px] == ["gauss_grad"]


# ---- other implementations' conventions ---------------------------------------------------------

from vbbench.metrics import Conventions  # noqa: E402


def _case(conformance_cases, case_id):
    case = next(c for c in conformance_cases["cases"] if c["id"] == case_id)
    return (
        cv2.imread(str(CONFORMANCE / case["pred"]), cv2.IMREAD_UNCHANGED),
        cv2.imread(str(CONFORMANCE / case["gt"]), cv2.IMREAD_UNCHANGED),
        case,
    )


def test_float64_thresholds_reproduce_the_ports_and_differ_at_153(conformance_cases):
    pred, gt, case = _case(conformance_cases, "c12_144x256_plateau_153")
    ported = metrics.conn(pred, gt, conventions=Conventions(conn_thresholds="float64"))
    assert close(ported, naive.conn(pred, gt, 255, thresholds="float64"))
    assert not close(ported * 1e-3, case["whole"]["conn_x1e-3"], rel=1e-5)  # the known disagreement


def test_row_major_ties_reproduce_skimage_and_differ_on_the_tie_case(conformance_cases):
    pred, gt, case = _case(conformance_cases, "c17_144x256_conn_tie")
    ported = metrics.conn(pred, gt, conventions=Conventions(conn_ties="row-major"))
    assert close(ported, naive.conn(pred, gt, 255, ties="row-major"))
    assert not close(ported * 1e-3, case["whole"]["conn_x1e-3"], rel=1e-5)


def test_p3m_skip_gives_zero_for_an_all_zero_prediction():
    gt = naive.random_soft_matte(np.random.default_rng(8), (40, 40))
    zero = np.zeros_like(gt)
    assert metrics.conn(zero, gt, conventions=Conventions(conn_empty="skip")) == pytest.approx(
        naive.conn(zero, gt, 255, empty="skip")
    )
    # every pixel ends with l = 1: φ = 1 − (a − 1)·[a − 1 ≥ 0.15] = 1 for both
    assert metrics.conn(zero, gt, conventions=Conventions(conn_empty="skip")) == 0.0
    assert metrics.conn(zero, gt) > 0.0


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_every_convention_matches_its_naive_counterpart(seed):
    rng = np.random.default_rng(seed)
    gt = naive.random_soft_matte(rng, (70, 90), 255, 3.0)
    pred = naive.random_soft_matte(rng, (70, 90), 255, 3.0)
    for thresholds in ("exact", "float64"):
        for ties in ("column-major", "row-major"):
            for empty in ("stop", "skip"):
                c = Conventions(conn_thresholds=thresholds, conn_ties=ties, conn_empty=empty)
                assert close(
                    metrics.conn(pred, gt, conventions=c),
                    naive.conn(pred, gt, 255, thresholds=thresholds, ties=ties, empty=empty),
                )
    p, g = pred / 255.0, gt / 255.0
    grad = metrics.grad(pred, gt, conventions=Conventions(grad_rescale="none"))
    assert close(grad, naive.grad(p, g, rescale="none"), rel=REL["grad"])
    for border in ("replicate", "reflect", "zero"):
        c = Conventions(sobel_border=border)
        assert close(
            metrics.sobel_l2(pred, gt, conventions=c), naive.sobel_l2(p, g, border=border), rel=REL["sobel_l2"]
        )
        assert close(metrics.sobel_l1(pred, gt, conventions=c), naive.sobel_l1(p, g, border=border))


def test_conventions_are_validated_and_parsed():
    with pytest.raises(ValueError, match="convention conn_ties='diagonal' is not one of column-major, row-major"):
        Conventions(conn_ties="diagonal")
    with pytest.raises(ValueError, match="expected NAME=VALUE"):
        Conventions.parse(["ties"])
    parsed = Conventions.parse(["conn-thresholds=float64", "sobel_border=zero"])
    assert parsed.differences() == {"conn_thresholds": "float64", "sobel_border": "zero"}
    assert Conventions().differences() == {}
