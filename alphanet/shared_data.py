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
