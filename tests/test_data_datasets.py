"""Matting and segmentation Datasets on tiny folders: shapes, value ranges, the composite identity,
flags, deterministic validation, reproducible training and background variety on training items only."""
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader

from alphanet.data import (CompositionReader, ImageAlphaReader, ImageMaskReader, MattingDataset,
                           SegmentationDataset)

KEYS = {"image", "fg", "bg", "alpha", "trimap", "mask", "has_fg_bg"}


def save(path: Path, pixels: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path)


def soft_matte(height: int, width: int, seed: int) -> np.ndarray:
    """A block with a linear ramp on its right edge, placed by `seed`."""
    rng = np.random.default_rng(seed)
    alpha = np.zeros((height, width), np.float32)
    top, left = rng.integers(5, height // 2), rng.integers(5, width // 2)
    alpha[top:top + height // 3, left:left + width // 3] = 1.0
    alpha[top:top + height // 3, left + width // 3: left + width // 3 + 6] = np.linspace(0.85, 0.15, 6)
    return np.round(alpha * 255).astype(np.uint8)


@pytest.fixture
def folders(tmp_path) -> Path:
    """tmp_path/{fg,alpha,image,mask,backgrounds}: three 60x90 samples and two backgrounds."""
    rng = np.random.default_rng(0)
    for index in range(3):
        alpha = soft_matte(60, 90, index)
        save(tmp_path / "fg" / f"{index}.png", rng.integers(0, 256, (60, 90, 3), dtype=np.uint8))
        save(tmp_path / "alpha" / f"{index}.png", alpha)
        save(tmp_path / "image" / f"{index}.jpg", rng.integers(0, 256, (60, 90, 3), dtype=np.uint8))
        save(tmp_path / "mask" / f"{index}.png", np.where(alpha > 127, 255, 0).astype(np.uint8))
    save(tmp_path / "backgrounds" / "one.jpg", rng.integers(0, 256, (40, 50, 3), dtype=np.uint8))
    save(tmp_path / "backgrounds" / "two.png", rng.integers(0, 256, (120, 70, 3), dtype=np.uint8))
    return tmp_path


def composition(folders: Path) -> CompositionReader:
    return CompositionReader(folders / "fg", folders / "alpha", [folders / "backgrounds"])


def check_item(item: dict, shape: tuple[int, int], has_fg_bg: bool) -> None:
    assert set(item) == KEYS
    for key in ("image", "fg", "bg"):
        assert item[key].shape == (3, *shape) and item[key].dtype == torch.float32
    for key in ("alpha", "trimap", "mask"):
        assert item[key].shape == (1, *shape) and item[key].dtype == torch.float32
    assert item["has_fg_bg"].dtype == torch.bool and bool(item["has_fg_bg"]) == has_fg_bg
    assert 0 <= item["image"].min() and item["image"].max() <= 1
    assert 0 <= item["alpha"].min() and item["alpha"].max() <= 1
    assert set(item["trimap"].unique().tolist()) <= {0.0, 0.5, 1.0}
    assert torch.equal(item["mask"], (item["alpha"] > 0.5).float())
    composed = item["alpha"] * item["fg"] + (1 - item["alpha"]) * item["bg"]
    torch.testing.assert_close(item["image"], composed, atol=1e-5, rtol=0)


def test_matting_items_from_every_reader(folders):
    readers = [(composition(folders), True), (ImageAlphaReader(folders / "image", folders / "alpha"), False),
               (ImageMaskReader(folders / "image", folders / "mask"), False)]
    for reader, has_fg_bg in readers:
        dataset = MattingDataset(reader, crop_size=32, trimap_width=(1, 4))
        assert len(dataset) == 3
        for index in range(3):
            item = dataset[index]
            check_item(item, (32, 32), has_fg_bg)
            if not has_fg_bg:
                assert torch.equal(item["fg"], item["bg"]) and torch.equal(item["image"], item["fg"])


def test_composite_images_differ_from_fg_and_bg(folders):
    item = MattingDataset(composition(folders), crop_size=32,
                          random_centre_probability=0)[0]
    assert (item["trimap"] == 0.5).any()  # the crop is centred on the transition
    assert not torch.equal(item["image"], item["fg"]) and not torch.equal(item["image"], item["bg"])


def test_segmentation_items_have_the_configured_size(folders):
    for size in ((496, 496), (40, 48)):
        dataset = SegmentationDataset(ImageMaskReader(folders / "image", folders / "mask"), size=size)
        check_item(dataset[1], size, False)
    composed = SegmentationDataset(composition(folders), size=(40, 48))
    check_item(composed[2], (40, 48), True)


def test_validation_items_are_fixed(folders):
    reader = composition(folders)
    for dataset_type, options in ((MattingDataset, {"crop_size": 32}), (SegmentationDataset, {"size": (40, 48)})):
        first = dataset_type(reader, validation=True, seed=5, **options)
        again = dataset_type(reader, validation=True, seed=5, **options)
        other_seed = dataset_type(reader, validation=True, seed=6, **options)
        torch.manual_seed(123)  # validation must not depend on torch's generator
        items = [first[index] for index in range(3)]
        torch.manual_seed(456)
        for index, item in enumerate(items):
            assert all(torch.equal(item[key], again[index][key]) for key in KEYS)
        assert any(not torch.equal(items[index]["bg"], other_seed[index]["bg"]) for index in range(3))


def test_validation_segmentation_shows_the_whole_unflipped_image(folders):
    reader = ImageMaskReader(folders / "image", folders / "mask")
    item = SegmentationDataset(reader, size=(60, 90), validation=True)[0]
    expected = np.asarray(Image.open(folders / "mask" / "0.png"), np.float32) / 255
    np.testing.assert_array_equal(item["alpha"][0].numpy(), expected)


def test_training_items_vary_and_repeat_with_the_torch_seed(folders):
    dataset = MattingDataset(composition(folders), crop_size=32)
    torch.manual_seed(0)
    first = [dataset[0]["image"] for _ in range(4)]
    torch.manual_seed(0)
    again = [dataset[0]["image"] for _ in range(4)]
    assert all(torch.equal(a, b) for a, b in zip(first, again))
    assert not torch.equal(first[0], first[1])


def test_batches_collate(folders):
    dataset = MattingDataset(ImageAlphaReader(folders / "image", folders / "alpha"), crop_size=32)
    batch = next(iter(DataLoader(dataset, batch_size=3)))
    assert batch["image"].shape == (3, 3, 32, 32) and batch["has_fg_bg"].shape == (3,)


@pytest.mark.parametrize("validation", (False, True))
def test_the_dataset_varies_training_backgrounds_only(folders, validation):
    reader = composition(folders)
    options = {"size": (40, 48), "validation": validation, "colour_jitter": False, "flip_probability": 0.0,
               "scale_range": (1.0, 1.0)}
    plain = SegmentationDataset(reader, **options)
    varied = SegmentationDataset(reader, vary_backgrounds=1.0, **options)
    for index in range(3):
        torch.manual_seed(index)
        plain_item = plain[index]
        torch.manual_seed(index)
        varied_item = varied[index]
        check_item(varied_item, (40, 48), True)
        assert torch.equal(plain_item["fg"], varied_item["fg"])
        assert torch.equal(plain_item["alpha"], varied_item["alpha"])
        assert torch.equal(plain_item["bg"], varied_item["bg"]) == validation


def test_a_probability_below_one_varies_some_training_backgrounds_and_keeps_the_others(folders):
    reader = composition(folders)
    options = {"size": (40, 48), "colour_jitter": False, "flip_probability": 0.0, "scale_range": (1.0, 1.0)}
    plain = SegmentationDataset(reader, **options)
    half = SegmentationDataset(reader, vary_backgrounds=0.5, **options)
    kept = []
    for draw in range(30):
        torch.manual_seed(draw)
        plain_bg = plain[draw % len(reader)]["bg"]
        torch.manual_seed(draw)
        kept.append(torch.equal(plain_bg, half[draw % len(reader)]["bg"]))
    assert 5 <= sum(kept) <= 25
