"""Guided-filter refinement of the matte: He, Sun and Tang, "Guided Image Filtering" (ECCV 2010), in its fast form
(He and Sun, "Fast Guided Filter", 2015).

In every window the refined alpha is an affine function of the photo's colour, fitted to the net's alpha by least
squares: the local colour-line model that closed-form matting is built on. It keeps the edges the photo has and
removes texture the net adds where the photo has none: on the model card's Table II (38 of validation composites
0-39, ground-truth trimaps) it took the gradient error from 4.63 to 2.56 and the SAD from 5.37 to 4.56. Its cost:
where the band crosses a strong background edge, that edge leaks some partial alpha (MODEL_CARD.md). The fit runs
on a copy SUBSAMPLE times smaller; its coefficients are upsampled and applied to the full-size photo, which keeps
the photo's own edges sharp.

The three constants were chosen on validation composites 40-119, which the model card's tables (images 0-39) do
not use, and checked on the real validation (`bench.guided_filter_settings`, docs/training-log.md): smaller
windows gave better real edges and a worse matte IoU, larger ones the reverse, and none of 36 settings beat these on
both.
"""
from typing import Tuple

import torch.nn.functional as F
from torch import Tensor

from alphanet.nets import symmetric_3x3
from alphanet.nets.resize import resize_bilinear

RADIUS_FRACTION = 0.025  # the window's radius, a fraction of the image's long side (at least one coarse pixel)
SUBSAMPLE = 8  # the coefficients are fitted on a copy this many times smaller
EPS = 1e-5  # ridge on the colour covariance: keeps flat regions' fit stable without smoothing across edges


def refine_matte(rgb: Tensor, alpha: Tensor, radius_fraction: float = RADIUS_FRACTION, subsample: int = SUBSAMPLE,
                 eps: float = EPS) -> Tensor:
    """`(N, 3, H, W)` RGB in [0, 1], `(N, 1, H, W)` alpha -> `(N, 1, H, W)` refined alpha, not clamped.
    (The constants are default arguments because TorchScript cannot read a module's globals.)"""
    height, width = alpha.shape[2], alpha.shape[3]
    coarse_size = [max(1, int(height / subsample + 0.5)), max(1, int(width / subsample + 0.5))]
    radius = max(1, int(radius_fraction * max(height, width) / subsample + 0.5))
    # float64: the fit subtracts products of means, and on this small copy the precision costs nothing.
    coarse_rgb = resize_bilinear(rgb.float(), coarse_size).double()
    coarse_alpha = resize_bilinear(alpha.float(), coarse_size).double()
    slope, offset = fit_colour_lines(coarse_rgb, coarse_alpha, radius, eps)
    slope = resize_bilinear(box_mean(slope, radius).float(), [height, width])
    offset = resize_bilinear(box_mean(offset, radius).float(), [height, width])
    return (slope * rgb.float()).sum(dim=1, keepdim=True) + offset


def fit_colour_lines(rgb: Tensor, alpha: Tensor, radius: int, eps: float) -> Tuple[Tensor, Tensor]:
    """The least-squares fit alpha ~ slope . rgb + offset in each window of `radius`, ridge `eps`:
    `(N, 3, h, w)`, `(N, 1, h, w)` -> slope `(N, 3, h, w)`, offset `(N, 1, h, w)`."""
    mean_rgb = box_mean(rgb, radius)
    mean_alpha = box_mean(alpha, radius)
    covariance_rgb_alpha = box_mean(rgb * alpha, radius) - mean_rgb * mean_alpha
    covariance = box_mean(symmetric_3x3.upper_outer(rgb, rgb), radius) - symmetric_3x3.upper_outer(mean_rgb, mean_rgb)
    ridged = symmetric_3x3.add_to_diagonal(covariance, eps)
    slope = symmetric_3x3.times(symmetric_3x3.inverse(ridged), covariance_rgb_alpha)
    offset = mean_alpha - (slope * mean_rgb).sum(dim=1, keepdim=True)
    return slope, offset


def box_mean(x: Tensor, radius: int) -> Tensor:
    """`(N, C, H, W)` -> `(N, C, H, W)`: each pixel's mean over the (2 radius + 1)^2 window around it, over the
    pixels inside the image where the window crosses a border."""
    size = 2 * radius + 1
    x = F.avg_pool2d(x, [size, 1], stride=1, padding=[radius, 0], count_include_pad=False)
    return F.avg_pool2d(x, [1, size], stride=1, padding=[0, radius], count_include_pad=False)
