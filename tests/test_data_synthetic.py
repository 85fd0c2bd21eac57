"""The synthetic dataset generator and its parts: coverage masks, layers, strands, recipes, the CLI."""
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from alphanet.data.layers import Layer, stack
from alphanet.data.objects import RECIPES, Scene
from alphanet.data.readers import CompositionReader
from alphanet.data.shapes import MaskCanvas
from alphanet.data.strands import boundary_roots, draw_strands, grow_strands
from alphanet.data.synthetic import generate_sample, main, write_dataset
from alphanet.data.textures import TexturePool


@pytest.fixture(scope="module")
def texture_dir(tmp_path_factory) -> Path:
    """Two small photo-like images (one grey) to colour objects with."""
    folder = tmp_path_factory.mktemp("textures")
    rng = np.random.default_rng(0)
    smooth = np.kron(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8), np.ones((8, 8, 1), np.uint8))
    Image.fromarray(smooth).save(folder / "colour.png")
    Image.fromarray(rng.integers(0, 256, (48, 40), dtype=np.uint8)).save(folder / "grey.jpg")
    return folder


def test_same_seed_writes_identical_files(tmp_path, texture_dir):
    for name, seed in (("first", 7), ("again", 7), ("other", 8)):
        write_dataset(tmp_path / name, count=3, seed=seed, texture_dirs=[texture_dir], size=96)
    for sub in ("fg", "alpha"):
        names = sorted(p.name for p in (tmp_path / "first" / sub).iterdir())
        assert names == ["00000.png", "00001.png", "00002.png"]
        for file_name in names:
            first = (tmp_path / "first" / sub / file_name).read_bytes()
            assert first == (tmp_path / "again" / sub / file_name).read_bytes()
            assert first != (tmp_path / "other" / sub / file_name).read_bytes()


def test_alphas_hold_transparent_partial_and_opaque_pixels(shared_data):
    textures = TexturePool([shared_data / "photos"])
    samples = [generate_sample(np.random.default_rng((1, index)), 128, textures) for index in range(12)]
    with_opaque = 0
    for fg, alpha in samples:
        assert fg.shape == (128, 128, 3) and fg.dtype == np.uint8
        assert alpha.shape == (128, 128) and alpha.dtype == np.uint8
        assert (alpha == 0).any()
        assert ((alpha > 0) & (alpha < 255)).sum() >= 20
        with_opaque += (alpha == 255).mean() > 0.01
    assert with_opaque >= 8  # see-through objects alone (glass, veils) have no opaque pixel


def test_see_through_raises_the_share_of_partly_transparent_pixels(shared_data):
    textures = TexturePool([shared_data / "photos"])

    def partial_share(see_through: float) -> float:
        """Mean over 12 samples of the share of the foreground (alpha > 5 %) that is partly transparent."""
        shares = []
        for index in range(12):
            _, alpha = generate_sample(np.random.default_rng((1, index)), 128, textures, see_through)
            shares.append(((alpha > 12) & (alpha < 243)).sum() / max((alpha > 12).sum(), 1))
        return float(np.mean(shares))

    assert partial_share(1.0) > partial_share(0.0) + 0.2


@pytest.mark.parametrize("recipe", list(RECIPES), ids=lambda recipe: recipe.__name__)
def test_every_recipe_draws_a_soft_edged_object(recipe, texture_dir):
    textures = TexturePool([texture_dir])
    for seed in range(3):
        scene = Scene(np.random.default_rng(seed), 128, textures)
        layer = recipe(scene, np.array([64.0, 64.0]), 100.0)
        assert layer.alpha.shape == (128, 128) and layer.premultiplied.shape == (128, 128, 3)
        assert 0 <= layer.alpha.min() and layer.alpha.max() <= 1 + 1e-5
        assert layer.alpha.mean() > 0.01
        assert ((layer.alpha > 0.02) & (layer.alpha < 0.98)).any()
        colour = layer.colour()
        assert 0 <= colour.min() and colour.max() <= 1


