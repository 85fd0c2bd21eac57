"""When band-only matting should fall back to the full pass: the matte on the real validation photos enlarged to a
catalog photo's size, at two settings of `AlphaNet.full_pass_share`. `python -m bench.full_pass_share [--side 1500]
[--shares 0.75 1.0] [--data DIR ...] [--threads 2]`.

The real validation photos are at most 512 px, where the 320 px windows of band-only matting nearly always cover
more than the photo and the full pass runs; served photos are capped at 1500 px, where they often do not. So each
photo (and its true alpha) is enlarged to `--side` px on its long side (bicubic), the default archive's model
(bf16 where the archive is) picks its windows at each share, and where the choices differ it mattes the photo
both ways. Prints, per folder, how many photos change route and their mean matte IoU (alpha > 0.5 against the
true alpha > 0.5) at each share, and the largest loss. Not part of the test run: it prints figures for
docs/deployment.md.
"""
import argparse
from pathlib import Path

import cv2
import numpy as np
import torch

from alphanet.data.readers import ImageAlphaReader
from alphanet.export import inference_model
from alphanet.nets.inference_form import PRECISIONS
from alphanet.nets.resize import cap_long_side
from alphanet.training.checkpoint import load_alphanet
from alphanet.training.validation import mask_iou
from bench.matting_options import REAL_VAL, SETS



def enlarged(photo: np.ndarray, alpha: np.ndarray, side: int):
    """float `(H, W, 3)` photo in [0, 1] and `(H, W)` alpha -> uint8 photo and bool alpha > 0.5 at `side` px."""
    scale = side / max(alpha.shape)
    size = (round(alpha.shape[1] * scale), round(alpha.shape[0] * scale))
    image = cv2.resize(np.rint(photo * 255).astype(np.uint8), size, interpolation=cv2.INTER_CUBIC)
    return image, cv2.resize(alpha.astype(np.float32), size, interpolation=cv2.INTER_LINEAR) > 0.5


def routes_differ(model, image: torch.Tensor, shares) -> bool:
    """Whether the model mattes `image` in a different number of windows at the two `full_pass_share`s (one
    window: the full pass), from one run of its segmentation stage."""
    with torch.no_grad():
        trimap = model.predict_trimap(cap_long_side(image.permute(2, 0, 1)[None].float() / 255.0, model.max_side))
    counts = set()
    for share in shares:
        model.full_pass_share = share
        counts.add(len(model.matting_windows(trimap)[2]))
    return len(counts) > 1


def matte_iou(model, image: torch.Tensor, truth: np.ndarray, share: float) -> float:
    model.full_pass_share = share
    with torch.no_grad():
        alpha, _ = model(image)
    return mask_iou(alpha.numpy() > 0.5, truth)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--side", type=int, default=1500)
    parser.add_argument("--shares", type=float, nargs=2, default=[0.75, 1.0], metavar=("A", "B"))
    parser.add_argument("--data", type=Path, nargs="+", default=[REAL_VAL / name for name in SETS])
    parser.add_argument("--precision", choices=PRECISIONS, default="bf16")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model = inference_model(load_alphanet(), args.precision)
    first, second = args.shares
    print(f"photos enlarged to {args.side} px; full_pass_share {first} against {second}")
    print(f"| folder | photos changing route | IoU at {first} | IoU at {second} | largest loss |")
    print("| --- | --- | --- | --- | --- |")
    for folder in args.data:
        reader = ImageAlphaReader.from_root(folder)
        pairs = []
        for index in range(len(reader.names)):
            sample = reader.read(index, rng=None)
            photo, truth = enlarged(sample.fg, sample.alpha, args.side)
            image = torch.from_numpy(photo)
            if routes_differ(model, image, args.shares):
                pairs.append([matte_iou(model, image, truth, share) for share in args.shares])
        ious = np.array(pairs).reshape(-1, 2)
        means = ious.mean(axis=0) if len(ious) else [float("nan")] * 2
        loss = (ious[:, 0] - ious[:, 1]).max() if len(ious) else float("nan")
        print(f"| {folder.name} | {len(ious)} of {len(reader.names)} | {means[0]:.4f} | {means[1]:.4f} | {loss:.4f} |")


if __name__ == "__main__":
    main()
