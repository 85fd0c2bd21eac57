"""Training losses: AlphaNet's matting loss and the focal + dice loss that pre-trains the segmentation net.

The paper's matting loss is gamma * A_L + (1 - gamma) * C_L with plain L1 terms over the whole image
(not only the unknown band) and gamma = 0.5; here both terms are means over pixels, which only
rescales the paper's sums. `unknown_weight` optionally weighs the trimap's unknown band more (a deviation
from the paper, off by default): fusion keeps only the band's alpha, and with a plain whole-image loss a
small net meets most of the loss by copying the trimap and learns the band slowly.

`laplacian_loss` is not in the paper either: the L1 distance of two alphas' Laplacian pyramids (as in Hou and Liu
2019 and FBA matting). A broad error counts once, at the low-pass level; a thin one such as a missed hair strand
shows at every level and counts several times its few pixels.

`gradient_loss` is not in the paper either: the L1 distance of two alphas' spatial derivatives (as in the gradient
losses of Dai et al. 2021 and Li and Lu 2020). A smooth prediction that is off by a constant costs nothing; pixel
noise and smeared edges, which the gradient error metric counts and a plain L1 loss barely sees, cost the most.
"""
import torch
import torch.nn.functional as F
from torch import Tensor


def matting_loss(alpha_pred: Tensor, alpha_gt: Tensor, image: Tensor, fg: Tensor, bg: Tensor,
                 has_fg_bg: Tensor | None = None, gamma: float = 0.5, trimap: Tensor | None = None,
                 unknown_weight: float = 1.0) -> Tensor:
    """gamma * alpha L1 + (1 - gamma) * composition L1, averaged over the batch; a scalar.

    alpha_pred, alpha_gt: `(N, 1, H, W)` in [0, 1].
    image, fg, bg: `(N, C, H, W)` on one colour scale; image is the ground-truth composite
        alpha_gt * fg + (1 - alpha_gt) * bg.
    has_fg_bg: bool `(N,)`; a sample marked False has no usable fg / bg (e.g. a real photo with only
        a ground-truth matte) and contributes only gamma * its alpha term. None means all True.
    trimap: `(N, 1, H, W)` in {0, 0.5, 1}; needed only when unknown_weight != 1, whose pixels in the
        unknown band (0.5) then count unknown_weight times as much as the others.

    Each sample's terms are weighted means over its pixels (and colour channels for the composition);
    the loss is the mean of the per-sample losses, so a sample's weight does not depend on its batch.
    """
    _check_same_shape(alpha_pred, alpha_gt, "alpha_pred", "alpha_gt")
    if alpha_pred.dim() != 4 or alpha_pred.shape[1] != 1:
        raise ValueError(f"alphas must be (N, 1, H, W), got {tuple(alpha_pred.shape)}")
    _check_same_shape(image, fg, "image", "fg")
    _check_same_shape(image, bg, "image", "bg")
    batch_size = alpha_pred.shape[0]
    if image.dim() != 4 or image.shape[0] != batch_size or image.shape[2:] != alpha_pred.shape[2:]:
        raise ValueError(f"image, fg and bg must be (N, C, H, W) matching alphas {tuple(alpha_pred.shape)}, "
                         f"got {tuple(image.shape)}")
    if has_fg_bg is None:
        has_fg_bg = torch.ones(batch_size, dtype=torch.bool, device=alpha_pred.device)
    if has_fg_bg.dtype != torch.bool or has_fg_bg.shape != (batch_size,):
        raise ValueError(f"has_fg_bg must be a bool tensor of shape ({batch_size},), "
                         f"got {has_fg_bg.dtype} {tuple(has_fg_bg.shape)}")

    weight = _pixel_weight(alpha_pred, trimap, unknown_weight)
    alpha_l1 = _weighted_mean((alpha_pred - alpha_gt).abs(), weight)
    # Select rather than multiply by a 0/1 mask: placeholder fg / bg (even NaN) of the other samples
    # must not reach the loss or its gradient.
    alpha_with_fg_bg = alpha_pred[has_fg_bg]
    composite = alpha_with_fg_bg * fg[has_fg_bg] + (1 - alpha_with_fg_bg) * bg[has_fg_bg]
    composition_l1 = _weighted_mean((composite - image[has_fg_bg]).abs(), weight[has_fg_bg])
    return (gamma * alpha_l1.sum() + (1 - gamma) * composition_l1.sum()) / batch_size


def _pixel_weight(alpha_pred: Tensor, trimap: Tensor | None, unknown_weight: float) -> Tensor:
    """`(N, 1, H, W)` weights: 1 everywhere, unknown_weight in the trimap's unknown band."""
    if unknown_weight == 1.0:
        return torch.ones_like(alpha_pred)
    if trimap is None:
        raise ValueError("unknown_weight needs the trimap")
    _check_same_shape(alpha_pred, trimap, "alpha_pred", "trimap")
    unknown = (trimap - 0.5).abs() < 0.25
    return 1.0 + (unknown_weight - 1.0) * unknown.to(alpha_pred.dtype)


def _weighted_mean(error: Tensor, weight: Tensor) -> Tensor:
    """Per-sample weighted mean of `(N, C, H, W)` errors with `(N, 1, H, W)` weights -> `(N,)`."""
    weight = weight.expand_as(error)
    return (error * weight).sum(dim=(1, 2, 3)) / weight.sum(dim=(1, 2, 3))


