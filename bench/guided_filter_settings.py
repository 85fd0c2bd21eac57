"""The guided filter's constants (alphanet/nets/guided_filter.py) on the real validation: real-edge errors with the
true trimap and the matte's IoU in automatic mode, for each setting.
`OMP_NUM_THREADS=1 python -m bench.guided_filter_settings [--settings 0.025:8:1e-5 ...] [--limit 40]
[--precision bf16] [--weights candidate.pt]`.

Each setting is RADIUS_FRACTION:SUBSAMPLE:EPS (`refine_matte`'s arguments); the default grid is radius fractions
0.0125, 0.025 and 0.05 x subsamples 2, 4 and 8 x ridges 1e-6 to 1e-3. The networks run once per photo; only the
filter runs per setting. Two measures, on runs/data/real_val's four sets:
- real edges: bench.closed_form's crops (the first `--limit` photos of each set, the ground-truth trimap, the net's
  one-pass matte in fp32), SAD / 1000, MSE and gradient error / 1000 over the unknown region, apart for the crops
  at even and odd positions, so that a choice made on one half can be confirmed on the other;
- automatic mode: every photo through the fused segmenter and the matting stage as `AlphaNet.forward` runs them
  (at `--precision`), then the filter with the setting; IoU of alpha > 0.5 with the true alpha > 0.5, per set.
Prints one Markdown table, a row per setting. Not part of the test run: it prints figures for docs/training-log.md.
"""
import argparse
import itertools
from pathlib import Path
from typing import List, NamedTuple, Tuple

import numpy as np
import torch
import torch.nn.functional as F

from alphanet.data.readers import ImageAlphaReader
from alphanet.evaluation.evaluate import EvaluationSet
from alphanet.export import inference_model
from alphanet.model import AlphaNet, fuse
from alphanet.nets.guided_filter import EPS, RADIUS_FRACTION, SUBSAMPLE, refine_matte
from alphanet.nets.inference_form import PRECISIONS
from alphanet.nets.resize import cap_long_side, resize_bilinear
from alphanet.training.checkpoint import load_alphanet
from alphanet.training.validation import mask_iou
from bench.closed_form import DATA, METRICS, SETS, case_tensors, has_both_known_regions, net_matte, scores

Setting = Tuple[float, int, float]
DEFAULT_GRID = list(itertools.product((0.0125, 0.025, 0.05), (2, 4, 8), (1e-6, 1e-5, 1e-4, 1e-3)))


class EdgeCrop(NamedTuple):
    case: object  # alphanet.evaluation.evaluate's case: image, alpha, trimap
    rgb: torch.Tensor  # (1, 3, H, W)
    trimap: torch.Tensor  # (1, 1, H, W) in {0, 0.5, 1}
    net: torch.Tensor  # (1, 1, H, W): the net's matte, fused and clamped


class AutomaticPhoto(NamedTuple):
    folder: str
    truth: np.ndarray  # (H, W) bool: true alpha > 0.5
    rgb: torch.Tensor  # (1, 3, h, w): the photo as capped
    fused: torch.Tensor  # (1, 1, h, w): the matting stage's alpha fused with the trimap, what the filter is given
    full_trimap: torch.Tensor  # (1, 1, H, W)


def parse_setting(text: str) -> Setting:
    """'RADIUS_FRACTION:SUBSAMPLE:EPS' -> (radius fraction, subsample, eps)."""
    radius_fraction, subsample, eps = text.split(":")
    return float(radius_fraction), int(subsample), float(eps)


def edge_crops(model: AlphaNet, limit: int) -> List[EdgeCrop]:
    """bench.closed_form's crops, in its order, with the net's matte computed once."""
    crops = []
    for name in SETS:
        dataset = EvaluationSet(DATA / name, band_width=10, limit=limit)
        for index in range(len(dataset.names)):
            case = dataset.case(index)
            if not has_both_known_regions(case):
                continue  # bench.closed_form's table leaves these out too
            rgb, trimap = case_tensors(case)
            crops.append(EdgeCrop(case, rgb, trimap, net_matte(model, rgb, trimap)))
    return crops


