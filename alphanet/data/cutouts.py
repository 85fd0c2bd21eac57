"""Real objects cut out with alpha, composited on the fly the way catalog and lifestyle photos look.

A cutout library is a folder tree of transparent images (RGBA, grey + alpha, or palette with a transparent
colour; PNG or GIF), one object each, its category the first folder under the root. Three Debian packages supply
the training ones (install them, never commit them):

- `stamps`: Tux Paint's stamps (`tuxpaint-stamps-default`, GPL-2), photographs of real animals, food, plants,
  household things, vehicles, clothes and sports gear;
- `qabcs`: the pictures of the alphabet game qABCs (`qabcs-data`, GPL-3+), animals, food, musical instruments,
  toys and household things, most of them photographs with soft, anti-aliased edges (fur, feathers), the rest
  realistic drawings of the same kinds of objects;
- `portraits`: Wesnoth's character portraits (`wesnoth-1.16-data`, GPL-2+), painted half-length people, so that
  person-shaped silhouettes, hair and garments stay in the mix beside the stamps.

A fourth, `people`, is for validation only: the photographs of real people among Scratch's costumes (`scratch`,
CC-BY-SA-3.0), full-length, about 200 px tall, with a hard (one-bit) alpha edge. They are the only real people the
project has, too few (55 photos of about 20 people) to both train and validate on, so all of them are held out:
they measure the segmentation of real people, which the painted portraits only stand in for.

`split_cutouts` holds out a fixed part of each category by file: the real validation set (alphanet.data.
real_validation) is built from it, and training never sees it. `CutoutReader` makes a new photo at every read:
the cutout (and sometimes a few others from its library, overlapping it) on a studio backdrop (white, grey,
gradients, colour sweeps, with contact shadows and reflections) or on a real scene (a background photo, often
defocused), with lighting and colour changes and JPEG artefacts; or, as a close-up, the main object filling the
photo and cut by its frame, as products are often shot and as the shared photos show a cup, a cat or a face.
"""
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np
from PIL import Image

from alphanet.data.augment import crop_and_resize, shift_hsv
from alphanet.data.image_io import DatasetError, list_images, read_rgb
from alphanet.data.readers import cover_crop
from alphanet.data.sample import Sample
from alphanet.data.textures import gradient, random_colour, shade, smooth_noise

HELD_OUT_FRACTION = 0.15
EXTRA_OBJECT_PROBABILITIES = {0: 0.6, 1: 0.3, 2: 0.1}  # further cutouts beside the main one, in training
# A close-up's main object: its long side against the photo's short side. Up to 1.4, so the frame cuts most of
# them on one side or more; the other photos keep their objects at 30-90 % and whole.
CLOSEUP_EXTENT = (0.9, 1.4)
ASPECTS = (1.0, 4 / 3, 3 / 4, 2 / 3)  # canvas height / width: square, landscape, portrait catalog formats
CUTOUT_SUFFIXES = (".png", ".gif")
PEOPLE_PHOTOGRAPHS = (
    "amon1", "anjuli-1", "anjuli-2", "anjuli-3", "anjuli-4", "anjuli-5", "anna-1", "anna-2", "anna-3",
    "breakdancer1", "breakdancer2", "breakdancer3", "calvrett", "calvrett-jumping", "calvrett-thinking",
    "cassy-chillin", "cassy-dancing-1", "cassy-dancing-2", "cassy-dancing-3", "cassy-dancing-4", "cassy-jumping-1",
    "cassy-jumping-2", "cassy-phone-1", "cassy-sitting-1", "cassy-standing-1", "chamak1", "chamak2", "dan1", "dan2",
    "dan3", "dan4", "dan5", "dan6", "ed", "football-run", "football-stand", "jay", "jodi1", "jodi2", "lee-fan",
    "mako-laughing", "mako-screaming", "mako-stop", "marissa", "marissa-crouching", "marissa-sitting", "nathan",
    "nina1", "paul1", "referee1", "referee2", "ribbon-dancer", "sam", "thai-dancer", "thai-dancer2")


