"""Real-cutout libraries on small folders of transparent images made here: finding, splitting, compositing, and
the real validation command."""
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from alphanet.data import cutouts as cutouts_module
from alphanet.data.cutouts import (CutoutReader, Library, find_cutouts, held_out_cutouts, read_cutout,
                                   split_cutouts, studio_backdrop, training_cutouts)
from alphanet.data.image_io import DatasetError
from alphanet.data.real_validation import main as real_validation

RNG = np.random.default_rng(0)


def save_cutout(path: Path, height: int = 30, width: int = 20, touches_bottom: bool = False) -> Path:
    """An opaque ellipse with a soft rim on a transparent 40 x 40 canvas; `touches_bottom`: cut by the file's
    bottom edge, as a half-length portrait is."""
    rows, columns = np.mgrid[0:40, 0:40]
    centre_row = 40 - height / 4 if touches_bottom else 20
    distance = ((rows - centre_row) / (height / 2)) ** 2 + ((columns - 20) / (width / 2)) ** 2
    alpha = np.clip((1.2 - distance) / 0.4, 0, 1)
    rgba = np.dstack([RNG.integers(0, 256, (40, 40, 3)), np.round(alpha * 255)]).astype(np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rgba, "RGBA").save(path)
    return path


def make_library(root: Path, per_category: int = 10) -> Path:
    for category in ("animals", "food", "symbols"):
        for i in range(per_category):
            save_cutout(root / category / f"{category}_{i}.png")
    save_cutout(root / "animals" / "animals_0_mirror.png")  # the same object flipped: one key
    save_cutout(root / "people" / "bust.png", touches_bottom=True)
    return root


def make_backgrounds(root: Path) -> Path:
    root.mkdir(parents=True)
    for name, size in (("wide.jpg", (30, 90)), ("tall.png", (80, 25))):
        Image.fromarray(RNG.integers(0, 256, size + (3,), dtype=np.uint8)).save(root / name)
    return root


def test_find_cutouts_leaves_out_excluded_categories_and_mirrored_copies(tmp_path):
    library = Library(make_library(tmp_path / "lib"), exclude=("symbols",))
    cutouts = find_cutouts(library)
    assert {c.category for c in cutouts} == {"animals", "food", "people"}
    assert len(cutouts) == 10 + 10 + 1
    assert not any("mirror" in c.path.name for c in cutouts)
    included = find_cutouts(Library(library.root, include=("food",)))
    assert {c.category for c in included} == {"food"}


def test_find_cutouts_names_a_missing_library_or_an_empty_one(tmp_path):
    with pytest.raises(DatasetError, match="no such folder"):
        find_cutouts(Library(tmp_path / "absent", package="some-package"))
    (tmp_path / "empty" / "animals").mkdir(parents=True)
    with pytest.raises(DatasetError, match="no cutouts"):
        find_cutouts(Library(tmp_path / "empty"))


def test_the_split_holds_out_part_of_each_category_by_name_and_stays_put_when_files_are_added(tmp_path):
    root = make_library(tmp_path / "lib", per_category=20)
    training, held_out = split_cutouts(find_cutouts(Library(root)))
    assert {c.key for c in training}.isdisjoint({c.key for c in held_out})
    for category in ("animals", "food", "symbols"):
        assert sum(c.category == category for c in held_out) == 3  # 15 % of 20
    save_cutout(root / "food" / "food_new.png")
    held_out_again = split_cutouts(find_cutouts(Library(root)))[1]
    assert {c.key for c in held_out if c.category != "food"} == {
        c.key for c in held_out_again if c.category != "food"}  # other categories' hold-outs unchanged
    assert [c.key for c in held_out_cutouts(str(root))] == [c.key for c in held_out_again]


def save_gif_cutout(path: Path) -> Path:
    """A 12 x 8 opaque block on a transparent 40 x 40 palette image: one-bit alpha, as a GIF has."""
    indices = np.zeros((40, 40), np.uint8)  # index 0: the transparent colour
    indices[10:22, 5:13] = RNG.integers(1, 256, (12, 8))
    image = Image.fromarray(indices, "P")
    image.putpalette(RNG.integers(0, 256, 768).astype(np.uint8).tobytes())
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, transparency=0)
    return path


