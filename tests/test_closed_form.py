"""The closed-form matting refinement (alphanet/nets/closed_form.py), checked against pymatting's closed-form
matting (Levin et al.), which builds the same Laplacian as a sparse matrix."""
from pathlib import Path

import numpy as np
import pymatting
import pytest
import scipy.sparse
import scipy.sparse.linalg
import torch
from PIL import Image

from alphanet.export import script_alphanet
from alphanet.model import CLOSED_FORM_MODES, fuse
from alphanet.nets.closed_form import (CONFIDENCE_POWER, CONFIDENT_WEIGHT, EPS, PRIOR_WEIGHT, STRIPE_BAND, band_box,
                                       closed_form_prior, laplacian_stencil, refine_closed_form,
                                       stencil_times, stripes)
from alphanet.nets.guided_filter import refine_matte
from alphanet.training.checkpoint import AlphaNetConfig, load_alphanet
from tests.frozen_graph import graph_nodes

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


def test_the_stencil_is_pymattings_laplacian(photo):
    """The whole photo as one tile, padded by 2 as the solver pads its box: the stencil's rows are pymatting's
    sparse matrix, the borders included (both count only the windows that lie wholly inside the image)."""
    image, _ = photo
    matrix = pymatting.cf_laplacian(image, epsilon=EPS, radius=1)
    vector = np.random.default_rng(1).random(SIZE * SIZE)
    pad = [2, 2, 2, 2]
    rgb = torch.nn.functional.pad(as_tensor(image), pad)
    inside = torch.nn.functional.pad(torch.ones(1, 1, SIZE, SIZE, dtype=torch.float64), pad)
    stencil = laplacian_stencil(rgb, inside, EPS)
    product = stencil_times(stencil, torch.nn.functional.pad(as_tensor(vector.reshape(SIZE, SIZE)), pad))
    np.testing.assert_allclose(product[0, 0].numpy().ravel(), matrix @ vector, atol=1e-8)
    np.testing.assert_allclose(stencil[0, 12].numpy().ravel(), matrix.diagonal(), atol=1e-8)


def default_weights(prior: np.ndarray) -> np.ndarray:
    """The archive's pull towards the prior, pixel by pixel: weak, and firmer where the prior is near 0 or 1."""
    return PRIOR_WEIGHT + CONFIDENT_WEIGHT * np.abs(2 * prior - 1) ** CONFIDENCE_POWER


def band_system_solution(image: np.ndarray, prior: np.ndarray, trimap: np.ndarray,
                         weights: np.ndarray) -> np.ndarray:
    """The refinement's system solved directly with pymatting's Laplacian: on the band U, (L_UU + W) a_U =
    W p_U - L_UK t_K, W the diagonal of the pixels' `weights`; the trimap elsewhere."""
    laplacian = pymatting.cf_laplacian(image, epsilon=EPS, radius=1).tocsr()
    unknown = (trimap == 0.5).ravel()
    weight = weights.ravel()[unknown]
    matrix = laplacian[unknown][:, unknown] + scipy.sparse.diags(weight)
    right = weight * prior.ravel()[unknown] - laplacian[unknown][:, ~unknown] @ trimap.ravel()[~unknown]
    alpha = trimap.ravel().copy()
    alpha[unknown] = scipy.sparse.linalg.spsolve(matrix.tocsc(), right)
    return alpha.reshape(trimap.shape)


@pytest.mark.parametrize("tile", [3, 8, 32])
def test_it_solves_the_band_system_whatever_the_tile(photo, tile):
    image, alpha = photo
    trimap = trimap_of(alpha)
    prior = np.random.default_rng(4).random((SIZE, SIZE))
    expected = band_system_solution(image, prior, trimap, default_weights(prior)).clip(0, 1)
    refined = refine_closed_form(as_tensor(image).float(), as_tensor(prior).float(), as_tensor(trimap).float(),
                                 iterations=300, tile=tile)[0, 0].numpy()
    assert np.abs(refined - expected).max() < 2e-5  # float32 steps
    assert np.abs(prior - expected)[trimap == 0.5].max() > 0.3  # the solve had work to do


