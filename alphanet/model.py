"""AlphaNet: segmentation -> ED layer -> attention-guided matting -> fusion, for one uint8 image, in one graph.

`AlphaNet.forward` is the contract of the scripted file that TorchServe, Triton and libtorch run:
`forward(image, trimap=None) -> (alpha, trimap)`; everything from decoding the uint8 pixels to resizing the alpha
back to the input size lives here so that no Python is needed around it.
"""
from typing import List, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from alphanet.nets.band_tiles import MARGIN, TILE, band_box, band_tiles
from alphanet.nets.closed_form import closed_form_prior, refine_closed_form
from alphanet.nets.ed_layer import EDLayer
from alphanet.nets.guided_filter import refine_matte
from alphanet.nets.loop_count import loop_count, trips
from alphanet.nets.matting_net import OUTPUT_STRIDE, MattingNet
from alphanet.nets.pose_person import EXTRA_MIN_PROBABILITY, PERSON_MIN_CONFIDENCE, PosePerson, with_person
from alphanet.nets.resize import cap_long_side, pad_to_multiple, resize_bilinear
from alphanet.nets.second_look import blend_in_box, photo_window, second_look_box, step_back_box
from alphanet.nets.subject_only import subject_only

DEFAULT_MAX_SIDE = 1500
# When forward() refines the matte by closed-form matting: never, only when the caller gives the trimap, or always.
# With a true trimap it lowered SAD, MSE and gradient on every real validation set; with the automatic trimap's wide
# band it traded MSE for SAD for 2.2x the call's time (MODEL_CARD.md), hence "trimap" in the default archive.
CLOSED_FORM_MODES = ("off", "trimap", "on")


def check_image(image: Tensor) -> None:
    if image.dtype != torch.uint8:
        raise ValueError("image must be uint8 (H, W, 3) RGB")
    if image.dim() != 3 or image.shape[2] != 3:
        raise ValueError(f"image must have shape (H, W, 3), got {list(image.shape)}")
    if image.shape[0] < 1 or image.shape[1] < 1:
        raise ValueError(f"image must be at least 1x1, got {list(image.shape)}")


def user_trimap_to_levels(trimap: Tensor, height: int, width: int) -> Tensor:
    """uint8 `(H, W)`: 0 background, 255 foreground, anything else unknown -> float `(1, 1, H, W)` in {0, 0.5, 1}."""
    if trimap.dtype != torch.uint8:
        raise ValueError("trimap must be uint8 (H, W)")
    if trimap.dim() != 2 or trimap.shape[0] != height or trimap.shape[1] != width:
        raise ValueError(f"trimap must have the image's size ({height}, {width}), got {list(trimap.shape)}")
    levels = torch.full(trimap.shape, 0.5, dtype=torch.float32, device=trimap.device)
    levels = torch.where(trimap == 0, torch.zeros_like(levels), levels)
    levels = torch.where(trimap == 255, torch.ones_like(levels), levels)
    return levels[None, None]


def batched(crops: List[Tensor]) -> Tensor:
    """`(1, C, h, w)` crops -> `(len(crops), C, h, w)`: one crop as it is (a view of the photo, not a copy: the
    whole photo's window at 1500 px would be 34 MiB more), several concatenated."""
    return crops[0] if len(crops) == 1 else torch.cat(crops, dim=0)


def fuse(raw_alpha: Tensor, trimap: Tensor) -> Tensor:
    """The trimap where it is known (0 or 1), the raw alpha in the unknown band. Same shapes in and out."""
    return torch.where(trimap == 0.5, raw_alpha, trimap)