def test_a_validation_only_library_of_chosen_gif_files_is_held_out_whole(tmp_path, monkeypatch):
    root = tmp_path / "costumes"
    for name in ("photo1", "photo2", "cartoon"):
        save_gif_cutout(root / "People" / f"{name}.gif")
    library = Library(root, files=("photo1", "photo2"), held_out_fraction=1.0)
    assert [c.key for c in find_cutouts(library)] == ["photo1", "photo2"]
    monkeypatch.setitem(cutouts_module.LIBRARIES, "photos", library)
    assert [c.key for c in held_out_cutouts("photos")] == ["photo1", "photo2"]
    with pytest.raises(DatasetError, match="validation-only"):
        training_cutouts(["photos"])
    colour, alpha = read_cutout(root / "People" / "photo1.gif")
    assert alpha.shape == colour.shape[:2] == (12, 8) and np.all(alpha == 1.0)  # cropped to the opaque block


def test_read_cutout_crops_to_the_alpha_box(tmp_path):
    colour, alpha = read_cutout(save_cutout(tmp_path / "a.png", height=30, width=20))
    assert colour.shape[:2] == alpha.shape and colour.dtype == alpha.dtype == np.float32
    assert alpha.shape[0] > alpha.shape[1]  # taller than wide, as drawn
    assert alpha.max() == 1.0 and alpha[0].max() > 0 and alpha[:, 0].max() > 0  # no empty border left
    with pytest.raises(DatasetError, match="transparent"):
        Image.fromarray(np.zeros((5, 5, 4), np.uint8), "RGBA").save(tmp_path / "clear.png")
        read_cutout(tmp_path / "clear.png")


@pytest.mark.parametrize("studio_probability", [1.0, 0.0])
def test_the_reader_makes_catalog_photos_of_its_cutouts(tmp_path, studio_probability):
    cutouts = find_cutouts(Library(make_library(tmp_path / "lib")))
    reader = CutoutReader(cutouts, [make_backgrounds(tmp_path / "bg")], studio_probability, size=64)
    assert len(reader) == len(cutouts) and len(reader.names) == len(set(reader.names))
    for index in range(6):
        sample = reader.read(index, np.random.default_rng(index))
        assert sample.has_fg_bg and sample.name == reader.names[index]
        assert max(sample.alpha.shape) == 64 and sample.fg.shape == sample.bg.shape == sample.alpha.shape + (3,)
        for layer in (sample.fg, sample.bg, sample.alpha):
            assert layer.dtype == np.float32 and layer.min() >= 0 and layer.max() <= 1
        assert 0.01 < (sample.alpha > 0.5).mean() < 0.95  # an object, neither lost nor filling the photo
        assert ((sample.alpha > 0) & (sample.alpha < 1)).any()  # soft edges kept


def test_the_same_seed_makes_the_same_photo(tmp_path):
    reader = CutoutReader(find_cutouts(Library(make_library(tmp_path / "lib"))), [make_backgrounds(tmp_path / "bg")],
                          size=48)
    first, second = (reader.read(3, np.random.default_rng(7)) for _ in range(2))
    np.testing.assert_array_equal(first.alpha, second.alpha)
    np.testing.assert_array_equal(first.bg, second.bg)


def test_a_cutout_cut_by_its_frame_stands_on_the_photos_border(tmp_path):
    root = make_library(tmp_path / "lib")
    bust = [c for c in find_cutouts(Library(root)) if c.key == "bust"]
    reader = CutoutReader(bust, [], studio_probability=1.0, size=64, extra_objects=False)
    for seed in range(5):
        alpha = reader.read(0, np.random.default_rng(seed)).alpha
        assert alpha[-1].max() > 0.5  # cut at the bottom in the file, so at the photo's bottom too


