"""What the segmentation stage's last two steps cost a call:

    python -m bench.segmentation_steps [--sizes 1024 1500] [--repeats 10] [--threads 2]

For two photos at each size, the astronaut filling the frame and the coffee cup a third of the side on a brick wall
(`small_object_photo`), it times, scripted: keeping the subject only (alphanet/nets/subject_only.py) on the default
archive's segmentation probability (both looks); the person's pose (alphanet/nets/pose_person.py: BlazePose's
detector, and its landmark net where the detector finds someone) on the photo; and the default archive's whole call
(fp32). It prints each median and the steps' shares of the call. The steps are timed alone because their cost is
smaller than the spread of whole calls on a shared machine.
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
    scripted_subject_only = torch.jit.script(subject_only)
    scripted_pose = torch.jit.script(model.person_pose)
    scripted_model = script_alphanet(model)
    print(f"threads {args.threads}, fp32, median of {args.repeats} calls")
    print("| photo | size | keeping the subject only | the person's pose | the whole call | steps' share |")
    print("| --- | --- | --- | --- | --- | --- |")
    for size in args.sizes:
        photos = {"astronaut.png": square_photo(size, SHARED_PHOTOS / "astronaut.png"),
                  "coffee.png, a third of the side, on brick.png": small_object_photo(size)}
        for name, photo in photos.items():
            image = torch.from_numpy(photo)
            rgb = image.permute(2, 0, 1)[None].float() / 255
            with torch.no_grad():
                probability = model.segment(rgb)
                subject = median_seconds(lambda: scripted_subject_only(probability), args.repeats)
                pose = median_seconds(lambda: scripted_pose(rgb), args.repeats)
                call = median_seconds(lambda: scripted_model(image), max(3, args.repeats // 3))
            print(f"| {name} | {size} | {1000 * subject:.1f} ms | {1000 * pose:.1f} ms | {1000 * call:.0f} ms "
                  f"| {(subject + pose) / call:.1%} |", flush=True)


if __name__ == "__main__":
    main()
