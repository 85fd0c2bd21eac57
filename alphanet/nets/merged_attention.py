"""A trained AttentionModule in the form inference runs: its four branches as one.

Each of the four branches starts with a 4x4 group convolution (stride 2, 2 groups) of the same features; as four
convolutions they read the map four times and launch four small kernels at each layer. MergedAttention runs them
as one group convolution with four times the outputs, GroupNorm over all branches at once, the branches' 1x1
convolutions as one block-diagonal convolution and their scores as one grouped convolution. Block-diagonal rather
than grouped: oneDNN's grouped convolutions of 16 channels per group measured slower than the dense one, zeros
and all; and the group convolution's output order (input group, then branch) is kept, since reordering it costs a
copy (docs/deployment.md). Exact: the same sums; the weights are only rearranged.
"""
from typing import List, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from alphanet.nets.attention import AttentionModule, attention_maps


class MergedAttention(nn.Module):
    """Same signature and output as AttentionModule: `(N, C, H, W) -> (encoder_map, decoder_map)`, each
    `(N, 1, H, W)`. The merged convolution's outputs come group by group: for input group g (of 2), the four
    branches' outputs of that group, `hidden / 2` channels each (`half`), so that each of GroupNorm's 8 groups
    is one branch's half of one input group, as in the branches' own GroupNorm(2)."""

    def __init__(self, module: AttentionModule):
        super().__init__()
        branches: List[nn.Sequential] = [branch.body for branch in module.branches]
        first, branch_norm = branches[0][0], branches[0][1]
        channels, hidden = first.in_channels, first.out_channels
        half = hidden // 2
        self.pool_conv = nn.Conv2d(channels, 4 * hidden, 4, stride=2, padding=1, groups=2, bias=False)
        self.norm = nn.GroupNorm(8, 4 * hidden, eps=branch_norm.eps)
        self.mix = nn.Conv2d(4 * hidden, 4 * hidden, 1)
        self.score = nn.Conv2d(4 * hidden, 4, 1, groups=4)
        with torch.no_grad():
            self.pool_conv.weight.copy_(_group_major([body[0].weight for body in branches], half))
            self.norm.weight.copy_(_group_major([body[1].weight for body in branches], half))
            self.norm.bias.copy_(_group_major([body[1].bias for body in branches], half))
            self.mix.weight.copy_(_block_diagonal_mix([body[3].weight for body in branches], half))
            self.mix.bias.copy_(torch.cat([body[3].bias for body in branches]))
            self.score.weight.copy_(torch.cat([body[5].weight for body in branches]))
            self.score.bias.copy_(torch.cat([body[5].bias for body in branches]))

    def forward(self, features: Tensor) -> Tuple[Tensor, Tensor]:
        hidden = F.relu(self.mix(F.relu(self.norm(self.pool_conv(features)))))
        return attention_maps(self.score(hidden))


def _group_major(per_branch: List[Tensor], half: int) -> Tensor:
    """Four branches' `(hidden, ...)` parameters -> `(4 * hidden, ...)` ordered (input group, branch, half)."""
    split = [tensor.reshape(2, half, *tensor.shape[1:]) for tensor in per_branch]
    return torch.stack(split, dim=1).reshape(-1, *per_branch[0].shape[1:])


def _block_diagonal_mix(per_branch: List[Tensor], half: int) -> Tensor:
    """Four branches' 1x1 weights `(hidden, hidden, 1, 1)` -> one `(4 * hidden, 4 * hidden, 1, 1)` that reads each
    branch's channels from both input groups of the group-major order (zero elsewhere) and writes branch by
    branch, the order the grouped score convolution reads."""
    hidden = 2 * half
    mix = per_branch[0].new_zeros(4 * hidden, 4 * hidden, 1, 1)
    for index, weight in enumerate(per_branch):
        rows = slice(index * hidden, (index + 1) * hidden)
        for group in range(2):
            start = group * 4 * half + index * half
            mix[rows, start:start + half] = weight[:, group * half:(group + 1) * half]
    return mix
