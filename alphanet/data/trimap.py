"""Training trimaps made from ground-truth alpha, shaped like those the erosion-dilation layer makes.

At inference the ED layer marks a band of some width on each side of the boundary of the
segmentation mask as unknown. Training trimaps imitate that: every partly transparent pixel and
both sides of every hard edge are unknown, grown by a random width inwards (into the opaque part)
and another random width outwards, so the matting net sees bands of many widths.
"""
import cv2
import numpy as np

BACKGROUND, UNKNOWN, FOREGROUND = 0.0, 0.5, 1.0
TRANSITION_TOLERANCE = 0.01  # alpha within this of 0 or 1 counts as transparent / opaque


def trimap_from_alpha(alpha: np.ndarray, rng: np.random.Generator, min_width: int, max_width: int) -> np.ndarray:
    """`(H, W)` float32 alpha in [0, 1] -> `(H, W)` float32 trimap in {0, 0.5, 1}.

    Unknown: pixels with TRANSITION_TOLERANCE < alpha < 1 - TRANSITION_TOLERANCE and the pixels on
    both sides of hard edges, grown by a band whose width (pixels) is drawn from
    [min_width, max_width] separately for the inner and the outer side. Known pixels are 1 where
    alpha is (nearly) 1 and 0 where it is (nearly) 0.
    """
    if not 0 <= min_width <= max_width:
        raise ValueError(f"trimap band widths must satisfy 0 <= min_width <= max_width, got {min_width}, {max_width}")
    seeds = transition_pixels(alpha)
    trimap = np.where(alpha >= 1 - TRANSITION_TOLERANCE, FOREGROUND, BACKGROUND).astype(np.float32)
    if not seeds.any():
        return trimap
    # Distance of every pixel to the nearest seed: linear time, whatever the band width.
    distance = cv2.distanceTransform((~seeds).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    inner_width, outer_width = rng.integers(min_width, max_width + 1, size=2)
    band_width = np.where(alpha >= 0.5, inner_width, outer_width)
    trimap[seeds | (distance <= band_width)] = UNKNOWN
    return trimap


def transition_pixels(alpha: np.ndarray) -> np.ndarray:
    """`(H, W)` alpha -> `(H, W)` bool: partly transparent pixels and both sides of hard edges."""
    partial = (alpha > TRANSITION_TOLERANCE) & (alpha < 1 - TRANSITION_TOLERANCE)
    opaque = (alpha >= 0.5).astype(np.uint8)
    hard_edges = cv2.morphologyEx(opaque, cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8)) > 0
    return partial | hard_edges
