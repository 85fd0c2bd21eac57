"""The segmenter's second look: a crop around its first mask, segmented again and blended with the first look."""
import pytest
import torch

from alphanet.export import script_alphanet
from alphanet.nets.second_look import blend_in_box, second_look_box
from alphanet.shared_data import small_object_photo
from alphanet.training.checkpoint import AlphaNetConfig, build_alphanet, load_alphanet
from tests.frozen_graph import convolutions


def test_the_box_is_the_masks_box_widened_by_pad_of_its_longer_side_and_clipped_to_the_photo():
    probability = torch.zeros(1, 1, 100, 200)
    probability[0, 0, 20:40, 30:70] = 0.9  # 20 rows x 40 columns
    assert second_look_box(probability, 0.25) == [10, 50, 20, 80]
    assert second_look_box(probability, 0.5) == [0, 60, 10, 90]
    assert second_look_box(probability, 0.0) == [20, 40, 30, 70]
    assert second_look_box(probability, 2.0) == [0, 100, 0, 150]


def test_a_mask_of_a_few_pixels_gets_the_minimum_margin():
    probability = torch.zeros(1, 1, 100, 200)
    probability[0, 0, 50, 100] = 0.9
    assert second_look_box(probability, 0.5, min_margin=16) == [34, 67, 84, 117]


def test_an_empty_mask_gives_the_whole_photo():
    assert second_look_box(torch.full((1, 1, 30, 50), 0.5), 0.5) == [0, 30, 0, 50]


def test_the_looks_are_blended_inside_the_box_and_the_first_is_kept_outside():
    first = torch.rand(1, 1, 30, 40)
    second = torch.rand(1, 1, 10, 20)
    blended = blend_in_box(first, second, [5, 15, 10, 30], weight=0.25)
    torch.testing.assert_close(blended[:, :, 5:15, 10:30], 0.75 * first[:, :, 5:15, 10:30] + 0.25 * second)
    outside = torch.ones_like(first, dtype=torch.bool)
    outside[:, :, 5:15, 10:30] = False
    assert torch.equal(blended[outside], first[outside])


class BrightIsForeground(torch.nn.Module):
    """A stand-in segmenter that records the sizes it was given: probability 0.9 where the image is bright."""

    def __init__(self):
        super().__init__()
        self.sizes = []

    def forward(self, rgb: torch.Tensor) -> torch.Tensor:
        self.sizes.append(tuple(rgb.shape[2:]))
        return 0.1 + 0.8 * (rgb.mean(dim=1, keepdim=True) > 0.5).float()


def model_with(segmenter: torch.nn.Module, second_look: bool):
    model = build_alphanet(AlphaNetConfig(second_look=second_look)).eval()
    model.segmenter = segmenter
    return model


class SecondLookDiffers(BrightIsForeground):
    """As BrightIsForeground on its first call, 0.3 everywhere on its second."""

    def forward(self, rgb: torch.Tensor) -> torch.Tensor:
        first = super().forward(rgb)
        return first if len(self.sizes) == 1 else torch.full_like(first, 0.3)


def test_the_segmenter_looks_again_at_the_crop_around_its_mask_and_blends_the_two_there():
    rgb = torch.zeros(1, 3, 100, 200)
    rgb[:, :, 20:40, 30:70] = 1.0
    segmenter = SecondLookDiffers()
    model = model_with(segmenter, second_look=True)
    probability = model.segment(rgb)
    assert segmenter.sizes == [(100, 200), (60, 80)]  # the box [0, 60, 10, 90]
    first = BrightIsForeground()(rgb)
    weight = model.second_look_weight
    torch.testing.assert_close(probability[:, :, 0:60, 10:90], (1 - weight) * first[:, :, 0:60, 10:90] + weight * 0.3)
    outside = torch.ones_like(first, dtype=torch.bool)
    outside[:, :, 0:60, 10:90] = False
    assert torch.equal(probability[outside], first[outside])


PATCH, WIDE_BAND, NOTHING = (slice(20, 40), slice(30, 70)), (slice(20, 40), slice(0, 200)), (slice(0), slice(0))


@pytest.mark.parametrize("second_look,bright,looks", [(False, PATCH, 1), (True, WIDE_BAND, 1), (True, NOTHING, 1),
                                                      (True, PATCH, 2)])
def test_one_look_without_the_option_or_where_the_crop_would_be_the_whole_photo(second_look, bright, looks):
    rgb = torch.zeros(1, 3, 100, 200)
    rgb[:, :, bright[0], bright[1]] = 1.0  # a wide band's margins reach the photo's sides; nothing: no mask
    segmenter = BrightIsForeground()
    model_with(segmenter, second_look).segment(rgb)
    assert len(segmenter.sizes) == looks


def test_the_exported_second_look_matches_eager_with_one_copy_of_the_segmenter():
    """Both looks share one call site: each copy of DeepLab in the frozen graph would cost a worker memory while
    the archive loads (as for the matting net, tests/test_band_matting.py)."""
    image = torch.from_numpy(small_object_photo(480))  # the default model's first mask leaves room around it
    with torch.no_grad():
        first_look = load_alphanet().segmenter(image.permute(2, 0, 1)[None].float() / 255)
    assert second_look_box(first_look, 0.5) != [0, 480, 0, 480]
    counts = {}
    for second_look in (False, True):
        eager = load_alphanet(second_look=second_look)
        scripted = script_alphanet(eager)
        counts[second_look] = convolutions(scripted)
        with torch.no_grad():
            eager_alpha, eager_trimap = eager(image)
            scripted_alpha, scripted_trimap = scripted(image)
        assert (eager_alpha - scripted_alpha).abs().max() <= 1e-4
        assert torch.equal(eager_trimap, scripted_trimap)
    assert counts[True] == counts[False], counts
