"""The segmentation stage as an export-time choice: DeepLabV3+, the converted selfie segmenter, or both fused."""
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from alphanet.training.checkpoint import AlphaNetConfig, build_alphanet, load_alphanet, save_weights
from alphanet.export import script_alphanet
from alphanet.nets.segmenter import FusedSegmenter, SelfieSegmenter

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


class RecordingNet(torch.nn.Module):
    """A stand-in network of a fixed input size that records what it was given and finds 'people' where the
    input is bright: enough to check the letterboxing geometry exactly."""

    def __init__(self, height: int, width: int):
        super().__init__()
        self.size, self.seen = (height, width), []

    def forward(self, x):
        assert tuple(x.shape[2:]) == self.size
        self.seen.append(x)
        return (x.mean(dim=1, keepdim=True) > 0.5).float()


@pytest.mark.parametrize("height,width,landscape", [(600, 400, False), (400, 400, False), (400, 600, True),
                                                    (300, 1000, True), (1, 1, False)])
def test_selfie_letterboxes_into_the_network_of_the_nearer_aspect(height, width, landscape):
    square, wide = RecordingNet(256, 256), RecordingNet(144, 256)
    segmenter = SelfieSegmenter(square, wide)
    rgb = torch.zeros(1, 3, height, width)
    rgb[:, :, : height // 2 + 1] = 1.0  # top half bright
    probability = segmenter(rgb)
    assert probability.shape == (1, 1, height, width)
    used, unused = (wide, square) if landscape else (square, wide)
    assert len(used.seen) == 1 and not unused.seen
    boxed = used.seen[0]
    # aspect kept: the non-zero content spans the image's aspect within a pixel
    rows = torch.nonzero(boxed[0].abs().sum(0).sum(1) > 0).flatten()
    assert rows.numel() > 0
    if height > 1:  # the bright top half comes back as the top half
        assert probability[0, 0, : height // 4].min() > 0.5 and probability[0, 0, -(height // 4):].max() < 0.5


def test_exported_selfie_stage_matches_eager_and_finds_the_person():
    eager = load_alphanet(segmenter="selfie")
    scripted = script_alphanet(eager)
    image = torch.from_numpy(np.array(Image.open(SHARED / "data" / "photos" / "astronaut.png").convert("RGB")))
    with torch.no_grad():
        eager_alpha, eager_trimap = eager(image)
        scripted_alpha, scripted_trimap = scripted(image)
    assert (eager_alpha - scripted_alpha).abs().max() <= 1e-4
    assert torch.equal(eager_trimap, scripted_trimap)
    # a portrait: a large part of the photo is person, the top-left corner (wall) is not
    assert (eager_trimap == 1).float().mean() > 0.2
    assert eager_trimap[:40, :40].max() == 0


def test_switching_segmenter_keeps_the_weights_files_matting_net(tmp_path):
    torch.manual_seed(5)
    model = build_alphanet(AlphaNetConfig())
    save_weights(model, AlphaNetConfig(), tmp_path / "w.pt")
    selfie = load_alphanet(tmp_path / "w.pt", segmenter="selfie")
    assert isinstance(selfie.segmenter, SelfieSegmenter)
    for name, value in model.matting_net.state_dict().items():
        if value.is_floating_point():
            torch.testing.assert_close(selfie.matting_net.state_dict()[name], value.half().float())
    with pytest.raises(ValueError, match="unknown segmenter"):
        build_alphanet(AlphaNetConfig(segmenter="nope"))


class FixedMap(torch.nn.Module):
    """A stand-in segmenter that answers one probability map whatever the image."""

    def __init__(self, probability: torch.Tensor):
        super().__init__()
        self.probability = probability

    def forward(self, rgb):
        return self.probability


def disc(radius: int, sure: float, size: int = 40) -> torch.Tensor:
    """A disc of probability `sure` in the middle of a 0.1 map, with a 0.6 rim: its decisiveness grows with
    `sure` (the rim's pixels are never sure)."""
    rows, columns = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    distance = ((rows - size // 2) ** 2 + (columns - size // 2) ** 2).float().sqrt()
    probability = torch.where(distance <= radius, torch.tensor(sure), torch.tensor(0.1))
    return torch.where((distance > radius) & (distance <= radius + 2), torch.tensor(0.6), probability)[None, None]


@pytest.mark.parametrize("person,objects,answer", [
    (torch.full((1, 1, 40, 40), 0.1), disc(10, 0.95), "objects"),  # no person found: DeepLab's mask
    (disc(12, 0.95), disc(8, 0.7), "person"),  # the person segmenter is the surer one
    (disc(12, 0.7), disc(8, 0.95), "objects"),  # DeepLab is the surer one
    (disc(10, 0.95), disc(10, 0.95), "objects"),  # a tie: DeepLab, the sharper mask
])
def test_the_fused_stage_answers_with_the_more_decisive_network(person, objects, answer):
    fused = FusedSegmenter(FixedMap(person), FixedMap(objects))
    expected = {"objects": objects, "person": person}[answer]
    assert torch.equal(fused(torch.zeros(1, 3, 40, 40)), expected)


def test_a_person_mask_over_the_whole_frame_is_the_scene_and_deeplab_answers():
    frame = torch.full((1, 1, 40, 40), 0.95)
    frame[:, :, 10:30, 10:30] = 0.7  # sure around the middle: the more decisive network
    objects = disc(8, 0.7)
    fused = FusedSegmenter(FixedMap(frame), FixedMap(objects))
    assert torch.equal(fused(torch.zeros(1, 3, 40, 40)), objects)
    with_corners = frame.clone()
    with_corners[:, :, :8, :8] = with_corners[:, :, :8, -8:] = 0.1  # 92 % of the frame, as a close-up's
    fused = FusedSegmenter(FixedMap(with_corners), FixedMap(objects))
    assert torch.equal(fused(torch.zeros(1, 3, 40, 40)), with_corners)


def test_a_close_up_of_a_face_is_still_the_person_segmenters():
    """The astronaut's chin, neck and shoulders fill the crop to all four sides (82 % of it): still a person."""
    fused = load_alphanet().segmenter
    photo = np.array(Image.open(SHARED / "data" / "photos" / "astronaut.png").convert("RGB"))[150:350, 150:350]
    rgb = torch.from_numpy(photo).permute(2, 0, 1)[None].float() / 255
    with torch.no_grad():
        assert torch.equal(fused(rgb), fused.person(rgb))


def test_a_deeplab_weights_file_loads_into_the_fused_stage_and_scripts(tmp_path):
    torch.manual_seed(6)
    model = build_alphanet(AlphaNetConfig())
    save_weights(model, AlphaNetConfig(), tmp_path / "w.pt")
    deeplab, fused = load_alphanet(tmp_path / "w.pt"), load_alphanet(tmp_path / "w.pt", segmenter="fused")
    assert isinstance(fused.segmenter, FusedSegmenter)
    torch.testing.assert_close(fused.segmenter.objects.state_dict(), deeplab.segmenter.state_dict())
    torch.testing.assert_close(fused.segmenter.person.state_dict(),
                               load_alphanet(segmenter="selfie").segmenter.state_dict())
    fused = load_alphanet(segmenter="fused")  # trained weights: a random net's alpha is too chaotic to compare
    image = torch.from_numpy(np.array(Image.open(SHARED / "data" / "photos" / "coffee.png").convert("RGB")))
    with torch.no_grad():
        eager_alpha, eager_trimap = fused(image)
        scripted_alpha, scripted_trimap = script_alphanet(fused)(image)
    assert (eager_alpha - scripted_alpha).abs().max() <= 1e-4 and torch.equal(eager_trimap, scripted_trimap)
