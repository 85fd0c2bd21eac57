"""The segmentation stage as served, scored against ground-truth mattes:
`python -m alphanet.evaluation.segmentation_iou --data DIR [DIR ...] [--weights FILE] [--segmenter NAME]
[--seg-input-size PIXELS] [--precision bf16] [--cutout] [--out CSV]`.

`train seg --validate-only` scores the bare network on square resized images, as it trains. This scores what an
archive runs: the photo's long side capped as AlphaNet caps it, the archive's segmenter (or `--segmenter`'s)
at its own input size, aspect kept, with the archive's second look at a crop around the object (or not:
`--no-second-look`), its mask (probability > 0.5) brought back to full size as the trimap is, then
compared with alpha > 0.5: one IoU per image of an image + alpha folder (`image/`, `alpha/`), and their mean,
median and count below 0.5 (a mean can hide a long tail of missed objects), a line for each folder: the real
validation sets (`alphanet.data.real_validation`: held-out real objects and people on studio backdrops and in
scenes) beside the synthetic composites.

`--cutout` also scores the whole model's matte (alpha > 0.5) the same way, beside the mask: the matting stage
should never make the mask worse, and this says on which images it does.
"""
import argparse
import csv
from pathlib import Path
from typing import Callable, List, Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor
from tqdm import tqdm

from alphanet.data.image_io import DatasetError
from alphanet.export import inference_model
from alphanet.nets.inference_form import PRECISIONS
from alphanet.training.checkpoint import SEGMENTERS, given_overrides, load_as_archive
from alphanet.data.readers import ImageAlphaReader
from alphanet.nets.resize import cap_long_side
from alphanet.training.validation import mask_iou


def segmentation_ious(segment: Callable[[Tensor], Tensor], reader: ImageAlphaReader, max_side: int) -> List[float]:
    """IoU of `segment`'s mask (an `AlphaNet.segment`, or a segmenter) against alpha > 0.5, for each item of
    `reader` in its order, the photo capped at `max_side` first and the mask resized back as `AlphaNet.forward`
    does."""
    ious = []
    for index in tqdm(range(len(reader.names)), desc="segmentation IoU", unit="image"):
        sample = reader.read(index, rng=None)
        rgb = torch.from_numpy(np.ascontiguousarray(sample.fg.transpose(2, 0, 1)))[None].float()
        with torch.no_grad():
            capped_mask = (segment(cap_long_side(rgb, max_side)) > 0.5).float()
        mask = F.interpolate(capped_mask, size=list(sample.alpha.shape), mode="nearest")[0, 0].numpy() > 0.5
        ious.append(mask_iou(mask, sample.alpha > 0.5))
    return ious


def cutout_ious(model: torch.nn.Module, reader: ImageAlphaReader) -> List[float]:
    """IoU of the whole model's alpha > 0.5 against the ground truth's, for each item of `reader` in its order."""
    ious = []
    for index in tqdm(range(len(reader.names)), desc="cutout IoU", unit="image"):
        sample = reader.read(index, rng=None)
        image = torch.from_numpy(np.rint(sample.fg * 255).astype(np.uint8))
        with torch.no_grad():
            alpha, _ = model(image)
        ious.append(mask_iou(alpha.numpy() > 0.5, sample.alpha > 0.5))
    return ious


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m alphanet.evaluation.segmentation_iou", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, nargs="+", required=True, help="folders with image/ + alpha/")
    parser.add_argument("--weights", type=Path,
                        help="AlphaNet weights file (default: the project's), scored as `make mar WEIGHTS=FILE` "
                             "builds it: the default archive's choices (fused stage, one matting pass), not the "
                             "ones the file was trained with")
    parser.add_argument("--segmenter", choices=SEGMENTERS, help="default: the default archive's (fused)")
    parser.add_argument("--seg-input-size", type=int,
                        help="DeepLab's input size (its long side) in place of the weights file's (384)")
    parser.add_argument("--second-look", action=argparse.BooleanOptionalAction,
                        help="the segmenter's second look at a crop around its first mask "
                             "(alphanet/nets/second_look.py); default: the default archive's")
    parser.add_argument("--subject-only", action=argparse.BooleanOptionalAction,
                        help="drop the mask's regions that run off the frame and are less sure than a region inside "
                             "it (alphanet/nets/subject_only.py); default: the default archive's")
    parser.add_argument("--person-pose", action=argparse.BooleanOptionalAction,
                        help="BlazePose's person mask where it is sure of a whole person "
                             "(alphanet/nets/pose_person.py); default: the default archive's")
    parser.add_argument("--precision", choices=PRECISIONS, default="fp32",
                        help="score the arithmetic of an archive built with this PRECISION: bf16 runs DeepLab and "
                             "the matting net in bfloat16 (alphanet/nets/bfloat16.py)")
    parser.add_argument("--cutout", action="store_true", help="also score the whole model's matte (alpha > 0.5)")
    parser.add_argument("--out", type=Path, help="CSV of folder,name,iou[,cutout_iou] per image")
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> None:
    args = parse_args(argv)
    choices = given_overrides(segmenter=args.segmenter, seg_input_size=args.seg_input_size,
                              second_look=args.second_look, subject_only=args.subject_only,
                              person_pose=args.person_pose)
    model = inference_model(load_as_archive(args.weights, **choices), args.precision)
    rows = [("folder", "name", "iou") + (("cutout_iou",) if args.cutout else ())]
    for folder in args.data:
        try:
            reader = ImageAlphaReader.from_root(folder)
            ious = segmentation_ious(model.segment, reader, model.max_side)
            cutouts = cutout_ious(model, reader) if args.cutout else None
        except DatasetError as error:  # a bad folder or file: one line naming it, as alphanet.evaluation.evaluate does
            raise SystemExit(f"error: {error}") from None
        columns = [ious] + ([cutouts] if cutouts else [])
        rows += [(folder.name, name, *scores) for name, *scores in zip(reader.names, *columns)]
        print(f"{folder.name}: segmentation IoU over {len(ious)} images: mean {np.mean(ious):.4f}, "
              f"median {np.median(ious):.4f}, {sum(iou < 0.5 for iou in ious)} below 0.5")
        if cutouts:
            worse = sum(cutout < mask - 0.01 for cutout, mask in zip(cutouts, ious))
            print(f"{folder.name}: cutout (alpha > 0.5) IoU: mean {np.mean(cutouts):.4f}, "
                  f"median {np.median(cutouts):.4f}, {worse} images more than 0.01 below their mask's")
    if args.out:
        with args.out.open("w", newline="") as f:
            csv.writer(f).writerows(rows)


if __name__ == "__main__":
    main()
