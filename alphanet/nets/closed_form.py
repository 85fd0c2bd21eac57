"""Closed-form matting refinement of the matte: Levin, Lischinski and Weiss, "A Closed-Form Solution to Natural
Image Matting" (PAMI 2008), with the net's alpha as a weak prior.

The refined alpha minimises a^T L a + (a - t)^T D (a - t): L is the matting Laplacian of 3x3 windows (in each
window alpha is an affine function of the colour), D is diagonal, `known_weight` on the trimap's known pixels with
target t = the trimap and `prior_weight` on the unknown band with t = the prior alpha. That is the linear system
(L + D) a = D t, solved by a fixed number of Jacobi-preconditioned conjugate-gradient steps from a = t. L is never
built: its product with a vector takes a few box filters (He, Sun and Tang, "Fast Matting Using Large Kernel
Matting Laplacian Matrices", CVPR 2010). As in pymatting's `cf_laplacian`, only windows that lie wholly inside the
image count, so the two Laplacians are the same matrix.

Everything runs on the unknown band's bounding box grown by 2 pixels, where every window that holds an
unknown pixel lies inside the box; the known pixels keep the trimap's values.

Float64 throughout: the box filters take covariances as differences of means, which float32 cannot resolve at a
ridge of eps / 9 ~ 1e-7. On the tests' soft-edge photo (eps 1e-6) a float32 product missed pymatting's by up to
0.02 (the product's entries reach ~5); the float64 one matches it to 1e-10.
"""
from typing import List, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

KNOWN_WEIGHT = 100.0  # the pull towards the trimap on its known pixels: almost a hard constraint
# The pull towards the net's alpha in the band: weak, the Laplacian decides where it can. On 111 real validation
# crops 0.0003 beat 0.003 on SAD, MSE and gradient (bench.closed_form, MODEL_CARD.md).
PRIOR_WEIGHT = 0.0003
EPS = 1e-6  # ridge on each window's colour covariance (pymatting's epsilon: the sum's ridge, before / 9)
ITERATIONS = 100  # conjugate-gradient steps


def refine_closed_form(rgb: Tensor, prior: Tensor, trimap: Tensor, prior_weight: float = PRIOR_WEIGHT,
                       known_weight: float = KNOWN_WEIGHT, eps: float = EPS, iterations: int = ITERATIONS) -> Tensor:
    """`(1, 3, H, W)` RGB in [0, 1], `(1, 1, H, W)` prior alpha, `(1, 1, H, W)` trimap in {0, 0.5, 1} ->
    `(1, 1, H, W)` alpha in [0, 1]: the trimap where it is known, the closed-form solution in the band.
    (The constants are default arguments because TorchScript cannot read a module's globals.)"""
    alpha = trimap.clone()
    box = band_box(trimap == 0.5, 2)  # a 3x3 window that holds an unknown pixel reaches 2 pixels from it
    if len(box) == 0:
        return alpha
    top, bottom, left, right = box[0], box[1], box[2], box[3]
    crop_trimap = trimap[:, :, top:bottom, left:right]
    unknown = crop_trimap == 0.5
    target = torch.where(unknown, prior[:, :, top:bottom, left:right], crop_trimap).double()
    weight = torch.where(unknown, torch.full_like(target, prior_weight), torch.full_like(target, known_weight))
    solved = solve(rgb[:, :, top:bottom, left:right].double(), weight, target, eps, iterations)
    alpha[:, :, top:bottom, left:right] = torch.where(unknown, solved.to(alpha.dtype).clamp(0.0, 1.0), crop_trimap)
    return alpha


def band_box(unknown: Tensor, margin: int) -> List[int]:
    """`(1, 1, H, W)` bool -> [top, bottom, left, right) of its true pixels grown by `margin` and kept inside the
    image; [] where none is true."""
    rows = torch.nonzero(unknown[0, 0].any(dim=1)).flatten()
    if rows.numel() == 0:
        return []
    columns = torch.nonzero(unknown[0, 0].any(dim=0)).flatten()
    height, width = unknown.shape[2], unknown.shape[3]
    return [max(0, int(rows[0]) - margin), min(height, int(rows[-1]) + 1 + margin),
            max(0, int(columns[0]) - margin), min(width, int(columns[-1]) + 1 + margin)]


def solve(rgb: Tensor, weight: Tensor, target: Tensor, eps: float, iterations: int) -> Tensor:
    """(L + D) a = D t by `iterations` Jacobi-preconditioned conjugate-gradient steps from a = t: `(1, 3, h, w)`
    RGB, `(1, 1, h, w)` diagonal D, `(1, 1, h, w)` t -> `(1, 1, h, w)` a, not clamped."""
    if rgb.shape[2] < 3 or rgb.shape[3] < 3:
        return target  # no whole window fits: L is zero and D a = D t
    mean, inverse = window_statistics(rgb, eps)
    count = scatter_windows(torch.ones_like(mean[:, :1]))
    # Jacobi preconditioning: D spans 0.003 to 100, and on a real photo's band it halved the steps to a given error.
    inverse_diagonal = 1.0 / (laplacian_diagonal(rgb, mean, inverse, count) + weight)
    solution = target
    residual = weight * target - laplacian_times(solution, rgb, mean, inverse, count) - weight * solution
    step = inverse_diagonal * residual
    # The residual times the preconditioned residual; floored so that a solved system stops instead of dividing 0/0.
    progress = (residual * step).sum().clamp_min(1e-300)
    for _ in range(iterations):
        product = laplacian_times(step, rgb, mean, inverse, count) + weight * step
        length = progress / (step * product).sum().clamp_min(1e-300)
        solution = solution + length * step
        residual = residual - length * product
        preconditioned = inverse_diagonal * residual
        new_progress = (residual * preconditioned).sum().clamp_min(1e-300)
        step = preconditioned + (new_progress / progress) * step
        progress = new_progress
    return solution


