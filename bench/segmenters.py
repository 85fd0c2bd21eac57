"""What each segmentation stage costs in the whole call, against the person segmenter alone:

    python -m bench.segmenters [--sizes 1024 1500] [--repeats 7] [--threads 2] [--photos astronaut.png coffee.png]
                               [--flops-only]

First the floating-point operations of each model's call, per stage (counted, the same on any machine). Then,
unless --flops-only, for each photo (shared photos resized to a square of each size), the three exported models
(`selfie`, `deeplab`, `fused`, the default weights otherwise alike) are called in turn, round after round, so that
a machine's changing load falls on all of them alike; it prints each one's median time and its ratio to `selfie`'s
in the same rounds.
Not part of the test run: it prints figures for BENCHMARKS.md.
"""
import argparse
import statistics
import time
from typing import Optional

import torch

from alphanet.training.checkpoint import SEGMENTERS, load_alphanet
from bench.bench_model import count_flops
from alphanet.export import script_alphanet
from alphanet.shared_data import SHARED_PHOTOS, square_photo


def median_times(models: dict, image: torch.Tensor, repeats: int, trimap: Optional[torch.Tensor] = None) -> dict:
    """Median seconds per call of each model on `image` (and `trimap`, where given), calls interleaved round by
    round."""
    inputs = (image,) if trimap is None else (image, trimap)
    times = {name: [] for name in models}
    with torch.no_grad():
        for model in models.values():  # warm-up: the profiling runs of TorchScript's executor
            model(*inputs)
            model(*inputs)
        for _ in range(repeats):
            for name, model in models.items():
                start = time.perf_counter()
                model(*inputs)
                times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def print_flops(names: list, photos: list, sizes: list) -> None:
    print("| photo | size | stage | segmenter GFLOP | matting net GFLOP | call GFLOP (x selfie) |")
    print("| --- | --- | --- | --- | --- | --- |")
    for photo in photos:
        for size in sizes:
            image = torch.from_numpy(square_photo(size, SHARED_PHOTOS / photo))
            counts = {name: count_flops(load_alphanet(segmenter=name), image) for name in names}
            for name, flops in counts.items():
                ratio = flops["total"] / counts["selfie"]["total"]
                print(f"| {photo} | {size} | {name} | {flops['segmenter'] / 1e9:.1f} | "
                      f"{flops['matting_net'] / 1e9:.1f} | {flops['total'] / 1e9:.1f} ({ratio:.2f}) |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1024, 1500])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--photos", nargs="+", default=["astronaut.png", "coffee.png"])
    parser.add_argument("--flops-only", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    names = ["selfie"] + [name for name in SEGMENTERS if name != "selfie"]  # the baseline first
    print_flops(names, args.photos, args.sizes)
    if args.flops_only:
        return
    models = {name: script_alphanet(load_alphanet(segmenter=name)) for name in names}
    print(f"threads {args.threads}, median of {args.repeats} interleaved rounds")
    print("| photo | size | " + " | ".join(f"{name} ms (x selfie)" for name in models) + " |")
    print("| --- | --- |" + " --- |" * len(models))
    for photo in args.photos:
        for size in args.sizes:
            image = torch.from_numpy(square_photo(size, SHARED_PHOTOS / photo))
            medians = median_times(models, image, args.repeats)
            cells = [f"{1000 * t:.0f} ({t / medians['selfie']:.2f})" for t in medians.values()]
            print(f"| {photo} | {size} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
