"""torch Datasets for training: matting crops and segmentation images, built on any reader.

Each item is a dict of float32 tensors:
    image, fg, bg: (3, H, W) in [0, 1], with image == alpha fg + (1 - alpha) bg
    alpha: (1, H, W) in [0, 1]
    trimap: (1, H, W) in {0, 0.5, 1}, made from alpha (see `trimap.py`)
    mask: (1, H, W) = alpha > 0.5
    has_fg_bg: () bool, False where fg and bg are both the photo (no composition loss then)

Training items are random (torch's generator seeds them, so each DataLoader worker and each epoch
differs and `torch.manual_seed` makes a run repeatable). With `validation=True` an item depends only
on `seed` and its index: no flip, scale, colour jitter or background variety, and a fixed crop,
background and trimap. `vary_backgrounds` is the probability that a composited training sample
passes through `background_variety.vary_background` (0 = never, 1 = always).
"""
import numpy as np
import torch
from torch.utils.data import Dataset

from alphanet.data.augment import crop_sample, flip_sample, jitter_sample, matting_window, zoom_window
from alphanet.data.background_variety import vary_background
from alphanet.data.readers import PairedFolders
from alphanet.data.sample import Sample, composite
from alphanet.data.trimap import trimap_from_alpha


class AugmentedDataset(Dataset):
    """Reads a sample, cuts a window (chosen by the subclass) resized to a fixed shape, flips and
    colour-jitters it (training only), makes its trimap and returns tensors."""

    def __init__(self, reader: PairedFolders, *, scale_range: tuple[float, float], trimap_width: tuple[int, int],
                 flip_probability: float, colour_jitter: bool, vary_backgrounds: float, validation: bool, seed: int):
        self.reader, self.scale_range, self.trimap_width = reader, scale_range, trimap_width
        self.flip_probability, self.colour_jitter = flip_probability, colour_jitter
        self.vary_backgrounds = vary_backgrounds
        self.validation, self.seed = validation, seed

    def __len__(self) -> int:
        return len(self.reader)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        validation = self.validation
        if validation:
            rng = np.random.default_rng((self.seed, index))
        else:  # drawn from torch so that DataLoader workers and epochs differ
            rng = np.random.default_rng(int(torch.randint(0, 2**62, ())))
        sample = self.reader.read(index, rng)
        scale = 1.0 if validation else rng.uniform(*self.scale_range)
        window, out_shape = self.window(sample, rng, scale)
        sample = crop_sample(sample, window, out_shape)
        if not validation and sample.has_fg_bg and self.draws_varied_background(rng):
            sample = vary_background(sample, rng)
        if not validation and rng.random() < self.flip_probability:
            sample = flip_sample(sample)
        if not validation and self.colour_jitter:
            sample = jitter_sample(sample, rng)
        return to_tensors(sample, trimap_from_alpha(sample.alpha, rng, *self.trimap_width))

    def draws_varied_background(self, rng: np.random.Generator) -> bool:
        # At probability 0 or 1 no number is drawn, so runs from before it was a probability repeat exactly.
        if self.vary_backgrounds <= 0 or self.vary_backgrounds >= 1:
            return self.vary_backgrounds >= 1
        return rng.random() < self.vary_backgrounds

    def window(self, sample: Sample, rng: np.random.Generator, scale: float) -> tuple[tuple, tuple[int, int]]:
        """The window to cut from the sample, `(top, left, height, width)`, and the shape to resize it to."""
        raise NotImplementedError


class MattingDataset(AugmentedDataset):
    """Square crops (320 px in the paper) centred around the unknown region of the alpha.

    The window cut from the source is `crop_size / scale` pixels for a random scale in
    `scale_range`, then resized to `crop_size`; with `random_centre_probability` its centre is
    anywhere in the image instead.
    """

    def __init__(self, reader: PairedFolders, crop_size: int = 320, scale_range: tuple[float, float] = (0.75, 1.5),
                 random_centre_probability: float = 0.2, trimap_width: tuple[int, int] = (3, 25),
                 flip_probability: float = 0.5, colour_jitter: bool = True, vary_backgrounds: float = 0.0,
                 validation: bool = False, seed: int = 0):
        super().__init__(reader, scale_range=scale_range, trimap_width=trimap_width, flip_probability=flip_probability,
                         colour_jitter=colour_jitter, vary_backgrounds=vary_backgrounds, validation=validation,
                         seed=seed)
        self.crop_size, self.random_centre_probability = crop_size, random_centre_probability

    def window(self, sample: Sample, rng: np.random.Generator, scale: float) -> tuple[tuple, tuple[int, int]]:
        window = matting_window(sample.alpha, rng, self.crop_size / scale, self.random_centre_probability)
        return window, (self.crop_size, self.crop_size)


class SegmentationDataset(AugmentedDataset):
    """Whole images resized to `size` (496 x 496 in the paper), zoomed by a random scale in
    `scale_range` (> 1 zooms in on a random part, < 1 shows the image smaller, zero padded)."""

    def __init__(self, reader: PairedFolders, size: tuple[int, int] = (496, 496),
                 scale_range: tuple[float, float] = (0.75, 1.5), trimap_width: tuple[int, int] = (3, 25),
                 flip_probability: float = 0.5, colour_jitter: bool = True, vary_backgrounds: float = 0.0,
                 validation: bool = False, seed: int = 0):
        super().__init__(reader, scale_range=scale_range, trimap_width=trimap_width, flip_probability=flip_probability,
                         colour_jitter=colour_jitter, vary_backgrounds=vary_backgrounds, validation=validation,
                         seed=seed)
        self.size = (int(size[0]), int(size[1]))

    def window(self, sample: Sample, rng: np.random.Generator, scale: float) -> tuple[tuple, tuple[int, int]]:
        return zoom_window(sample.alpha.shape, rng, scale), self.size


def to_tensors(sample: Sample, trimap: np.ndarray) -> dict[str, torch.Tensor]:
    """A sample and its `(H, W)` trimap -> the item dict described at the top of this module."""
    return {
        "image": _channels_first(composite(sample)),
        "fg": _channels_first(sample.fg),
        "bg": _channels_first(sample.bg),
        "alpha": _channels_first(sample.alpha),
        "trimap": _channels_first(trimap),
        "mask": _channels_first((sample.alpha > 0.5).astype(np.float32)),
        "has_fg_bg": torch.tensor(sample.has_fg_bg),
    }


def _channels_first(array: np.ndarray) -> torch.Tensor:
    """`(H, W)` or `(H, W, C)` -> `(1, H, W)` or `(C, H, W)` float32 tensor."""
    array = array[:, :, None] if array.ndim == 2 else array
    return torch.from_numpy(np.ascontiguousarray(array.transpose(2, 0, 1), dtype=np.float32))