def test_without_prior_it_is_pymattings_closed_form_matte(photo):
    image, alpha = photo
    trimap = trimap_of(alpha)
    expected = pymatting.estimate_alpha_cf(image, trimap, laplacian_kwargs={"epsilon": EPS},
                                           cg_kwargs={"maxiter": 2000})
    flat_prior = torch.full((1, 1, SIZE, SIZE), 0.5)
    refined = refine_closed_form(as_tensor(image).float(), flat_prior, as_tensor(trimap).float(), prior_weight=1e-9,
                                 iterations=300)[0, 0].numpy()
    unknown = trimap == 0.5
    assert np.abs(refined - expected)[unknown].max() < 1e-4
    assert np.abs(flat_prior[0, 0].numpy() - expected)[unknown].max() > 0.3  # the solve had work to do


def test_a_strong_prior_is_returned_and_a_weak_one_is_smoothed_by_the_photo(photo):
    image, alpha = photo
    trimap = as_tensor(trimap_of(alpha)).float()
    unknown = trimap == 0.5
    noisy = torch.from_numpy(np.random.default_rng(2).random((1, 1, SIZE, SIZE))).float()
    strong = refine_closed_form(as_tensor(image).float(), noisy, trimap, prior_weight=1e6)
    assert (strong - noisy)[unknown].abs().max() < 1e-3
    weak = refine_closed_form(as_tensor(image).float(), noisy, trimap, prior_weight=0.003, confident_weight=0.0,
                              iterations=200)
    truth = as_tensor(alpha).float()
    assert (weak - truth)[unknown].abs().mean() < 0.25 * (noisy - truth)[unknown].abs().mean()


def test_the_extra_weight_holds_a_sure_prior(photo):
    """A prior sure of the wrong side everywhere in the band (0 where the truth is above 1/2, 1 below): the photo
    corrects it without the extra weight for sure pixels, and a large one keeps it."""
    image, alpha = photo
    trimap = as_tensor(trimap_of(alpha)).float()
    unknown = trimap == 0.5
    truth = as_tensor(alpha).float()
    wrong = (truth < 0.5).float()

    def refined(confident_weight: float) -> torch.Tensor:
        return refine_closed_form(as_tensor(image).float(), wrong, trimap, confident_weight=confident_weight,
                                  iterations=300)

    assert (refined(0.0) - truth)[unknown].abs().mean() < 0.25 * (wrong - truth)[unknown].abs().mean()
    assert (refined(1e6) - wrong)[unknown].abs().max() < 1e-3


