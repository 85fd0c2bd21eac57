"""Time and size of the answer's PNG encodings: `python -m bench.png_encoding [--size 1024] [--repeats 15]`.

Runs the default model (model_store/alphanet.pt) on the shared astronaut photo resized to a square, then encodes
its alpha (output=alpha) and its cutout (RGBA, the default answer) as PNG with zlib level 1 under zlib's default
and run-length strategies, the handler's choice being alphanet.serving.imageio's PNG_ZLIB_STRATEGY. Prints one JSON line
per encoding: median milliseconds and bytes; the decoded pixels are checked to be the encoded ones.
"""
import argparse
import io
import json
import statistics
import time
import zlib
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from alphanet.serving.imageio import PNG_COMPRESS_LEVEL, cutout_rgba, to_uint8
from alphanet.shared_data import square_photo

REPO = Path(__file__).resolve().parents[1]
STRATEGIES = {"default": zlib.Z_DEFAULT_STRATEGY, "rle": zlib.Z_RLE}


def encode(pixels: np.ndarray, strategy: int) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "PNG", compress_level=PNG_COMPRESS_LEVEL, compress_type=strategy)
    return buffer.getvalue()


def median_ms(pixels: np.ndarray, strategy: int, repeats: int) -> float:
    seconds = []
    for _ in range(repeats):
        started = time.perf_counter()
        encode(pixels, strategy)
        seconds.append(time.perf_counter() - started)
    return round(1000 * statistics.median(seconds), 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scripted", type=Path, default=REPO / "model_store" / "alphanet.pt")
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    torch.set_num_threads(1)
    photo = square_photo(args.size)
    with torch.inference_mode():
        alpha = torch.jit.load(str(args.scripted))(torch.from_numpy(photo), None)[0].numpy()
    answers = {"alpha": to_uint8(alpha), "cutout": cutout_rgba(photo / 255.0, alpha)}
    for answer, pixels in answers.items():
        for name, strategy in STRATEGIES.items():
            encoded = encode(pixels, strategy)
            assert np.array_equal(np.asarray(Image.open(io.BytesIO(encoded))), pixels)
            print(json.dumps({"answer": answer, "size": args.size, "strategy": name,
                              "median_ms": median_ms(pixels, strategy, args.repeats), "bytes": len(encoded)}))


if __name__ == "__main__":
    main()
