"""The segmentation stage as served, scored against ground-truth mattes:
`python -m alphanet.segmentation_iou --data DIR [--weights FILE] [--segmenter deeplab|selfie] [--out CSV]`.

`train seg --validate-only` scores the bare network on square resized images, as it trains. This scores what an
archive runs: the weights file's segmenter (or `--segmenter`'s) at its own input size, aspect kept, its mask (probability > 0.5)
against alpha > 0.5 at full size, one IoU per image of an image + alpha folder (`image/`, `alpha/`), and their
mean, median and count below 0.5 (a mean can hide a long tail of missed objects).
"""
import argparse
import csv
from pathlib import Path
from typing import List, Optional, Sequence

import numpy as np
import torch
from tqdm import tqdm

from alphanet.checkpoint import SEGMENTERS, given_overrides, load_alphanet
from alphanet.data.readers import ImageAlphaReader
from alphanet.validation import mask_iou


def segmentation_ious(segmenter: torch.nn.Module, reader: ImageAlphaReader) -> List[float]:
    """IoU of `segmenter`'s mask against alpha > 0.5, for each item of `reader` in its order."""
    ious = []
    for index in tqdm(range(len(reader.names)), desc="segmentation IoU", unit="image"):
        sample = reader.read(index, rng=None)
        rgb = torch.from_numpy(np.ascontiguousarray(sample.fg.transpose(2, 0, 1)))[None].float()
        with torch.no_grad():
            probability = segmenter(rgb)[0, 0].numpy()
        ious.append(mask_iou(probability > 0.5, sample.alpha > 0.5))
    return ious


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m alphanet.segmentation_iou", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True, help="folder with image/ + alpha/")
    parser.add_argument("--weights", type=Path, help="AlphaNet weights file (default: the project's)")
    parser.add_argument("--segmenter", choices=SEGMENTERS, help="default: the weights file's")
    parser.add_argument("--out", type=Path, help="CSV of name,iou per image")
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> None:
    args = parse_args(argv)
    segmenter = load_alphanet(args.weights, **given_overrides(segmenter=args.segmenter)).segmenter
    reader = ImageAlphaReader.from_root(args.data)
    ious = segmentation_ious(segmenter, reader)
    if args.out:
        with args.out.open("w", newline="") as f:
            csv.writer(f).writerows([("name", "iou"), *zip(reader.names, ious)])
    print(f"segmentation IoU over {len(ious)} images: mean {np.mean(ious):.4f}, median {np.median(ious):.4f}, "
          f"{sum(iou < 0.5 for iou in ious)} below 0.5")


if __name__ == "__main__":
    main()