def test_known_pixels_keep_the_trimap_and_the_band_box_changes_nothing(photo):
    image, alpha = photo
    trimap = np.zeros((SIZE, SIZE))
    trimap[:, : SIZE // 2] = 1.0
    trimap[12:28, SIZE // 2 - 5:SIZE // 2 + 5] = 0.5  # the band lies inside the image, so the box crops it
    prior = alpha.T  # a wrong prior, so that the solve changes it
    refined = refine_closed_form(as_tensor(image).float(), as_tensor(prior).float(), as_tensor(trimap).float(),
                                 iterations=300)[0, 0].numpy()
    known = trimap != 0.5
    assert np.array_equal(refined[known], trimap[known])
    # The whole image's system: the windows outside the box hold no band pixel.
    expected = band_system_solution(image, prior, trimap, default_weights(prior)).clip(0, 1)
    assert np.abs(refined - expected).max() < 2e-5
    assert np.abs(refined - prior)[~known].max() > 0.01


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


def test_a_ridge_too_small_for_float32_stops_the_solve_instead_of_returning_nan():
    """A quantised colour ramp with a ridge of 1e-12: the float32 steps lose positive definiteness (without the
    stop, NaN within 100 steps); the solve keeps its last finite solution and the known pixels."""
    ramp = np.tile(np.linspace(0, 1, 64), (64, 1))[..., None] * 0.5 + np.array([0.2, 0.1, 0.3])
    rgb = as_tensor(np.round(ramp * 255) / 255).float()
    trimap = torch.full((1, 1, 64, 64), 0.5)
    trimap[..., :8], trimap[..., -8:] = 1.0, 0.0
    prior = torch.rand(1, 1, 64, 64, generator=torch.Generator().manual_seed(0))
    refined = refine_closed_form(rgb, prior, trimap, eps=1e-12)
    assert torch.isfinite(refined).all()
    assert torch.equal(refined[trimap != 0.5], trimap[trimap != 0.5])
    assert (refined - prior)[trimap == 0.5].abs().mean() > 0.01  # it did solve before it stopped


def test_scripted_matches_eager(photo):
    image, alpha = photo
    rgb, trimap = as_tensor(image).float(), as_tensor(trimap_of(alpha)).float()
    prior = as_tensor(alpha).float().flip(3)  # a wrong prior, so that the solve changes it
    scripted = torch.jit.script(refine_closed_form)
    torch.testing.assert_close(scripted(rgb, prior, trimap), refine_closed_form(rgb, prior, trimap))


def lemur_crop() -> tuple[torch.Tensor, torch.Tensor]:
    """A 128 x 160 crop of the shared lemur photo with hair against the background, and its trimap: uint8 each."""
    image = torch.from_numpy(np.array(Image.open(LEMUR / "lemur.png").convert("RGB"))[100:228, 200:360].copy())
    trimap = torch.from_numpy(np.array(Image.open(LEMUR / "lemur_trimap.png").convert("L"))[100:228, 200:360].copy())
    return image, trimap


def test_the_prior_is_the_nets_where_it_is_sure_the_guided_filters_where_it_is_not_and_a_blend_between():
    net = torch.tensor([0.0, 0.0005, 0.0055, 0.02, 0.5, 0.98, 0.9945, 0.9995, 1.0]).reshape(1, 1, 1, 9)
    smooth = torch.full_like(net, 0.3)
    prior = closed_form_prior(net, smooth, sure=0.001, unsure=0.01)
    halfway = (0.0055 + 0.3) / 2
    assert prior.flatten().tolist() == pytest.approx([0.0, 0.0005, halfway, 0.3, 0.3, 0.3, (0.9945 + 0.3) / 2,
                                                      0.9995, 1.0], abs=1e-5)


def test_the_model_refines_the_guided_filters_matte_by_closed_form():
    """AlphaNet(closed_form="on"): the net's matte, fused with the trimap and refined by the guided filter, with the
    net's own alpha where it is sure (closed_form_prior), is the prior of closed-form matting; the scripted archive
    computes the same."""
    image, trimap = lemur_crop()
    model = load_alphanet(closed_form="on")
    with torch.inference_mode():
        refined, levels = model(image, trimap)
        rgb = image.permute(2, 0, 1)[None].float() / 255  # under the cap: the photo as it is
        capped = levels[None, None]
        net = fuse(model.matte_band(rgb, capped), capped)
        smooth = fuse(refine_matte(rgb, net), capped).clamp(0, 1)
        prior = closed_form_prior(net, smooth)
        assert (prior != smooth).any()  # the net's sure pixels count on this crop
        expected = fuse(refine_closed_form(rgb, prior, capped), capped)[0, 0]
        smooth_prior_only = fuse(refine_closed_form(rgb, smooth, capped), capped)[0, 0]
        model.closed_form = "off"
        guided, _ = model(image, trimap)
        model.closed_form = "on"
        scripted, _ = script_alphanet(model)(image, trimap)
    torch.testing.assert_close(refined, expected, atol=1e-5, rtol=0)
    assert (refined - smooth_prior_only).abs().max() > 1e-3
    assert (refined - guided).abs().max() > 0.05
    torch.testing.assert_close(scripted, refined, atol=1e-3, rtol=0)


def test_trimap_mode_refines_given_trimaps_only():
    """The default archive's choice, closed_form="trimap": a call with a trimap gets what "on" gives, an automatic
    call what "off" gives; the scripted model decides the same way."""
    image, trimap = lemur_crop()
    model = load_alphanet()
    assert model.closed_form == "trimap"
    outputs = {}
    with torch.inference_mode():
        for mode in CLOSED_FORM_MODES:
            model.closed_form = mode
            outputs[mode] = (model(image, trimap)[0], model(image)[0])
        model.closed_form = "trimap"
        scripted = script_alphanet(model)
        scripted_outputs = (scripted(image, trimap)[0], scripted(image)[0])
    assert torch.equal(outputs["trimap"][0], outputs["on"][0])
    assert torch.equal(outputs["trimap"][1], outputs["off"][1])
    assert (outputs["on"][0] - outputs["off"][0]).abs().max() > 0.05
    assert (outputs["on"][1] - outputs["off"][1]).abs().max() > 0.01  # automatic mode has a band to refine too
    torch.testing.assert_close(scripted_outputs[0], outputs["on"][0], atol=1e-3, rtol=0)
    torch.testing.assert_close(scripted_outputs[1], outputs["off"][1], atol=1e-3, rtol=0)


def test_an_unknown_mode_is_refused_and_old_weights_files_read_as_on_or_off():
    with pytest.raises(ValueError, match="closed_form"):
        load_alphanet(closed_form="sometimes")
    assert AlphaNetConfig(closed_form=True).closed_form == "on"
    assert AlphaNetConfig(closed_form=False).closed_form == "off"


def test_stripes_cover_each_band_row_once_within_the_budget():
    band_per_row = torch.tensor([0, 5, 3, 0, 0, 4, 9, 1, 0, 2, 0])
    ranges = stripes(band_per_row, 8)
    assert ranges == [[1, 3], [5, 6], [6, 7], [7, 10]]  # row 6 alone holds more than 8
    covered = torch.zeros_like(band_per_row)
    for top, bottom in ranges:
        covered[top:bottom] += 1
        assert bottom - top == 1 or int(band_per_row[top:bottom].sum()) <= 8
    assert torch.equal(covered[band_per_row > 0], torch.ones_like(band_per_row[band_per_row > 0]))
    assert stripes(torch.zeros(4, dtype=torch.long), 8) == []
    assert stripes(band_per_row, 100) == [[1, 10]]


def test_a_band_in_stripes_is_the_whole_solve_where_the_overlap_reaches_across_the_photo(photo):
    """Each stripe is solved with `stripe_overlap` rows more on either side: overlapping the whole photo, every
    stripe solves the whole system and keeps its own rows; a little overlap comes closer to that than none."""
    image, alpha = photo
    rgb, trimap = as_tensor(image).float(), as_tensor(trimap_of(alpha)).float()
    prior = as_tensor(np.random.default_rng(4).random((SIZE, SIZE))).float()
    quarter = int((trimap == 0.5).sum()) // 4
    whole = refine_closed_form(rgb, prior, trimap, iterations=300)

    def in_stripes(overlap: int) -> torch.Tensor:
        return refine_closed_form(rgb, prior, trimap, iterations=300, stripe_band=quarter, stripe_overlap=overlap)

    assert len(stripes((trimap == 0.5).sum(dim=[0, 1, 3]), quarter)) >= 4
    torch.testing.assert_close(in_stripes(SIZE), whole, atol=1e-6, rtol=0)
    assert (in_stripes(8) - whole).abs().max() < 0.5 * (in_stripes(0) - whole).abs().max()
    scripted = torch.jit.script(refine_closed_form)
    torch.testing.assert_close(scripted(rgb, prior, trimap, stripe_band=quarter), refine_closed_form(
        rgb, prior, trimap, stripe_band=quarter))


def test_a_band_larger_than_a_stripe_is_refined_too():
    """No band is too large to refine: a photo wholly unknown, over STRIPE_BAND pixels, is solved in stripes."""
    side = 544
    assert side * side > STRIPE_BAND
    generator = torch.Generator().manual_seed(5)
    image = (torch.rand(side // 16, side // 16, 3, generator=generator) * 255).to(torch.uint8)
    image = image.repeat_interleave(16, 0).repeat_interleave(16, 1)  # 16 px blocks: colour lines to follow
    trimap = torch.full((side, side), 128, dtype=torch.uint8)
    trimap[:8], trimap[-8:] = 0, 255
    model = load_alphanet(closed_form="on")
    with torch.inference_mode():
        refined = model(image, trimap)[0]
        model.closed_form = "off"
        unrefined = model(image, trimap)[0]
    assert (refined - unrefined).abs().mean() > 0.01


def test_the_frozen_archive_keeps_its_loops_instead_of_unrolling_them():
    """Freezing unrolls loops with a constant trip count, copying their bodies into the graph; the copies cost a
    worker memory while the archive loads (alphanet/nets/loop_count.py). The solve's product with the Laplacian
    appears once per call site, not once per unrolled step."""
    model = load_alphanet(closed_form="on", mirror_average=True)
    nodes = graph_nodes(script_alphanet(model).graph)
    # A while loop or one over a list has the largest int as its constant trip count; an unrolled loop's remainder
    # and its steps in eights have small ones.
    trip_counts = [node.inputsAt(0).toIValue() for node in nodes if node.kind() == "prim::Loop"]
    assert [count for count in trip_counts if count is not None and count < 2 ** 62] == []
    # the start's residual and the loop's step (attention pooling has its own, whatever the refinement)
    without = graph_nodes(script_alphanet(load_alphanet(closed_form="off", mirror_average=True)).graph)
    assert addcmul_count(nodes) - addcmul_count(without) == 2


def addcmul_count(nodes) -> int:
    return sum(node.kind() == "aten::addcmul_" for node in nodes)
