"""Band-only matting (issue 32, item 1): the window around the unknown band (alphanet/nets/band_window.py) and the alpha
AlphaNet computes from it, against the full pass.

The band-only alpha is not the full pass's (the net's output depends on the whole photo; BENCHMARKS.md, "Band-only
matting"). The tolerances below are the ones measured there for the default 256 px margin, with room for other
photos: on the band's pixels a mean difference under 0.02, and nine in ten pixels within 0.05.
"""
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from alphanet.nets.band_window import band_window
from alphanet.training.checkpoint import AlphaNetConfig, build_alphanet, load_alphanet
from alphanet.export import script_alphanet
from alphanet.nets.inference_form import inference_form

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
PHOTOS = SHARED / "data" / "photos"
MEAN_TOLERANCE, P90_TOLERANCE = 0.02, 0.05


def band_of(height: int, width: int, top: int, bottom: int, left: int, right: int) -> torch.Tensor:
    band = torch.zeros(1, 1, height, width, dtype=torch.bool)
    band[:, :, top:bottom, left:right] = True
    return band


@pytest.mark.parametrize("height,width", [(1, 1), (5, 7), (300, 200)])
def test_no_band_gives_no_window(height, width):
    assert band_window(torch.zeros(1, 1, height, width, dtype=torch.bool), 32) == []


def test_the_window_is_the_band_box_grown_by_the_margin_on_the_stride():
    band = band_of(1000, 1200, 500, 540, 600, 610)
    # rows 500 - 64 = 436 down to 416, 540 + 64 = 604 up to 608; columns 536 -> 512, 674 -> 704
    assert band_window(band, 32, margin=64) == [416, 608, 512, 704]


def test_a_band_touching_the_border_gives_a_window_clipped_to_the_photo():
    band = band_of(1000, 1203, 0, 30, 1190, 1203)
    assert band_window(band, 32, margin=64) == [0, 96, 1120, 1203]


@pytest.mark.parametrize("height,width", [(1, 1), (5, 7), (40, 33)])
def test_tiny_photos_are_one_window(height, width):
    band = band_of(height, width, 0, 1, 0, 1)
    assert band_window(band, 32, margin=0) == [0, height, 0, width]


def test_a_window_covering_most_of_the_photo_becomes_the_photo():
    band = band_of(1000, 1000, 100, 900, 100, 900)
    assert band_window(band, 32, margin=0, full_pass_share=0.75) == [96, 928, 96, 928]  # 69 %
    assert band_window(band, 32, margin=32, full_pass_share=0.75) == [0, 1000, 0, 1000]  # 80 %


@pytest.fixture(scope="module")
def random_model():
    torch.manual_seed(0)
    model = build_alphanet(AlphaNetConfig()).eval()
    model.band_matting = True
    return model


def ring_trimap(height: int, width: int, centre, radius: float, width_px: float) -> torch.Tensor:
    """uint8 `(H, W)`: 255 inside a circle, 0 outside, 128 in a ring `width_px` wide along its edge."""
    rows, columns = np.mgrid[:height, :width]
    distance = np.hypot(rows - centre[0], columns - centre[1])
    trimap = np.where(distance < radius, 255, 0).astype(np.uint8)
    trimap[np.abs(distance - radius) < width_px / 2] = 128
    return torch.from_numpy(trimap)


def test_band_matting_is_the_full_pass_exactly_where_the_window_is_the_photo(random_model, monkeypatch):
    image = torch.randint(0, 256, (150, 230, 3), dtype=torch.uint8)  # not a multiple of the stride
    trimap = ring_trimap(150, 230, (70, 110), 50, 12)
    with torch.no_grad():
        band, _ = random_model(image, trimap)
        monkeypatch.setattr(random_model, "band_matting", False)
        full, _ = random_model(image, trimap)
    assert torch.equal(band, full)


@pytest.mark.parametrize("height,width,trimap_kind", [(1, 1, "unknown"), (5, 7, "unknown"), (5, 7, "known"),
                                                      (1600, 40, "ring"), (40, 1700, "ring"), (900, 700, "corner")])
def test_band_matting_answers_every_size_with_the_trimap_kept_outside_the_band(random_model, height, width,
                                                                              trimap_kind):
    image = torch.randint(0, 256, (height, width, 3), dtype=torch.uint8)
    if trimap_kind == "unknown":
        trimap = torch.full((height, width), 128, dtype=torch.uint8)
    elif trimap_kind == "known":
        trimap = torch.full((height, width), 255, dtype=torch.uint8)
    elif trimap_kind == "ring":  # above the 1500 px cap: matted at the capped size
        trimap = ring_trimap(height, width, (height / 2, width / 2), min(height, width) / 3, 6)
    else:  # a band touching the top-left corner, far from the rest: a window smaller than the photo
        trimap = ring_trimap(height, width, (0, 0), 40, 10)
    with torch.no_grad():
        alpha, levels = random_model(image, trimap)
    assert alpha.shape == levels.shape == (height, width)
    assert 0 <= alpha.min() and alpha.max() <= 1
    known = levels != 0.5
    assert torch.equal(alpha[known], levels[known])
    if trimap_kind == "known":
        assert bool((alpha == 1).all())


