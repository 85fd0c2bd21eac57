"""Background variety: it changes the background only, keeps shapes and ranges, repeats with the
generator's seed, and reaches training items only."""
import numpy as np
import pytest
import torch

from alphanet.data import CompositionReader, SegmentationDataset
from alphanet.data.background_variety import vary_background
from alphanet.data.sample import Sample
from tests.test_data_datasets import check_item, folders  # noqa: F401  (a fixture)


def striped_sample() -> Sample:
    """A 48 x 64 sample whose background has structure (stripes and a ramp) for the changes to show."""
    rows, columns = np.mgrid[0:48, 0:64].astype(np.float32)
    bg = np.stack([(columns % 8 < 4).astype(np.float32), rows / 47, np.full_like(rows, 0.3)], axis=2)
    fg = np.full((48, 64, 3), 0.6, np.float32)
    alpha = np.zeros((48, 64), np.float32)
    alpha[10:30, 20:40] = 1.0
    return Sample(fg=fg, bg=bg, alpha=alpha, has_fg_bg=True, name="striped")


def test_only_the_background_changes():
    sample = striped_sample()
    varied = [vary_background(sample, np.random.default_rng(seed)) for seed in range(20)]
    for result in varied:
        assert result.fg is sample.fg and result.alpha is sample.alpha
        assert result.bg.shape == sample.bg.shape and result.bg.dtype == np.float32
        assert 0.0 <= result.bg.min() and result.bg.max() <= 1.0
    # Every draw recolours, so no background comes back as it was, and no two draws agree.
    assert all(np.abs(result.bg - sample.bg).mean() > 0.01 for result in varied)
    assert len({result.bg.tobytes() for result in varied}) == len(varied)


def test_the_same_seed_gives_the_same_background():
    sample = striped_sample()
    first = vary_background(sample, np.random.default_rng(7)).bg
    again = vary_background(sample, np.random.default_rng(7)).bg
    np.testing.assert_array_equal(first, again)


@pytest.mark.parametrize("validation", (False, True))
def test_the_dataset_varies_training_backgrounds_only(folders, validation):  # noqa: F811
    reader = CompositionReader(folders / "fg", folders / "alpha", [folders / "backgrounds"])
    options = {"size": (40, 48), "validation": validation, "colour_jitter": False, "flip_probability": 0.0,
               "scale_range": (1.0, 1.0)}
    plain = SegmentationDataset(reader, **options)
    varied = SegmentationDataset(reader, vary_backgrounds=True, **options)
    for index in range(3):
        torch.manual_seed(index)
        plain_item = plain[index]
        torch.manual_seed(index)
        varied_item = varied[index]
        check_item(varied_item, (40, 48), True)
        assert torch.equal(plain_item["fg"], varied_item["fg"])
        assert torch.equal(plain_item["alpha"], varied_item["alpha"])
        assert torch.equal(plain_item["bg"], varied_item["bg"]) == validation


def test_a_probability_below_one_varies_some_training_backgrounds_and_keeps_the_others(folders):  # noqa: F811
    reader = CompositionReader(folders / "fg", folders / "alpha", [folders / "backgrounds"])
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
