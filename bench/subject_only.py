"""What keeping the subject only costs a call:

    python -m bench.subject_only [--sizes 1024 1500] [--repeats 10] [--threads 2]

On the default archive's segmentation probability (both looks) of two photos at each size, the astronaut filling
the frame and the coffee cup a third of the side on a brick wall (`small_object_photo`), it times the scripted
`subject_only` (alphanet/nets/subject_only.py) alone, and the default archive's whole scripted call (fp32), and
prints each median and the first's share of the second. The step is timed alone because its cost, about one per
cent of a call, is smaller than the spread of whole calls on a shared machine.
Not part of the test run: it prints figures for the docs.
"""
import argparse

import torch

from alphanet.export import script_alphanet
from alphanet.nets.subject_only import subject_only
from alphanet.shared_data import SHARED_PHOTOS, small_object_photo, square_photo
from alphanet.training.checkpoint import load_alphanet
from bench.bench_model import median_seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1024, 1500])
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model = load_alphanet()
    scripted_step = torch.jit.script(subject_only)
    scripted_model = script_alphanet(model)
    print(f"threads {args.threads}, fp32, median of {args.repeats} calls")
    print("| photo | size | keeping the subject only | the whole call | share |")
    print("| --- | --- | --- | --- | --- |")
    for size in args.sizes:
        photos = {"astronaut.png": square_photo(size, SHARED_PHOTOS / "astronaut.png"),
                  "coffee.png, a third of the side, on brick.png": small_object_photo(size)}
        for name, photo in photos.items():
            image = torch.from_numpy(photo)
            with torch.no_grad():
                probability = model.segment(image.permute(2, 0, 1)[None].float() / 255)
                step = median_seconds(lambda: scripted_step(probability), args.repeats)
                call = median_seconds(lambda: scripted_model(image), max(3, args.repeats // 3))
            print(f"| {name} | {size} | {1000 * step:.1f} ms | {1000 * call:.0f} ms | {step / call:.1%} |", flush=True)


if __name__ == "__main__":
    main()
