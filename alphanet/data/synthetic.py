"""A synthetic matting dataset for when no real one is at hand.

    python -m alphanet.data.synthetic --out DIR --count N --seed S [--textures DIR ...] [--size 640]
                                      [--see-through 0.12] [--workers 1]

writes `DIR/fg/00000.png` ... (RGB) and `DIR/alpha/00000.png` ... (8-bit grey): the layout of
Deep Image Matting, read back with `CompositionReader.from_root(DIR, background_dirs)`. Sample i
depends only on the seed, i and the texture photos, so the same command writes identical files, with any number
of `--workers` (processes that each make a share of the samples).

Each sample holds one to three objects from `objects.py` (people with hair, garments,
accessories, shapes with holes, furry shapes, glassware, veils, plants) from 20 % to 95 % of the
canvas, placed anywhere (often cut by the border). Their edges are kept sharp (anti-aliased),
defocused (all round or in places) or motion blurred, and parts can be made see-through (each object
with probability `--see-through`; raise it for a set rich in chiffon, mesh and tinted plastic).
"""
import argparse
import multiprocessing
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from alphanet.data.image_io import IMAGE_SUFFIXES, DatasetError
from alphanet.data.layers import Layer, stack
from alphanet.data.objects import RECIPES, Scene
from alphanet.data.textures import DEFAULT_TEXTURE_DIRS, TexturePool, smooth_noise

OBJECT_COUNT_PROBABILITIES = {1: 0.65, 2: 0.25, 3: 0.1}
SEE_THROUGH_PROBABILITY = 0.12  # of each object getting a see-through part; the default data sets use it
_MIN_COVERAGE = 0.01  # fraction of the canvas an accepted sample's objects must cover


def generate_sample(rng: np.random.Generator, size: int, textures: TexturePool,
                    see_through: float = SEE_THROUGH_PROBABILITY) -> tuple[np.ndarray, np.ndarray]:
    """One sample: `(size, size, 3)` uint8 RGB foreground and `(size, size)` uint8 alpha."""
    scene = Scene(rng, size, textures)
    while True:
        count = rng.choice(list(OBJECT_COUNT_PROBABILITIES), p=list(OBJECT_COUNT_PROBABILITIES.values()))
        layers = [_random_object(scene, index == 0, see_through) for index in range(count)]
        foreground = stack(layers[::-1])  # the main object in front
        if foreground.alpha.mean() >= _MIN_COVERAGE:
            break
    colour = np.round(foreground.colour() * 255).astype(np.uint8)
    alpha = np.round(np.clip(foreground.alpha, 0, 1) * 255).astype(np.uint8)
    return colour, alpha


def _random_object(scene: Scene, main: bool, see_through: float) -> Layer:
    """A random recipe at a random place and size (the main object larger), with its edge treatment."""
    rng = scene.rng
    recipe = rng.choice(list(RECIPES), p=np.array(list(RECIPES.values())) / sum(RECIPES.values()))
    # Main objects mostly fill much of the canvas, as in matting datasets; a few are small.
    extent = scene.size * (0.3 + 0.7 * np.sqrt(rng.random()) if main else rng.uniform(0.15, 0.6))
    centre = rng.uniform(0.2, 0.8, 2) * scene.size if main else rng.uniform(0.0, 1.0, 2) * scene.size
    layer = recipe(scene, centre, extent)
    if rng.random() < see_through:
        layer = _partly_see_through(scene, layer)
    return _treat_edges(scene, layer)


def _treat_edges(scene: Scene, layer: Layer) -> Layer:
    """Sharp (as drawn), defocused all round or in places, or motion blurred."""
    rng = scene.rng
    treatment = rng.choice(["sharp", "defocus", "partly defocused", "motion"], p=[0.4, 0.25, 0.2, 0.15])
    if treatment == "sharp":
        return layer
    scale = scene.size / 640  # blur lengths are chosen for 640 px canvases
    if treatment == "motion":
        return layer.filtered(_motion_kernel(rng, length=max(rng.uniform(3, 30) * scale, 1.5)))
    blurred = layer.filtered(_disc_kernel(max(rng.uniform(0.7, 4.0) * scale, 0.5)))
    if treatment == "defocus":
        return blurred
    out_of_focus = smooth_noise(rng, (scene.size, scene.size), cells=rng.integers(2, 5))
    return layer.mixed(blurred, np.clip((out_of_focus - 0.5) * 4 + 0.5, 0.0, 1.0))


def _partly_see_through(scene: Scene, layer: Layer) -> Layer:
    """A soft region of the object made 20-80 % opaque (chiffon, mesh, tinted plastic)."""
    rng = scene.rng
    region = np.clip((smooth_noise(rng, (scene.size, scene.size), cells=rng.integers(2, 5)) - 0.5) * 6 + 0.5, 0, 1)
    return layer.faded(1.0 - region * (1.0 - rng.uniform(0.2, 0.8)))


