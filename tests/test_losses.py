"""Training losses: hand-computed 2x2 cases, perfect predictions, the focal / BCE relation, gradients."""
import math

import pytest
import torch
import torch.nn.functional as F

from alphanet.training.losses import (dice_loss, focal_loss, gradient_loss, laplacian_loss, laplacian_pyramid,
                                     matting_loss, segmentation_loss)


def two_by_two_sample():
    """A 2x2 sample: |alpha_pred - alpha_gt| = 0, 0, 0.5, 0.5; fg 0.8 and bg 0.2 in all 3 channels, so
    the composites differ by 0.6 * |alpha difference|."""
    alpha_pred = torch.tensor([[1.0, 0.0], [0.5, 0.5]]).view(1, 1, 2, 2)
    alpha_gt = torch.tensor([[1.0, 0.0], [1.0, 0.0]]).view(1, 1, 2, 2)
    fg = torch.full((1, 3, 2, 2), 0.8)
    bg = torch.full((1, 3, 2, 2), 0.2)
    image = alpha_gt * fg + (1 - alpha_gt) * bg
    return alpha_pred, alpha_gt, image, fg, bg


# --- matting loss ---------------------------------------------------------------------------------

@pytest.mark.parametrize("gamma", [0.5, 0.3])
def test_matting_loss_by_hand(gamma):
    alpha_l1 = (0 + 0 + 0.5 + 0.5) / 4
    composition_l1 = 0.6 * alpha_l1
    loss = matting_loss(*two_by_two_sample(), gamma=gamma)
    assert loss.item() == pytest.approx(gamma * alpha_l1 + (1 - gamma) * composition_l1)


def test_unknown_weight_by_hand():
    # Pixel 3 (error 0.5) is in the band with weight 4, the others weigh 1: (0 + 0 + 4 * 0.5 + 0.5) / 7.
    trimap = torch.tensor([[1.0, 0.0], [0.5, 1.0]]).view(1, 1, 2, 2)
    alpha_l1 = (4 * 0.5 + 0.5) / 7
    loss = matting_loss(*two_by_two_sample(), trimap=trimap, unknown_weight=4.0)
    assert loss.item() == pytest.approx(0.5 * alpha_l1 + 0.5 * 0.6 * alpha_l1)


def test_unknown_weight_needs_a_trimap():
    with pytest.raises(ValueError, match="trimap"):
        matting_loss(*two_by_two_sample(), unknown_weight=4.0)


def test_perfect_prediction_gives_zero_matting_loss():
    torch.manual_seed(0)
    alpha = torch.rand(2, 1, 8, 8)
    fg, bg = torch.rand(2, 3, 8, 8), torch.rand(2, 3, 8, 8)
    image = alpha * fg + (1 - alpha) * bg
    assert matting_loss(alpha, alpha, image, fg, bg).item() == pytest.approx(0.0, abs=1e-7)


def test_samples_without_fg_bg_contribute_only_the_alpha_term():
    alpha_pred, alpha_gt, image, fg, bg = two_by_two_sample()
    # Sample 1 repeats sample 0's alphas but has NaN placeholders for its colours.
    alpha_pred_batch = torch.cat([alpha_pred, alpha_pred]).requires_grad_()
    alpha_gt_batch = torch.cat([alpha_gt, alpha_gt])
    image_batch, fg_batch, bg_batch = (torch.cat([x, torch.full_like(x, float("nan"))]) for x in (image, fg, bg))
    has_fg_bg = torch.tensor([True, False])

    loss = matting_loss(alpha_pred_batch, alpha_gt_batch, image_batch, fg_batch, bg_batch, has_fg_bg=has_fg_bg)
    alpha_l1 = 0.25
    sample_with_fg_bg = 0.5 * alpha_l1 + 0.5 * 0.6 * alpha_l1
    sample_without = 0.5 * alpha_l1
    assert loss.item() == pytest.approx((sample_with_fg_bg + sample_without) / 2)
    loss.backward()
    assert torch.isfinite(alpha_pred_batch.grad).all()


