"""Band-only matting: the window of the photo the matting net runs on when only the unknown band is used.

The fusion copies the trimap wherever it is known, so only the net's alpha in the unknown band reaches the answer.
`band_window` is the band's bounding box grown by MARGIN pixels of context on each side; the net mattes that
window instead of the whole photo, so the cost follows the object's size, not the photo's. Where the window would
cover more than FULL_PASS_SHARE of the photo, it is the whole photo: the saving would be small, and the whole
photo is what the full pass computes, exactly.

Not exact: the net's alpha at a pixel depends on the whole photo. Each attention module's GroupNorm and the
ASPP's image pooling take statistics over the whole map, and the ASPP's rate-8 convolution at stride 32 alone
reaches 256 px, so no margin short of the photo gives the full pass's alpha. BENCHMARKS.md ("Band-only
matting") has the measured differences, their effect on quality against ground truth, and why the alternative of
a grid of tiles around the band was dropped.

The window's bounds are multiples of the net's stride, so its attention poolings' 2x2 windows fall where the full
pass's do, and it is clipped to the photo, so where it reaches the photo's border the net sees that border as the
full pass does (`AlphaNet.matte` pads the bottom and right edges the same way for both).
"""
from typing import List

from torch import Tensor

MARGIN = 256  # pixels of context around the band's box: the reach of the ASPP's widest convolution
FULL_PASS_SHARE = 0.75  # a window covering more of the photo than this becomes the whole photo


def band_window(band: Tensor, stride: int, margin: int = MARGIN,
                full_pass_share: float = FULL_PASS_SHARE) -> List[int]:
    """`(1, 1, H, W)` bool band -> `[top, bottom, left, right]`: the band's bounding box grown by `margin` on
    each side, rounded outwards to multiples of `stride` and clipped to the photo; the whole photo where that
    covers more than `full_pass_share` of it; `[]` where there is no band.
    (The constants are default arguments because TorchScript cannot read a module's globals.)"""
    height, width = band.shape[2], band.shape[3]
    rows = band[0, 0].any(dim=1).nonzero()
    if rows.shape[0] == 0:
        return []
    columns = band[0, 0].any(dim=0).nonzero()
    top = round_down(int(rows[0, 0]) - margin, stride)
    bottom = round_up(int(rows[-1, 0]) + 1 + margin, stride)
    left = round_down(int(columns[0, 0]) - margin, stride)
    right = round_up(int(columns[-1, 0]) + 1 + margin, stride)
    top, bottom, left, right = max(0, top), min(height, bottom), max(0, left), min(width, right)
    if (bottom - top) * (right - left) > full_pass_share * height * width:
        return [0, height, 0, width]
    return [top, bottom, left, right]


def round_down(value: int, multiple: int) -> int:
    return value // multiple * multiple


def round_up(value: int, multiple: int) -> int:
    return -(-value // multiple) * multiple
