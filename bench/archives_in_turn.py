"""Scripted archives called in turn, round after round, in one process: each one's median call and its ratio to the
first's. `python -m bench.archives_in_turn FIRST.pt OTHER.pt [...] [--size 1024] [--threads 2] [--rounds 6]
[--photos astronaut.png coffee.png@brick.png] [--trimap]`.

For ratios between archives (two precisions, two builds, a baseline) on a machine whose speed drifts: a changing
load falls on all of them alike, where separate processes run minutes apart (bench.scripted_call, which also
measures memory) can differ by a third. Each archive is called twice first (the calls that optimise the graph),
then once per round on each shared photo (the astronaut unless --photos says otherwise) resized to a square, or
for OBJECT@BACKGROUND the one shrunk to a third of the side on the other (a product small in its frame), in
automatic mode; with --trimap, given a trimap: the first archive's automatic trimap of the photo (a wide band, so
a generous client's trimap; the closed-form refinement's time follows the band's area). Prints a Markdown table,
or with --json one JSON object per photo and archive (bench/report.py's form).
"""
import argparse
import json
from pathlib import Path

import torch

from alphanet.shared_data import SHARED_PHOTOS, small_object_photo, square_photo
from bench.segmenters import median_times


def photo_for(spec: str, size: int) -> torch.Tensor:
    """uint8 `(size, size, 3)`: the shared photo named `spec` resized, or for "OBJECT@BACKGROUND" the first a third
    of the side on the second."""
    if "@" in spec:
        thing, background = spec.split("@")
        return torch.from_numpy(small_object_photo(size, SHARED_PHOTOS / thing, SHARED_PHOTOS / background))
    return torch.from_numpy(square_photo(size, SHARED_PHOTOS / spec))


def given_trimap(model, image: torch.Tensor) -> torch.Tensor:
    """`model`'s automatic trimap of `image` as a client sends one: uint8 `(H, W)`, 0 / 128 / 255."""
    with torch.no_grad():
        levels = model(image)[1]
    return (levels * 255).round().to(torch.uint8)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("archives", type=Path, nargs="+", help="TorchScript files; ratios are to the first")
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--photos", nargs="+", default=["astronaut.png"],
                        help="shared photos by file name, or OBJECT@BACKGROUND")
    parser.add_argument("--trimap", action="store_true", help="call with the first archive's automatic trimap")
    parser.add_argument("--json", action="store_true", help="JSON lines instead of a Markdown table")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    models = {path: torch.jit.load(str(path)) for path in args.archives}
    if not args.json:
        print(f"| photo | archive | size | threads | median call ({args.rounds} rounds) | x the first |")
        print("| --- | --- | --- | --- | --- | --- |")
    for photo in args.photos:
        image = photo_for(photo, args.size)
        trimap = given_trimap(models[args.archives[0]], image) if args.trimap else None
        medians = median_times(models, image, args.rounds, trimap)
        first = medians[args.archives[0]]
        for path, median in medians.items():
            if args.json:
                print(json.dumps({"photo": photo, "archive": str(path), "size": args.size, "threads": args.threads,
                                  "trimap": args.trimap,
                                  "rounds": args.rounds, "median_s": round(median, 3),
                                  "x_first": round(median / first, 3)}))
            else:
                print(f"| {photo} | {path} | {args.size} px | {args.threads} | {median:.3f} s | {median / first:.2f} |")


if __name__ == "__main__":
    main()