def test_matting_loss_gradient_reaches_the_prediction():
    alpha_pred, alpha_gt, image, fg, bg = two_by_two_sample()
    alpha_pred = alpha_pred.clone().requires_grad_()
    matting_loss(alpha_pred, alpha_gt, image, fg, bg).backward()
    # Pixel (1, 0) is too low and (1, 1) too high; the top row is exact, where torch's abs has gradient 0.
    assert alpha_pred.grad[0, 0, 1, 0] < 0 < alpha_pred.grad[0, 0, 1, 1]
    assert torch.equal(alpha_pred.grad[0, 0, 0], torch.zeros(2))


def test_matting_loss_rejects_mismatched_shapes():
    alpha_pred, alpha_gt, image, fg, bg = two_by_two_sample()
    with pytest.raises(ValueError, match="same shape"):
        matting_loss(alpha_pred, alpha_gt[..., :1], image, fg, bg)
    with pytest.raises(ValueError, match="matching alphas"):
        matting_loss(alpha_pred, alpha_gt, image[..., :1], fg[..., :1], bg[..., :1])
    with pytest.raises(ValueError, match="has_fg_bg"):
        matting_loss(alpha_pred, alpha_gt, image, fg, bg, has_fg_bg=torch.tensor([1]))


# --- Laplacian loss -------------------------------------------------------------------------------

def test_laplacian_loss_of_a_constant_offset_is_the_offset():
    # A constant has no detail at any scale: every band-pass level is 0 and the low-pass rest is the offset.
    alpha_gt = torch.rand(2, 1, 40, 56)
    assert laplacian_loss(alpha_gt + 0.2, alpha_gt).item() == pytest.approx(0.2, abs=1e-6)


def test_laplacian_loss_is_zero_for_a_perfect_prediction_and_reaches_it():
    alpha_gt = torch.rand(1, 1, 32, 32)
    assert laplacian_loss(alpha_gt, alpha_gt).item() == 0.0
    alpha_pred = torch.rand(1, 1, 32, 32, requires_grad=True)
    laplacian_loss(alpha_pred, alpha_gt).backward()
    assert alpha_pred.grad.abs().sum() > 0


def test_laplacian_loss_weighs_a_missed_strand_more_than_its_pixels():
    # A missed vertical strand one pixel wide shows at every level (its edges at full resolution, its mass
    # below), so the loss counts it several times its plain L1 error; a broad offset counts once (test above).
    alpha_gt = torch.zeros(1, 1, 64, 64)
    alpha_gt[..., 32] = 1.0
    alpha_pred = torch.zeros_like(alpha_gt)
    plain_l1 = (alpha_pred - alpha_gt).abs().mean().item()
    levels = [level.abs().mean().item() for level in laplacian_pyramid(alpha_pred - alpha_gt, 5)]
    assert levels[0] == max(levels)
    assert laplacian_loss(alpha_pred, alpha_gt).item() > 4 * plain_l1


def test_laplacian_pyramid_collapses_back_to_the_image():
    image = torch.rand(1, 2, 37, 50)
    *bands, rest = laplacian_pyramid(image, 4)
    for band in reversed(bands):
        rest = band + F.interpolate(rest, size=band.shape[2:], mode="bilinear", align_corners=False)
    assert torch.allclose(rest, image, atol=1e-6)


# --- gradient loss --------------------------------------------------------------------------------

def test_gradient_loss_ignores_a_constant_offset():
    alpha_gt = torch.rand(2, 1, 20, 30)
    assert gradient_loss(alpha_gt + 0.3, alpha_gt).item() == pytest.approx(0.0, abs=1e-6)


def test_gradient_loss_of_a_horizontal_ramp_against_a_flat_alpha():
    # Each column 0.1 above the last: every horizontal difference is off by 0.1, every vertical one by 0.
    alpha_pred = (0.1 * torch.arange(5.0)).expand(1, 1, 4, 5)
    alpha_gt = torch.full((1, 1, 4, 5), 0.2)
    assert gradient_loss(alpha_pred, alpha_gt).item() == pytest.approx(0.1, abs=1e-6)


