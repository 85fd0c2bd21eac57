"""`../shared/data` beside the project: real, redistributable photos that the development tools read (textures
and backgrounds for the synthetic data, the showcase, the benchmarks' photo). The product never reads it."""
from pathlib import Path

import numpy as np
from PIL import Image

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
SHARED_PHOTOS = SHARED_DATA / "photos"
BENCHMARK_PHOTO = SHARED_PHOTOS / "astronaut.png"


def square_photo(side: int, path: Path = BENCHMARK_PHOTO) -> np.ndarray:
    """The photo at `path` resized (bicubic) to a square: `(side, side, 3)` uint8 RGB."""
    return np.array(Image.open(path).convert("RGB").resize((side, side), Image.Resampling.BICUBIC))


def small_object_photo(side: int, object_path: Path = SHARED_PHOTOS / "coffee.png",
                       background_path: Path = SHARED_PHOTOS / "brick.png") -> np.ndarray:
    """`(side, side, 3)` uint8 RGB: the photo at `object_path` shrunk to a third of the side and pasted off centre
    on the one at `background_path` (a product small in its frame, where the segmenter's second look runs)."""
    canvas = square_photo(side, background_path)
    inner, top, left = side // 3, 5 * side // 12, side // 2
    canvas[top:top + inner, left:left + inner] = square_photo(inner, object_path)
    return canvas
