"""Baking a composition dataset into image + alpha pairs for evaluation."""
from pathlib import Path

import numpy as np
from PIL import Image

from alphanet.data.composite import bake
from alphanet.data.readers import ImageAlphaReader
from alphanet.data.synthetic import write_dataset

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


def test_bake_writes_deterministic_composites_that_keep_the_foreground(tmp_path):
    write_dataset(tmp_path / "src", count=3, seed=4, texture_dirs=[SHARED / "data" / "photos"], size=64)
    backgrounds = [SHARED / "data" / "photos"]
    assert bake(tmp_path / "src", backgrounds, tmp_path / "a", seed=1) == 3
    bake(tmp_path / "src", backgrounds, tmp_path / "b", seed=1)
    reader = ImageAlphaReader.from_root(tmp_path / "a")  # the layout evaluate reads
    assert reader.names == ["00000", "00001", "00002"]
    for name in reader.names:
        image = np.array(Image.open(tmp_path / "a" / "image" / f"{name}.png"))
        assert np.array_equal(image, np.array(Image.open(tmp_path / "b" / "image" / f"{name}.png")))
        fg = np.array(Image.open(tmp_path / "src" / "fg" / f"{name}.png").convert("RGB")).astype(int)
        alpha = np.array(Image.open(tmp_path / "a" / "alpha" / f"{name}.png"))
        opaque = alpha == 255
        assert np.abs(image[opaque].astype(int) - fg[opaque]).max() <= 1
