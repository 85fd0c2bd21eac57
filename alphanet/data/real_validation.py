"""The real validation set: held-out real cutouts composited as catalog and lifestyle photos.

    python -m alphanet.data.real_validation --backgrounds runs/data/backgrounds_val --out runs/data/real_val
                                            [--libraries stamps portraits qabcs people] [--seed 0] [--size 512]

For each cutout library (alphanet.data.cutouts: its held-out part, 15 % of each category by file) writes three
image + alpha folders, `OUT/<library>_studio` (studio backdrops), `OUT/<library>_scene` (held-out background
photos) and `OUT/<library>_closeup` (the object filling the photo and cut by its frame, half of them on studio
backdrops, half on the held-out backgrounds), one photo per held-out cutout, and `OUT/HOLDOUT.tsv` listing the
files. Item i depends only on the seed, i and the files, so the same command writes the same set.
`alphanet.evaluation.segmentation_iou --data OUT/*` scores them.
"""
import argparse
from pathlib import Path
from typing import List, Optional

import numpy as np
from PIL import Image
from tqdm import tqdm

from alphanet.data.cutouts import CutoutReader, held_out_cutouts
from alphanet.data.sample import composite
from alphanet.serving.imageio import to_uint8

# Each set's share of studio backdrops and of close-ups.
SETTINGS = {"studio": (1.0, 0.0), "scene": (0.0, 0.0), "closeup": (0.5, 1.0)}


def write_set(reader: CutoutReader, out: Path, seed: int) -> None:
    (out / "image").mkdir(parents=True, exist_ok=True)
    (out / "alpha").mkdir(parents=True, exist_ok=True)
    for index in tqdm(range(len(reader)), desc=out.name, unit="photo"):
        sample = reader.read(index, np.random.default_rng((seed, index)))
        Image.fromarray(to_uint8(composite(sample))).save(out / "image" / f"{sample.name}.png")
        Image.fromarray(to_uint8(sample.alpha)).save(out / "alpha" / f"{sample.name}.png")


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backgrounds", type=Path, nargs="+", required=True,
                        help="background photos held out of training (e.g. runs/data/backgrounds_val)")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--libraries", nargs="+", default=["stamps", "portraits", "qabcs", "people"],
                        help="cutout libraries by name (alphanet.data.cutouts.LIBRARIES) or folder")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--size", type=int, default=512, help="the photos' long side")
    args = parser.parse_args(argv)
    rows = ["library\tcategory\tfile"]
    for library in args.libraries:
        cutouts = held_out_cutouts(library)
        rows += [f"{library}\t{cutout.category}\t{cutout.path}" for cutout in cutouts]
        for setting, (studio_probability, closeup_probability) in SETTINGS.items():
            reader = CutoutReader(cutouts, args.backgrounds, studio_probability, args.size, extra_objects=False,
                                  closeup_probability=closeup_probability)
            write_set(reader, args.out / f"{Path(library).name}_{setting}", args.seed)
    (args.out / "HOLDOUT.tsv").write_text("\n".join(rows) + "\n")
    print(f"wrote {len(rows) - 1} held-out cutouts x {len(SETTINGS)} settings to {args.out}")


if __name__ == "__main__":
    main()
