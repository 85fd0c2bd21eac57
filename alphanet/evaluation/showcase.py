"""Pictures of the automatic cutouts for the model card:
`python -m alphanet.evaluation.showcase --out docs/showcase.jpg`.

One row per photo and segmenter: image | trimap | alpha | cutout on a checkerboard, shown as they come out (no
cherry-picking: the photo list is fixed by the command line).
"""
import argparse
from pathlib import Path
from typing import List, Optional

import numpy as np
import torch
from PIL import Image, ImageDraw

from alphanet.training.checkpoint import SEGMENTERS, load_alphanet
from alphanet.shared_data import SHARED_PHOTOS
from alphanet.training.validation import preview_row

DEFAULT_PHOTOS = ("astronaut.png", "camera.png", "coffee.png", "rocket.jpg", "chelsea.png")


def showcase_rows(photo: Path, segmenters: List[str], weights: Optional[str], height: int) -> List[np.ndarray]:
    image = Image.open(photo).convert("RGB")
    image = image.resize((round(image.width * height / image.height), height), Image.Resampling.LANCZOS)
    pixels = torch.from_numpy(np.array(image))
    rows = []
    for segmenter in segmenters:
        model = load_alphanet(weights, segmenter=segmenter)
        with torch.no_grad():
            alpha, trimap = model(pixels)
        row = preview_row(pixels.numpy() / 255.0, trimap.numpy(), alpha.numpy())
        rows.append(label(row, f"{photo.name} / {segmenter}"))
    return rows


def label(row: np.ndarray, text: str) -> np.ndarray:
    picture = Image.fromarray((row * 255).round().astype(np.uint8))
    ImageDraw.Draw(picture).text((4, 4), text, fill=(255, 0, 0))
    return np.asarray(picture) / 255.0


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--weights", help="AlphaNet weights (default: the project's)")
    parser.add_argument("--photos", type=Path, nargs="+", default=[SHARED_PHOTOS / p for p in DEFAULT_PHOTOS])
    parser.add_argument("--segmenters", nargs="+", default=["fused"], choices=SEGMENTERS)
    parser.add_argument("--height", type=int, default=256, help="rows are this tall")
    args = parser.parse_args(argv)
    rows = [r for photo in args.photos for r in showcase_rows(photo, args.segmenters, args.weights, args.height)]
    width = max(r.shape[1] for r in rows)
    padded = [np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0)), constant_values=1.0) for r in rows]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray((np.concatenate(padded) * 255).round().astype(np.uint8)).save(args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