def test_mask_canvas_coverage_matches_the_geometry():
    canvas = MaskCanvas(64, 64, supersample=4)
    canvas.ellipse((32, 32), (20, 12))
    assert canvas.alpha().sum() == pytest.approx(np.pi * 20 * 12, rel=0.03)
    canvas = MaskCanvas(64, 64, supersample=4)
    canvas.polygon(np.array([[10, 10], [50, 10], [50, 30], [10, 30]]))
    canvas.polygon(np.array([[20, 15], [30, 15], [30, 25], [20, 25]]), value=0.0)  # a hole
    assert canvas.alpha().sum() == pytest.approx(40 * 20 - 10 * 10, rel=0.05)
    for width in (0.3, 0.6, 2.0):
        canvas = MaskCanvas(64, 64, supersample=4)
        canvas.lines(np.array([[[0.0, 32.3], [63.0, 32.3]]]), width)
        column = canvas.alpha()[:, 32]
        assert column.sum() == pytest.approx(width, rel=0.15)
        assert width >= 1 or column.max() < 1  # a hair thinner than a pixel only partly covers it


def test_layers_stack_like_light():
    red, blue = np.zeros((4, 4, 3), np.float32), np.zeros((4, 4, 3), np.float32)
    red[..., 0], blue[..., 2] = 1.0, 1.0
    back = Layer.paint(np.full((4, 4), 0.5, np.float32), red)
    front = Layer.paint(np.full((4, 4), 0.25, np.float32), blue)
    both = stack([back, front])
    np.testing.assert_allclose(both.alpha, 0.25 + 0.5 * 0.75)
    np.testing.assert_allclose(both.premultiplied[0, 0], [0.5 * 0.75, 0, 0.25])
    np.testing.assert_allclose(back.colour()[0, 0], [1, 0, 0], atol=1e-6)
    np.testing.assert_allclose(back.faded(0.5).alpha, 0.25)


def test_strands_grow_outwards_with_the_asked_length():
    mask = np.zeros((100, 100), np.float32)
    mask[30:70, 30:70] = 1.0
    rng = np.random.default_rng(0)
    roots, directions = boundary_roots(mask, rng, per_pixel=1.0, inset=(0, 0))
    assert 100 < len(roots) < 200
    outward = np.stack([np.cos(directions), np.sin(directions)], 1)
    assert np.all(np.sum((roots + 3 * outward - 50) * outward, axis=1) > 0)  # pointing away from the centre
    paths = grow_strands(rng, roots, directions, np.full(len(roots), 12.0), curl=0.0, spread=0.0)
    lengths = np.linalg.norm(np.diff(paths, axis=1), axis=2).sum(axis=1)
    np.testing.assert_allclose(lengths, 12.0, rtol=1e-6)
    canvas = MaskCanvas(100, 100, supersample=4)
    draw_strands(canvas, paths, rng, thickness=(0.2, 0.4), opacity=(1.0, 1.0))
    alpha = canvas.alpha()
    outside = alpha * (1 - mask)
    assert outside.sum() > 50 and 0 < outside[outside > 0].mean() < 0.6


def test_command_line_writes_a_dataset_readers_accept(tmp_path, texture_dir):
    out = tmp_path / "synthetic"
    main(["--out", str(out), "--count", "2", "--seed", "3", "--size", "64", "--textures", str(texture_dir)])
    reader = CompositionReader.from_root(out, [texture_dir])
    sample = reader.read(1, np.random.default_rng(0))
    assert len(reader) == 2 and sample.fg.shape == (64, 64, 3) and sample.bg.shape == (64, 64, 3)
    with pytest.raises(SystemExit) as refused:
        main(["--out", str(out), "--count", "1", "--textures", str(texture_dir)])
    assert refused.value.code == 2
    for bad in (["--count", "0"], ["--count", "1", "--see-through", "1.5"], ["--count", "1", "--workers", "0"],
                ["--count", "2", "--workers", "2", "--textures", str(tmp_path / "missing")]):
        with pytest.raises(SystemExit):
            main(["--out", str(tmp_path / "empty"), *bad])


def test_workers_write_the_same_files_as_one_process(tmp_path, texture_dir):
    for workers in (1, 2):
        main(["--out", str(tmp_path / str(workers)), "--count", "5", "--seed", "4", "--size", "48",
              "--textures", str(texture_dir), "--workers", str(workers)])
    for folder in ("fg", "alpha"):
        one, two = sorted((tmp_path / "1" / folder).iterdir()), sorted((tmp_path / "2" / folder).iterdir())
        assert [p.name for p in one] == [p.name for p in two] == [f"{i:05d}.png" for i in range(5)]
        assert all(a.read_bytes() == b.read_bytes() for a, b in zip(one, two))