def test_gradient_loss_counts_pixel_noise_that_l1_hardly_sees():
    # A checkerboard of +-0.05 around the truth: L1 0.05, but each difference jumps by 0.1 in both directions.
    alpha_gt = torch.full((1, 1, 8, 8), 0.5)
    checkerboard = (torch.arange(8)[:, None] + torch.arange(8)[None, :]) % 2 * 2 - 1
    alpha_pred = alpha_gt + 0.05 * checkerboard
    assert (alpha_pred - alpha_gt).abs().mean().item() == pytest.approx(0.05, abs=1e-6)
    assert gradient_loss(alpha_pred, alpha_gt).item() == pytest.approx(0.2, abs=1e-6)


# --- segmentation losses --------------------------------------------------------------------------

def test_focal_loss_by_hand_at_zero_logits():
    # p = 0.5 everywhere: BCE = ln 2, (1 - p_t)^2 = 1/4; weights 0.25 for the foreground pixel and
    # 0.75 for the background pixel, so the mean is (0.25 + 0.75) / 2 * ln 2 / 4.
    logits = torch.zeros(1, 1, 1, 2)
    target = torch.tensor([1.0, 0.0]).view(1, 1, 1, 2)
    assert focal_loss(logits, target).item() == pytest.approx(math.log(2) / 8)


def test_focal_loss_is_half_bce_without_focusing_and_with_balanced_weights():
    torch.manual_seed(1)
    logits = torch.randn(2, 1, 5, 5) * 3
    target = (torch.rand(2, 1, 5, 5) > 0.5).float()
    bce = F.binary_cross_entropy_with_logits(logits, target)
    assert focal_loss(logits, target, alpha=0.5, gamma=0.0).item() == pytest.approx(0.5 * bce.item())


def test_focal_loss_down_weights_confident_pixels():
    target = torch.ones(1, 1, 1, 1)
    confident, unsure = torch.full_like(target, 3.0), torch.zeros_like(target)
    ratio_focal = focal_loss(confident, target) / focal_loss(unsure, target)
    ratio_bce = (F.binary_cross_entropy_with_logits(confident, target)
                 / F.binary_cross_entropy_with_logits(unsure, target))
    assert ratio_focal < ratio_bce


def test_dice_loss_by_hand_at_zero_logits():
    # p = 0.5 on 4 pixels, one foreground pixel: overlap 0.5, total 2 + 1; (2 * 0.5 + 1) / (3 + 1).
    logits = torch.zeros(1, 1, 2, 2)
    target = torch.tensor([[1.0, 0.0], [0.0, 0.0]]).view(1, 1, 2, 2)
    assert dice_loss(logits, target).item() == pytest.approx(1 - 2 / 4)


@pytest.mark.parametrize("target_pixels", [[[1.0, 0.0], [1.0, 1.0]], [[0.0, 0.0], [0.0, 0.0]]])
def test_perfect_mask_gives_near_zero_dice_and_focal(target_pixels):
    target = torch.tensor(target_pixels).view(1, 1, 2, 2)
    perfect_logits = (target * 2 - 1) * 20
    assert dice_loss(perfect_logits, target).item() == pytest.approx(0.0, abs=1e-6)
    assert segmentation_loss(perfect_logits, target).item() == pytest.approx(0.0, abs=1e-6)


def test_segmentation_loss_is_focal_plus_dice_and_has_gradients():
    torch.manual_seed(2)
    logits = torch.randn(2, 1, 6, 6, requires_grad=True)
    target = (torch.rand(2, 1, 6, 6) > 0.5).float()
    loss = segmentation_loss(logits, target)
    assert loss.item() == pytest.approx((focal_loss(logits, target) + dice_loss(logits, target)).item())
    loss.backward()
    assert torch.isfinite(logits.grad).all() and logits.grad.abs().sum() > 0


def test_segmentation_losses_reject_mismatched_shapes():
    with pytest.raises(ValueError, match="same shape"):
        focal_loss(torch.zeros(1, 1, 2, 2), torch.zeros(1, 1, 2, 3))
    with pytest.raises(ValueError, match="same shape"):
        dice_loss(torch.zeros(1, 1, 2, 2), torch.zeros(1, 2, 2))