def automatic_photos(model: AlphaNet) -> List[AutomaticPhoto]:
    """Every real validation photo up to the guided filter, as `AlphaNet.forward` takes it there."""
    photos = []
    for name in SETS:
        reader = ImageAlphaReader.from_root(DATA / name)
        for index in range(len(reader.names)):
            sample = reader.read(index, rng=None)
            image = torch.from_numpy(np.rint(sample.fg * 255).astype(np.uint8))
            rgb = cap_long_side(image.permute(2, 0, 1)[None].float() / 255.0, model.max_side)
            with torch.inference_mode():
                capped_trimap = model.predict_trimap(rgb)
                fused = fuse(model.matte_band(rgb, capped_trimap), capped_trimap)
            full_trimap = F.interpolate(capped_trimap, size=list(sample.alpha.shape), mode="nearest")
            photos.append(AutomaticPhoto(name, sample.alpha > 0.5, rgb, fused, full_trimap))
    return photos


def edge_errors(crops: List[EdgeCrop], setting: Setting, half: int) -> List[float]:
    """Mean SAD, MSE and gradient error of the filtered matte over the crops at positions of parity `half`."""
    radius_fraction, subsample, eps = setting
    rows = [scores(fuse(refine_matte(c.rgb, c.net, radius_fraction, subsample, eps).clamp(0, 1), c.trimap), c.case)
            for position, c in enumerate(crops) if position % 2 == half]
    return [float(np.mean([row[metric] for row in rows])) for metric in METRICS]


def automatic_ious(photos: List[AutomaticPhoto], setting: Setting) -> List[float]:
    """Mean matte IoU per set with the filter at `setting`: resized back and fused as `AlphaNet.forward` ends."""
    radius_fraction, subsample, eps = setting
    ious = {name: [] for name in SETS}
    for photo in photos:
        if bool((photo.full_trimap == 0.5).any()):
            refined = refine_matte(photo.rgb, photo.fused, radius_fraction, subsample, eps)
            alpha = fuse(resize_bilinear(refined, list(photo.truth.shape)).clamp(0, 1), photo.full_trimap)
        else:
            alpha = photo.full_trimap  # no band: the model returns its trimap
        ious[photo.folder].append(mask_iou(alpha[0, 0].numpy() > 0.5, photo.truth))
    return [float(np.mean(values)) for values in ious.values()]


def figures(errors: List[float]) -> str:
    sad_error, mse_error, gradient = errors
    return f"{sad_error:.3f} / {mse_error:.4f} / {gradient:.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--settings", nargs="+", type=parse_setting, default=DEFAULT_GRID,
                        help="RADIUS_FRACTION:SUBSAMPLE:EPS each (default: a grid of 36 around the default)")
    parser.add_argument("--limit", type=int, default=40, help="real-edge crops: at most this many photos per set")
    parser.add_argument("--precision", choices=PRECISIONS, default="fp32", help="automatic mode's arithmetic")
    parser.add_argument("--weights", type=Path, help="AlphaNet weights file (default: the project's)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    model = load_alphanet(args.weights, segmenter="fused").eval()
    crops = edge_crops(model, args.limit)
    photos = automatic_photos(inference_model(model, args.precision))
    default = (RADIUS_FRACTION, SUBSAMPLE, EPS)
    print(f"{len(crops)} real-edge crops (SAD / MSE / gradient, even | odd positions); {len(photos)} photos in "
          f"automatic mode at {args.precision} (matte IoU: {' / '.join(SETS)})\n")
    print("| radius fraction : subsample : eps | real edges, even | real edges, odd | matte IoU |")
    print("|---|---|---|---|")
    for setting in args.settings:
        label = ":".join(f"{value:g}" for value in setting) + (" (the default)" if setting == default else "")
        even, odd = (figures(edge_errors(crops, setting, half)) for half in (0, 1))
        print(f"| {label} | {even} | {odd} | {' / '.join(f'{v:.4f}' for v in automatic_ious(photos, setting))} |",
              flush=True)


if __name__ == "__main__":
    main()
