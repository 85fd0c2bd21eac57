"""Bake a composition dataset into fixed images: `python -m alphanet.data.composite --data DIR --backgrounds DIR
--out DIR [--seed S]` writes `OUT/image/*.png` (the fg composited on a background chosen by the seed) and
`OUT/alpha/*.png`, the image + alpha layout that `alphanet.evaluation.evaluate` reads. Use backgrounds held out of
training so the evaluation sees scenes the model has not."""
import argparse
from pathlib import Path
from typing import List, Optional

import numpy as np
from PIL import Image
from tqdm import tqdm

from alphanet.data.readers import CompositionReader
from alphanet.data.sample import composite
from alphanet.serving.imageio import to_uint8


def bake(data: Path, backgrounds: List[Path], out: Path, seed: int) -> int:
    reader = CompositionReader.from_root(data, backgrounds)
    (out / "image").mkdir(parents=True, exist_ok=True)
    (out / "alpha").mkdir(parents=True, exist_ok=True)
    for index in tqdm(range(len(reader)), desc="compositing"):
        sample = reader.read(index, np.random.default_rng((seed, index)))
        Image.fromarray(to_uint8(composite(sample))).save(out / "image" / f"{sample.name}.png")
        Image.fromarray(to_uint8(sample.alpha)).save(out / "alpha" / f"{sample.name}.png")
    return len(reader)


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="fg/ + alpha/ root")
    parser.add_argument("--backgrounds", type=Path, nargs="+", required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    print(f"wrote {bake(args.data, args.backgrounds, args.out, args.seed)} composites to {args.out}")


if __name__ == "__main__":
    main()
