"""The closed-form matting refinement (alphanet/nets/closed_form.py), checked against pymatting's closed-form
matting (Levin et al.), which builds the same Laplacian as a sparse matrix."""
from pathlib import Path

import numpy as np
import pymatting
import pytest
import torch
from PIL import Image

from alphanet.export import script_alphanet
from alphanet.model import fuse
from alphanet.training.checkpoint import load_alphanet
from alphanet.nets.closed_form import (PRIOR_WEIGHT, band_box, laplacian_diagonal, laplacian_times, refine_closed_form,
                                       scatter_windows, solve, window_statistics)

EPS = 1e-6
SIZE = 40
LEMUR = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "lemur"


def soft_edge_photo(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A `(SIZE, SIZE, 3)` float64 photo, red on the left blending into blue on the right over a few pixels, with
    a little noise, and its `(SIZE, SIZE)` true alpha (1 on the red side)."""
    columns = np.arange(SIZE)
    alpha = np.tile(1 / (1 + np.exp((columns - SIZE / 2) / 2.0)), (SIZE, 1))
    red, blue = np.array([0.8, 0.3, 0.2]), np.array([0.1, 0.4, 0.7])
    photo = alpha[..., None] * red + (1 - alpha[..., None]) * blue + 0.02 * rng.random((SIZE, SIZE, 3))
    return photo.clip(0, 1), alpha


def trimap_of(alpha: np.ndarray) -> np.ndarray:
    """Known where the true alpha is within 0.05 of 0 or 1, unknown (0.5) elsewhere."""
    return np.where(alpha > 0.95, 1.0, np.where(alpha < 0.05, 0.0, 0.5))


def as_tensor(pixels: np.ndarray) -> torch.Tensor:
    """`(H, W)` or `(H, W, C)` -> `(1, C, H, W)` float64."""
    pixels = pixels if pixels.ndim == 3 else pixels[..., None]
    return torch.from_numpy(np.ascontiguousarray(pixels)).permute(2, 0, 1)[None].double()


@pytest.fixture
def photo():
    return soft_edge_photo(np.random.default_rng(0))


def test_box_filter_laplacian_is_pymattings_matrix(photo):
    image, _ = photo
    matrix = pymatting.cf_laplacian(image, epsilon=EPS, radius=1)
    vector = np.random.default_rng(1).random(SIZE * SIZE)
    rgb = as_tensor(image)
    mean, inverse = window_statistics(rgb, EPS)
    count = scatter_windows(torch.ones_like(mean[:, :1]))
    product = laplacian_times(as_tensor(vector.reshape(SIZE, SIZE)), rgb, mean, inverse, count)
    # Every pixel, the borders included: both count only the windows that lie wholly inside the image.
    np.testing.assert_allclose(product[0, 0].numpy().ravel(), matrix @ vector, atol=1e-8)
    diagonal = laplacian_diagonal(rgb, mean, inverse, count)
    np.testing.assert_allclose(diagonal[0, 0].numpy().ravel(), matrix.diagonal(), atol=1e-8)


def test_without_prior_it_reaches_pymattings_closed_form_matte(photo):
    image, alpha = photo
    trimap = trimap_of(alpha)
    expected = pymatting.estimate_alpha_cf(image, trimap, laplacian_kwargs={"epsilon": EPS},
                                           cg_kwargs={"maxiter": 2000})
    flat_prior = torch.full((1, 1, SIZE, SIZE), 0.5)
    refined = refine_closed_form(as_tensor(image).float(), flat_prior, as_tensor(trimap).float(), prior_weight=1e-9,
                                 eps=EPS, iterations=300)[0, 0].numpy()
    unknown = trimap == 0.5
    # Not exact: the known pixels are held by a weight of 100, pymatting fixes them.
    assert np.abs(refined - expected)[unknown].max() < 2e-3
    assert np.abs(flat_prior[0, 0].numpy() - expected)[unknown].max() > 0.3  # the solve had work to do


def test_a_strong_prior_is_returned_and_a_weak_one_is_smoothed_by_the_photo(photo):
    image, alpha = photo
    trimap = as_tensor(trimap_of(alpha)).float()
    unknown = trimap == 0.5
    noisy = torch.from_numpy(np.random.default_rng(2).random((1, 1, SIZE, SIZE))).float()
    strong = refine_closed_form(as_tensor(image).float(), noisy, trimap, prior_weight=1e6)
    assert (strong - noisy)[unknown].abs().max() < 1e-3
    weak = refine_closed_form(as_tensor(image).float(), noisy, trimap, prior_weight=0.003, iterations=200)
    truth = as_tensor(alpha).float()
    assert (weak - truth)[unknown].abs().mean() < 0.25 * (noisy - truth)[unknown].abs().mean()


def test_known_pixels_keep_the_trimap_and_the_box_changes_nothing(photo):
    image, alpha = photo
    trimap = np.zeros((SIZE, SIZE))
    trimap[:, : SIZE // 2] = 1.0
    trimap[12:28, SIZE // 2 - 5:SIZE // 2 + 5] = 0.5  # the band lies inside the image, so the box crops it
    rgb, prior, levels = as_tensor(image), as_tensor(alpha), as_tensor(trimap)
    # A known weight that all but fixes the known pixels: the box drops the windows of known pixels at its edge,
    # which changes how far softly held known pixels yield (by ~3e-3 in the band at the default weight of 100).
    refined = refine_closed_form(rgb.float(), prior.float(), levels.float(), known_weight=1e6, iterations=300)
    known = levels != 0.5
    assert torch.equal(refined[known], levels.float()[known])
    weight = torch.where(levels == 0.5, torch.full_like(levels, PRIOR_WEIGHT), torch.full_like(levels, 1e6))
    whole = solve(rgb, weight, torch.where(levels == 0.5, prior, levels), EPS, 300).clamp(0, 1)
    assert (refined.double() - whole)[~known].abs().max() < 1e-5
    assert (refined.double() - prior)[~known].abs().max() > 0.01  # the solve moved the band


def test_band_box_is_the_bounding_box_grown_and_kept_inside():
    unknown = torch.zeros(1, 1, 10, 12, dtype=torch.bool)
    assert band_box(unknown, 2) == []
    unknown[0, 0, 1, 5] = unknown[0, 0, 6, 8] = True
    assert band_box(unknown, 2) == [0, 9, 3, 11]


@pytest.mark.parametrize("size", [(1, 1), (2, 7), (3, 3), (17, 5)])
def test_any_size_keeps_its_shape_and_range(size):
    generator = torch.Generator().manual_seed(3)
    rgb = torch.rand(1, 3, *size, generator=generator)
    trimap = torch.full((1, 1, *size), 0.5)
    refined = refine_closed_form(rgb, torch.rand(1, 1, *size, generator=generator) * 2 - 0.5, trimap)
    assert refined.shape == trimap.shape and refined.dtype == torch.float32
    assert torch.isfinite(refined).all() and refined.min() >= 0 and refined.max() <= 1


def test_scripted_matches_eager(photo):
    image, alpha = photo
    rgb, trimap = as_tensor(image).float(), as_tensor(trimap_of(alpha)).float()
    prior = as_tensor(alpha).float().flip(3)  # a wrong prior, so that the solve changes it
    scripted = torch.jit.script(refine_closed_form)
    torch.testing.assert_close(scripted(rgb, prior, trimap), refine_closed_form(rgb, prior, trimap))


def test_the_model_refines_its_matte_by_closed_form_in_place_of_the_guided_filter():
    """AlphaNet(closed_form=True): the net's matte, fused with the trimap, refined by closed-form matting; the
    scripted archive computes the same."""
    image = torch.from_numpy(np.array(Image.open(LEMUR / "lemur.png").convert("RGB"))[100:228, 200:360].copy())
    trimap = torch.from_numpy(np.array(Image.open(LEMUR / "lemur_trimap.png").convert("L"))[100:228, 200:360].copy())
    model = load_alphanet(closed_form=True)
    with torch.inference_mode():
        refined, levels = model(image, trimap)
        rgb = image.permute(2, 0, 1)[None].float() / 255  # under the cap: the photo as it is
        capped = levels[None, None]
        prior = fuse(model.matte_band(rgb, capped), capped).clamp(0, 1)
        expected = fuse(refine_closed_form(rgb, prior, capped), capped)[0, 0]
        model.closed_form = False
        guided, _ = model(image, trimap)
        model.closed_form = True
        scripted, _ = script_alphanet(model)(image, trimap)
    torch.testing.assert_close(refined, expected, atol=1e-5, rtol=0)
    assert (refined - guided).abs().max() > 0.05
    torch.testing.assert_close(scripted, refined, atol=1e-3, rtol=0)
