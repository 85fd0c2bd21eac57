"""The erosion-dilation (ED) layer: a foreground probability map -> a trimap, with no learned weights.

The mask (probability > threshold) is eroded and dilated by square structuring elements whose radii are fractions
of the mean of the mask's bounding-box height and width, so the unknown band scales with the object. Dilation is a
max-pool; erosion is a max-pool of the complement. Both are separable (a row pass then a column pass) and each
pass is a chain of kernel-2 max-pools with doubling dilation, so the cost per pixel grows with the logarithm of
the radius, not with its square. Out-of-image pixels never win a max (the same borders as
OpenCV's `cv2.dilate` / `cv2.erode` defaults).
"""
from typing import Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn



def _pool_pair(x: Tensor, gap: int, dim: int) -> Tensor:
    """A stride-1 max-pool of kernel 2 and dilation `gap` along `dim` (the max of each pixel and the one `gap`
    further on), written as the elementwise max of two shifted views: F.max_pool2d computes exactly this but
    about 40x slower on CPU here. Shrinks `dim` by `gap`."""
    length = x.shape[dim]
    return torch.maximum(x.narrow(dim, 0, length - gap), x.narrow(dim, gap, length - gap))


def _window_max(x: Tensor, size: int, dim: int) -> Tensor:
    """Max over every run of `size` consecutive pixels along `dim` (3 = rows, 2 = columns), by kernel-2 max-pools
    whose dilation doubles (1, 2, 4, ...): after k pools each pixel holds the max of the 2^k pixels from it onwards,
    and one last pool joins two overlapping runs into `size`. About 1 + log2(size) passes instead of `size`.
    `(N, 1, H, W)` -> the same with `dim` shorter by `size - 1`."""
    run = 1
    while 2 * run <= size:
        x = _pool_pair(x, run, dim)
        run *= 2
    if run < size:
        x = _pool_pair(x, size - run, dim)
    return x


def dilate(mask: Tensor, radius: int) -> Tensor:
    """Binary dilation by a (2r+1) x (2r+1) square, as a row max-pool then a column max-pool.
    `(N, 1, H, W)` float in {0, 1} -> same shape. Zero padding never wins a max, like OpenCV's default border."""
    if radius <= 0:
        return mask
    size = 2 * radius + 1
    padded = F.pad(mask, [radius, radius, radius, radius])
    return _window_max(_window_max(padded, size, dim=3), size, dim=2)


def erode(mask: Tensor, radius: int) -> Tensor:
    """Binary erosion by a (2r+1) x (2r+1) square: the complement of the dilated complement."""
    return 1.0 - dilate(1.0 - mask, radius)


def bounding_box_size(mask: Tensor) -> float:
    """Mean of the height and width (in pixels, inclusive) of the box around the True pixels of an `(H, W)` bool
    mask; 0 for an empty mask."""
    rows = torch.nonzero(mask.any(dim=1)).flatten()
    if rows.numel() == 0:
        return 0.0
    cols = torch.nonzero(mask.any(dim=0)).flatten()
    height = int(rows[-1] - rows[0]) + 1
    width = int(cols[-1] - cols[0]) + 1
    return 0.5 * (height + width)


class EDLayer(nn.Module):
    """`(N, 1, H, W)` foreground probability -> `(N, 1, H, W)` trimap: 1 on the eroded mask, 0.5 on the band up to
    the dilated mask, 0 elsewhere. Each image gets radii from its own box; an empty mask gives an all-zero trimap.

    Default fractions (3% of the box size each way, at least one pixel): the mask comes from a network run at a
    few hundred pixels and upsampled, so its boundary is off by a few capped-resolution pixels, and hair or soft
    edges extend further; for a 1000 px tall figure the band is then 2 x 30 px wide. Wider bands cover coarser
    masks but leave more to the matting net (and make the trimap's known regions less of a constraint).
    """

    def __init__(self, erode_fraction: float = 0.03, dilate_fraction: float = 0.03, threshold: float = 0.5):
        super().__init__()
        self.erode_fraction = erode_fraction
        self.dilate_fraction = dilate_fraction
        self.threshold = threshold

    def radii(self, mask: Tensor) -> Tuple[int, int]:
        """`(H, W)` bool mask -> (erosion radius, dilation radius) in pixels."""
        size = bounding_box_size(mask)
        return (max(1, int(round(self.erode_fraction * size))), max(1, int(round(self.dilate_fraction * size))))

    def forward(self, probability: Tensor) -> Tensor:
        trimaps = []
        for image_probability in probability.unbind(0):
            mask = image_probability > self.threshold  # (1, H, W)
            if not bool(mask.any()):
                trimaps.append(torch.zeros_like(image_probability))
                continue
            erode_radius, dilate_radius = self.radii(mask[0])
            binary = mask.to(probability.dtype).unsqueeze(0)
            band = dilate(binary, dilate_radius)
            core = erode(binary, erode_radius)
            trimaps.append((0.5 * (band + core))[0])  # 1 on core, 0.5 on the rest of the band
        return torch.stack(trimaps, dim=0)
