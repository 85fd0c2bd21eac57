"""The guided-filter refinement of the matte (alphanet/nets/guided_filter.py)."""
import cv2
import numpy as np
import pytest
import torch

from alphanet.nets.guided_filter import box_mean, refine_matte


def smooth_colour_field(rng: np.random.Generator, height: int, width: int) -> torch.Tensor:
    """`(1, 3, H, W)` colours in [0, 1] that vary smoothly and independently per channel."""
    noise = rng.random((height // 16 + 2, width // 16 + 2, 3)).astype(np.float32)
    field = cv2.resize(noise, (width, height), interpolation=cv2.INTER_CUBIC).clip(0, 1)
    return torch.from_numpy(field).permute(2, 0, 1)[None]


def test_box_mean_is_the_mean_over_the_window_inside_the_image():
    x = torch.from_numpy(np.random.default_rng(0).random((1, 2, 9, 13)))
    radius = 3
    expected = torch.empty_like(x)
    for row in range(9):
        for column in range(13):
            window = x[:, :, max(0, row - radius):row + radius + 1, max(0, column - radius):column + radius + 1]
            expected[:, :, row, column] = window.mean(dim=(2, 3))
    torch.testing.assert_close(box_mean(x, radius), expected)


def test_a_matte_that_is_an_affine_function_of_colour_is_kept():
    rgb = smooth_colour_field(np.random.default_rng(2), 120, 160)
    alpha = 0.2 + 0.5 * rgb[:, :1] - 0.3 * rgb[:, 1:2] + 0.4 * rgb[:, 2:]
    assert (refine_matte(rgb, alpha) - alpha).abs().max() < 5e-3


def test_noise_the_photo_does_not_explain_goes_and_its_edges_stay():
    height, width = 96, 128
    edge = width // 2 + 3  # off the grid of the coarse copy, where the upsampled coefficients are interpolated
    rgb = torch.zeros(1, 3, height, width)
    rgb[:, :, :, :edge] = torch.tensor([0.8, 0.3, 0.2])[:, None, None]  # a red object, left
    rgb[:, :, :, edge:] = torch.tensor([0.1, 0.4, 0.7])[:, None, None]  # on blue, right
    clean = (torch.arange(width) < edge).float().expand(1, 1, height, width)
    noisy = clean + 0.1 * torch.from_numpy(np.random.default_rng(3).normal(size=(1, 1, height, width))).float()
    refined = refine_matte(rgb, noisy)
    assert (refined - clean).abs().mean() < 0.2 * (noisy - clean).abs().mean()
    # The edge stays where the photo has it, one pixel wide, not spread over the filter's window.
    assert (refined[..., edge - 1] > 0.9).all() and (refined[..., edge] < 0.1).all()


@pytest.mark.parametrize("size", [(1, 1), (1, 7), (5, 3), (37, 53)])
def test_any_size_keeps_its_shape_and_stays_finite(size):
    rgb = torch.rand(1, 3, *size)
    refined = refine_matte(rgb, torch.rand(1, 1, *size))
    assert refined.shape == (1, 1, *size)
    assert torch.isfinite(refined).all()
