"""The subject only: the mask's regions that run off the frame and are less sure than a whole region inside it are
dropped as the scene's."""
import cv2
import numpy as np
import pytest
import torch

from alphanet.export import script_alphanet
from alphanet.nets.subject_only import mask_regions, scene_regions, subject_only
from alphanet.training.checkpoint import AlphaNetConfig, build_alphanet


@pytest.mark.parametrize("seed", range(6))
def test_regions_are_opencvs_8_connected_components(seed):
    rng = np.random.default_rng(seed)
    noise = cv2.GaussianBlur(rng.random((90, 120)).astype(np.float32), (0, 0), rng.uniform(1.5, 6.0))
    mask = noise > np.median(noise)
    count, expected = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)
    labels = mask_regions(torch.from_numpy(mask)[None, None])[0, 0].numpy()
    assert ((labels > 0) == mask).all()
    for region in range(1, count):
        assert len(np.unique(labels[expected == region])) == 1
    assert len(np.unique(labels[mask])) == count - 1


def test_a_long_winding_region_is_one_region():
    mask = torch.zeros(1, 1, 60, 80, dtype=torch.bool)
    mask[0, 0, 5, 2:78] = True
    mask[0, 0, 5:55, 77] = True
    mask[0, 0, 54, 2:78] = True
    mask[0, 0, 12:55, 2] = True
    mask[0, 0, 12, 2:70] = True
    labels = mask_regions(mask)
    assert labels[mask].unique().numel() == 1


def photo_with(subject: float, scene: float) -> torch.Tensor:
    """A probability map: a subject whole inside the frame and a region running off its right edge."""
    probability = torch.zeros(1, 1, 100, 150)
    probability[0, 0, 30:70, 20:50] = subject
    probability[0, 0, 10:90, 110:150] = scene
    return probability


def test_a_region_off_the_frame_less_sure_than_the_subject_is_the_scenes():
    dropped = scene_regions(photo_with(subject=0.95, scene=0.7))
    assert dropped[0, 0, 50, 130] and not dropped[0, 0, 50, 30]
    assert int(dropped.sum()) == 80 * 40


def test_a_region_off_the_frame_surer_than_the_subject_stays():
    assert not scene_regions(photo_with(subject=0.7, scene=0.95)).any()


def test_without_a_whole_region_inside_the_frame_nothing_is_dropped():
    """A close-up: the object cut by the frame, and a speck inside it under a tenth of the mask."""
    probability = torch.zeros(1, 1, 100, 150)
    probability[0, 0, 0:100, 40:150] = 0.7
    probability[0, 0, 45:50, 10:15] = 0.99
    assert not scene_regions(probability).any()
    assert torch.equal(subject_only(probability), probability)


def test_at_full_size_the_scenes_region_goes_to_zero_and_the_subject_keeps_its_probability():
    probability = torch.nn.functional.interpolate(photo_with(subject=0.95, scene=0.7), size=[800, 1200],
                                                  mode="bilinear", align_corners=False)
    kept = subject_only(probability)
    assert (kept[0, 0, :, 880:] == 0).all()
    assert not (kept[0, 0, :, 800:] > 0.5).any()  # no sliver of the scene's edge left above 0.5
    assert torch.equal(kept[0, 0, :, :600], probability[0, 0, :, :600])


class FixedSegmenter(torch.nn.Module):
    """Answers any photo with `photo_with`'s map at the photo's size."""

    def forward(self, rgb: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.interpolate(photo_with(subject=0.95, scene=0.7), size=rgb.shape[2:],
                                               mode="nearest")


@pytest.mark.parametrize("subject_only_on", [False, True])
def test_the_exported_model_drops_the_scenes_region_only_when_asked(subject_only_on):
    model = build_alphanet(AlphaNetConfig(subject_only=subject_only_on)).eval()
    model.segmenter = FixedSegmenter()
    scripted = script_alphanet(model)
    image = torch.full((200, 300, 3), 128, dtype=torch.uint8)
    with torch.no_grad():
        eager_alpha, eager_trimap = model(image)
        scripted_alpha, scripted_trimap = scripted(image)
    assert torch.equal(eager_trimap, scripted_trimap)
    assert (eager_alpha - scripted_alpha).abs().max() <= 1e-4
    scene = scripted_trimap[20:180, 230:290]
    assert bool((scene == 0).all()) == subject_only_on
