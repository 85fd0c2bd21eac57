"""Background variety: a few dozen background photos made to look like many.

Trained on 81 wallpapers, each shown nearly whole, the segmentation net learned those backgrounds rather
than what sets an object apart from its surroundings: it scored far better on composites over the training
backgrounds than over held-out ones, and more steps on the same backgrounds widened that gap (MODEL_CARD.md).
`vary_background` changes a training sample's background so that the same photo rarely looks the same
twice, while the foreground and alpha stay as they are. Each change is drawn independently:

- a zoomed-in part of the background instead of all of it;
- mirrored up-down and left-right;
- recoloured: hue turned anywhere, saturation and brightness scaled, gamma; sometimes channels swapped,
  inverted or grey;
- collaged: blended, through a smooth random mask, with a mirrored and recoloured copy of itself;
- defocused, as behind a subject photographed at a wide aperture.
"""
import cv2
import numpy as np

from alphanet.data.augment import crop_and_resize, shift_hsv
from alphanet.data.sample import Sample


def vary_background(sample: Sample, rng: np.random.Generator) -> Sample:
    """A sample with a separate background -> the same sample over a varied background (see the module
    docstring). fg, alpha and shapes are unchanged; bg stays float32 RGB in [0, 1]."""
    bg = sample.bg
    if rng.random() < 0.5:
        bg = _zoom_in(bg, rng, rng.uniform(1.0, 3.0))
    bg = _mirror(bg, rng)
    bg = _recolour(bg, rng)
    if rng.random() < 0.3:
        bg = _collage(bg, _recolour(_mirror(bg, rng), rng), rng)
    if rng.random() < 0.3:
        bg = _defocus(bg, rng)
    return sample.with_arrays(sample.fg, np.clip(bg, 0.0, 1.0).astype(np.float32), sample.alpha)


def _zoom_in(rgb: np.ndarray, rng: np.random.Generator, zoom: float) -> np.ndarray:
    """`(H, W, 3)` -> a random window of `(H, W) / zoom`, resized back to `(H, W)`."""
    height, width = rgb.shape[:2]
    window = (rng.uniform(0, height - height / zoom), rng.uniform(0, width - width / zoom),
              height / zoom, width / zoom)
    return crop_and_resize(rgb, window, (height, width))


def _mirror(rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    if rng.random() < 0.5:
        rgb = rgb[::-1]
    if rng.random() < 0.5:
        rgb = rgb[:, ::-1]
    return np.ascontiguousarray(rgb)


def _recolour(rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """`(H, W, 3)` RGB in [0, 1] -> the same scene in other colours."""
    rgb = shift_hsv(rgb, rng.uniform(0.0, 360.0), rng.uniform(0.3, 1.5), rng.uniform(0.6, 1.4))
    rgb = np.clip(rgb, 0.0, 1.0) ** rng.uniform(0.7, 1.4)
    if rng.random() < 0.2:
        rgb = rgb[:, :, rng.permutation(3)]
    if rng.random() < 0.1:
        rgb = 1.0 - rgb
    if rng.random() < 0.1:
        rgb = np.repeat(rgb.mean(axis=2, keepdims=True), 3, axis=2)
    return np.ascontiguousarray(rgb, dtype=np.float32)


def _collage(first: np.ndarray, second: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Two `(H, W, 3)` images blended through a smooth mask: coarse noise, enlarged and sharpened into
    regions with soft borders."""
    height, width = first.shape[:2]
    coarse = rng.standard_normal((int(rng.integers(2, 6)), int(rng.integers(2, 6)))).astype(np.float32)
    field = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)
    mask = (1.0 / (1.0 + np.exp(-field * rng.uniform(3.0, 20.0))))[:, :, None]
    return mask * first + (1.0 - mask) * second


def _defocus(rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A Gaussian blur of up to 2 % of the image's long side."""
    sigma = rng.uniform(0.5, 0.02 * max(rgb.shape[:2]))
    return cv2.GaussianBlur(rgb, (0, 0), sigma)