def _motion_kernel(rng: np.random.Generator, length: float) -> np.ndarray:
    """A normalised line kernel `length` pixels long at a random angle (anti-aliased)."""
    side = int(np.ceil(length)) | 1
    kernel = np.zeros((side * 4, side * 4), np.uint8)  # drawn 4x larger, then averaged down
    angle = rng.uniform(0, np.pi)
    offset = np.array([np.cos(angle), np.sin(angle)]) * length * 2
    middle = side * 2
    cv2.line(kernel, tuple(np.round(middle - offset).astype(int)), tuple(np.round(middle + offset).astype(int)),
             255, 2, cv2.LINE_AA)
    kernel = cv2.resize(kernel, (side, side), interpolation=cv2.INTER_AREA).astype(np.float32)
    return kernel / kernel.sum()


def _disc_kernel(radius: float) -> np.ndarray:
    """A normalised disc (lens defocus), softened at its rim."""
    side = 2 * int(np.ceil(radius)) + 3
    rows, columns = np.mgrid[0:side, 0:side] - side // 2
    kernel = np.clip(radius + 0.5 - np.hypot(rows, columns), 0.0, 1.0).astype(np.float32)
    return kernel / kernel.sum()


def write_dataset(out: Path, count: int, seed: int, texture_dirs: Sequence[Path], size: int = 640,
                  see_through: float = SEE_THROUGH_PROBABILITY, workers: int = 1) -> None:
    """Write `count` samples to `out/fg` and `out/alpha`; refuses folders that already hold images."""
    if count < 1 or size < 32 or not 0 <= see_through <= 1 or workers < 1:
        raise ValueError(f"need --count >= 1, --size >= 32, --see-through in [0, 1] and --workers >= 1, "
                         f"got {count}, {size}, {see_through} and {workers}")
    fg_dir, alpha_dir = Path(out) / "fg", Path(out) / "alpha"
    for folder in (fg_dir, alpha_dir):
        if folder.is_dir() and any(p.suffix.lower() in IMAGE_SUFFIXES for p in folder.iterdir()):
            raise DatasetError(f"{folder}: already holds images; choose an empty --out")
        folder.mkdir(parents=True, exist_ok=True)
    job = (fg_dir, alpha_dir, seed, texture_dirs, size, see_through)
    with tqdm(total=count, desc="synthetic samples", unit="sample") as progress:
        if workers == 1:
            writer = _SampleWriter(*job)
            for index in range(count):
                writer(index)
                progress.update()
            return
        # Fresh interpreters ("spawn"): a forked child can inherit a lock some thread of the parent held (OpenCV's,
        # tqdm's) and wait on it forever.
        with multiprocessing.get_context("spawn").Pool(workers, initializer=_keep_job, initargs=job) as pool:
            for _ in pool.imap_unordered(_write_sample, range(count), chunksize=4):
                progress.update()


_job, _writer = None, None  # in a pool process: write_dataset's arguments, and the _SampleWriter made of them


def _keep_job(*job) -> None:
    """Pool initializer. It only stores the arguments: an error raised here would not reach the parent, which
    would wait forever for processes that die and are restarted."""
    global _job
    _job = job


def _write_sample(index: int) -> None:
    """Writes sample `index` in a pool process; the first call readies the process (a bad texture folder raises
    here, and reaches the parent through the pool)."""
    global _writer
    if _writer is None:
        cv2.setNumThreads(1)  # one thread each, so that several processes share the cores
        _writer = _SampleWriter(*_job)
    _writer(index)


class _SampleWriter:
    """Makes sample `index` and writes it to `fg_dir` and `alpha_dir`."""

    def __init__(self, fg_dir: Path, alpha_dir: Path, seed: int, texture_dirs: Sequence[Path], size: int,
                 see_through: float):
        self.fg_dir, self.alpha_dir, self.seed, self.size, self.see_through = fg_dir, alpha_dir, seed, size, see_through
        self.textures = TexturePool(texture_dirs)

    def __call__(self, index: int) -> None:
        fg, alpha = generate_sample(np.random.default_rng((self.seed, index)), self.size, self.textures,
                                    self.see_through)
        name = f"{index:05d}.png"
        if not (cv2.imwrite(str(self.fg_dir / name), cv2.cvtColor(fg, cv2.COLOR_RGB2BGR))
                and cv2.imwrite(str(self.alpha_dir / name), alpha)):
            raise OSError(f"{self.fg_dir.parent}: could not write {name}")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m alphanet.data.synthetic", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="output folder (gets fg/ and alpha/)")
    parser.add_argument("--count", type=int, required=True, help="number of samples")
    parser.add_argument("--seed", type=int, default=0, help="same seed, same files")
    parser.add_argument("--textures", type=Path, nargs="+", default=list(DEFAULT_TEXTURE_DIRS),
                        help="folders of photos to colour the objects with (default: the shared photos)")
    parser.add_argument("--size", type=int, default=640, help="side of the square samples in pixels")
    parser.add_argument("--see-through", type=float, default=SEE_THROUGH_PROBABILITY,
                        help="probability that an object gets a partly see-through region")
    parser.add_argument("--workers", type=int, default=1, help="processes making samples (same files for any number)")
    args = parser.parse_args(argv)
    try:  # write_dataset checks the numbers before it writes anything; DatasetError is a ValueError
        write_dataset(args.out, args.count, args.seed, args.textures, args.size, args.see_through, args.workers)
    except ValueError as error:
        parser.exit(2, f"error: {error}\n")


if __name__ == "__main__":
    main()
