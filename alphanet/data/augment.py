"""Augmentation: windows cut out and resized, horizontal flips, colour jitter.

Geometric steps act on the foreground, background and alpha of a `Sample` alike, and the image is
composited only afterwards, so image == alpha fg + (1 - alpha) bg holds after any augmentation.
Windows are `(top, left, height, width)` in source pixels and may reach past the image border: the
outside is zero padded (black fg and bg, alpha 0), which keeps that identity.
"""
import cv2
import numpy as np

from alphanet.data.sample import Sample
from alphanet.data.trimap import transition_pixels


def crop_and_resize(array: np.ndarray, window: tuple[float, float, float, float],
                    out_shape: tuple[int, int]) -> np.ndarray:
    """`(H, W)` or `(H, W, C)` float32 -> the window resized to `out_shape` `(h, w)` (+ `C`)."""
    rows, pad_top, pad_bottom = _span(window[0], window[2], array.shape[0])
    columns, pad_left, pad_right = _span(window[1], window[3], array.shape[1])
    padding = [(pad_top, pad_bottom), (pad_left, pad_right)] + [(0, 0)] * (array.ndim - 2)
    window_pixels = np.pad(array[rows, columns], padding)
    if window_pixels.shape[:2] == tuple(out_shape):
        return np.ascontiguousarray(window_pixels)
    shrinking = window_pixels.shape[0] > out_shape[0] or window_pixels.shape[1] > out_shape[1]
    # Area averaging when shrinking keeps thin hair from aliasing away; bilinear when enlarging.
    return cv2.resize(window_pixels, (out_shape[1], out_shape[0]),
                      interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)


def _span(start: float, length: float, limit: int) -> tuple[slice, int, int]:
    """One axis of a window: the slice inside `[0, limit)` and the padding before and after it."""
    first = int(round(start))
    last = first + max(int(round(length)), 1)
    inside = slice(min(max(first, 0), limit), min(max(last, 0), limit))
    pad_before = inside.start - first if first < 0 else 0
    return inside, pad_before, (last - first) - pad_before - (inside.stop - inside.start)


def crop_sample(sample: Sample, window: tuple[float, float, float, float], out_shape: tuple[int, int]) -> Sample:
    """`crop_and_resize` applied to fg, bg and alpha of `sample`."""
    fg = crop_and_resize(sample.fg, window, out_shape)
    # Without a separate fg and bg both are the photo: cut it once.
    bg = crop_and_resize(sample.bg, window, out_shape) if sample.has_fg_bg else fg
    alpha = np.clip(crop_and_resize(sample.alpha, window, out_shape), 0.0, 1.0)
    return sample.with_arrays(fg, bg, alpha)


def flip_sample(sample: Sample) -> Sample:
    """Mirror fg, bg and alpha left-right."""
    fg = np.ascontiguousarray(sample.fg[:, ::-1])
    bg = np.ascontiguousarray(sample.bg[:, ::-1]) if sample.has_fg_bg else fg
    return sample.with_arrays(fg, bg, np.ascontiguousarray(sample.alpha[:, ::-1]))


def jitter_colour(rgb: np.ndarray, rng: np.random.Generator, hue_degrees: float = 10.0,
                  saturation: float = 0.25, value: float = 0.2) -> np.ndarray:
    """`(H, W, 3)` float32 RGB in [0, 1] -> the same with hue shifted by up to `hue_degrees` and
    saturation and brightness scaled by up to +-`saturation` / +-`value`."""
    return shift_hsv(rgb, rng.uniform(-hue_degrees, hue_degrees), rng.uniform(1 - saturation, 1 + saturation),
                     rng.uniform(1 - value, 1 + value))


def shift_hsv(rgb: np.ndarray, hue_degrees: float, saturation_scale: float, value_scale: float) -> np.ndarray:
    """`(H, W, 3)` RGB in [0, 1] -> float32 RGB with the hue turned by `hue_degrees` and saturation and
    brightness multiplied by the scales (each clipped to [0, 1])."""
    hsv = cv2.cvtColor(np.clip(rgb, 0.0, 1.0).astype(np.float32), cv2.COLOR_RGB2HSV)
    hsv[:, :, 0] = (hsv[:, :, 0] + hue_degrees) % 360.0
    hsv[:, :, 1] = np.clip(hsv[:, :, 1] * saturation_scale, 0.0, 1.0)
    hsv[:, :, 2] = np.clip(hsv[:, :, 2] * value_scale, 0.0, 1.0)
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)


def jitter_sample(sample: Sample, rng: np.random.Generator) -> Sample:
    """Colour jitter of the foreground (of the photo when there is no separate foreground)."""
    fg = jitter_colour(sample.fg, rng)
    return sample.with_arrays(fg, sample.bg if sample.has_fg_bg else fg, sample.alpha)


def matting_window(alpha: np.ndarray, rng: np.random.Generator, size: float,
                   random_centre_probability: float) -> tuple[float, float, float, float]:
    """A square window of side `size` centred on a random transition pixel of `(H, W)` alpha
    (anywhere, with `random_centre_probability` or when there is none), then shifted to lie inside
    the image where the image is large enough."""
    candidates = np.argwhere(transition_pixels(alpha))
    if len(candidates) and rng.random() >= random_centre_probability:
        centre_y, centre_x = candidates[rng.integers(len(candidates))]
    else:
        centre_y, centre_x = rng.uniform(0, alpha.shape[0]), rng.uniform(0, alpha.shape[1])
    return (_keep_inside(centre_y - size / 2, size, alpha.shape[0], rng),
            _keep_inside(centre_x - size / 2, size, alpha.shape[1], rng), size, size)


def zoom_window(shape: tuple[int, int], rng: np.random.Generator, scale: float) -> tuple[float, float, float, float]:
    """The whole `(H, W)` image zoomed by `scale` (> 1 zooms in): a window of `(H, W) / scale`
    at a random position."""
    height, width = shape[0] / scale, shape[1] / scale
    return _random_start(height, shape[0], rng), _random_start(width, shape[1], rng), height, width


def _keep_inside(start: float, length: float, image_length: int, rng: np.random.Generator) -> float:
    if length <= image_length:
        return float(np.clip(start, 0, image_length - length))
    return _random_start(length, image_length, rng)


def _random_start(length: float, image_length: int, rng: np.random.Generator) -> float:
    """A random start for a window that lies inside the image or, when longer, holds the image."""
    slack = image_length - length
    return rng.uniform(min(slack, 0.0), max(slack, 0.0))
