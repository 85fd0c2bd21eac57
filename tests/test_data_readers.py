"""Dataset readers on small folders made here: every layout, and every kind of broken dataset."""
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from alphanet.data.image_io import DatasetError, read_alpha, read_rgb
from alphanet.data.readers import CompositionReader, ImageAlphaReader, ImageMaskReader
from alphanet.data.sample import composite

RNG = np.random.default_rng(0)


def save(path: Path, pixels: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path)
    return path


def photo(height: int, width: int) -> np.ndarray:
    return RNG.integers(0, 256, (height, width, 3), dtype=np.uint8)


def matte(height: int, width: int) -> np.ndarray:
    alpha = np.zeros((height, width), np.uint8)
    alpha[height // 4: 3 * height // 4, width // 4: 3 * width // 4] = 255
    alpha[height // 4, width // 4: 3 * width // 4] = 128
    return alpha


def make_pairs(root: Path, first: str, second: str, stems=("a", "b"), size=(12, 16), first_suffix=".jpg") -> Path:
    for stem in stems:
        save(root / first / f"{stem}{first_suffix}", photo(*size))
        save(root / second / f"{stem}.png", matte(*size))
    return root


def make_composition(tmp_path: Path, size=(12, 16)) -> tuple[Path, Path]:
    root = make_pairs(tmp_path / "dim", "fg", "alpha", size=size, first_suffix=".png")
    backgrounds = tmp_path / "backgrounds"
    save(backgrounds / "wide.jpg", photo(8, 40))
    save(backgrounds / "tall.png", photo(50, 9))
    return root, backgrounds


def test_composition_reader_composites_onto_a_covering_background(tmp_path):
    root, backgrounds = make_composition(tmp_path)
    reader = CompositionReader.from_root(root, [backgrounds])
    assert len(reader) == 2 and reader.names == ["a", "b"]
    sample = reader.read(1, np.random.default_rng(3))
    assert sample.has_fg_bg and sample.name == "b"
    assert sample.fg.shape == sample.bg.shape == (12, 16, 3) and sample.alpha.shape == (12, 16)
    np.testing.assert_allclose(sample.fg, read_rgb(root / "fg" / "b.png"))
    np.testing.assert_allclose(sample.alpha, read_alpha(root / "alpha" / "b.png"))
    assert sample.bg.std() > 0.05  # a photo, not padding
    image = composite(sample)
    np.testing.assert_allclose(image[5, 6], sample.fg[5, 6], atol=1e-6)  # opaque: the foreground
    np.testing.assert_allclose(image[0, 0], sample.bg[0, 0], atol=1e-6)  # transparent: the background


def test_composition_reader_uses_every_background_folder(tmp_path):
    root, backgrounds = make_composition(tmp_path)
    other = tmp_path / "more"
    save(other / "only.png", np.full((30, 30, 3), 7, np.uint8))
    reader = CompositionReader(root / "fg", root / "alpha", [backgrounds, other])
    assert len(reader.backgrounds) == 3
    seen = {round(float(reader.read(0, np.random.default_rng(seed)).bg.mean()), 4) for seed in range(40)}
    assert round(7 / 255, 4) in seen and len(seen) > 2


@pytest.mark.parametrize("image_folder, alpha_folder", [("image", "alpha"), ("blurred_image", "mask"),
                                                        ("original", "mask"), ("images", "matte")])
def test_image_alpha_reader_accepts_public_dataset_folder_names(tmp_path, image_folder, alpha_folder):
    root = make_pairs(tmp_path, image_folder, alpha_folder)
    sample = ImageAlphaReader.from_root(root).read(0, np.random.default_rng(0))
    assert not sample.has_fg_bg
    assert sample.fg is sample.bg
    np.testing.assert_allclose(composite(sample), sample.fg, atol=1e-6)
    np.testing.assert_allclose(np.unique(sample.alpha), [0.0, 128 / 255, 1.0], atol=1e-6)


@pytest.mark.parametrize("stored", [255, 1])
def test_image_mask_reader_reads_0_255_and_0_1_masks(tmp_path, stored):
    root = tmp_path / "seg"
    save(root / "image" / "x.jpg", photo(10, 10))
    mask = np.zeros((10, 10), np.uint8)
    mask[2:6, 3:9] = stored
    save(root / "mask" / "x.png", mask)
    sample = ImageMaskReader.from_root(root).read(0, np.random.default_rng(0))
    assert sample.alpha.sum() == 24 and set(np.unique(sample.alpha)) == {0.0, 1.0}


def test_sixteen_bit_and_cutout_alphas(tmp_path):
    deep = np.linspace(0, 65535, 64, dtype=np.uint16).reshape(8, 8)
    Image.fromarray(deep).save(tmp_path / "deep.png")
    np.testing.assert_allclose(read_alpha(tmp_path / "deep.png"), deep / 65535, atol=1e-6)
    cutout = np.dstack([photo(8, 8), matte(8, 8)])
    save(tmp_path / "cutout.png", cutout)
    np.testing.assert_allclose(read_alpha(tmp_path / "cutout.png"), matte(8, 8) / 255)


def test_foreground_without_alpha_is_named(tmp_path):
    root = make_pairs(tmp_path, "fg", "alpha")
    save(root / "fg" / "lonely.png", photo(12, 16))
    with pytest.raises(DatasetError, match=r"lonely\.png has no file of the same name in .*alpha"):
        CompositionReader.from_root(root, [root / "fg"])


def test_alpha_without_image_is_named(tmp_path):
    root = make_pairs(tmp_path, "image", "alpha")
    save(root / "alpha" / "orphan.png", matte(12, 16))
    with pytest.raises(DatasetError, match=r"orphan\.png has no file of the same name in .*image"):
        ImageAlphaReader.from_root(root)


def test_size_mismatch_names_both_files(tmp_path):
    root = make_pairs(tmp_path, "image", "mask")
    save(root / "mask" / "b.png", matte(12, 15))
    with pytest.raises(DatasetError, match=r"b\.png: size 15x12 differs from .*b\.jpg \(16x12\)"):
        ImageMaskReader.from_root(root)


def test_corrupt_file_is_named_when_the_reader_is_built(tmp_path):
    root = make_pairs(tmp_path, "image", "alpha")
    (root / "alpha" / "a.png").write_bytes(b"not a png at all")
    with pytest.raises(DatasetError, match=r"a\.png: not a readable image"):
        ImageAlphaReader.from_root(root)


def test_truncated_file_is_named_when_read(tmp_path):
    root = tmp_path / "cut"
    save(root / "image" / "a.jpg", photo(64, 64))
    save(root / "alpha" / "a.png", matte(64, 64))
    data = (root / "image" / "a.jpg").read_bytes()
    (root / "image" / "a.jpg").write_bytes(data[: len(data) // 2])  # the header survives
    reader = ImageAlphaReader.from_root(root)
    with pytest.raises(DatasetError, match=r"a\.jpg: not a readable image"):
        reader.read(0, np.random.default_rng(0))


def test_empty_and_missing_folders(tmp_path):
    (tmp_path / "image").mkdir()
    save(tmp_path / "alpha" / "a.png", matte(4, 4))
    (tmp_path / "image" / "notes.txt").write_text("no images here")
    with pytest.raises(DatasetError, match=r"image: holds no images"):
        ImageAlphaReader.from_root(tmp_path)
    with pytest.raises(DatasetError, match=r"no mask folder"):
        ImageMaskReader.from_root(tmp_path)
    with pytest.raises(DatasetError, match=r"missing: no such folder"):
        ImageAlphaReader(tmp_path / "missing", tmp_path / "alpha")


def test_composition_needs_backgrounds(tmp_path):
    root, _ = make_composition(tmp_path)
    with pytest.raises(DatasetError, match="background folder"):
        CompositionReader.from_root(root, [])
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match=r"empty: holds no images"):
        CompositionReader.from_root(root, [tmp_path / "empty"])


def test_ambiguous_folders_and_duplicate_names(tmp_path):
    root = make_pairs(tmp_path / "two", "image", "alpha")
    make_pairs(root, "images", "alpha")
    with pytest.raises(DatasetError, match=r"several image folders \(image, images\)"):
        ImageAlphaReader.from_root(root)
    duplicated = make_pairs(tmp_path / "dup", "image", "alpha")
    save(duplicated / "image" / "a.png", photo(12, 16))
    with pytest.raises(DatasetError, match=r"a\.(jpg|png) and a\.(jpg|png) have the same name"):
        ImageAlphaReader.from_root(duplicated)