@dataclass(frozen=True)
class Library:
    """Where a cutout library lies, which categories and files to use, how much of it to hold out, and whose it is
    (for the model card)."""
    root: Path
    exclude: tuple = ()  # categories left out
    include: tuple = ()  # if given, only these categories
    files: tuple = ()  # if given, only the files with these names (stems)
    held_out_fraction: float = HELD_OUT_FRACTION  # 1: validation only
    package: str = "-"
    licence: str = "-"


LIBRARIES = {
    # Left out: symbols/ (letters, signs, money) and cartoon/ (drawings), not photographed objects.
    "stamps": Library(Path("/usr/share/tuxpaint/stamps"), exclude=("symbols", "cartoon"),
                      package="tuxpaint-stamps-default", licence="GPL-2"),
    # Photographs and drawings share its folders; both are catalog-like objects, so all are used.
    "qabcs": Library(Path("/usr/share/qabcs/abcs/all/pics"), package="qabcs-data", licence="GPL-3+"),
    # People-like figures only (no monsters, drakes or wolves).
    "portraits": Library(Path("/usr/share/games/wesnoth/1.16/data/core/images/portraits"),
                         include=("humans", "elves", "dwarves", "orcs", "dunefolk", "merfolk", "goblins"),
                         package="wesnoth-1.16-data", licence="GPL-2+"),
    # The costumes that are photographs of people (the others are cartoons), picked by eye; validation only.
    "people": Library(Path("/usr/share/scratch/Media/Costumes"), include=("People",), files=PEOPLE_PHOTOGRAPHS,
                      held_out_fraction=1.0, package="scratch", licence="CC-BY-SA-3.0"),
}


@dataclass(frozen=True)
class Cutout:
    path: Path
    category: str  # the first folder under the library's root
    key: str  # what deduplicates and splits: the file's stem without a `_mirror` suffix, lower case


def library_of(name_or_path: str) -> Library:
    """A library by name (LIBRARIES) or any folder of cutouts, all of its categories used."""
    return LIBRARIES.get(name_or_path) or Library(Path(name_or_path))


def find_cutouts(library: Library) -> list[Cutout]:
    """The library's cutouts, sorted by path, one per key: a `_mirror` copy, or the same name in a second
    category, would otherwise put one object on both sides of the hold-out."""
    root = Path(library.root)
    if not root.is_dir():
        raise DatasetError(f"{root}: no such folder (is the library's Debian package, {library.package}, installed?)")
    cutouts: dict[str, Cutout] = {}
    for path in sorted(p for p in root.rglob("*") if p.suffix.lower() in CUTOUT_SUFFIXES):
        relative = path.relative_to(root)
        category = relative.parts[0] if len(relative.parts) > 1 else ""
        if category in library.exclude or (library.include and category not in library.include):
            continue
        if library.files and path.stem not in library.files:
            continue
        key = path.stem.lower().removesuffix("_mirror")
        cutouts.setdefault(key, Cutout(path, category, key))
    if not cutouts:
        raise DatasetError(f"{root}: holds no cutouts ({', '.join(CUTOUT_SUFFIXES)}) in the chosen categories")
    return sorted(cutouts.values(), key=lambda cutout: cutout.path)


def split_cutouts(cutouts: Sequence[Cutout], held_out_fraction: float = HELD_OUT_FRACTION
                  ) -> tuple[list[Cutout], list[Cutout]]:
    """`(training, held out)`: in each category the `held_out_fraction` (rounded) of the cutouts whose keys hash
    lowest. A hash of the name, not a random draw, so the split stays the same when the package adds files."""
    held_out = set()
    for category in sorted({cutout.category for cutout in cutouts}):
        members = sorted((c for c in cutouts if c.category == category), key=lambda c: _stable_hash(c.key))
        held_out.update(c.key for c in members[:int(round(held_out_fraction * len(members)))])
    return ([c for c in cutouts if c.key not in held_out], [c for c in cutouts if c.key in held_out])


