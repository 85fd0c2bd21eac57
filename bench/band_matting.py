"""Band-only matting against the full pass: the scripted model's call both ways, taking turns in one process, how
far the band-only alpha is from the full pass's, and how far each is from the truth on small objects.
`python -m bench.band_matting [--sizes 512 1024 1500] [--radii 0.0625 0.125 0.25] [--repeats 3] [--threads 2]
[--margin PIXELS] [--composites 12]`.

The default archive's model (what `make mar` builds: the fused segmentation stage, one matting pass, the guided
filter), fp32, scripted twice: `band_matting` off (the full pass) and on. Cases at each size:
- photo: the shared astronaut photo resized to a square, in automatic mode (the segmenter's band);
- disc R: a disc of radius R x size, textured with the coffee photo, on the grass photo, with the trimap the ED
  layer makes from the disc (the served band width), given as a user trimap, so the object's size alone sets the
  band's length and area.
Prints a Markdown table: the band's share of the photo, the windows the band-only call takes (a box around the
band, tiles along it, or the full pass) and their share (margins included); the full pass's median call and the
band-only call's ratio to it, in wall time and in the process's CPU time (the work done, which other jobs on a
shared machine disturb less than the wall time); and the band pixels' difference between the two alphas (largest,
mean, share above 1/255).

Then, on `--composites` small-object composites (`small_object_composite`, 1024 px, automatic mode), a second
table, one row per composite and their mean: the band's share, the windows and theirs, each way's error against
the true alpha over the served band (SAD / 1000 and MSE), and the two alphas' difference there (largest, 90th
percentile, mean). Not part of the test run: it prints figures for BENCHMARKS.md.
"""
import argparse
import statistics
import time
from typing import List, Optional, Tuple

import numpy as np
import torch
from PIL import Image

from alphanet.model import AlphaNet
from alphanet.nets.band_tiles import MARGIN, TILE, band_box
from alphanet.training.checkpoint import load_alphanet
from alphanet.data.synthetic import generate_sample
from alphanet.data.textures import DEFAULT_TEXTURE_DIRS, TexturePool
from alphanet.export import script_alphanet
from alphanet.shared_data import SHARED_PHOTOS, square_photo

BACKGROUNDS = ("brick.png", "grass.png", "gravel.png", "hubble_deep_field.jpg")
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


def small_object_composite(index: int, textures: TexturePool, size: int = 1024) -> Tuple[np.ndarray, np.ndarray]:
    """A synthetic foreground (alphanet.data.synthetic, seed (7, index)) shrunk to 25-60 % of the side, at a random
    place on one of the shared photos without a subject of their own: uint8 `(size, size, 3)` photo and float
    `(size, size)` true alpha."""
    rng = np.random.default_rng((7, index))
    colour, alpha = generate_sample(rng, size, textures)
    side = int(size * rng.uniform(0.25, 0.6))
    top, left = rng.integers(0, size - side, size=2)
    true_alpha = np.zeros((size, size), np.float32)
    true_alpha[top:top + side, left:left + side] = np.array(Image.fromarray(alpha).resize((side, side))) / 255
    foreground = np.zeros((size, size, 3), np.float32)
    foreground[top:top + side, left:left + side] = Image.fromarray(colour).resize((side, side))
    background = square_photo(size, SHARED_PHOTOS / BACKGROUNDS[index % len(BACKGROUNDS)]).astype(np.float32)
    photo = foreground * true_alpha[..., None] + background * (1 - true_alpha[..., None])
    return photo.round().astype(np.uint8), true_alpha


def windows_taken(model: AlphaNet, band: torch.Tensor) -> Tuple[str, float]:
    """Where `model` (band matting on) mattes for `band` `(H, W)`: "box", "tiles" or "full", and their share of the
    photo, margins included (the full pass: 1)."""
    height, width, windows = model.matting_windows(0.5 * band[None, None].float())
    box_height, box_width, box = band_box(band[None, None], model.tile_margin, model.stride)
    if (height, width) == tuple(band.shape):  # windows over full_pass_share of the photo are never taken
        kind = "full"
    elif (height, width, windows) == (box_height, box_width, [box]):
        kind = "box"
    else:
        kind = "tiles"
    return kind, len(windows) * height * width / band.numel()


def seconds(call) -> Tuple[float, float]:
    """The wall time and the process's CPU time (all threads) of `call()`."""
    wall, cpu = time.perf_counter(), time.process_time()
    call()
    return time.perf_counter() - wall, time.process_time() - cpu


