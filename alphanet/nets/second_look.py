"""A second look at the object: the segmenter run again on a crop around its first mask, or on the photo seen from a
step back where that mask fills it, the two looks blended.

The segmenters see the whole photo at a few hundred pixels (DeepLab's long side 384, the person segmenter's 256),
so an object that fills a quarter of the photo's width gets under a hundred of their pixels across, and its thin
parts and backdrop-coloured parts are guessed at that scale. Cropped to the object with context around it, the
same network sees it two to four times larger. Blending the two looks, rather than trusting the second alone,
keeps what the whole photo tells (the crop can lose the scene's context); on the real validation 0.65 of the second
look and 0.35 of the first scored best of the weights tried (docs/training-log.md).

Where the crop would be the whole photo, the object fills the frame (a close-up, a product shot tight), and the
second look steps back instead: the photo with its border pixels repeated outward on every side, so the object
looks smaller and whole to networks that learnt objects with room around them. DeepLab found only a cup's rim or
a cat's eyes in such photos; stepping back a fifth of the photo's longer side, the two looks averaged, gained 0.03
to 0.07 matte IoU on the close-ups of objects and lost on no real set (docs/training-log.md).
"""
from typing import List

import torch.nn.functional as F
from torch import Tensor


def second_look_box(probability: Tensor, pad: float, min_margin: int = 0) -> List[int]:
    """`(1, 1, H, W)` foreground probability -> [top, bottom, left, right]: the mask's (probability > 0.5)
    bounding box widened on each side by `pad` times its longer side (at least `min_margin` pixels), clipped to
    the photo; the whole photo where the mask is empty. The longer side, so that a thin object (a bottle, a
    standing person) gets context across its thin side too: padding each side by its own length scored lower on
    the real scenes (docs/training-log.md)."""
    height, width = probability.shape[2], probability.shape[3]
    mask = probability[0, 0] > 0.5
    rows = mask.any(dim=1).nonzero()
    columns = mask.any(dim=0).nonzero()
    if rows.shape[0] == 0:
        return [0, height, 0, width]
    top, bottom = int(rows[0, 0]), int(rows[-1, 0]) + 1
    left, right = int(columns[0, 0]), int(columns[-1, 0]) + 1
    margin = max(min_margin, int(round(pad * max(bottom - top, right - left))))
    return [max(0, top - margin), min(height, bottom + margin), max(0, left - margin), min(width, right + margin)]


def step_back_box(height: int, width: int, pad: float) -> List[int]:
    """[top, bottom, left, right] of the window a step back from a `height` x `width` photo: `pad` times its
    longer side beyond each of its sides."""
    margin = int(round(pad * max(height, width)))
    return [-margin, height + margin, -margin, width + margin]


def photo_window(rgb: Tensor, box: List[int]) -> Tensor:
    """`(1, C, H, W)` photo -> `(1, C, bottom - top, right - left)`: its part inside `box`, and where the box
    reaches past the photo, the photo's border pixels repeated outward (a backdrop goes on as a backdrop)."""
    height, width = rgb.shape[2], rgb.shape[3]
    top, bottom, left, right = box[0], box[1], box[2], box[3]
    inside = rgb[:, :, max(0, top):min(height, bottom), max(0, left):min(width, right)]
    beyond = [max(0, -left), max(0, right - width), max(0, -top), max(0, bottom - height)]
    if beyond == [0, 0, 0, 0]:
        return inside
    return F.pad(inside, beyond, mode="replicate")


def blend_in_box(first: Tensor, second: Tensor, box: List[int], weight: float) -> Tensor:
    """`(1, 1, H, W)` first look, `(1, 1, h, w)` second look of the window `box` (which may reach past the
    photo) -> `(1, 1, H, W)`: inside the box `weight` of the second look and the rest of the first, the first look
    outside it."""
    height, width = first.shape[2], first.shape[3]
    top, bottom, left, right = max(0, box[0]), min(height, box[1]), max(0, box[2]), min(width, box[3])
    seen = second[:, :, top - box[0]:bottom - box[0], left - box[2]:right - box[2]]
    blended = first.clone()
    blended[:, :, top:bottom, left:right] = (1.0 - weight) * first[:, :, top:bottom, left:right] + weight * seen
    return blended
