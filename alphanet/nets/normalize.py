"""ImageNet colour normalisation, kept inside the graph so every caller feeds plain [0, 1] RGB."""
import torch
from torch import Tensor, nn


class Normalize(nn.Module):
    """`(N, 3, H, W)` RGB in [0, 1] -> the same, standardised with the ImageNet mean and std."""

    def __init__(self):
        super().__init__()
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1), persistent=False)

    def forward(self, rgb: Tensor) -> Tensor:
        return (rgb - self.mean) / self.std
