"""Colours for synthetic foregrounds: mostly patches of real photographs, sometimes flat colours,
gradients or printed patterns, all with uneven lighting.

Photo patches are randomly zoomed, rotated, mirrored and recoloured (grey photos are tinted), so a
handful of photos yields very varied surfaces: cloth, skin, fur, leather, metal-like sheen.
"""
import colorsys
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from alphanet.data.augment import jitter_colour
from alphanet.data.image_io import DatasetError, list_images, read_rgb
from alphanet.shared_data import SHARED_DATA, SHARED_PHOTOS

DEFAULT_TEXTURE_DIRS = (SHARED_PHOTOS, SHARED_DATA / "lemur")


class TexturePool:
    """The photos of `folders` (each shrunk to at most `max_side` pixels), as sources of colour."""

    def __init__(self, folders: Sequence[Path], max_side: int = 768):
        paths = [path for folder in folders for path in list_images(Path(folder))]
        if not paths:
            raise DatasetError("no texture folders given")
        self.photos = [_shrink(read_rgb(path), max_side) for path in paths]
        # Grey photos (textures, scans) are tinted rather than hue-shifted, which would do nothing.
        self.is_grey = [float(np.ptp(photo, axis=2).mean()) < 0.02 for photo in self.photos]

    def fill(self, rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
        """A random surface for an object: `(H, W, 3)` float32 RGB in [0, 1]."""
        kind = rng.choice(["photo", "flat", "gradient", "pattern"], p=[0.65, 0.1, 0.12, 0.13])
        if kind == "photo":
            surface = self.photo_patch(rng, shape)
        elif kind == "flat":
            surface = np.broadcast_to(random_colour(rng), (*shape, 3)).astype(np.float32)
        elif kind == "gradient":
            surface = gradient(rng, shape)
        else:
            surface = pattern(rng, shape)
        return shade(rng, surface)

    def photo_patch(self, rng: np.random.Generator, shape: tuple[int, int], recolour: bool = True) -> np.ndarray:
        """`(H, W, 3)` float32: a random photo, zoomed 0.5-2.5x, rotated, mirrored, recoloured."""
        index = rng.integers(len(self.photos))
        photo = self.photos[index]
        source_centre = (rng.uniform(0, photo.shape[1]), rng.uniform(0, photo.shape[0]))
        angle = rng.uniform(0, 360) if rng.random() < 0.5 else 90.0 * rng.integers(4)
        zoom = float(np.exp(rng.uniform(np.log(0.5), np.log(2.5))))
        transform = cv2.getRotationMatrix2D(source_centre, angle, zoom)
        transform[:, 2] += (shape[1] / 2 - source_centre[0], shape[0] / 2 - source_centre[1])
        patch = cv2.warpAffine(photo, transform, (shape[1], shape[0]), flags=cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_REFLECT_101)
        if rng.random() < 0.5:
            patch = patch[:, ::-1]
        if not recolour:
            return np.ascontiguousarray(patch)
        if self.is_grey[index]:
            return np.clip(patch * random_colour(rng, min_value=0.5) * rng.uniform(0.8, 1.6), 0.0, 1.0)
        hue_degrees = 180.0 if rng.random() < 0.4 else 15.0
        return jitter_colour(patch, rng, hue_degrees=hue_degrees, saturation=0.5, value=0.35)


def random_colour(rng: np.random.Generator, min_value: float = 0.05) -> np.ndarray:
    """`(3,)` float32 RGB: any hue, saturations skewed towards the muted ones real objects have."""
    hue, saturation, value = rng.random(), rng.random() ** 1.5, rng.uniform(min_value, 1.0)
    return np.array(colorsys.hsv_to_rgb(hue, saturation, value), np.float32)


def smooth_noise(rng: np.random.Generator, shape: tuple[int, int], cells: int = 4) -> np.ndarray:
    """`(H, W)` float32 in [0, 1]: random values on a coarse grid, smoothly interpolated."""
    grid = rng.random((cells, cells)).astype(np.float32)
    return np.clip(cv2.resize(grid, (shape[1], shape[0]), interpolation=cv2.INTER_CUBIC), 0.0, 1.0)


def gradient(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """`(H, W, 3)` a linear or radial blend between two random colours."""
    rows, columns = np.mgrid[0:shape[0], 0:shape[1]].astype(np.float32)
    if rng.random() < 0.5:
        angle = rng.uniform(0, 2 * np.pi)
        position = columns * np.cos(angle) + rows * np.sin(angle)
    else:
        centre = rng.uniform(0, 1, 2) * shape
        position = np.hypot(rows - centre[0], columns - centre[1])
    weight = ((position - position.min()) / max(np.ptp(position), 1e-6))[:, :, None]
    return (1 - weight) * random_colour(rng) + weight * random_colour(rng)


def pattern(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """`(H, W, 3)` printed cloth: stripes, checks or dots of two colours, at a random angle and pitch."""
    rows, columns = np.mgrid[0:shape[0], 0:shape[1]].astype(np.float32)
    angle, pitch = rng.uniform(0, np.pi), rng.uniform(4, 48)
    along = (columns * np.cos(angle) + rows * np.sin(angle)) * 2 * np.pi / pitch
    across = (-columns * np.sin(angle) + rows * np.cos(angle)) * 2 * np.pi / pitch
    kind = rng.integers(3)
    if kind == 0:
        wave = np.sin(along)
    elif kind == 1:
        wave = np.sin(along) * np.sin(across)
    else:
        wave = np.sin(along) * np.sin(across) - 0.5
    # A steep but smooth step keeps the print's edges anti-aliased.
    weight = np.clip(wave * pitch / 4 + 0.5, 0.0, 1.0)[:, :, None]
    return (1 - weight) * random_colour(rng) + weight * random_colour(rng)


def shade(rng: np.random.Generator, surface: np.ndarray) -> np.ndarray:
    """Uneven lighting: `(H, W, 3)` surface times a smooth random light field."""
    strength = rng.uniform(0.0, 0.6)
    light = 1.0 + strength * (smooth_noise(rng, surface.shape[:2], cells=rng.integers(2, 6)) - 0.5)
    return np.clip(surface * light[:, :, None], 0.0, 1.0).astype(np.float32)


def _shrink(photo: np.ndarray, max_side: int) -> np.ndarray:
    scale = max_side / max(photo.shape[:2])
    if scale >= 1:
        return photo
    return cv2.resize(photo, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