def _stable_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def read_cutout(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """A transparent image -> `(h, w, 3)` RGB and `(h, w)` alpha, float32 in [0, 1], cropped to the alpha's box."""
    try:
        with Image.open(path) as image:
            rgba = np.asarray(image.convert("RGBA"), dtype=np.float32) / 255.0
    except (OSError, ValueError) as error:
        raise DatasetError(f"{path}: not a readable image ({error})") from None
    rows, columns = np.nonzero(rgba[:, :, 3] > 0)
    if rows.size == 0:
        raise DatasetError(f"{path}: fully transparent")
    box = (slice(rows.min(), rows.max() + 1), slice(columns.min(), columns.max() + 1))
    return np.ascontiguousarray(rgba[box][:, :, :3]), np.ascontiguousarray(rgba[box][:, :, 3])


class CutoutReader:
    """Catalog and lifestyle photos made from cutouts: item `i` shows cutout `i` (see the module docstring).

    `backgrounds`: folders of scene photos; `studio_probability`: the share of studio backdrops; `size`: the
    photo's long side; `extra_objects`: whether further cutouts may join the main one; `closeup_probability`: the
    share of close-ups (CLOSEUP_EXTENT). Has the readers' interface
    (`len`, `names`, `read(index, rng) -> Sample`), so the training datasets take it as they take the others.
    """

    def __init__(self, cutouts: Sequence[Cutout], backgrounds: Sequence[Path], studio_probability: float = 0.5,
                 size: int = 512, extra_objects: bool = True, closeup_probability: float = 0.0):
        if not cutouts:
            raise DatasetError("a cutout reader needs at least one cutout")
        self.cutouts = list(cutouts)
        self.backgrounds = [path for folder in backgrounds for path in list_images(Path(folder))]
        if studio_probability < 1 and not self.backgrounds:
            raise DatasetError("scene photos need at least one background folder")
        self.studio_probability, self.size, self.extra_objects = studio_probability, size, extra_objects
        self.closeup_probability = closeup_probability
        self._decoded: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # small images, read once per process

    def __len__(self) -> int:
        return len(self.cutouts)

    @property
    def names(self) -> list[str]:
        return [f"{cutout.category}_{cutout.key}" for cutout in self.cutouts]

    def read(self, index: int, rng: np.random.Generator) -> Sample:
        shape = _canvas_shape(rng, self.size)
        studio = rng.random() < self.studio_probability
        bg = studio_backdrop(rng, shape) if studio else self._scene(rng, shape)
        indices = [index] + self._extra_indices(rng)
        # Drawn only where close-ups are on, so that readers without them make the same photos as before.
        closeup = self.closeup_probability > 0 and rng.random() < self.closeup_probability
        fg, alpha = np.zeros(shape + (3,), np.float32), np.zeros(shape, np.float32)
        # The main object last, on top; the others behind it may be partly hidden.
        for order, object_index in enumerate(reversed(indices)):
            main = order == len(indices) - 1
            colour, object_alpha = self._placed(object_index, rng, shape, main, closeup and main)
            if studio:
                bg = _cast_shadow(bg, object_alpha, rng)
                if rng.random() < 0.2:
                    bg = _reflect(bg, colour, object_alpha, rng)
            fg = object_alpha[:, :, None] * colour + (1 - object_alpha[:, :, None]) * fg
            alpha = object_alpha + (1 - object_alpha) * alpha
        if rng.random() < 0.5:  # a JPEG photo: both layers carry its artefacts
            quality = int(rng.integers(40, 96))
            fg, bg = _jpeg(fg, quality), _jpeg(bg, quality)
        return Sample(fg=fg, bg=bg, alpha=np.clip(alpha, 0, 1).astype(np.float32), has_fg_bg=True,
                      name=self.names[index])

    def _extra_indices(self, rng: np.random.Generator) -> list[int]:
        if not self.extra_objects or len(self.cutouts) < 2:
            return []
        count = rng.choice(list(EXTRA_OBJECT_PROBABILITIES), p=list(EXTRA_OBJECT_PROBABILITIES.values()))
        return [int(i) for i in rng.integers(0, len(self.cutouts), count)]

    def _scene(self, rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
        """A window of a random background photo, often defocused as behind a product shot at a wide aperture."""
        bg = cover_crop(read_rgb(self.backgrounds[rng.integers(len(self.backgrounds))]), shape, rng, (1.0, 2.0))
        if rng.random() < 0.5:
            bg = cv2.GaussianBlur(bg, (0, 0), rng.uniform(0.5, 0.015 * max(shape)))
        return bg

    def _decode(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        if index not in self._decoded:
            self._decoded[index] = read_cutout(self.cutouts[index].path)
        return self._decoded[index]

    def _placed(self, index: int, rng: np.random.Generator, shape: tuple[int, int], main: bool, closeup: bool
                ) -> tuple[np.ndarray, np.ndarray]:
        """Cutout `index` scaled, relit and put somewhere on a `shape` canvas -> `(H, W, 3)` colour, `(H, W)` alpha.

        The main object fills 30-90 % of the canvas's short side, others 15-50 %; a close-up's CLOSEUP_EXTENT,
        the canvas cutting off what lies beyond it. A cutout whose opaque part touches its file's border (a
        half-length portrait, a cropped car) was cut there by its frame, so it is placed touching the canvas's
        border on that side, as a photo would show it."""
        colour, alpha = self._decode(index)
        if closeup:
            extent = rng.uniform(*CLOSEUP_EXTENT)
        else:
            extent = rng.uniform(0.3, 0.9) if main else rng.uniform(0.15, 0.5)
        scale = extent * min(shape) / max(alpha.shape)
        height, width = max(1, int(round(alpha.shape[0] * scale))), max(1, int(round(alpha.shape[1] * scale)))
        if not closeup:
            height, width = min(height, shape[0]), min(width, shape[1])
        interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
        colour = cv2.resize(colour, (width, height), interpolation=interpolation)
        alpha = np.clip(cv2.resize(alpha, (width, height), interpolation=interpolation), 0, 1)
        colour = _relight(colour, rng)
        top = _position(rng, shape[0] - height, alpha[-1].max() > 0.5, alpha[0].max() > 0.5)
        left = _position(rng, shape[1] - width, alpha[:, -1].max() > 0.5, alpha[:, 0].max() > 0.5)
        # The canvas is the window of the object's layers that starts at (-top, -left): zero where it leaves them.
        window = (-top, -left, shape[0], shape[1])
        return crop_and_resize(colour, window, shape), crop_and_resize(alpha, window, shape)


def _canvas_shape(rng: np.random.Generator, size: int) -> tuple[int, int]:
    aspect = ASPECTS[rng.integers(len(ASPECTS))]
    return (size, int(round(size / aspect))) if aspect >= 1 else (int(round(size * aspect)), size)


def _position(rng: np.random.Generator, slack: int, cut_at_end: bool, cut_at_start: bool) -> int:
    """Where an object starts along one axis, `slack` being the canvas's length minus the object's (negative for
    an object longer than the canvas, which then starts before it)."""
    if cut_at_end and not cut_at_start:
        return slack
    if cut_at_start and not cut_at_end:
        return 0
    return int(rng.integers(min(slack, 0), max(slack, 0) + 1))



def studio_backdrop(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """`(H, W, 3)` float32: a catalog studio's backdrop: white, light grey, a soft grey or colour gradient, or a
    colour sweep lit brighter in the middle, with a little uneven light and sensor noise."""
    kind = rng.choice(["white", "grey", "gradient", "sweep"], p=[0.3, 0.2, 0.25, 0.25])
    if kind == "white":
        bg = np.full(shape + (3,), rng.uniform(0.92, 1.0), np.float32)
    elif kind == "grey":
        bg = np.full(shape + (3,), rng.uniform(0.55, 0.9), np.float32)
    elif kind == "gradient":
        bg = np.clip(0.5 + 0.5 * gradient(rng, shape), 0, 1)
    else:
        bright = 1.0 + rng.uniform(0.1, 0.5) * (smooth_noise(rng, shape, cells=2)[:, :, None] - 0.3)
        bg = random_colour(rng, min_value=0.3) * bright
    bg = shade(rng, np.clip(bg, 0, 1).astype(np.float32))
    return np.clip(bg + rng.normal(0, 0.01, bg.shape), 0, 1).astype(np.float32)


def _cast_shadow(bg: np.ndarray, alpha: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A soft contact shadow: the object's alpha squashed onto the floor at its base, blurred, darkening `bg`."""
    rows = np.nonzero(alpha.max(axis=1) > 0.5)[0]
    if rows.size == 0:
        return bg
    squash = rng.uniform(0.05, 0.2)
    height = rows[-1] - rows[0] + 1
    flat = cv2.resize(alpha[rows[0]:rows[-1] + 1], (alpha.shape[1], max(1, int(height * squash))))
    shadow = np.zeros_like(alpha)
    top = min(rows[-1], alpha.shape[0] - 1) - flat.shape[0] // 2
    bottom = min(top + flat.shape[0], alpha.shape[0])
    shadow[top:bottom] = flat[:bottom - top]
    shadow = cv2.GaussianBlur(shadow, (0, 0), max(1.0, rng.uniform(0.01, 0.04) * max(alpha.shape)))
    return bg * (1 - rng.uniform(0.2, 0.6) * shadow[:, :, None])


def _reflect(bg: np.ndarray, colour: np.ndarray, alpha: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A faint mirror image of the object below its base, fading away, as on a glossy studio floor."""
    rows = np.nonzero(alpha.max(axis=1) > 0.5)[0]
    if rows.size == 0 or rows[-1] + 1 >= alpha.shape[0]:
        return bg
    base = rows[-1] + 1
    length = min(alpha.shape[0] - base, base)
    mirrored_alpha = alpha[base - length:base][::-1]
    fade = np.linspace(rng.uniform(0.15, 0.4), 0, length, dtype=np.float32)[:, None]
    weight = (mirrored_alpha * fade)[:, :, None]
    bg = bg.copy()
    bg[base:base + length] = weight * colour[base - length:base][::-1] + (1 - weight) * bg[base:base + length]
    return bg


def _relight(colour: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Another light on the object: hue, saturation and brightness shifted, gamma, uneven light."""
    colour = shift_hsv(colour, rng.uniform(-12, 12), rng.uniform(0.7, 1.3), rng.uniform(0.75, 1.25))
    colour = np.clip(colour, 0, 1) ** rng.uniform(0.8, 1.25)
    return shade(rng, colour.astype(np.float32))


def _jpeg(rgb: np.ndarray, quality: int) -> np.ndarray:
    """`(H, W, 3)` float32 RGB -> the same after a JPEG round trip at `quality`."""
    _, encoded = cv2.imencode(".jpg", (np.clip(rgb, 0, 1) * 255 + 0.5).astype(np.uint8)[:, :, ::-1],
                              [cv2.IMWRITE_JPEG_QUALITY, quality])
    return cv2.imdecode(encoded, cv2.IMREAD_COLOR)[:, :, ::-1].astype(np.float32) / 255.0


def training_cutouts(names_or_paths: Sequence[str]) -> list[Cutout]:
    """The training part of each named library (or folder), pooled."""
    libraries = [library_of(name) for name in names_or_paths]
    for name, library in zip(names_or_paths, libraries):
        if library.held_out_fraction >= 1:
            raise DatasetError(f"{name}: a validation-only library, never trained on")
    return [cutout for library in libraries for cutout in _split(library)[0]]


def held_out_cutouts(name_or_path: str) -> list[Cutout]:
    return _split(library_of(name_or_path))[1]


def _split(library: Library) -> tuple[list[Cutout], list[Cutout]]:
    return split_cutouts(find_cutouts(library), library.held_out_fraction)
