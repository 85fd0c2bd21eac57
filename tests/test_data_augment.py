"""Augmentation: windows, padding, flips and colour jitter keep fg, bg and alpha aligned."""
import numpy as np

from alphanet.data.augment import (crop_and_resize, crop_sample, flip_sample, jitter_colour, jitter_sample,
                                   matting_window, zoom_window)
from alphanet.data.sample import Sample, composite
from alphanet.data.trimap import transition_pixels


def asymmetric_sample(height: int = 40, width: int = 60, has_fg_bg: bool = True) -> Sample:
    """An opaque block in the left half with a soft right edge, on distinct random fg and bg."""
    rng = np.random.default_rng(1)
    alpha = np.zeros((height, width), np.float32)
    alpha[10:30, 5:25] = 1.0
    alpha[10:30, 25:28] = [0.75, 0.5, 0.25]
    fg = rng.random((height, width, 3), dtype=np.float32)
    bg = rng.random((height, width, 3), dtype=np.float32) if has_fg_bg else fg
    return Sample(fg=fg, bg=bg, alpha=alpha, has_fg_bg=has_fg_bg, name="block")


def test_window_inside_the_image_is_an_exact_copy():
    image = np.arange(48, dtype=np.float32).reshape(6, 8)
    np.testing.assert_array_equal(crop_and_resize(image, (1, 2, 3, 4), (3, 4)), image[1:4, 2:6])


def test_window_past_the_border_is_zero_padded():
    image = np.ones((4, 5, 3), np.float32)
    padded = crop_and_resize(image, (-2, 3, 6, 4), (6, 4))
    assert padded.shape == (6, 4, 3)
    assert padded[:2].sum() == 0 and padded[:, 2:].sum() == 0
    np.testing.assert_array_equal(padded[2:, :2], 1.0)
    assert crop_and_resize(image, (10, 10, 3, 3), (3, 3)).sum() == 0  # entirely outside


def test_resizing_a_window_keeps_the_mean_when_shrinking():
    rng = np.random.default_rng(0)
    image = rng.random((64, 64), dtype=np.float32)
    small = crop_and_resize(image, (0, 0, 64, 64), (16, 16))
    np.testing.assert_allclose(small[0, 0], image[:4, :4].mean(), rtol=1e-5)


def test_crop_keeps_the_composite_identity():
    sample = asymmetric_sample()
    cropped = crop_sample(sample, (-5, 3, 50, 50), (32, 32))
    assert cropped.fg.shape == cropped.bg.shape == (32, 32, 3) and cropped.alpha.shape == (32, 32)
    alpha = cropped.alpha[..., None]
    np.testing.assert_allclose(composite(cropped), alpha * cropped.fg + (1 - alpha) * cropped.bg)
    assert 0.0 <= cropped.alpha.min() and cropped.alpha.max() <= 1.0


def test_flip_mirrors_fg_bg_and_alpha_together():
    sample = asymmetric_sample()
    flipped = flip_sample(sample)
    np.testing.assert_array_equal(flipped.alpha, sample.alpha[:, ::-1])
    np.testing.assert_array_equal(flipped.fg, sample.fg[:, ::-1])
    np.testing.assert_array_equal(flipped.bg, sample.bg[:, ::-1])
    np.testing.assert_allclose(composite(flipped), composite(sample)[:, ::-1], atol=1e-6)
    assert flipped.alpha[20, 59 - 26] == 0.5  # the soft edge moved to the other side
    photo_only = flip_sample(asymmetric_sample(has_fg_bg=False))
    assert photo_only.fg is photo_only.bg


def test_colour_jitter_changes_colour_only():
    rgb = np.random.default_rng(2).random((8, 8, 3), dtype=np.float32)
    jittered = jitter_colour(rgb, np.random.default_rng(3))
    assert jittered.shape == rgb.shape and jittered.dtype == np.float32
    assert 0.0 <= jittered.min() and jittered.max() <= 1.0 + 1e-6
    assert 0.001 < np.abs(jittered - rgb).mean() < 0.25
    sample = jitter_sample(asymmetric_sample(), np.random.default_rng(4))
    np.testing.assert_array_equal(sample.bg, asymmetric_sample().bg)  # the background is left alone
    np.testing.assert_array_equal(sample.alpha, asymmetric_sample().alpha)


def test_matting_window_is_centred_on_the_transition():
    alpha = np.zeros((200, 300), np.float32)
    alpha[60:140, 100:180] = 1.0
    alpha[60:140, 180] = 0.5
    transition = transition_pixels(alpha)  # far from the border: the window is not shifted
    for seed in range(20):
        top, left, height, width = matting_window(alpha, np.random.default_rng(seed), 16, random_centre_probability=0)
        assert (height, width) == (16, 16)
        assert transition[int(top + 8), int(left + 8)]


def test_windows_stay_inside_large_images_and_hold_small_ones():
    rng = np.random.default_rng(0)
    alpha = np.zeros((50, 80), np.float32)
    for _ in range(20):
        top, left, size, _ = matting_window(alpha, rng, 32, random_centre_probability=1)
        assert 0 <= top <= 50 - size and 0 <= left <= 80 - size
        top, left, size, _ = matting_window(alpha, rng, 120, random_centre_probability=1)
        assert 50 - size <= top <= 0 and 80 - size <= left <= 0
    top, left, height, width = zoom_window((50, 80), rng, 2.0)
    assert (height, width) == (25, 40) and 0 <= top <= 25 and 0 <= left <= 40
    top, left, height, width = zoom_window((50, 80), rng, 0.5)
    assert (height, width) == (100, 160) and -50 <= top <= 0 and -80 <= left <= 0
