"""What one training example is, before it becomes tensors: a foreground, a background and an alpha."""
from dataclasses import dataclass, replace

import numpy as np


@dataclass(frozen=True)
class Sample:
    """One example as float32 arrays.

    fg, bg: `(H, W, 3)` RGB in [0, 1]; alpha: `(H, W)` in [0, 1].
    has_fg_bg is False for photos with a matte but no separate foreground and background: then fg
    and bg are both the photo.
    """

    fg: np.ndarray
    bg: np.ndarray
    alpha: np.ndarray
    has_fg_bg: bool
    name: str

    def with_arrays(self, fg: np.ndarray, bg: np.ndarray, alpha: np.ndarray) -> "Sample":
        return replace(self, fg=fg, bg=bg, alpha=alpha)


def composite(sample: Sample) -> np.ndarray:
    """The image the sample shows: `(H, W, 3)` = alpha fg + (1 - alpha) bg (the photo itself when
    fg and bg are both the photo, exactly rather than up to rounding)."""
    if not sample.has_fg_bg:
        return sample.fg
    alpha = sample.alpha[:, :, None]
    return alpha * sample.fg + (1.0 - alpha) * sample.bg
