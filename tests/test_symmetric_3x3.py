"""Per-pixel symmetric 3x3 algebra (alphanet/nets/symmetric_3x3.py) against torch.linalg."""
import numpy as np
import torch

from alphanet.nets import symmetric_3x3

UPPER = [0, 0, 0, 1, 1, 2], [0, 1, 2, 1, 2, 2]


def as_pixels(matrices: torch.Tensor) -> torch.Tensor:
    """`(h, w, 3, 3)` symmetric matrices -> `(1, 6, h, w)` upper triangles."""
    return matrices[..., UPPER[0], UPPER[1]].permute(2, 0, 1)[None]


def random_positive_definite(rng: np.random.Generator) -> torch.Tensor:
    factors = torch.from_numpy(rng.normal(size=(5, 7, 3, 3)))
    return factors @ factors.transpose(-1, -2) + 0.1 * torch.eye(3, dtype=torch.float64)


def test_the_inverse_times_a_vector_solves_the_system():
    rng = np.random.default_rng(1)
    matrices = random_positive_definite(rng)
    vectors = torch.from_numpy(rng.normal(size=(5, 7, 3)))
    solved = symmetric_3x3.times(symmetric_3x3.inverse(as_pixels(matrices)), vectors.permute(2, 0, 1)[None])
    torch.testing.assert_close(solved[0].permute(1, 2, 0), torch.linalg.solve(matrices, vectors))


def test_the_inverse_is_the_inverse():
    matrices = random_positive_definite(np.random.default_rng(2))
    torch.testing.assert_close(symmetric_3x3.inverse(as_pixels(matrices)), as_pixels(torch.linalg.inv(matrices)))


def test_outer_products_and_the_ridge():
    rng = np.random.default_rng(3)
    x, y = torch.from_numpy(rng.normal(size=(5, 7, 3))), torch.from_numpy(rng.normal(size=(5, 7, 3)))
    outer = x[..., :, None] * y[..., None, :]  # (5, 7, 3, 3), not symmetric: its upper triangle is what is kept
    upper = symmetric_3x3.upper_outer(x.permute(2, 0, 1)[None], y.permute(2, 0, 1)[None])
    torch.testing.assert_close(upper, as_pixels(outer))
    ridged = symmetric_3x3.add_to_diagonal(upper, 0.5)
    torch.testing.assert_close(ridged, as_pixels(outer + 0.5 * torch.eye(3, dtype=torch.float64)))
