"""Background variety: it changes the background only, keeps shapes and ranges and repeats with the
generator's seed (that it reaches training items only: test_data_datasets.py)."""
import numpy as np

from alphanet.data.background_variety import vary_background
from alphanet.data.sample import Sample


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
