"""Band-only matting against the full pass: the scripted model's call both ways, taking turns in one process, and
how far the band-only alpha is from the full pass's. `python -m bench.band_matting [--sizes 512 1024 1500]
[--radii 0.0625 0.125 0.25] [--repeats 3] [--threads 2] [--margin PIXELS]`.

The default weights with the fused segmentation stage (what `make mar` builds), fp32, mirror averaging and the
guided filter on, scripted twice: `band_matting` off (the full pass) and on. Cases at each size:
- photo: the shared astronaut photo resized to a square, in automatic mode (the segmenter's band);
- disc R: a disc of radius R x size, textured with the coffee photo, on the grass photo, with the trimap the ED
  layer makes from the disc (the served band width), given as a user trimap, so the object's size alone sets the
  band's length and area.
Prints a Markdown table: the band's and the window's share of the photo; the full pass's median call and the
band-only call's ratio to it, in wall time and in the process's CPU time (the work done, which other jobs on a
shared machine disturb less than the wall time); and the band pixels' difference between the two alphas
(largest, mean, share above 1/255). Not part of the test run: it prints figures for BENCHMARKS.md.
"""
import argparse
import statistics
import time
from typing import List, Optional, Tuple

import numpy as np
import torch
from PIL import Image

from alphanet.band_window import MARGIN, band_window
from alphanet.checkpoint import load_alphanet
from alphanet.export import script_alphanet
from alphanet.shared_data import SHARED_PHOTOS, square_photo

Case = Tuple[str, np.ndarray, Optional[np.ndarray]]  # name, uint8 (S, S, 3) photo, uint8 (S, S) trimap or None


def disc_case(size: int, radius_fraction: float, ed_layer: torch.nn.Module) -> Case:
    """A textured, anti-aliased disc on a photo, and the ED layer's trimap of it (0, 128, 255)."""
    radius = radius_fraction * size
    rows, columns = np.mgrid[:size, :size]
    distance = np.hypot(rows - 0.45 * size, columns - 0.55 * size)
    alpha = np.clip(radius - distance + 0.5, 0, 1)[..., None]
    disc, background = square_photo(size, SHARED_PHOTOS / "coffee.png"), square_photo(size, SHARED_PHOTOS / "grass.png")
    photo = (disc * alpha + background * (1 - alpha)).round().astype(np.uint8)
    levels = ed_layer(torch.from_numpy(alpha[..., 0] > 0.5).float()[None, None])[0, 0].numpy()
    return f"disc {radius_fraction:g}", photo, (levels * 255).round().astype(np.uint8)


def seconds(call) -> Tuple[float, float]:
    """The wall time and the process's CPU time (all threads) of `call()`."""
    wall, cpu = time.perf_counter(), time.process_time()
    call()
    return time.perf_counter() - wall, time.process_time() - cpu


def compare(models: dict, case: Case, repeats: int, margin: int) -> List[str]:
    """One table row: the case's call both ways, taking turns, and the band's difference."""
    name, photo, trimap = case
    image = torch.from_numpy(photo)
    given = None if trimap is None else torch.from_numpy(trimap)
    with torch.inference_mode():
        alphas = {way: model(image, given) for way, model in models.items()}
        for model in models.values():  # the profiling executor optimises on the first two calls
            model(image, given)
        times = {way: [] for way in models}
        for _ in range(repeats):
            for way, model in models.items():
                times[way].append(seconds(lambda: model(image, given)))
    levels = alphas["full"][1]
    band = levels == 0.5
    window = band_window(band[None, None], 32, margin)
    window_share = 0.0 if not window else (window[1] - window[0]) * (window[3] - window[2]) / band.numel()
    difference = (alphas["band"][0] - alphas["full"][0]).abs()[band]
    row = [name, str(photo.shape[0]), f"{band.float().mean().item():.1%}", f"{window_share:.0%}"]
    for clock in (0, 1):  # wall, CPU
        full = statistics.median(t[clock] for t in times["full"])
        band_only = statistics.median(t[clock] for t in times["band"])
        row += [f"{full:.2f} s", f"{band_only / full:.2f}"]
    return row + [f"{difference.max().item():.3f}", f"{difference.mean().item():.4f}",
                  f"{(difference > 1 / 255).float().mean().item():.1%}"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[512, 1024, 1500])
    parser.add_argument("--radii", type=float, nargs="+", default=[0.0625, 0.125, 0.25],
                        help="disc radii as fractions of the photo's side")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--margin", type=int, default=MARGIN, help="pixels of context around the band's box")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model = load_alphanet(None, segmenter="fused")
    model.band_margin = args.margin
    models = {}
    for way in ("full", "band"):
        model.band_matting = way == "band"
        models[way] = script_alphanet(model)
    print(f"threads {args.threads}; margin {args.margin} px; medians of {args.repeats} calls each way, taking turns")
    print("| case | size | band | window | full pass, wall | band / full, wall | full pass, CPU | band / full, CPU "
          "| band alpha vs full: largest | mean | above 1/255 |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for size in args.sizes:
        cases = [("photo", square_photo(size), None)]
        cases += [disc_case(size, radius, model.ed_layer) for radius in args.radii]
        for case in cases:
            print("| " + " | ".join(compare(models, case, args.repeats, args.margin)) + " |", flush=True)


if __name__ == "__main__":
    main()
