"""Scoring the segmentation stage as served (alphanet/evaluation/segmentation_iou.py) on image + alpha folders the
tests make."""
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from alphanet.data.readers import ImageAlphaReader
from alphanet.evaluation.segmentation_iou import main, segmentation_ious


class BrightIsForeground(torch.nn.Module):
    """A stand-in segmenter, `(1, 3, H, W)` -> `(1, 1, H, W)`: foreground where the image is bright, optionally
    shifted right by `shift` pixels, so that its IoU against a known object is known; records the sizes it saw."""

    def __init__(self, shift: int = 0):
        super().__init__()
        self.shift, self.seen = shift, []

    def forward(self, rgb):
        self.seen.append(tuple(rgb.shape[2:]))
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
    ious = segmentation_ious(BrightIsForeground(shift), reader, max_side=64)
    assert ious == pytest.approx([expected] * 3)


def test_photos_above_the_cap_are_segmented_capped_and_scored_at_full_size(tmp_path):
    reader = ImageAlphaReader.from_root(make_folder(tmp_path))
    segmenter = BrightIsForeground()
    ious = segmentation_ious(segmenter, reader, max_side=32)
    assert segmenter.seen == [(24, 32)] * 3  # the 48 x 64 photos at half size, as AlphaNet caps them
    # Squares on even rows and columns survive halving exactly; the middle one starts on row 11, so its edge rows
    # pair with background rows, average below 0.5 and drop out: 18 of its 20 rows come back.
    assert ious == pytest.approx([1.0, 18 / 20, 1.0])


def test_the_command_scores_each_folder_and_writes_one_row_per_image(tmp_path, capsys):
    studio, scene = make_folder(tmp_path / "studio"), make_folder(tmp_path / "scene", count=2)
    main(["--data", str(studio), str(scene), "--out", str(tmp_path / "iou.csv")])
    rows = [row.split(",") for row in (tmp_path / "iou.csv").read_text().splitlines()]
    assert rows[0] == ["folder", "name", "iou"]
    assert [row[:2] for row in rows[1:]] == [["studio", "000"], ["studio", "001"], ["studio", "002"],
                                             ["scene", "000"], ["scene", "001"]]
    ious = [float(row[2]) for row in rows[1:]]
    assert all(0.0 <= iou <= 1.0 for iou in ious)
    printed = capsys.readouterr().out
    assert f"studio: segmentation IoU over 3 images: mean {np.mean(ious[:3]):.4f}" in printed
    assert f"scene: segmentation IoU over 2 images: mean {np.mean(ious[3:]):.4f}" in printed


def test_a_bad_folder_or_file_ends_the_command_with_one_line_naming_it(tmp_path):
    with pytest.raises(SystemExit, match="error: .*no image folder"):
        main(["--data", str(tmp_path)])
    data = make_folder(tmp_path / "data", count=1)
    (data / "image" / "000.png").write_bytes(b"garbage")
    with pytest.raises(SystemExit, match="error: .*000.png: not a readable image"):
        main(["--data", str(data)])


def test_the_cutout_option_scores_the_whole_models_matte_beside_the_mask(tmp_path, capsys):
    data = make_folder(tmp_path / "data", count=2)
    main(["--data", str(data), "--cutout", "--out", str(tmp_path / "iou.csv")])
    rows = [row.split(",") for row in (tmp_path / "iou.csv").read_text().splitlines()]
    assert rows[0] == ["folder", "name", "iou", "cutout_iou"] and len(rows) == 3
    cutouts = [float(row[3]) for row in rows[1:]]
    assert all(0.0 <= iou <= 1.0 for iou in cutouts)
    assert f"data: cutout (alpha > 0.5) IoU: mean {np.mean(cutouts):.4f}" in capsys.readouterr().out


def test_the_precision_option_scores_what_a_bf16_archive_runs(tmp_path, monkeypatch):
    """--precision bf16 scores the model as `inference_model` makes it for that precision (DeepLab and the matting
    net in bfloat16); the default, fp32, as an fp32 archive runs it."""
    from alphanet.evaluation import segmentation_iou
    seen = []
    real_inference_model = segmentation_iou.inference_model
    monkeypatch.setattr(segmentation_iou, "inference_model",
                        lambda model, precision: seen.append(precision) or real_inference_model(model, precision))
    data = make_folder(tmp_path / "data", count=1)
    main(["--data", str(data), "--precision", "bf16"])
    main(["--data", str(data)])
    assert seen == ["bf16", "fp32"]
    with pytest.raises(SystemExit):
        main(["--data", str(data), "--precision", "fp16"])


def test_a_weights_file_is_scored_as_make_mar_weights_builds_it(tmp_path, monkeypatch):
    """A training run's file says mirror averaging on and may name another segmenter; `make mar WEIGHTS=FILE`
    builds it with the default archive's choices (fused, second look, one pass), and so is it scored, so that a
    candidate and the default are compared alike. --segmenter still picks a single stage."""
    from alphanet.evaluation import segmentation_iou
    from alphanet.nets.segmenter import DeepLabSegmenter, FusedSegmenter
    from alphanet.training.checkpoint import AlphaNetConfig, build_alphanet, save_weights
    config = AlphaNetConfig(segmenter="deeplab", mirror_average=True)
    save_weights(build_alphanet(config), config, tmp_path / "run.pt")
    seen = []
    real_inference_model = segmentation_iou.inference_model
    monkeypatch.setattr(segmentation_iou, "inference_model",
                        lambda model, precision: seen.append(model) or real_inference_model(model, precision))
    data = make_folder(tmp_path / "data", count=1)
    main(["--data", str(data), "--weights", str(tmp_path / "run.pt")])
    main(["--data", str(data), "--weights", str(tmp_path / "run.pt"), "--segmenter", "deeplab"])
    assert isinstance(seen[0].segmenter, FusedSegmenter) and not seen[0].mirror_average and seen[0].looks == 2
    assert isinstance(seen[1].segmenter, DeepLabSegmenter) and not seen[1].mirror_average
