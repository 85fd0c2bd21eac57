"""Scripted archives called in turn, round after round, in one process: each one's median call and its ratio to the
first's. `python -m bench.archives_in_turn FIRST.pt OTHER.pt [...] [--size 1024] [--threads 2] [--rounds 6]`.

For ratios between archives (two precisions, two builds, a baseline) on a machine whose speed drifts: a changing
load falls on all of them alike, where separate processes run minutes apart (bench.scripted_call, which also
measures memory) can differ by a third. Each archive is called twice first (the calls that optimise the graph),
then once per round on the shared astronaut photo resized to a square, in automatic mode. Prints a Markdown table,
or with --json one JSON object per archive (bench/report.py's form).
"""
import argparse
import json
from pathlib import Path

import torch

from alphanet.shared_data import square_photo
from bench.segmenters import median_times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("archives", type=Path, nargs="+", help="TorchScript files; ratios are to the first")
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--json", action="store_true", help="JSON lines instead of a Markdown table")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    image = torch.from_numpy(square_photo(args.size))
    medians = median_times({path: torch.jit.load(str(path)) for path in args.archives}, image, args.rounds)
    first = medians[args.archives[0]]
    if args.json:
        for path, median in medians.items():
            print(json.dumps({"archive": str(path), "size": args.size, "threads": args.threads, "rounds": args.rounds,
                              "median_s": round(median, 3), "x_first": round(median / first, 3)}))
        return
    print(f"| archive | size | threads | median call ({args.rounds} rounds) | x the first |")
    print("| --- | --- | --- | --- | --- |")
    for path, median in medians.items():
        print(f"| {path} | {args.size} px | {args.threads} | {median:.3f} s | {median / first:.2f} |")


if __name__ == "__main__":
    main()
