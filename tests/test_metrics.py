"""Matting metrics: hand-computed values, properties and the two conventions (trimap / whole image)."""
import numpy as np
import pytest

from alphanet.evaluation.metrics import all_metrics, connectivity_error, gradient_error, mse, sad

METRICS = [sad, mse, gradient_error, connectivity_error]


def smooth_matte(seed: int, shape=(24, 32)) -> np.ndarray:
    """A random but spatially smooth matte in [0, 1] with solid fore- and background areas."""
    rng = np.random.default_rng(seed)
    coarse = rng.random((shape[0] // 4, shape[1] // 4))
    return np.clip(np.kron(coarse, np.ones((4, 4))) * 3 - 1, 0, 1)


def all_unknown(shape) -> np.ndarray:
    return np.full(shape, 128, dtype=np.uint8)


# --- hand-computed values -------------------------------------------------------------------------

PRED_3X3 = np.array([[0.0, 0.5, 1.0],
                     [0.2, 0.2, 0.2],
                     [1.0, 1.0, 0.0]])
GT_3X3 = np.array([[0.0, 1.0, 1.0],
                   [0.0, 0.2, 0.6],
                   [1.0, 1.0, 1.0]])
# |differences|: 0.5, 0.2, 0.4 and 1.0 on four pixels, zero on the other five.
TRIMAP_3X3 = np.array([[0, 128, 0],
                       [128, 128, 0],
                       [255, 255, 128]], dtype=np.uint8)  # unknown: 0.5, 0.2, 0.0, 1.0; not 0.4


def test_sad_and_mse_by_hand_without_trimap():
    assert sad(PRED_3X3, GT_3X3) == pytest.approx((0.5 + 0.2 + 0.4 + 1.0) / 9)
    assert mse(PRED_3X3, GT_3X3) == pytest.approx((0.25 + 0.04 + 0.16 + 1.0) / 9)


def test_sad_and_mse_by_hand_with_trimap():
    assert sad(PRED_3X3, GT_3X3, TRIMAP_3X3) == pytest.approx((0.5 + 0.2 + 0.0 + 1.0) / 1000)
    assert mse(PRED_3X3, GT_3X3, TRIMAP_3X3) == pytest.approx((0.25 + 0.04 + 0.0 + 1.0) / 4)


def test_gradient_of_a_ramp_uses_unit_norm_gaussian_derivative_kernels():
    # On a ramp alpha = slope * x, away from the borders, the x-derivative filter gives
    # slope * sum_u(-u * dg(u)) / |dg| * sum_u(g(u)) / |g| and the y-derivative zero.
    sigma, half_size, slope = 1.4, 4, 0.02
    u = np.arange(-half_size, half_size + 1)
    g = np.exp(-u ** 2 / (2 * sigma ** 2))
    dg = -u * g
    expected_magnitude = slope * np.sum(-u * dg) / np.linalg.norm(dg) * np.sum(g) / np.linalg.norm(g)

    ramp = np.tile(slope * np.arange(40), (20, 1))
    flat = np.full_like(ramp, 0.5)
    interior = np.zeros(ramp.shape, dtype=np.uint8)
    interior[8:12, 15:25] = 128
    # The flat matte has zero gradient, so the error is the ramp's squared magnitude at each pixel.
    expected = interior.astype(bool).sum() * expected_magnitude ** 2 / 1000
    assert gradient_error(ramp, flat, interior) == pytest.approx(expected, rel=1e-9)


def test_gradient_error_of_shifted_step_edge_is_positive_and_of_identical_edge_zero():
    edge = np.zeros((12, 12))
    edge[:, 6:] = 1.0
    shifted = np.roll(edge, 1, axis=1)
    shifted[:, 0] = 0.0
    assert gradient_error(edge, edge) == 0.0
    assert gradient_error(shifted, edge) > 0.0


def test_connectivity_forgives_a_small_error_next_to_the_foreground_but_not_on_an_island():
    # Same pixel error (gt 0.35, pred 0.42) once touching a solid foreground and once isolated.
    gt = np.zeros((7, 7))
    gt[:, :3] = 1.0
    pred = gt.copy()
    gt_connected, pred_connected = gt.copy(), pred.copy()
    gt_connected[3, 3], pred_connected[3, 3] = 0.35, 0.42
    gt_island, pred_island = gt.copy(), pred.copy()
    gt_island[3, 5], pred_island[3, 5] = 0.35, 0.42

    # Connected: level 0.3 (it drops out at 0.4), excesses 0.12 and 0.05 are below theta: both phi 1.
    assert connectivity_error(pred_connected, gt_connected) == 0.0
    # Island: not in the largest component at any threshold, level 0: phi 0.58 vs 0.65.
    assert connectivity_error(pred_island, gt_island) == pytest.approx(0.07 / 49)
    assert sad(pred_connected, gt_connected) == pytest.approx(sad(pred_island, gt_island))


def test_connectivity_uses_4_connectivity():
    # The error pixel touches the foreground block only diagonally, so it counts as an island.
    gt = np.zeros((7, 7))
    gt[:4, :3] = 1.0
    pred = gt.copy()
    gt[4, 3], pred[4, 3] = 0.35, 0.42
    assert connectivity_error(pred, gt) == pytest.approx(0.07 / 49)


def test_connectivity_threshold_is_exactly_three_tenths():
    # gt 0.3 must pass t = 0.3 (level 0.3, excess 0.14 < theta, no error); an accumulated
    # 3 * 0.1 = 0.30000000000000004 would give level 0.2 and an error of 0.24.
    gt = np.zeros((7, 7))
    gt[:, :3] = 1.0
    pred = gt.copy()
    gt[3, 3], pred[3, 3] = 0.3, 0.44
    assert connectivity_error(pred, gt) == 0.0


def test_disconnecting_a_foreground_island_makes_its_small_errors_count():
    gt = np.zeros((9, 9))
    gt[:, :4] = 1.0
    gt[4, 4:7] = 0.6  # a thin bridge ...
    gt[3:6, 7:] = 0.6  # ... to a soft island of 6 pixels
    pred = gt.copy()
    pred[3:6, 7:] = 0.62  # a small error on the island
    assert connectivity_error(gt, gt) == 0.0
    # Bridged: the island stays connected up to t = 0.6, so its 0.02 excess is below theta.
    assert connectivity_error(pred, gt) == 0.0

    pred[4, 5] = 0.0  # cut the bridge
    # The cut pixel: level 0, phi 1 vs 0.4. The island: level 0, phi 0.38 vs 0.4 on each pixel.
    assert connectivity_error(pred, gt) == pytest.approx((0.6 + 6 * 0.02) / gt.size)


def test_connectivity_when_the_mattes_share_no_foreground():
    # Nothing passes t = 0.1 in both, so every level is 0 and phi = 1 - alpha where alpha >= 0.15.
    gt = np.zeros((4, 4))
    gt[1:3, 1:3] = 1.0
    assert connectivity_error(np.zeros_like(gt), gt) == pytest.approx(4 / 16)


# --- properties -----------------------------------------------------------------------------------

@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("trimap", [None, all_unknown((24, 32))])
def test_perfect_matte_scores_zero(metric, trimap):
    gt = smooth_matte(0)
    assert metric(gt, gt, trimap) == 0.0


@pytest.mark.parametrize("metric", METRICS)
def test_metrics_are_symmetric(metric):
    a, b = smooth_matte(1), smooth_matte(2)
    assert metric(a, b) > 0.0
    assert metric(a, b) == pytest.approx(metric(b, a))


@pytest.mark.parametrize("offset", [0.05, 0.1, 0.3])
def test_sad_grows_linearly_with_a_constant_offset(offset):
    gt = np.full((10, 10), 0.2)
    trimap = all_unknown(gt.shape)
    assert sad(gt + offset, gt) == pytest.approx(offset)
    assert sad(gt + offset, gt, trimap) == pytest.approx(offset * gt.size / 1000)


def test_errors_outside_the_unknown_region_do_not_count():
    gt = np.zeros((30, 30))
    gt[:, 15:] = 1.0
    trimap = np.zeros(gt.shape, dtype=np.uint8)
    trimap[:, 12:18] = 128
    # An error in a corner more than the gradient filter's reach (4 px) away from the unknown band.
    pred = gt.copy()
    pred[0:3, 0:3] = 0.8
    for metric in METRICS:
        assert metric(pred, gt) > 0.0, metric.__name__
        assert metric(pred, gt, trimap) == 0.0, metric.__name__


@pytest.mark.parametrize("metric", METRICS)
def test_trimap_without_unknown_pixels_scores_zero_not_nan(metric):
    pred, gt = smooth_matte(3), smooth_matte(4)
    known_everywhere = np.where(gt > 0.5, 255, 0).astype(np.uint8)
    assert metric(pred, gt, known_everywhere) == 0.0


def test_conventions_differ_by_pixel_count_over_1000():
    pred, gt = smooth_matte(5), smooth_matte(6)
    pixels = gt.size
    with_trimap = all_metrics(pred, gt, all_unknown(gt.shape))
    whole_image = all_metrics(pred, gt)
    assert set(with_trimap) == {"sad", "mse", "gradient", "connectivity"}
    for name in ("sad", "gradient", "connectivity"):
        assert whole_image[name] > 0.0
        assert with_trimap[name] == pytest.approx(whole_image[name] * pixels / 1000), name
    assert with_trimap["mse"] == pytest.approx(whole_image["mse"])


def test_conventions_by_hand_on_a_uniform_error():
    # 2000 pixels each off by 0.1: DIM SAD = 2000 * 0.1 / 1000 = 0.2, paper SAD = 0.1, MSE 0.01 in both.
    gt = np.full((40, 50), 0.5)
    pred = gt + 0.1
    trimap = all_unknown(gt.shape)
    assert sad(pred, gt, trimap) == pytest.approx(0.2)
    assert sad(pred, gt) == pytest.approx(0.1)
    assert mse(pred, gt, trimap) == pytest.approx(0.01)
    assert mse(pred, gt) == pytest.approx(0.01)


# --- input validation -----------------------------------------------------------------------------

@pytest.mark.parametrize("pred, gt, trimap, message", [
    (np.zeros((3, 3)), np.zeros((3, 4)), None, "same shape"),
    (np.zeros((3, 3, 1)), np.zeros((3, 3, 1)), None, "2-D"),
    (np.full((3, 3), np.nan), np.zeros((3, 3)), None, "NaN"),
    (np.zeros((3, 3)), np.full((3, 3), 255.0), None, r"\[0, 1\]"),
    (np.zeros((3, 3)), np.zeros((3, 3)), np.zeros((2, 2), dtype=np.uint8), "trimap must have"),
    (np.zeros((3, 3)), np.zeros((3, 3)), np.full((3, 3), 0.5), "integer"),
])
def test_invalid_inputs_raise_value_error(pred, gt, trimap, message):
    for metric in METRICS:
        with pytest.raises(ValueError, match=message):
            metric(pred, gt, trimap)