def test_a_trimap_without_band_is_its_own_alpha(random_model):
    """As the capped trimap of a photo whose band is thinner than the capping's step: nothing to matte."""
    trimap = torch.zeros(1, 1, 60, 80)
    trimap[:, :, 20:40] = 1.0
    assert torch.equal(random_model.matte_band(torch.rand(1, 3, 60, 80), trimap), trimap)


def test_scripted_band_matting_matches_eager(random_model, monkeypatch):
    monkeypatch.setattr(random_model, "band_margin", 32)  # a window smaller than this small photo
    image = torch.randint(0, 256, (300, 400, 3), dtype=torch.uint8)
    trimap = ring_trimap(300, 400, (80, 90), 40, 10)
    scripted = script_alphanet(random_model)
    with torch.no_grad():
        eager_alpha, _ = random_model(image, trimap)
        scripted_alpha, _ = scripted(image, trimap)
    assert (eager_alpha - scripted_alpha).abs().max() <= 1e-4


@pytest.fixture(scope="module")
def trained_models():
    """The default weights with the served (fused) segmenter, the matting net in the form the archive runs,
    full pass and band only."""
    full = load_alphanet(None, segmenter="fused")
    full.matting_net = inference_form(full.matting_net)
    band = load_alphanet(None, segmenter="fused")
    band.matting_net = full.matting_net
    band.band_matting = True
    return full, band


def paste(object_photo: str, object_side: int, background_photo: str, side: int, top: int, left: int) -> torch.Tensor:
    """uint8 `(side, side, 3)`: one shared photo resized to a square of `object_side`, on another."""
    canvas = np.array(Image.open(PHOTOS / background_photo).convert("RGB").resize((side, side)))
    thing = np.array(Image.open(PHOTOS / object_photo).convert("RGB").resize((object_side, object_side)))
    canvas[top:top + object_side, left:left + object_side] = thing
    return torch.from_numpy(canvas)


def disc_composite(side: int, radius: float, centre) -> tuple:
    """A disc textured with the coffee photo on the grass photo, anti-aliased, and a ring trimap along its edge as
    wide as the served ED layer's band for its size (4 % inside, 5 % outside of its diameter)."""
    rows, columns = np.mgrid[:side, :side]
    distance = np.hypot(rows - centre[0], columns - centre[1])
    alpha = np.clip(radius - distance + 0.5, 0, 1)[..., None]
    disc = np.array(Image.open(PHOTOS / "coffee.png").convert("RGB").resize((side, side)))
    background = np.array(Image.open(PHOTOS / "grass.png").convert("RGB").resize((side, side)))
    image = (disc * alpha + background * (1 - alpha)).round().astype(np.uint8)
    trimap = np.where(distance < radius, 255, 0).astype(np.uint8)
    trimap[(distance > radius - 0.08 * radius) & (distance < radius + 0.1 * radius)] = 128
    return torch.from_numpy(image), torch.from_numpy(trimap)


def window_share(levels: torch.Tensor) -> float:
    """The share of the photo that the default window around the band of `levels` `(H, W)` covers."""
    top, bottom, left, right = band_window(levels[None, None] == 0.5, 32)
    return (bottom - top) * (right - left) / levels.numel()


def assert_close_on_the_band(band_alpha, full_alpha, levels):
    band = levels == 0.5
    assert band.any()
    difference = (band_alpha - full_alpha).abs()[band]
    assert difference.mean() < MEAN_TOLERANCE, difference.mean()
    assert difference.quantile(0.9) < P90_TOLERANCE, difference.quantile(0.9)
    known = ~band
    assert torch.equal(band_alpha[known], full_alpha[known])


@pytest.mark.parametrize("radius,centre", [(48, (300, 420)), (80, (700, 120))], ids=["middle", "near_the_border"])
def test_band_alpha_agrees_with_the_full_pass_on_disc_composites(trained_models, radius, centre):
    full, band = trained_models
    image, trimap = disc_composite(768, radius, centre)
    with torch.no_grad():
        full_alpha, levels = full(image, trimap)
        band_alpha, _ = band(image, trimap)
    assert window_share(levels) < 0.75
    assert_close_on_the_band(band_alpha, full_alpha, levels)


def test_band_alpha_agrees_with_the_full_pass_on_a_small_photo_in_a_large_one(trained_models):
    """The astronaut photo, small in the frame, in automatic mode: the segmenter's band, a window of part of it."""
    full, band = trained_models
    image = paste("astronaut.png", 256, "gravel.png", 1024, 640, 96)
    with torch.no_grad():
        full_alpha, levels = full(image)
        band_alpha, band_levels = band(image)
    assert torch.equal(levels, band_levels)
    assert window_share(levels) < 0.75
    assert_close_on_the_band(band_alpha, full_alpha, levels)


@pytest.mark.parametrize("photo", ["coffee.png", "astronaut.png"])
def test_a_photo_filling_the_frame_gets_the_full_pass(trained_models, photo):
    """Objects as large as these: the window would be nearly the photo, so it is the photo, and nothing changes."""
    full, band = trained_models
    image = torch.from_numpy(np.array(Image.open(PHOTOS / photo).convert("RGB").resize((640, 480))))
    with torch.no_grad():
        full_alpha, levels = full(image)
        band_alpha, _ = band(image)
    assert window_share(levels) == 1
    assert torch.equal(band_alpha, full_alpha)
