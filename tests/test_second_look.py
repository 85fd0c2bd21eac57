"""The segmenter's second look: a crop around its first mask, or a step back from a photo the mask fills,
segmented again and blended with the first look."""
import pytest
import torch

from alphanet.export import script_alphanet
from alphanet.nets.second_look import blend_in_box, photo_window, second_look_box, step_back_box
from alphanet.shared_data import small_object_photo, square_photo
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


def test_the_step_back_window_reaches_pad_of_the_longer_side_past_every_side():
    assert step_back_box(100, 200, 0.2) == [-40, 140, -40, 240]


def test_a_window_past_the_photo_repeats_its_border_pixels_outward():
    rgb = torch.rand(1, 3, 6, 8)
    window = photo_window(rgb, [-2, 8, -3, 8])
    assert window.shape == (1, 3, 10, 11)
    assert torch.equal(window[:, :, 2:8, 3:11], rgb)
    assert torch.equal(window[:, :, 0, 3:11], rgb[:, :, 0])  # above: the top row again
    assert torch.equal(window[:, :, 9, 0], rgb[:, :, 5, 0])  # below left: the corner pixel
    assert torch.equal(photo_window(rgb, [1, 4, 2, 6]), rgb[:, :, 1:4, 2:6])  # inside: a plain crop


def test_a_look_at_a_window_past_the_photo_is_blended_where_it_covers_the_photo():
    first = torch.rand(1, 1, 6, 8)
    second = torch.rand(1, 1, 10, 12)
    blended = blend_in_box(first, second, [-2, 8, -4, 8], weight=0.5)
    torch.testing.assert_close(blended, 0.5 * first + 0.5 * second[:, :, 2:8, 4:12])


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


def test_the_segmenter_steps_back_from_a_photo_its_mask_fills_and_blends_the_two_everywhere():
    rgb = torch.zeros(1, 3, 100, 200)
    rgb[:, :, 10:90, :] = 1.0  # the mask's padded box is the whole photo
    segmenter = SecondLookDiffers()
    model = model_with(segmenter, second_look=True)
    probability = model.segment(rgb)
    margin = round(model.step_back_pad * 200)
    assert segmenter.sizes == [(100, 200), (100 + 2 * margin, 200 + 2 * margin)]
    weight = model.step_back_weight
    torch.testing.assert_close(probability, (1 - weight) * BrightIsForeground()(rgb) + weight * 0.3)


PATCH, WIDE_BAND, NOTHING = (slice(20, 40), slice(30, 70)), (slice(20, 40), slice(0, 200)), (slice(0), slice(0))


@pytest.mark.parametrize("second_look,bright,sizes", [
    (False, PATCH, [(100, 200)]),
    (True, PATCH, [(100, 200), (60, 80)]),  # a crop around the patch
    (True, WIDE_BAND, [(100, 200), (180, 280)]),  # its margins reach the photo's sides: a step back
    (True, NOTHING, [(100, 200), (180, 280)]),  # no mask: a step back, where a small object may show
])
def test_which_second_look(second_look, bright, sizes):
    rgb = torch.zeros(1, 3, 100, 200)
    rgb[:, :, bright[0], bright[1]] = 1.0
    segmenter = BrightIsForeground()
    model_with(segmenter, second_look).segment(rgb)
    assert segmenter.sizes == sizes


@pytest.mark.parametrize("photo,crop", [(small_object_photo(480), True), (square_photo(480), False)])
def test_the_exported_second_look_matches_eager_with_one_copy_of_the_segmenter(photo, crop):
    """Both looks, a crop (the coffee cup small on a wall) or a step back (the astronaut filling the photo),
    share one call site: each copy of DeepLab in the frozen graph would cost a worker memory while the archive
    loads (as for the matting net, tests/test_band_matting.py)."""
    image = torch.from_numpy(photo)
    with torch.no_grad():
        first_look = load_alphanet().segmenter(image.permute(2, 0, 1)[None].float() / 255)
    assert (second_look_box(first_look, 0.5) != [0, 480, 0, 480]) == crop
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