def compare(models: dict, case: Case, repeats: int, band_model: AlphaNet) -> List[str]:
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
    kind, share = windows_taken(band_model, band)
    difference = (alphas["band"][0] - alphas["full"][0]).abs()[band]
    row = [name, str(photo.shape[0]), f"{band.float().mean().item():.1%}", f"{kind} {share:.0%}"]
    for clock in (0, 1):  # wall, CPU
        full = statistics.median(t[clock] for t in times["full"])
        band_only = statistics.median(t[clock] for t in times["band"])
        row += [f"{full:.2f} s", f"{band_only / full:.2f}"]
    return row + [f"{difference.max().item():.3f}", f"{difference.mean().item():.4f}",
                  f"{(difference > 1 / 255).float().mean().item():.1%}"]


def print_timing(models: dict, band_model: AlphaNet, args: argparse.Namespace) -> None:
    print(f"medians of {args.repeats} calls each way, taking turns")
    print("| case | size | band | windows | full pass, wall | band / full, wall | full pass, CPU | band / full, CPU "
          "| band alpha vs full: largest | mean | above 1/255 |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for size in args.sizes:
        cases = [("photo", square_photo(size), None)]
        cases += [disc_case(size, radius, band_model.ed_layer) for radius in args.radii]
        for case in cases:
            print("| " + " | ".join(compare(models, case, args.repeats, band_model)) + " |", flush=True)


def quality(models: dict, index: int, textures: TexturePool, band_model: AlphaNet) -> Optional[list]:
    """One composite's figures: the band's share, the windows taken and their share, SAD and MSE each way, the
    alphas' difference; None where the segmenter found no band."""
    photo, true_alpha = small_object_composite(index, textures)
    with torch.inference_mode():
        alphas = {way: model(torch.from_numpy(photo)) for way, model in models.items()}
    band = alphas["full"][1] == 0.5
    if not band.any():  # the segmenter found nothing: no band to compare
        return None
    row = [band.float().mean().item(), *windows_taken(band_model, band)]
    for way in ("full", "band"):
        error = (alphas[way][0] - torch.from_numpy(true_alpha))[band]
        row += [error.abs().sum().item() / 1000, (error ** 2).mean().item()]
    difference = (alphas["band"][0] - alphas["full"][0]).abs()[band]
    return row + [difference.max().item(), difference.quantile(0.9).item(), difference.mean().item()]


def print_quality(models: dict, count: int, band_model: AlphaNet) -> None:
    print("| composite | band | windows | SAD full | SAD band only | MSE full | MSE band only | band alpha vs full: "
          "largest | 90th percentile | mean |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    textures = TexturePool(DEFAULT_TEXTURE_DIRS)
    rows = []
    for index in range(count):
        row = quality(models, index, textures, band_model)
        if row is None:
            print(f"| {index} | no band | | | | | | | | |", flush=True)
            continue
        rows.append(row)
        print(format_quality(str(index), row), flush=True)
    if rows:  # none where the segmenter found nothing in every composite (the quick run's one)
        means = list(np.mean([[row[0]] + row[2:] for row in rows], axis=0))
        print(format_quality("**mean**", [means[0], "all"] + means[1:]))


def format_quality(name: str, row: list) -> str:
    band, kind, window, sad_full, mse_full, sad_band, mse_band, largest, p90, mean = row
    cells = [name, f"{band:.1%}", f"{kind} {window:.0%}", f"{sad_full:.2f}", f"{sad_band:.2f}", f"{mse_full:.4f}",
             f"{mse_band:.4f}", f"{largest:.3f}", f"{p90:.4f}", f"{mean:.4f}"]
    return "| " + " | ".join(cells) + " |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[512, 1024, 1500], help="none: no timing table")
    parser.add_argument("--radii", type=float, nargs="+", default=[0.0625, 0.125, 0.25],
                        help="disc radii as fractions of the photo's side")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--margin", type=int, default=MARGIN, help="pixels of context around each tile or box")
    parser.add_argument("--composites", type=int, default=12, help="small-object composites to score (0: none)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model = load_alphanet()
    model.tile, model.tile_margin = TILE, args.margin
    models = {}
    for way in ("full", "band"):
        model.band_matting = way == "band"
        models[way] = script_alphanet(model)
    print(f"threads {args.threads}; margin {args.margin} px")
    if args.sizes:
        print_timing(models, model, args)
    if args.composites:
        print_quality(models, args.composites, model)


if __name__ == "__main__":
    main()
