"""Where in the unknown band a method's error lies: on partly transparent pixels or on opaque and clear ones.

    python -m alphanet.evaluation.error_breakdown --ground-truth DIR --trimaps DIR PREDICTIONS [PREDICTIONS ...]

Reads what `alphanet.evaluation.evaluate` wrote: --ground-truth the ground-truth mattes (e.g. DATA/alpha), --trimaps the
trimaps the methods were given (e.g. OUT/trimaps/ground_truth), and one folder of 8-bit mattes per method (e.g.
OUT/predictions/trimap_gt/alphanet); files are matched by stem, and only images every folder has are counted, so
that a baseline's failures do not make its figures look better. Inside each image's unknown band a ground-truth
pixel is "soft" when its alpha lies in (SOFT_MIN, SOFT_MAX) and "hard" otherwise. Per method, over all pixels of
all images: the mean absolute error on soft and on hard pixels, the soft pixels' share of the SAD, and the soft
pixels' mean signed error (below zero: the method makes partly transparent regions too transparent).
"""
import argparse
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from alphanet.data.image_io import read_alpha
from alphanet.evaluation.evaluate import read_trimap
from alphanet.evaluation.metrics import UNKNOWN

SOFT_MIN, SOFT_MAX = 0.02, 0.98  # 5 / 255 and 250 / 255: a little above 8-bit rounding noise


@dataclass
class Breakdown:
    """Error sums of one method over the unknown bands of several images."""

    soft_error: float = 0.0
    soft_signed_error: float = 0.0
    soft_pixels: int = 0
    hard_error: float = 0.0
    hard_pixels: int = 0

    def add(self, pred: np.ndarray, gt: np.ndarray, trimap: np.ndarray) -> None:
        """`(H, W)` alphas in [0, 1] and a uint8 `(H, W)` trimap (128 = unknown)."""
        band = trimap == UNKNOWN
        soft = band & (gt > SOFT_MIN) & (gt < SOFT_MAX)
        hard = band & ~soft
        signed = pred - gt
        self.soft_error += float(np.abs(signed[soft]).sum())
        self.soft_signed_error += float(signed[soft].sum())
        self.soft_pixels += int(soft.sum())
        self.hard_error += float(np.abs(signed[hard]).sum())
        self.hard_pixels += int(hard.sum())

    def row(self) -> dict[str, float]:
        total = self.soft_error + self.hard_error
        return {
            "soft MAE": self.soft_error / max(self.soft_pixels, 1),
            "hard MAE": self.hard_error / max(self.hard_pixels, 1),
            "soft share of SAD": self.soft_error / total if total else 0.0,
            "soft mean signed error": self.soft_signed_error / max(self.soft_pixels, 1),
        }


def shared_stems(folders: Sequence[Path]) -> list[str]:
    stems = [{p.stem for p in folder.glob("*.png")} for folder in folders]
    return sorted(set.intersection(*stems))


def breakdown(ground_truth: Path, trimaps: Path, predictions: Sequence[Path]) -> tuple[list[str], list[Breakdown]]:
    """-> (the images counted, one Breakdown per predictions folder)."""
    stems = shared_stems([ground_truth, trimaps, *predictions])
    if not stems:
        raise SystemExit("no image is in every folder: check the paths")
    results = [Breakdown() for _ in predictions]
    for stem in stems:
        gt = read_alpha(ground_truth / f"{stem}.png")
        trimap = read_matching(read_trimap, trimaps / f"{stem}.png", gt)
        for folder, result in zip(predictions, results):
            result.add(read_matching(read_alpha, folder / f"{stem}.png", gt), gt, trimap)
    return stems, results


def read_matching(read, path: Path, gt: np.ndarray) -> np.ndarray:
    """`read(path)`, which must have the ground truth's `(H, W)`."""
    pixels = read(path)
    if pixels.shape != gt.shape:
        raise SystemExit(f"{path} is {pixels.shape}, its ground truth {gt.shape}")
    return pixels


def report(stems: list[str], predictions: Sequence[Path], results: list[Breakdown]) -> str:
    columns = list(results[0].row())
    lines = [f"Unknown band of {len(stems)} images; soft: ground-truth alpha in ({SOFT_MIN}, {SOFT_MAX}) "
             f"({results[0].soft_pixels} pixels), hard: the rest ({results[0].hard_pixels} pixels).", "",
             "| predictions | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
    for folder, result in zip(predictions, results):
        lines.append(f"| {folder} | " + " | ".join(f"{v:.4f}" for v in result.row().values()) + " |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ground-truth", type=Path, required=True, help="ground-truth mattes (PNG)")
    parser.add_argument("--trimaps", type=Path, required=True, help="the trimaps the methods were given (PNG)")
    parser.add_argument("predictions", type=Path, nargs="+", help="one folder of predicted mattes per method")
    args = parser.parse_args(argv)
    stems, results = breakdown(args.ground_truth, args.trimaps, args.predictions)
    print(report(stems, args.predictions, results))


if __name__ == "__main__":
    main()
