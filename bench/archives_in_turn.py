"""Scripted archives called in turn, round after round, in one process: each one's median call and its ratio to the
first's. `python -m bench.archives_in_turn FIRST.pt OTHER.pt [...] [--size 1024] [--threads 2] [--rounds 6]
[--photos astronaut.png coffee.png]`.

For ratios between archives (two precisions, two builds, a baseline) on a machine whose speed drifts: a changing
load falls on all of them alike, where separate processes run minutes apart (bench.scripted_call, which also
measures memory) can differ by a third. Each archive is called twice first (the calls that optimise the graph),
then once per round on each shared photo (the astronaut unless --photos says otherwise) resized to a square, in
automatic mode. Prints a Markdown table, or with --json one JSON object per photo and archive (bench/report.py's
form).
"""
import argparse
import json
from pathlib import Path

import torch

from alphanet.shared_data import SHARED_PHOTOS, square_photo
from bench.segmenters import median_times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("archives", type=Path, nargs="+", help="TorchScript files; ratios are to the first")
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--photos", nargs="+", default=["astronaut.png"], help="shared photos, by file name")
    parser.add_argument("--json", action="store_true", help="JSON lines instead of a Markdown table")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    models = {path: torch.jit.load(str(path)) for path in args.archives}
    if not args.json:
        print(f"| photo | archive | size | threads | median call ({args.rounds} rounds) | x the first |")
        print("| --- | --- | --- | --- | --- | --- |")
    for photo in args.photos:
        image = torch.from_numpy(square_photo(args.size, SHARED_PHOTOS / photo))
        medians = median_times(models, image, args.rounds)
        first = medians[args.archives[0]]
        for path, median in medians.items():
            if args.json:
                print(json.dumps({"photo": photo, "archive": str(path), "size": args.size, "threads": args.threads,
                                  "rounds": args.rounds, "median_s": round(median, 3),
                                  "x_first": round(median / first, 3)}))
            else:
                print(f"| {photo} | {path} | {args.size} px | {args.threads} | {median:.3f} s | {median / first:.2f} |")


if __name__ == "__main__":
    main()
