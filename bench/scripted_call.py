"""Peak memory and median time of a scripted AlphaNet file's call:
`python -m bench.scripted_call [--scripted FILE] --size 1500 [--repeats 5] [--threads 2] [--trim-before-each]
[--profile] [--trimap]`.

Loads the TorchScript file in this fresh process and runs it on the shared astronaut photo resized to a square
(automatic mode), or with --trimap on the serving benchmarks' request (bench.workload: the demo photo, its trimap's
middle half unknown: from 1024 px up a band that the closed-form refinement solves in stripes,
alphanet/nets/closed_form.py's STRIPE_BAND). Prints one JSON line: the process's peak RSS before and after the
first call (the difference is what a call needs; run once per size, as a process's peak never goes down) and the
median time of the calls after the first two (which also optimise the graph). Compares two exports, e.g. of two
commits, or, with --trim-before-each, what a serving worker's heap trim after every answer costs the next call.
--profile prints torch.profiler's operators of one more call, by their own time.
"""
import argparse
import json
import resource
import statistics
import time
from pathlib import Path

import torch

from alphanet.shared_data import square_photo
from alphanet.serving.worker import release_free_memory
from bench.workload import workload

REPO = Path(__file__).resolve().parents[1]


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scripted", type=Path, default=REPO / "model_store" / "alphanet.pt")
    parser.add_argument("--size", type=int, default=1500)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--trim-before-each", action="store_true",
                        help="hand the freed heap back to the OS (malloc_trim) before every call")
    parser.add_argument("--profile", action="store_true", help="then profile one more call")
    parser.add_argument("--trimap", action="store_true", help="the serving benchmarks' photo and trimap instead")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model = torch.jit.load(str(args.scripted))
    if args.trimap:
        photo, given = workload(args.size)
        image, trimap = torch.from_numpy(photo), torch.from_numpy(given)
    else:
        image, trimap = torch.from_numpy(square_photo(args.size)), None
    before = peak_rss_mib()
    seconds = []
    with torch.inference_mode():
        for _ in range(args.repeats + 2):
            if args.trim_before_each:
                release_free_memory()
            started = time.perf_counter()
            model(image, trimap)
            seconds.append(time.perf_counter() - started)
            if len(seconds) == 1:
                peak = peak_rss_mib()
        if args.profile:
            with torch.profiler.profile() as profile:
                model(image, trimap)
            print(profile.key_averages().table(sort_by="self_cpu_time_total", row_limit=12))
    print(json.dumps({"scripted": str(args.scripted), "size": args.size, "threads": args.threads,
                      "trimap": args.trimap,
                      "trim_before_each": args.trim_before_each,
                      "peak_rss_before_call_mib": round(before), "peak_rss_mib": round(peak),
                      "median_s": round(statistics.median(seconds[2:]), 3)}))


if __name__ == "__main__":
    main()