def laplacian_loss(alpha_pred: Tensor, alpha_gt: Tensor, levels: int = 5) -> Tensor:
    """Sum over the `levels` levels of the two alphas' Laplacian pyramids of each level's mean absolute difference;
    a scalar. alpha_pred, alpha_gt: `(N, 1, H, W)`.

    The levels weigh the same. FBA matting weighs level i by 2^i; on the fused alphas of the default weights that
    made the low-pass level, in effect a blurred L1 loss like the matting loss itself, 78 % of the term, and the
    full-resolution detail, where hair strands are, 1 %. Computed in float32 even under autocast: the detail of
    a good prediction is a small difference."""
    _check_same_shape(alpha_pred, alpha_gt, "alpha_pred", "alpha_gt")
    with torch.autocast(alpha_pred.device.type, enabled=False):
        pyramid = laplacian_pyramid(alpha_pred.float() - alpha_gt.float(), levels)
        return sum(level.abs().mean() for level in pyramid)


def gradient_loss(alpha_pred: Tensor, alpha_gt: Tensor) -> Tensor:
    """Mean absolute difference of the two alphas' horizontal plus vertical forward differences; a scalar.
    alpha_pred, alpha_gt: `(N, 1, H, W)`. In float32 even under autocast, as laplacian_loss."""
    _check_same_shape(alpha_pred, alpha_gt, "alpha_pred", "alpha_gt")
    with torch.autocast(alpha_pred.device.type, enabled=False):
        difference = alpha_pred.float() - alpha_gt.float()  # derivatives are linear: d(pred) - d(gt) = d(pred - gt)
        horizontal = difference[:, :, :, 1:] - difference[:, :, :, :-1]
        vertical = difference[:, :, 1:, :] - difference[:, :, :-1, :]
        return horizontal.abs().mean() + vertical.abs().mean()


def laplacian_pyramid(image: Tensor, levels: int) -> list:
    """`(N, C, H, W)` -> `levels` tensors: the band-pass details at full, half, quarter... resolution, then the
    low-pass rest. The pyramid is linear, so the pyramid of a difference is the difference of the pyramids."""
    pyramid = []
    for _ in range(levels - 1):
        smaller = _gaussian_blur(image)[:, :, ::2, ::2]
        pyramid.append(image - F.interpolate(smaller, size=image.shape[2:], mode="bilinear", align_corners=False))
        image = smaller
    return pyramid + [image]


def _gaussian_blur(image: Tensor) -> Tensor:
    """The pyramid's 5-tap binomial filter (1 4 6 4 1) / 16 along both axes, edges replicated; `(N, C, H, W)`."""
    taps = image.new_tensor([1.0, 4.0, 6.0, 4.0, 1.0]) / 16.0
    channels = image.shape[1]
    padded = F.pad(image, (2, 2, 2, 2), mode="replicate")
    rows = F.conv2d(padded, taps.view(1, 1, 1, 5).repeat(channels, 1, 1, 1), groups=channels)
    return F.conv2d(rows, taps.view(1, 1, 5, 1).repeat(channels, 1, 1, 1), groups=channels)


def focal_loss(logits: Tensor, target: Tensor, alpha: float = 0.25, gamma: float = 2.0) -> Tensor:
    """Binary focal loss (Lin et al. 2017), mean over all elements; a scalar.

    logits: `(N, 1, H, W)` raw scores; target: `(N, 1, H, W)` in {0, 1}. alpha weighs the
    foreground class (1 - alpha the background); gamma down-weights well-classified pixels.
    """
    _check_same_shape(logits, target, "logits", "target")
    cross_entropy = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
    foreground_prob = torch.sigmoid(logits)
    prob_of_true_class = target * foreground_prob + (1 - target) * (1 - foreground_prob)
    class_weight = target * alpha + (1 - target) * (1 - alpha)
    return (class_weight * (1 - prob_of_true_class) ** gamma * cross_entropy).mean()


def dice_loss(logits: Tensor, target: Tensor, eps: float = 1.0) -> Tensor:
    """1 - soft Dice coefficient per sample, mean over the batch; a scalar.

    logits: `(N, 1, H, W)` raw scores; target: `(N, 1, H, W)` in {0, 1}. eps smooths the ratio so a
    sample with an empty target and an empty prediction scores 0 rather than 0 / 0.
    """
    _check_same_shape(logits, target, "logits", "target")
    foreground_prob = torch.sigmoid(logits)
    pixel_dims = tuple(range(1, logits.dim()))
    overlap = (foreground_prob * target).sum(dim=pixel_dims)
    total = foreground_prob.sum(dim=pixel_dims) + target.sum(dim=pixel_dims)
    return (1 - (2 * overlap + eps) / (total + eps)).mean()


def segmentation_loss(logits: Tensor, target: Tensor) -> Tensor:
    """Focal + dice loss of the segmentation net's pre-training; shapes as in focal_loss; a scalar."""
    return focal_loss(logits, target) + dice_loss(logits, target)


def _check_same_shape(a: Tensor, b: Tensor, name_a: str, name_b: str) -> None:
    """Raises ValueError unless a and b have one shape (broadcasting would hide a mix-up)."""
    if a.shape != b.shape:
        raise ValueError(f"{name_a} and {name_b} must have the same shape, got {tuple(a.shape)} and {tuple(b.shape)}")
