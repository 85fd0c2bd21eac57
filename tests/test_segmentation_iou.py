"""Scoring the segmentation stage as served (alphanet/segmentation_iou.py) on image + alpha folders the tests make."""
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from alphanet.data.readers import ImageAlphaReader
from alphanet.segmentation_iou import main, segmentation_ious


class BrightIsForeground(torch.nn.Module):
    """A stand-in segmenter, `(1, 3, H, W)` -> `(1, 1, H, W)`: foreground where the image is bright, optionally
    shifted right by `shift` pixels, so that its IoU against a known object is known."""

    def __init__(self, shift: int = 0):
        super().__init__()
        self.shift = shift

    def forward(self, rgb):
        return (rgb.mean(dim=1, keepdim=True) > 0.5).float().roll(self.shift, dims=3)


def make_folder(root: Path, count: int = 3) -> Path:
    """`count` 48 x 64 dark photos, each with a bright 20 x 20 square at its own place, and their alphas."""
    for folder in ("image", "alpha"):
        (root / folder).mkdir(parents=True)
    for index in range(count):
        alpha = np.zeros((48, 64), np.uint8)
        alpha[10 + index:30 + index, 8 + 4 * index:28 + 4 * index] = 255
        photo = np.stack([np.where(alpha > 0, 220, 30).astype(np.uint8)] * 3, axis=-1)
        Image.fromarray(photo).save(root / "image" / f"{index:03d}.png")
        Image.fromarray(alpha).save(root / "alpha" / f"{index:03d}.png")
    return root


@pytest.mark.parametrize("shift,expected", [(0, 1.0), (10, 200 / 600)])
def test_each_image_gets_the_iou_of_its_mask_against_the_alpha(tmp_path, shift, expected):
    reader = ImageAlphaReader.from_root(make_folder(tmp_path))
    ious = segmentation_ious(BrightIsForeground(shift), reader)
    assert ious == pytest.approx([expected] * 3)


def test_the_command_scores_the_default_model_and_writes_one_row_per_image(tmp_path, capsys):
    data = make_folder(tmp_path / "data")
    main(["--data", str(data), "--out", str(tmp_path / "iou.csv")])
    rows = (tmp_path / "iou.csv").read_text().splitlines()
    assert rows[0] == "name,iou" and [row.split(",")[0] for row in rows[1:]] == ["000", "001", "002"]
    ious = [float(row.split(",")[1]) for row in rows[1:]]
    assert all(0.0 <= iou <= 1.0 for iou in ious)
    assert f"over 3 images: mean {np.mean(ious):.4f}" in capsys.readouterr().out
