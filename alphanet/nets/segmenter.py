"""Segmentation stages: an RGB image at the capped resolution -> a foreground probability map of the same size.

Each stage runs its network at its own reduced input size and upsamples the result, so AlphaNet does not depend
on which one it holds (the choice is made at export time).
"""
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from alphanet.nets.deeplab import DeepLabV3Plus
from alphanet.nets.loop_count import trips
from alphanet.nets.resize import resize_bilinear, scaled_size


class DeepLabSegmenter(nn.Module):
    """The paper's DeepLabV3+ (ResNet18). `(1, 3, H, W)` RGB in [0, 1] -> `(1, 1, H, W)` foreground probability.

    The network sees the image with its long side at `input_size` (aspect kept, sides rounded to its stride).
    Default 384: the mask only has to be right to within the ED layer's band, the matting net recovers the detail
    at full resolution, and 384 costs 0.6x of the paper's 496 training size (22 vs 36 GFLOPs).
    """

    def __init__(self, net: DeepLabV3Plus, input_size: int = 384):
        super().__init__()
        self.net = net
        self.input_size = input_size
        self.stride = 16  # DeepLabV3+'s output stride: its input sides are rounded to multiples of it

    def forward(self, rgb: Tensor) -> Tensor:
        height, width = scaled_size(rgb.shape[2], rgb.shape[3], self.input_size)
        size = [max(self.stride, self.stride * int(round(s / self.stride))) for s in (height, width)]
        logits = self.net(resize_bilinear(rgb, size).contiguous(memory_format=torch.channels_last))
        # Upsample logits, not probabilities: the 0.5 contour then follows the network's own interpolation.
        return torch.sigmoid(F.interpolate(logits, size=rgb.shape[2:], mode="bilinear", align_corners=False))


class SelfieSegmenter(nn.Module):
    """MediaPipe's person segmenter (converted, frozen). `(1, 3, H, W)` RGB in [0, 1] -> `(1, 1, H, W)` person
    probability.

    The two converted networks take fixed sizes: 256 x 256 (square) and 144 x 256 (landscape, h x w). Each image
    goes to the one whose aspect is nearer its own (split at the geometric mean of the two aspects, 4:3), and is
    letterboxed into it: scaled to fit, aspect kept, zero-padded around. Stretching instead would make people
    wider or thinner than the networks ever saw; letterboxing only costs resolution on the short side, and a
    portrait catalog photo (2:3) still gets 256 px of height.
    """

    def __init__(self, square_net: nn.Module, landscape_net: nn.Module):
        super().__init__()
        self.square_net = square_net
        self.landscape_net = landscape_net
        self.landscape_from_aspect = (256.0 / 144.0) ** 0.5

    def forward(self, rgb: Tensor) -> Tensor:
        height, width = rgb.shape[2], rgb.shape[3]
        landscape = width / height >= self.landscape_from_aspect
        net_height, net_width = (144, 256) if landscape else (256, 256)
        scale = min(net_height / height, net_width / width)
        inner = [max(1, min(net_height, int(round(height * scale)))), max(1, min(net_width, int(round(width * scale))))]
        top, left = (net_height - inner[0]) // 2, (net_width - inner[1]) // 2
        boxed = F.pad(resize_bilinear(rgb, inner),
                      [left, net_width - inner[1] - left, top, net_height - inner[0] - top])
        boxed = boxed.contiguous(memory_format=torch.channels_last)  # as the matting net, for oneDNN
        probability = torch.empty(0)
        # Each network in a loop of one trip or none, not an if (trips, alphanet/nets/loop_count.py).
        for _ in range(trips(landscape)):
            probability = self.landscape_net(boxed)
        for _ in range(trips(not landscape)):
            probability = self.square_net(boxed)
        probability = probability[:, :, top:top + inner[0], left:left + inner[1]]
        return F.interpolate(probability, size=[height, width], mode="bilinear", align_corners=False)


class FusedSegmenter(nn.Module):
    """Products and people in one stage: the person segmenter and DeepLab both run, and the more decisive of the
    two answers. `(1, 3, H, W)` RGB in [0, 1] -> `(1, 1, H, W)` foreground probability.

    A network's decisiveness is the share of its mask (probability > 0.5) where it is sure (probability >
    `sure`): each one is sure on what it knows, the person segmenter on real people, DeepLab on objects, and
    hesitant where it guesses (the person segmenter taking a wall or an animal for a person, DeepLab losing a
    person in a busy scene). Where the person segmenter finds (almost) nothing, DeepLab answers; so it does where
    the person mask covers more than `max_person_area` of the photo: that leaves nothing to cut out, and on the
    real validation every such mask was the scene taken for a person, while a close-up of a face still leaves
    background in the corners. On the real validation sets this beats each network alone on products
    and on people, in studios and in scenes, where a union of the two masks or agreement tests did not
    (MODEL_CARD.md).
    """

    def __init__(self, person: SelfieSegmenter, objects: DeepLabSegmenter, min_person_area: float = 0.005,
                 sure: float = 0.8, max_person_area: float = 0.95):
        super().__init__()
        self.person = person
        self.objects = objects
        self.min_person_area = min_person_area  # of the photo's pixels
        self.max_person_area = max_person_area
        self.sure = sure

    def forward(self, rgb: Tensor) -> Tensor:
        person, objects = self.person(rgb), self.objects(rgb)
        person_area = float((person > 0.5).float().mean())
        if person_area < self.min_person_area or person_area > self.max_person_area:
            return objects
        if self.decisiveness(person) > self.decisiveness(objects):
            return person
        return objects

    def decisiveness(self, probability: Tensor) -> float:
        """The share of the mask's pixels whose probability is above `sure` (0 for an empty mask)."""
        mask_pixels = float((probability > 0.5).sum())
        return float((probability > self.sure).sum()) / mask_pixels if mask_pixels > 0 else 0.0