def window_statistics(rgb: Tensor, eps: float) -> Tuple[Tensor, Tensor]:
    """Each whole window's mean colour and inverse ridged colour covariance, indexed by the window's centre:
    `(1, 3, h, w)` -> `(1, 3, h - 2, w - 2)`, `(1, 6, h - 2, w - 2)` (the upper triangle, row by row)."""
    rows, columns = [0, 0, 0, 1, 1, 2], [0, 1, 2, 1, 2, 2]  # a symmetric 3x3's upper triangle, row by row
    mean = window_mean(rgb)
    covariance = window_mean(rgb[:, rows] * rgb[:, columns]) - mean[:, rows] * mean[:, columns]
    covariance[:, [0, 3, 5]] += eps / 9.0  # pymatting's and Levin's ridge: eps over the window's 9 pixels
    return mean, inverse_symmetric_3x3(covariance)


def inverse_symmetric_3x3(upper: Tensor) -> Tensor:
    """Per pixel, the inverse of a positive definite symmetric 3x3, by cofactors: `(1, 6, h, w)` ->
    `(1, 6, h, w)`, each the upper triangle, row by row."""
    a, b, c, d, e, f = upper.unbind(1)
    cofactors = [d * f - e * e, c * e - b * f, b * e - c * d, a * f - c * c, b * c - a * e, a * d - b * b]
    determinant = a * cofactors[0] + b * cofactors[1] + c * cofactors[2]
    return torch.stack(cofactors, dim=1) / determinant[:, None]


def laplacian_times(vector: Tensor, rgb: Tensor, mean: Tensor, inverse: Tensor, count: Tensor) -> Tensor:
    """L p: `(1, 1, h, w)` p -> `(1, 1, h, w)`. In each window k the affine fit a_k . I + b_k to p; pixel i's
    row is the sum over its windows of p_i - (a_k . I_i + b_k), `count` (its number of windows) per pixel."""
    means = window_mean(torch.cat([vector, rgb * vector], dim=1))
    mean_vector = means[:, :1]
    slope = symmetric_times(inverse, means[:, 1:] - mean * mean_vector)
    offset = mean_vector - (slope * mean).sum(dim=1, keepdim=True)
    sums = scatter_windows(torch.cat([slope, offset], dim=1))
    return count * vector - (sums[:, :3] * rgb).sum(dim=1, keepdim=True) - sums[:, 3:]


def laplacian_diagonal(rgb: Tensor, mean: Tensor, inverse: Tensor, count: Tensor) -> Tensor:
    """L's diagonal, `(1, 1, h, w)`: over pixel i's windows k, the sum of 1 - (1 + (I_i - m_k)' S_k (I_i - m_k)) / 9,
    with the quadratic form expanded so that box sums of S_k, S_k m_k and m_k' S_k m_k give it."""
    rows, columns = [0, 0, 0, 1, 1, 2], [0, 1, 2, 1, 2, 2]
    inverse_mean = symmetric_times(inverse, mean)
    quadratic_mean = (inverse_mean * mean).sum(dim=1, keepdim=True)
    sums = scatter_windows(torch.cat([inverse, inverse_mean, quadratic_mean], dim=1))
    # The upper triangle's off-diagonal entries count twice in I' S I.
    twice = torch.tensor([1.0, 2.0, 2.0, 1.0, 2.0, 1.0], dtype=rgb.dtype)[None, :, None, None]
    quadratic = (twice * sums[:, :6] * rgb[:, rows] * rgb[:, columns]).sum(dim=1, keepdim=True)
    cross = (sums[:, 6:9] * rgb).sum(dim=1, keepdim=True)
    return count * (8.0 / 9.0) - (quadratic - 2.0 * cross + sums[:, 9:]) / 9.0


def symmetric_times(upper: Tensor, vector: Tensor) -> Tensor:
    """Per pixel, a symmetric 3x3 times a vector: `(1, 6, h, w)` (the upper triangle, row by row), `(1, 3, h, w)`
    -> `(1, 3, h, w)`."""
    a, b, c, d, e, f = upper.unbind(1)
    u, v, w = vector.unbind(1)
    return torch.stack([a * u + b * v + c * w, b * u + d * v + e * w, c * u + e * v + f * w], dim=1)


def window_mean(x: Tensor) -> Tensor:
    """`(1, C, h, w)` -> `(1, C, h - 2, w - 2)`: the mean over each whole window, indexed by its centre."""
    return F.avg_pool2d(x, 3, stride=1)


def scatter_windows(x: Tensor) -> Tensor:
    """`(1, C, h - 2, w - 2)` per window -> `(1, C, h, w)`: at each pixel, the sum over the windows that hold it."""
    return F.avg_pool2d(F.pad(x, [2, 2, 2, 2]), 3, stride=1) * 9.0
