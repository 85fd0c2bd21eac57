"""What the segmenter's second look costs, and how often it runs:

    python -m bench.second_look [--sizes 1024 1500] [--rounds 7] [--threads 2] [--precision bf16] [--data DIR ...]

The default archive's model exported with the second look and without (`make mar SECOND_LOOK=on` / `off`, alike
otherwise), called in turn round after round, so that a machine's changing load falls on both alike, on two
photos at each size: the astronaut, a portrait that fills the frame (its padded box is the whole photo: the
second look steps back), and the coffee cup shrunk to a third of the side on a brick wall (`small_object_photo`:
the second look is a crop). It prints each one's median call and the ratio. With --data, the share of each
folder's photos (image + alpha folders, as `alphanet.evaluation.segmentation_iou` reads them) whose first mask
leaves room for a crop around it; the others get a step back.
Not part of the test run: it prints figures for BENCHMARKS.md.
"""
import argparse
from pathlib import Path

import numpy as np
import torch

from alphanet.data.readers import ImageAlphaReader
from alphanet.export import inference_model, script_alphanet
from alphanet.nets.inference_form import PRECISIONS
from alphanet.nets.resize import cap_long_side
from alphanet.nets.second_look import second_look_box
from alphanet.shared_data import SHARED_PHOTOS, small_object_photo, square_photo
from alphanet.training.checkpoint import load_alphanet
from bench.segmenters import median_times


def print_call_times(sizes: list, rounds: int, precision: str) -> None:
    models = {look: script_alphanet(load_alphanet(second_look=look == "on"), precision) for look in ("off", "on")}
    print("| photo | size | one look | with the second look | x one look |")
    print("| --- | --- | --- | --- | --- |")
    for size in sizes:
        photos = {"astronaut.png": square_photo(size, SHARED_PHOTOS / "astronaut.png"),
                  "coffee.png, a third of the side, on brick.png": small_object_photo(size)}
        for name, photo in photos.items():
            medians = median_times(models, torch.from_numpy(photo), rounds)
            print(f"| {name} | {size} | {1000 * medians['off']:.0f} ms | {1000 * medians['on']:.0f} ms | "
                  f"{medians['on'] / medians['off']:.2f} |", flush=True)


def print_second_look_shares(folders: list, precision: str) -> None:
    model = inference_model(load_alphanet(), precision)
    print("| folder | photos | a crop around the object | a step back |")
    print("| --- | --- | --- | --- |")
    for folder in folders:
        reader = ImageAlphaReader.from_root(folder)
        crops = 0
        for index in range(len(reader.names)):
            fg = reader.read(index, rng=None).fg
            rgb = cap_long_side(torch.from_numpy(np.ascontiguousarray(fg.transpose(2, 0, 1)))[None], model.max_side)
            with torch.no_grad():
                first_look = model.segmenter(rgb)
            box = second_look_box(first_look, model.second_look_pad, model.second_look_min_margin)
            crops += box != [0, rgb.shape[2], 0, rgb.shape[3]]
        count = len(reader.names)
        print(f"| {folder.name} | {count} | {crops} ({crops / count:.0%}) | "
              f"{count - crops} ({1 - crops / count:.0%}) |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[1024, 1500], help="none: no call times")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--precision", choices=PRECISIONS, default="fp32", help="as `make mar PRECISION=`")
    parser.add_argument("--data", type=Path, nargs="*", default=[], help="folders with image/ + alpha/")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.sizes:
        print(f"threads {args.threads}, {args.precision}, median of {args.rounds} interleaved rounds")
        print_call_times(args.sizes, args.rounds, args.precision)
    if args.data:
        print_second_look_shares(args.data, args.precision)


if __name__ == "__main__":
    main()
