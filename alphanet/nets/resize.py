"""Resizing and padding inside the graph: the long-side cap, the segmentation input size, the network stride."""
from typing import List

import torch.nn.functional as F
from torch import Tensor


def scaled_size(height: int, width: int, long_side: int) -> List[int]:
    """The (height, width) with the long side scaled to `long_side`, aspect kept, each at least 1."""
    scale = long_side / max(height, width)
    return [max(1, int(round(height * scale))), max(1, int(round(width * scale)))]


def resize_bilinear(x: Tensor, size: List[int]) -> Tensor:
    """`(N, C, H, W) -> (N, C, size[0], size[1])`, antialiased when shrinking so thin structures don't alias."""
    if x.shape[2] == size[0] and x.shape[3] == size[1]:
        return x
    shrinking = size[0] < x.shape[2] or size[1] < x.shape[3]
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=shrinking)


def cap_long_side(x: Tensor, max_side: int) -> Tensor:
    """`(N, C, H, W)` -> the same image with its long side at most `max_side` pixels."""
    height, width = x.shape[2], x.shape[3]
    if max(height, width) <= max_side:
        return x
    return resize_bilinear(x, scaled_size(height, width, max_side))


def pad_to_multiple(x: Tensor, multiple: int) -> Tensor:
    """Pad bottom and right by repeating the edge so H and W become multiples of `multiple`.
    `(N, C, H, W) -> (N, C, ceil(H / m) * m, ceil(W / m) * m)`. Edge repetition works for any size, even 1 px,
    where reflection would not."""
    pad_bottom = (multiple - x.shape[2] % multiple) % multiple
    pad_right = (multiple - x.shape[3] % multiple) % multiple
    if pad_bottom == 0 and pad_right == 0:
        return x
    return F.pad(x, [0, pad_right, 0, pad_bottom], mode="replicate")