class AlphaNet(nn.Module):
    """The whole pipeline. `segmenter`: `(1, 3, h, w)` RGB in [0, 1] -> `(1, 1, h, w)` foreground probability.
    `mirror_average`: forward() mattes the image and its mirror image and averages the two (MODEL_CARD.md: better
    on nearly every validation image, for twice the matting net's time); `guided_filter`: forward() refines the
    net's matte with the photo as guide (alphanet/nets/guided_filter.py); `band_matting`: forward() runs the net on
    tiles or a box around the unknown band only (alphanet/nets/band_tiles.py): the cost follows the band, not the
    photo's area; `closed_form` (one of CLOSED_FORM_MODES): when forward() then refines the matte by closed-form
    matting with it as a prior, firmer where it is sure (alphanet/nets/closed_form.py): never, only for a given
    trimap, or always.
    `second_look`: the segmenter looks again at a crop around its first mask, `second_look_pad` of the mask box's
    longer side wider on each side, and blends the two there, `second_look_weight` of the second; where that crop
    would be the whole photo, it steps back instead, `step_back_pad` of the photo's longer side beyond each side,
    and blends `step_back_weight` of that look (alphanet/nets/second_look.py). `subject_only`: the mask's regions
    that run off the frame and are less sure than a whole region inside it are dropped as the scene's
    (alphanet/nets/subject_only.py).
    `person_pose`: where BlazePose finds a whole person with a mean landmark visibility above
    PERSON_MIN_CONFIDENCE, its person mask replaces the segmenters' where they are unsure of what they add beyond
    it, and is added to theirs where they are sure (`with_person`, alphanet/nets/pose_person.py).
    Training calls `matte` once, unrefined."""

    def __init__(self, segmenter: nn.Module, matting_net: MattingNet, ed_layer: EDLayer,
                 max_side: int = DEFAULT_MAX_SIDE, mirror_average: bool = True, guided_filter: bool = True,
                 band_matting: bool = True, closed_form: str = "off", second_look: bool = False,
                 subject_only: bool = False, person_pose: Optional[PosePerson] = None):
        super().__init__()
        if closed_form not in CLOSED_FORM_MODES:
            raise ValueError(f"closed_form must be one of {CLOSED_FORM_MODES}, got {closed_form!r}")
        self.segmenter = segmenter
        self.matting_net = matting_net
        self.ed_layer = ed_layer
        self.max_side = max_side
        self.mirror_average = mirror_average
        self.guided_filter = guided_filter
        self.band_matting = band_matting
        self.closed_form = closed_form
        self.looks = 2 if second_look else 1
        self.subject_only = subject_only
        self.person_pose = person_pose
        self.person_min_confidence = PERSON_MIN_CONFIDENCE
        self.extra_min_probability = EXTRA_MIN_PROBABILITY
        self.second_look_pad = 0.5
        self.second_look_weight = 0.65
        self.second_look_min_margin = 16  # pixels: context even around a mask of a few pixels
        self.step_back_pad = 0.2
        self.step_back_weight = 0.5
        self.tile = TILE
        self.tile_margin = MARGIN
        self.tiles_per_batch = 4  # 4 x 320 x 320: under half the pixels of a 1024 px photo, so no higher peak
        self.full_pass_share = 0.75  # windows covering more of the photo than this: the full pass is as cheap
        self.stride = OUTPUT_STRIDE

    def predict_trimap(self, rgb: Tensor) -> Tensor:
        """`(N, 3, H, W)` RGB in [0, 1] -> `(N, 1, H, W)` trimap from `segment` and the ED layer."""
        probabilities = [self.segment(image[None]) for image in rgb.unbind(0)]
        return self.ed_layer(torch.cat(probabilities, dim=0))

    def segment(self, rgb: Tensor) -> Tensor:
        """`(1, 3, H, W)` RGB in [0, 1] -> `(1, 1, H, W)` foreground probability: the segmenter's, blended with
        its second look where `looks` is 2: at a crop around the object, or a step back from a photo it fills;
        with `subject_only`, the scene's regions dropped; with `person_pose`, a person's mask where BlazePose is
        sure of one."""
        if rgb.shape[0] != 1:
            raise ValueError(f"segment takes one image, got a batch of {rgb.shape[0]}")
        height, width = rgb.shape[2], rgb.shape[3]
        box = [0, height, 0, width]
        weight = self.second_look_weight
        probability = torch.zeros_like(rgb[:, :1])
        # One call of the segmenter in a loop freezing cannot unroll (loop_count), as in matte_passes.
        for look in range(loop_count(self.looks, rgb)):
            seen = self.segmenter(photo_window(rgb, box))
            if look == 0:
                probability = seen
                if self.looks == 1:
                    break
                box = second_look_box(seen, self.second_look_pad, self.second_look_min_margin)
                if box == [0, height, 0, width]:  # the crop would be the photo: the object fills it (or is not found)
                    box = step_back_box(height, width, self.step_back_pad)
                    weight = self.step_back_weight
            else:
                probability = blend_in_box(probability, seen, box, weight)
        if self.subject_only:
            probability = subject_only(probability)
        if self.person_pose is not None:
            person, confidence = self.person_pose(rgb)
            if float(confidence) > self.person_min_confidence:
                probability = with_person(probability, person, self.extra_min_probability)
        return probability

    def matte(self, rgb: Tensor, trimap: Tensor) -> Tensor:
        """`(N, 3, H, W)`, `(N, 1, H, W)` of any size -> `(N, 1, H, W)` raw alpha: pads to the network's stride
        and crops back."""
        height, width = rgb.shape[2], rgb.shape[3]
        # Each padded alone: no concatenated copy of the photo (at 1500 px 34 MiB), and none at all where the sides
        # are multiples of the stride already.
        raw = self.matting_net(pad_to_multiple(rgb, self.stride), pad_to_multiple(trimap, self.stride))
        return raw[:, :, :height, :width]

    def matte_passes(self, rgb: Tensor, trimap: Tensor) -> Tensor:
        """As `matte`; with `mirror_average`, averaged with the mirrored matte of the mirror image (the net's
        errors depend on which side of an edge the background lies, so the two passes' errors partly cancel). One
        pass after the other, not a batch of two: the peak memory stays that of one pass."""
        passes = 2 if self.mirror_average else 1
        total = torch.zeros_like(trimap)
        # Mirrored, each pass flips the inputs and the sum so far; after two, all face the right way again. One
        # call of the net in a loop that freezing cannot unroll (loop_count): every copy of the net in the frozen
        # graph costs a worker about 200 MiB while the archive loads.
        for _ in range(loop_count(passes, rgb)):
            if self.mirror_average:
                rgb, trimap, total = rgb.flip(3), trimap.flip(3), total.flip(3)
            total = total + self.matte(rgb, trimap)
        return total / passes

    def matting_windows(self, trimap: Tensor) -> Tuple[int, int, List[List[int]]]:
        """Where `matte_band` runs the net for a `(1, 1, H, W)` trimap: (window height, window width, windows as
        band_tiles gives them; none without a band). With `band_matting`, the band's tiles or its box
        (alphanet/nets/band_tiles.py), whichever covers fewer pixels; otherwise, or where that would be more than
        `full_pass_share` of the photo, one window of the whole photo."""
        height, width = trimap.shape[2], trimap.shape[3]
        whole_photo = (height, width, [[0, 0, 0, height, 0, width]])
        if not self.band_matting:
            return whole_photo
        band = trimap == 0.5
        if not bool(band.any()):  # the capped trimap of a photo whose band is thinner than the capping's step
            return height, width, []
        box_height, box_width, box = band_box(band, self.tile_margin, self.stride)
        windows = (box_height, box_width, [box])
        if height >= self.tile and width >= self.tile:
            tiles = band_tiles(band, self.tile, self.tile_margin)
            if len(tiles) * self.tile * self.tile < box_height * box_width:
                windows = (self.tile, self.tile, tiles)
        if len(windows[2]) * windows[0] * windows[1] > self.full_pass_share * height * width:
            return whole_photo
        return windows

    def matte_band(self, rgb: Tensor, trimap: Tensor) -> Tensor:
        """`matte_passes` on the windows `matting_windows` picks, `tiles_per_batch` at a time, each window's core
        pasted into the trimap: `(1, 3, H, W)`, `(1, 1, H, W)` -> `(1, 1, H, W)`. Outside the cores the trimap
        stands in for the raw alpha, which the fusion replaces there anyway; one window of the whole photo is
        `matte_passes` exactly."""
        window_height, window_width, windows = self.matting_windows(trimap)
        alpha = trimap.clone()
        for first in range(0, len(windows), self.tiles_per_batch):
            batch = windows[first:first + self.tiles_per_batch]
            mattes = self.matte_passes(
                batched([rgb[:, :, w[0]:w[0] + window_height, w[1]:w[1] + window_width] for w in batch]),
                batched([trimap[:, :, w[0]:w[0] + window_height, w[1]:w[1] + window_width] for w in batch]))
            for index, w in enumerate(batch):
                alpha[0, :, w[2]:w[3], w[4]:w[5]] = mattes[index, :, w[2] - w[0]:w[3] - w[0], w[4] - w[1]:w[5] - w[1]]
        return alpha

    def forward(self, image: Tensor, trimap: Optional[Tensor] = None) -> Tuple[Tensor, Tensor]:
        """uint8 `(H, W, 3)` RGB [, uint8 `(H, W)` trimap] -> (alpha, trimap), float32 `(H, W)` each."""
        check_image(image)
        closed_form = self.closed_form == "on" or (self.closed_form == "trimap" and trimap is not None)
        height, width = image.shape[0], image.shape[1]
        rgb = cap_long_side(image.permute(2, 0, 1)[None].float() / 255.0, self.max_side)
        if trimap is None:
            capped_trimap = full_trimap = torch.empty(0)  # the segmentation's, below
        else:
            full_trimap = user_trimap_to_levels(trimap, height, width)
            capped_trimap = F.interpolate(full_trimap, size=rgb.shape[2:], mode="nearest")
        # Each stage that runs a network is a loop of one trip or none, not an if: less memory while a worker
        # loads the archive (alphanet/nets/loop_count.py).
        for _ in range(trips(trimap is None)):
            capped_trimap = self.predict_trimap(rgb)
            full_trimap = F.interpolate(capped_trimap, size=[height, width], mode="nearest")
        unknown = bool((full_trimap == 0.5).any())
        alpha = full_trimap if unknown else full_trimap.clone()  # nothing unknown: the trimap is the alpha
        for _ in range(trips(unknown)):
            raw_alpha = self.matte_band(rgb, capped_trimap)
            # Fused first, so that each refinement sees the known pixels at their true 0 and 1 (the net's alpha is a
            # sigmoid's, in [0, 1] already). Closed form comes last: it scored better on the real crops with the
            # guided filter's matte as its prior than with the net's, and better still with the net's where the net
            # is sure (closed_form_prior).
            net_alpha = fuse(raw_alpha, capped_trimap)
            if self.guided_filter:
                raw_alpha = refine_matte(rgb, net_alpha)
            for _ in range(trips(closed_form)):
                prior = closed_form_prior(net_alpha, fuse(raw_alpha, capped_trimap).clamp(0.0, 1.0))
                raw_alpha = refine_closed_form(rgb, prior, capped_trimap)
            alpha = fuse(resize_bilinear(raw_alpha, [height, width]).clamp(0.0, 1.0), full_trimap)
        return alpha[0, 0], full_trimap[0, 0]
