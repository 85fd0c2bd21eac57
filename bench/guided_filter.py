"""What the guided filter costs: the scripted model's call with and without it, taking turns in one process, and
the filter alone. `python -m bench.guided_filter [--sizes 512 1024 1500] [--repeats 5] [--threads 2]
[--segmenter selfie|deeplab]`.

Photos are the shared astronaut photo resized to a square of each size, in automatic mode (the segmenter's band).
Not part of the test run: it prints figures for BENCHMARKS.md.
"""
import argparse
import statistics
import time

import torch

from alphanet.training.checkpoint import given_overrides, load_alphanet
from alphanet.export import script_alphanet
from alphanet.nets.guided_filter import refine_matte
from alphanet.shared_data import square_photo


def seconds(call) -> float:
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[512, 1024, 1500])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--segmenter", choices=("deeplab", "selfie"), default="selfie")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    models = {choice: script_alphanet(load_alphanet(None, **given_overrides(segmenter=args.segmenter,
                                                                            guided_filter=choice)))
              for choice in (True, False)}
    print(f"threads {args.threads}; segmenter {args.segmenter}; medians of {args.repeats} calls each, taking turns")
    print("| size | call without the filter | call with it | with / without | the filter alone |")
    print("|---|---|---|---|---|")
    for size in args.sizes:
        image = torch.from_numpy(square_photo(size))
        rgb, alpha = image.permute(2, 0, 1)[None].float() / 255, torch.rand(1, 1, size, size)
        with torch.inference_mode():
            for model in models.values():  # the profiling executor optimises on the first calls
                model(image), model(image)
            times = {choice: [] for choice in models}
            for _ in range(args.repeats):
                for choice, model in models.items():
                    times[choice].append(seconds(lambda: model(image)))
            alone = statistics.median(seconds(lambda: refine_matte(rgb, alpha)) for _ in range(args.repeats))
        with_filter, without = statistics.median(times[True]), statistics.median(times[False])
        print(f"| {size} | {without:.3f} s | {with_filter:.3f} s | {with_filter / without:.3f} | {alone:.3f} s |")


if __name__ == "__main__":
    main()