def test_a_closeup_fills_the_photo_and_is_cut_by_its_frame(tmp_path):
    """The ellipse (30 x 20 px in a 40 px file) as a close-up: its long side 0.9-1.4 times the photo's short
    side, larger than the same photo without close-ups makes it, often cut by the frame, and where the frame does
    not cut it still 3:2 tall."""
    ellipse = [c for c in find_cutouts(Library(make_library(tmp_path / "lib"))) if c.category == "food"][:1]
    reader = CutoutReader(ellipse, [], studio_probability=1.0, size=64, extra_objects=False, closeup_probability=1.0)
    whole = CutoutReader(ellipse, [], studio_probability=1.0, size=64, extra_objects=False)
    cut = 0
    for seed in range(12):
        alpha = reader.read(0, np.random.default_rng(seed)).alpha
        rows, columns = np.nonzero(alpha > 0.5)
        height, width = rows.max() - rows.min() + 1, columns.max() - columns.min() + 1
        assert height >= 0.8 * min(alpha.shape) or rows.min() == 0 or rows.max() == alpha.shape[0] - 1
        touches_frame = (rows.min() == 0, rows.max() == alpha.shape[0] - 1, columns.min() == 0,
                         columns.max() == alpha.shape[1] - 1)
        cut += any(touches_frame)
        if not any(touches_frame):
            assert 1.3 < height / width < 1.7
        assert (alpha > 0.5).mean() > (whole.read(0, np.random.default_rng(seed)).alpha > 0.5).mean()
    assert cut >= 4  # most close-ups leave the frame on some side


def test_a_reader_without_closeups_makes_the_photos_it_made_before_they_existed(tmp_path):
    """The close-up draw is skipped at probability 0, so the real validation's first sets keep their bytes."""
    cutouts = find_cutouts(Library(make_library(tmp_path / "lib")))
    backgrounds = [make_backgrounds(tmp_path / "bg")]
    plain = CutoutReader(cutouts, backgrounds, 0.5, size=48)
    zero = CutoutReader(cutouts, backgrounds, 0.5, size=48, closeup_probability=0.0)
    some = CutoutReader(cutouts, backgrounds, 0.5, size=48, closeup_probability=0.5)
    differs = 0
    for seed in range(6):
        first, second, third = (r.read(seed, np.random.default_rng(seed)) for r in (plain, zero, some))
        np.testing.assert_array_equal(first.alpha, second.alpha)
        np.testing.assert_array_equal(first.fg, second.fg)
        differs += not np.array_equal(first.alpha, third.alpha)
    assert differs > 0


def test_scenes_need_backgrounds(tmp_path):
    cutouts = find_cutouts(Library(make_library(tmp_path / "lib")))
    with pytest.raises(DatasetError, match="background"):
        CutoutReader(cutouts, [], studio_probability=0.5)


def test_studio_backdrops_are_smooth_and_light(tmp_path):
    for seed in range(10):
        backdrop = studio_backdrop(np.random.default_rng(seed), (48, 64))
        assert backdrop.shape == (48, 64, 3) and backdrop.min() >= 0 and backdrop.max() <= 1
        assert np.abs(np.diff(backdrop, axis=1)).mean() < 0.05  # no texture: a backdrop, not a scene


def test_the_real_validation_command_writes_the_same_sets_twice(tmp_path):
    library = make_library(tmp_path / "lib", per_category=14)
    backgrounds = make_backgrounds(tmp_path / "bg")

    def build(out: Path) -> Path:
        real_validation(["--backgrounds", str(backgrounds), "--out", str(out), "--libraries", str(library),
                         "--size", "48"])
        return out

    first, second = build(tmp_path / "one"), build(tmp_path / "two")
    held_out = held_out_cutouts(str(library))
    for setting in ("studio", "scene", "closeup"):
        images = sorted((first / f"lib_{setting}" / "image").iterdir())
        assert len(images) == len(held_out) == len(list((first / f"lib_{setting}" / "alpha").iterdir()))
        for image in images:
            again = second / f"lib_{setting}" / "image" / image.name
            np.testing.assert_array_equal(np.asarray(Image.open(image)), np.asarray(Image.open(again)))
    rows = (first / "HOLDOUT.tsv").read_text().splitlines()
    assert rows[0] == "library\tcategory\tfile" and len(rows) == 1 + len(held_out)
