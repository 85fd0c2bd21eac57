"""Training trimaps: the unknown band covers every partly transparent pixel and has the drawn width."""
import cv2
import numpy as np
import pytest

from alphanet.data.trimap import TRANSITION_TOLERANCE, trimap_from_alpha


def soft_disc(size: int = 64, radius: float = 18.0, blur: float = 2.0) -> np.ndarray:
    """`(size, size)` alpha: an opaque disc with a blurred rim and a few hair-like partial pixels."""
    alpha = np.zeros((size, size), np.float32)
    cv2.circle(alpha, (size // 2, size // 2), int(radius), 1.0, -1)
    alpha = cv2.GaussianBlur(alpha, (0, 0), blur)
    alpha[5, 5:20] = 0.3  # a strand far from the disc
    return alpha


def hard_square(size: int = 64) -> np.ndarray:
    alpha = np.zeros((size, size), np.float32)
    alpha[16:48, 16:48] = 1.0
    return alpha


def test_values_and_known_regions_agree_with_alpha():
    alpha = soft_disc()
    trimap = trimap_from_alpha(alpha, np.random.default_rng(0), 2, 6)
    assert set(np.unique(trimap)) <= {0.0, 0.5, 1.0}
    assert trimap.dtype == np.float32 and trimap.shape == alpha.shape
    assert np.all(alpha[trimap == 1.0] >= 1 - TRANSITION_TOLERANCE)
    assert np.all(alpha[trimap == 0.0] <= TRANSITION_TOLERANCE)
    assert (trimap == 1.0).any() and (trimap == 0.0).any()


def test_unknown_covers_every_fractional_pixel():
    for seed in range(5):
        alpha = soft_disc(blur=1.0 + seed)
        trimap = trimap_from_alpha(alpha, np.random.default_rng(seed), 0, 3)
        fractional = (alpha > TRANSITION_TOLERANCE) & (alpha < 1 - TRANSITION_TOLERANCE)
        assert fractional.sum() > 50
        assert np.all(trimap[fractional] == 0.5)


def test_hard_edges_get_a_band_of_the_drawn_width_on_each_side():
    alpha = hard_square()
    for width in (1, 4, 9):
        trimap = trimap_from_alpha(alpha, np.random.default_rng(0), width, width)
        row = trimap[32]
        # Both sides of the edge at column 16 are seeds, grown by `width` pixels.
        assert np.all(row[16 - 1 - width: 16 + 1 + width] == 0.5)
        assert row[16 - 2 - width] == 0.0 and row[16 + 1 + width] == 1.0


def test_widths_are_drawn_from_the_range():
    alpha = hard_square()
    unknown_counts = {int((trimap_from_alpha(alpha, np.random.default_rng(seed), 2, 8) == 0.5).sum())
                      for seed in range(30)}
    smallest = (trimap_from_alpha(alpha, np.random.default_rng(0), 2, 2) == 0.5).sum()
    largest = (trimap_from_alpha(alpha, np.random.default_rng(0), 8, 8) == 0.5).sum()
    assert len(unknown_counts) > 5
    assert smallest <= min(unknown_counts) and max(unknown_counts) <= largest


def test_same_generator_same_trimap_and_flat_alphas():
    alpha = soft_disc()
    np.testing.assert_array_equal(trimap_from_alpha(alpha, np.random.default_rng(7), 1, 20),
                                  trimap_from_alpha(alpha, np.random.default_rng(7), 1, 20))
    assert np.all(trimap_from_alpha(np.ones((8, 8), np.float32), np.random.default_rng(0), 1, 5) == 1.0)
    assert np.all(trimap_from_alpha(np.zeros((8, 8), np.float32), np.random.default_rng(0), 1, 5) == 0.0)
    with pytest.raises(ValueError, match="min_width <= max_width"):
        trimap_from_alpha(alpha, np.random.default_rng(0), 5, 2)
