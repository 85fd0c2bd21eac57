"""Reading image files for training, with errors that name the file and what is wrong with it.

Everything is returned as float32 in [0, 1]: photos as `(H, W, 3)` RGB, alpha mattes and masks as
`(H, W)`. 16-bit files keep their precision. EXIF orientation is applied, so a photo is used the
way a viewer (and whoever drew its alpha) sees it.
"""
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from alphanet.serving.imageio import SIXTEEN_BIT_MODES

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
_EXIF_ORIENTATION = 0x0112
_ROTATED_ORIENTATIONS = (5, 6, 7, 8)  # the EXIF orientations that swap width and height


class DatasetError(ValueError):
    """A dataset folder or file cannot be used; the message names the path and the problem."""


def list_images(folder: Path) -> list[Path]:
    """The image files directly inside `folder`, sorted by name; an error if there are none."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DatasetError(f"{folder}: no such folder")
    images = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not images:
        raise DatasetError(f"{folder}: holds no images (looked for {', '.join(IMAGE_SUFFIXES)})")
    return images


def image_size(path: Path) -> tuple[int, int]:
    """`(height, width)` as displayed, from the file header only (fast); an error if unreadable."""
    try:
        with Image.open(path) as image:
            width, height = image.size
            if image.getexif().get(_EXIF_ORIENTATION) in _ROTATED_ORIENTATIONS:
                width, height = height, width
    except (OSError, UnidentifiedImageError) as error:
        raise DatasetError(f"{path}: not a readable image ({error})") from None
    return height, width


def read_rgb(path: Path) -> np.ndarray:
    """Image file -> `(H, W, 3)` float32 RGB in [0, 1]; grey and palette images become RGB."""
    image = _decode(path)
    if image.mode in SIXTEEN_BIT_MODES:  # 16-bit grey
        grey = np.clip(np.asarray(image, dtype=np.float32) / 65535.0, 0.0, 1.0)
        return np.repeat(grey[:, :, None], 3, axis=2)
    return np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0


def read_alpha(path: Path) -> np.ndarray:
    """Alpha matte file -> `(H, W)` float32 in [0, 1].

    Grey files are used as they are. Colour files are converted to grey, except that an RGBA file
    whose alpha channel varies is taken to store the matte in that channel (a cutout).
    """
    image = _decode(path)
    if image.mode in SIXTEEN_BIT_MODES:
        return np.clip(np.asarray(image, dtype=np.float32) / 65535.0, 0.0, 1.0)
    if image.mode in ("RGBA", "LA", "PA"):
        alpha_channel = np.asarray(image.getchannel("A"))
        if alpha_channel.min() != alpha_channel.max():
            return alpha_channel.astype(np.float32) / 255.0
    return np.asarray(image.convert("L"), dtype=np.float32) / 255.0


def _decode(path: Path) -> Image.Image:
    """Fully decode `path` (so truncated files fail here, not later) with EXIF rotation applied."""
    try:
        with Image.open(path) as image:
            image.load()
            return ImageOps.exif_transpose(image)
    except FileNotFoundError:
        raise DatasetError(f"{path}: no such file") from None
    except (OSError, UnidentifiedImageError, SyntaxError, ValueError) as error:
        raise DatasetError(f"{path}: not a readable image ({error})") from None
