"""Readers: the dataset layouts users have on disk, turned into `Sample`s at full resolution.

Every reader checks its folders when built (matching file names, readable headers, equal sizes)
so a broken dataset fails at once with a `DatasetError` naming the file, not hours into training.
All readers have the same interface: `len(reader)`, `reader.names` and
`reader.read(index, rng) -> Sample`, so the datasets in `datasets.py` take any of them.
"""
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from alphanet.data.augment import crop_and_resize
from alphanet.data.image_io import DatasetError, image_size, list_images, read_alpha, read_rgb
from alphanet.data.sample import Sample

# Folder names used by public datasets; `from_root` constructors need exactly one of each kind.
FG_FOLDER_NAMES = ("fg", "foreground")
IMAGE_FOLDER_NAMES = ("image", "images", "img", "original", "blurred_image", "merged")
ALPHA_FOLDER_NAMES = ("alpha", "alphas", "matte", "mattes", "mask")  # P3M and AM-2k put mattes in mask/
MASK_FOLDER_NAMES = ("mask", "masks")


class PairedFolders:
    """Two folders whose files pair up by stem (`a.jpg` with `a.png`), checked when built.

    The base of the readers below: it holds the pairs and decodes one pair at a time.
    """

    def __init__(self, first_dir: Path, second_dir: Path):
        self.pairs = _matching_pairs(Path(first_dir), Path(second_dir))
        _check_equal_sizes(self.pairs)

    def __len__(self) -> int:
        return len(self.pairs)

    @property
    def names(self) -> list[str]:
        return [first.stem for first, _ in self.pairs]

    def _read_pair(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """Pair `index` -> `(H, W, 3)` RGB of the first file, `(H, W)` grey of the second."""
        rgb_path, grey_path = self.pairs[index]
        rgb, grey = read_rgb(rgb_path), read_alpha(grey_path)
        # Repeats the header check on decoded pixels, for files replaced after the reader was built.
        if rgb.shape[:2] != grey.shape:
            raise DatasetError(f"{grey_path}: size {grey.shape[1]}x{grey.shape[0]} differs from "
                               f"{rgb_path} ({rgb.shape[1]}x{rgb.shape[0]})")
        return rgb, grey


class CompositionReader(PairedFolders):
    """Deep Image Matting / Composition-1k layout: `fg/` and `alpha/` with matching file stems.

    Each read composites the foreground onto a random background from `background_dirs`, scaled
    to cover the foreground (times a random zoom in `background_zoom`) and randomly cropped.
    """

    def __init__(self, fg_dir: Path, alpha_dir: Path, background_dirs: Sequence[Path],
                 background_zoom: tuple[float, float] = (1.0, 1.25)):
        super().__init__(fg_dir, alpha_dir)
        if not background_dirs:
            raise DatasetError(f"{fg_dir}: a composition dataset needs at least one background folder")
        # Background files are only listed here: decoding errors surface, with the file name, when used.
        self.backgrounds = [path for folder in background_dirs for path in list_images(Path(folder))]
        self.background_zoom = background_zoom

    @classmethod
    def from_root(cls, root: Path, background_dirs: Sequence[Path], **options) -> "CompositionReader":
        """`root/fg` (or a name in FG_FOLDER_NAMES) and `root/alpha` (or a name in ALPHA_FOLDER_NAMES)."""
        root = Path(root)
        return cls(_find_folder(root, FG_FOLDER_NAMES, "foreground"),
                   _find_folder(root, ALPHA_FOLDER_NAMES, "alpha"), background_dirs, **options)

    def read(self, index: int, rng: np.random.Generator) -> Sample:
        fg, alpha = self._read_pair(index)
        background = read_rgb(self.backgrounds[rng.integers(len(self.backgrounds))])
        bg = cover_crop(background, alpha.shape, rng, self.background_zoom)
        return Sample(fg=fg, bg=bg, alpha=alpha, has_fg_bg=True, name=self.pairs[index][0].stem)


class ImageAlphaReader(PairedFolders):
    """Photo + alpha matte pairs (P3M-10k, AM-2k, PPM-100 style): `image/` and `alpha/`.

    There is no separate foreground or background, so samples carry `has_fg_bg=False`.
    """

    @classmethod
    def from_root(cls, root: Path) -> "ImageAlphaReader":
        """A photo folder named as in IMAGE_FOLDER_NAMES and a matte folder as in ALPHA_FOLDER_NAMES."""
        root = Path(root)
        return cls(_find_folder(root, IMAGE_FOLDER_NAMES, "image"), _find_folder(root, ALPHA_FOLDER_NAMES, "alpha"))

    def read(self, index: int, rng: np.random.Generator) -> Sample:
        image, alpha = self._read_pair(index)
        return Sample(fg=image, bg=image, alpha=alpha, has_fg_bg=False, name=self.pairs[index][0].stem)


class ImageMaskReader(PairedFolders):
    """Photo + segmentation mask pairs: `image/` and `mask/`.

    Masks may be stored 0/255, 0/1 or soft 0..255; the sample's alpha is the mask in [0, 1].
    """

    @classmethod
    def from_root(cls, root: Path) -> "ImageMaskReader":
        """A photo folder named as in IMAGE_FOLDER_NAMES and a mask folder as in MASK_FOLDER_NAMES."""
        root = Path(root)
        return cls(_find_folder(root, IMAGE_FOLDER_NAMES, "image"), _find_folder(root, MASK_FOLDER_NAMES, "mask"))

    def read(self, index: int, rng: np.random.Generator) -> Sample:
        image, mask = self._read_pair(index)
        if 0 < mask.max() <= 1 / 255:  # a mask saved as 0/1 instead of 0/255
            mask = (mask > 0).astype(np.float32)
        return Sample(fg=image, bg=image, alpha=mask, has_fg_bg=False, name=self.pairs[index][0].stem)


def _find_folder(root: Path, names: Sequence[str], what: str) -> Path:
    """The one folder of `root` named as in `names`; an error if none or several exist."""
    found = [root / name for name in names if (root / name).is_dir()]
    if not found:
        raise DatasetError(f"{root}: no {what} folder (expected one of: {', '.join(names)})")
    if len(found) > 1:
        raise DatasetError(f"{root}: several {what} folders ({', '.join(p.name for p in found)}); "
                           "pass the folders explicitly")
    return found[0]


def _matching_pairs(first_dir: Path, second_dir: Path) -> list[tuple[Path, Path]]:
    """Files of two folders paired by stem (`a.jpg` with `a.png`); an error for any file left alone."""
    first, second = _by_stem(first_dir), _by_stem(second_dir)
    for folder, stems, other_folder, other_stems in ((first_dir, first, second_dir, second),
                                                      (second_dir, second, first_dir, first)):
        unmatched = sorted(set(stems) - set(other_stems))
        if unmatched:
            shown = ", ".join(stems[stem].name for stem in unmatched[:5])
            more = f" and {len(unmatched) - 5} more" if len(unmatched) > 5 else ""
            raise DatasetError(f"{folder}: {shown}{more} has no file of the same name in {other_folder}")
    return [(first[stem], second[stem]) for stem in sorted(first)]


def _by_stem(folder: Path) -> dict[str, Path]:
    paths: dict[str, Path] = {}
    for path in list_images(folder):
        if path.stem in paths:
            raise DatasetError(f"{folder}: {paths[path.stem].name} and {path.name} have the same name")
        paths[path.stem] = path
    return paths


def _check_equal_sizes(pairs: list[tuple[Path, Path]]) -> None:
    for first, second in pairs:
        first_size, second_size = image_size(first), image_size(second)
        if first_size != second_size:
            raise DatasetError(f"{second}: size {second_size[1]}x{second_size[0]} differs from "
                               f"{first} ({first_size[1]}x{first_size[0]})")


def cover_crop(background: np.ndarray, shape: tuple[int, int], rng: np.random.Generator,
                zoom: tuple[float, float]) -> np.ndarray:
    """`(h, w, 3)` background -> `(H, W, 3)`: a random window, scaled so that it covers `shape`."""
    height, width = shape
    scale = max(height / background.shape[0], width / background.shape[1]) * rng.uniform(*zoom)
    window_height, window_width = height / scale, width / scale
    top = rng.uniform(0, background.shape[0] - window_height)
    left = rng.uniform(0, background.shape[1] - window_width)
    return crop_and_resize(background, (top, left, window_height, window_width), (height, width))
