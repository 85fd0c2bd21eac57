"""Per-pixel algebra of symmetric 3x3 matrices, the colour covariances that the guided filter and closed-form
matting both fit colour lines with. A matrix is held as its upper triangle, row by row: channels (a, b, c, d, e, f)
of an `(N, 6, h, w)` tensor stand for [[a, b, c], [b, d, e], [c, e, f]].
"""
import torch
from torch import Tensor


def upper_outer(x: Tensor, y: Tensor) -> Tensor:
    """Per pixel, the upper triangle of the outer product x y': `(N, 3, h, w)`, `(N, 3, h, w)` -> `(N, 6, h, w)`.
    A covariance is the mean of `upper_outer(rgb, rgb)` less `upper_outer(mean, mean)`."""
    rows, columns = [0, 0, 0, 1, 1, 2], [0, 1, 2, 1, 2, 2]
    return x[:, rows] * y[:, columns]


def add_to_diagonal(upper: Tensor, value: float) -> Tensor:
    """`(N, 6, h, w)` -> `(N, 6, h, w)`: the matrices plus `value` times the identity (a ridge)."""
    return upper + torch.tensor([value, 0.0, 0.0, value, 0.0, value], dtype=upper.dtype,
                                device=upper.device)[None, :, None, None]


def inverse(upper: Tensor) -> Tensor:
    """Per pixel, the inverse of a positive definite symmetric 3x3, by cofactors: `(N, 6, h, w)` -> `(N, 6, h, w)`."""
    a, b, c, d, e, f = upper.unbind(1)
    cofactors = [d * f - e * e, c * e - b * f, b * e - c * d, a * f - c * c, b * c - a * e, a * d - b * b]
    determinant = a * cofactors[0] + b * cofactors[1] + c * cofactors[2]
    return torch.stack(cofactors, dim=1) / determinant[:, None]


def times(upper: Tensor, vector: Tensor) -> Tensor:
    """Per pixel, a symmetric 3x3 times a vector: `(N, 6, h, w)`, `(N, 3, h, w)` -> `(N, 3, h, w)`."""
    a, b, c, d, e, f = upper.unbind(1)
    u, v, w = vector.unbind(1)
    return torch.stack([a * u + b * v + c * w, b * u + d * v + e * w, c * u + e * v + f * w], dim=1)
