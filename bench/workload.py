"""The serving benchmarks' request: the demo photo with a trimap whose middle half is unknown, and the PNG files a
client would upload for it. Run the benchmarks as modules from the repository root (`python -m bench.serving`),
so that they can import this one."""
import io
from pathlib import Path
from typing import Optional

import numpy as np
from PIL import Image

from alphanet.shared_data import square_photo

DEMO_PHOTO = Path(__file__).resolve().parents[1] / "alphanet" / "assets" / "demo.jpg"


def workload(side: int) -> tuple:
    """The demo photo resized to `side` px, `(side, side, 3)` uint8, and its trimap, `(side, side)` uint8:
    background (0) on the top quarter, foreground (255) on the bottom one, unknown (128) between. The unknown band
    makes the matting network run on every request, whatever the segmenter finds."""
    trimap = np.full((side, side), 128, dtype=np.uint8)
    trimap[: side // 4], trimap[-(side // 4):] = 0, 255
    return square_photo(side, DEMO_PHOTO), trimap


def png_bytes(pixels: np.ndarray) -> bytes:
    """`pixels` ((H, W) or (H, W, C) uint8) as a PNG file, with Pillow's default settings."""
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "PNG")
    return buffer.getvalue()


def request_files(image: np.ndarray, trimap: Optional[np.ndarray] = None) -> dict:
    """The multipart files of a `/predictions/alphanet` request for `image` and, if given, `trimap`, as PNG."""
    files = {"image": png_bytes(image)}
    if trimap is not None:
        files["trimap"] = png_bytes(trimap)
    return files
