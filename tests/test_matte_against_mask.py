"""Never worse than the mask: the default archive's matte (alpha > 0.5) against its own segmentation mask
(probability > 0.5), both scored by IoU with the true alpha > 0.5, on composites of synthetic foregrounds (figures
with hair, garments, fur, glassware, veils) over the shared photos. The band and the matting net exist to improve
the mask's edge; where they lose more than they gain, this fails. The real validation's figures: MODEL_CARD.md."""
import numpy as np
import pytest
import torch

from alphanet.data.synthetic import generate_sample
from alphanet.data.textures import DEFAULT_TEXTURE_DIRS, TexturePool
from alphanet.shared_data import SHARED_PHOTOS, square_photo
from alphanet.training.checkpoint import load_alphanet
from alphanet.training.validation import mask_iou

SIDE = 512  # under the 1500 px cap, so the segmenter sees the photo as it is
BACKGROUNDS = ("brick.png", "grass.png", "gravel.png", "coins.png", "hubble_deep_field.jpg", "camera.png")
COMPOSITES = 12


def composite(index: int, textures: TexturePool) -> tuple:
    """uint8 `(SIDE, SIDE, 3)` photo and bool `(SIDE, SIDE)` true foreground: a synthetic foreground (seed
    (11, index)) over one of the shared photos."""
    colour, alpha = generate_sample(np.random.default_rng((11, index)), SIDE, textures)
    background = square_photo(SIDE, SHARED_PHOTOS / BACKGROUNDS[index % len(BACKGROUNDS)]).astype(np.float32)
    weight = alpha[..., None].astype(np.float32) / 255
    photo = colour * weight + background * (1 - weight)
    return photo.round().astype(np.uint8), alpha > 127


@pytest.fixture(scope="module")
def scores() -> list:
    """(mask IoU, matte IoU) per composite, through the default archive's model."""
    textures = TexturePool(DEFAULT_TEXTURE_DIRS)
    model = load_alphanet()
    rows = []
    for index in range(COMPOSITES):
        photo, truth = composite(index, textures)
        image = torch.from_numpy(photo)
        with torch.inference_mode():
            probability = model.segment(image.permute(2, 0, 1)[None].float() / 255)[0, 0]
            alpha = model(image)[0]
        rows.append((mask_iou(probability.numpy() > 0.5, truth), mask_iou(alpha.numpy() > 0.5, truth)))
    return rows


def test_the_matte_is_no_worse_than_the_mask_on_average(scores):
    masks, mattes = np.array(scores).T
    assert mattes.mean() >= masks.mean(), f"matte IoU {mattes.mean():.4f} < mask IoU {masks.mean():.4f}: {scores}"


def test_the_matte_loses_little_anywhere(scores):
    """Image by image the band may cost a little (the mask's edge can be right where the net hesitates), never
    much."""
    losses = [mask - matte for mask, matte in scores]
    assert max(losses) < 0.05, scores
