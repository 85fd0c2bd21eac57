"""Band-only matting: the windows of the photo the matting net runs on, when only the unknown band is used.

The fusion copies the trimap wherever it is known, so only the net's alpha in the unknown band reaches the answer.
Two ways to cover the band, and AlphaNet.matting_windows takes the one with fewer pixels:
- tiles: the photo is cut into a grid of square cores; every core that holds a band pixel is matted inside a
  TILE x TILE window, the core plus MARGIN pixels of context on each side (shifted inwards where it would leave the
  photo), and the core is pasted back. The work then follows the band's length instead of the photo's area, and the
  tiles of a call go through the net as one batch. Best for a long, thin band, such as a large object's outline.
- a box: the band's bounding box plus MARGIN on each side, as one window. Best for an object small in the frame,
  where a grid of 256 px cores covers much more than the object, and the net sees the whole object at once.

Not exact: the net's alpha at a pixel depends on more than the window. Each attention module's GroupNorm and the
ASPP's image pooling take statistics over the whole input, and the ASPP's widest convolution reaches 256 px at the
net's stride. A tile is the 320 px square the net was trained on, and a box shows it the whole object with some
of its surroundings, as its training crops did; BENCHMARKS.md ("Band-only matting") measures the difference to the
full pass and to the ground truth.

Cores and windows start on multiples of the net's stride (but for tiles shifted to the photo's far edge), so the
attention poolings' 2x2 windows mostly fall where the full pass's do.
"""
from typing import List, Tuple

import torch.nn.functional as F
from torch import Tensor

from alphanet.nets.matting_net import OUTPUT_STRIDE

TILE = 320  # the matting net's training crop: the context it learned with
MARGIN = 32  # context on each side of a core; the core is TILE - 2 * MARGIN = 256 px


def occupied_cells(mask: Tensor, rows: int, columns: int) -> Tensor:
    """`(1, 1, H, W)` bool -> `(ceil(H / rows), ceil(W / columns))` bool: which cells of a grid of `rows` x
    `columns` pixels from the top left (the last row and column of cells cut short) hold a True pixel."""
    return F.max_pool2d(mask.float(), kernel_size=[rows, columns], stride=[rows, columns], ceil_mode=True)[0, 0] > 0


def band_tiles(band: Tensor, tile: int = TILE, margin: int = MARGIN) -> List[List[int]]:
    """`(1, 1, H, W)` bool band, H and W at least `tile` -> one `[top, left, core_top, core_bottom, core_left,
    core_right]` per core holding a band pixel: the window `[top, top + tile) x [left, left + tile)` and the core
    it mattes, in photo coordinates. Cores are `tile - 2 * margin` squares on a grid from the photo's top left.
    (The constants are default arguments because TorchScript cannot read a module's globals.)"""
    height, width = band.shape[2], band.shape[3]
    core = tile - 2 * margin
    occupied = occupied_cells(band, core, core).nonzero()
    tiles: List[List[int]] = []
    for index in range(occupied.shape[0]):
        core_top, core_left = int(occupied[index, 0]) * core, int(occupied[index, 1]) * core
        top = min(max(core_top - margin, 0), height - tile)
        left = min(max(core_left - margin, 0), width - tile)
        tiles.append([top, left, core_top, min(core_top + core, height), core_left, min(core_left + core, width)])
    return tiles


def band_box(band: Tensor, margin: int = MARGIN, stride: int = OUTPUT_STRIDE) -> Tuple[int, int, List[int]]:
    """`(1, 1, H, W)` bool band holding a True pixel -> (window height, window width, `[top, left, core_top,
    core_bottom, core_left, core_right]`): the band's bounding box as the core, and a window around it `margin`
    pixels wider on each side within the photo, its top and left rounded down to multiples of `stride`."""
    height, width = band.shape[2], band.shape[3]
    rows = band[0, 0].any(dim=1).nonzero().flatten()
    columns = band[0, 0].any(dim=0).nonzero().flatten()
    core_top, core_bottom = int(rows[0]), int(rows[-1]) + 1
    core_left, core_right = int(columns[0]), int(columns[-1]) + 1
    top = max(core_top - margin, 0) // stride * stride
    left = max(core_left - margin, 0) // stride * stride
    bottom, right = min(core_bottom + margin, height), min(core_right + margin, width)
    return bottom - top, right - left, [top, left, core_top, core_bottom, core_left, core_right]
