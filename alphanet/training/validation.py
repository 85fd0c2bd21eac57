"""Validation during training: the four matting metrics (and mask IoU), and a picture of a few cases."""
from pathlib import Path
from typing import Dict, List

import numpy as np
import torch
from PIL import Image

from alphanet.evaluation.metrics import UNKNOWN, all_metrics
from alphanet.model import fuse


def trimap_to_uint8(trimap: np.ndarray) -> np.ndarray:
    """`(H, W)` trimap in {0, 0.5, 1} -> uint8 with 128 = unknown, the metrics' convention."""
    return np.where(trimap == 0.5, UNKNOWN, np.where(trimap == 1, 255, 0)).astype(np.uint8)


def mask_iou(predicted: np.ndarray, target: np.ndarray) -> float:
    """Intersection over union of two `(H, W)` bool masks; 1 when both are empty."""
    union = np.logical_or(predicted, target).sum()
    return 1.0 if union == 0 else float(np.logical_and(predicted, target).sum() / union)


def score_batch(alpha: torch.Tensor, batch: Dict[str, torch.Tensor]) -> List[Dict[str, float]]:
    """Metrics of predicted `(N, 1, H, W)` alphas against the batch's, over the unknown region of its trimaps
    (the usual convention), plus the IoU of alpha > 0.5 with the ground-truth mask."""
    rows = []
    for predicted, truth, trimap in zip(alpha[:, 0].numpy(), batch["alpha"][:, 0].numpy(),
                                        batch["trimap"][:, 0].numpy()):
        row = all_metrics(predicted.clip(0, 1), truth, trimap_to_uint8(trimap))
        row["iou"] = mask_iou(predicted > 0.5, truth > 0.5)
        rows.append(row)
    return rows


def checkerboard(height: int, width: int, square: int = 16) -> np.ndarray:
    """`(H, W, 3)` float grey checkerboard, the usual backdrop for showing transparency."""
    rows, cols = np.indices((height, width)) // square
    return np.where(((rows + cols) % 2 == 0)[..., None], 0.8, 0.6) * np.ones(3)


def preview_row(image: np.ndarray, trimap: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """image | trimap | alpha | cutout on a checkerboard, side by side. `(H, W, 3), (H, W), (H, W) -> (H, 4W, 3)`."""
    backdrop = checkerboard(*alpha.shape)
    cutout = alpha[..., None] * image + (1 - alpha[..., None]) * backdrop
    gray = lambda a: np.repeat(a[..., None], 3, axis=2)  # noqa: E731
    return np.concatenate([image, gray(trimap), gray(alpha), cutout], axis=1)


def save_preview(path: Path, images: List[np.ndarray], trimaps: List[np.ndarray], alphas: List[np.ndarray]) -> None:
    """A PNG with one `preview_row` per case."""
    rows = [preview_row(i, t, a) for i, t, a in zip(images, trimaps, alphas)]
    Image.fromarray((np.concatenate(rows, axis=0) * 255).round().astype(np.uint8)).save(path)


@torch.no_grad()
def predict_validation_batch(model, stage: str, batch: Dict[str, torch.Tensor]):
    """The alpha a stage predicts for a validation batch and the trimap it used, `(N, 1, H, W)` each.

    seg: the mask itself (probability > 0.5) stands in for the alpha; matting: the matting net on the ground-truth
    band, fused; e2e: the whole pipeline with its own predicted trimap."""
    image = batch["image"]
    if stage == "seg":
        probability = torch.sigmoid(model.segmenter.net(image))
        return (probability > 0.5).float(), model.ed_layer(probability)
    trimap = batch["trimap"] if stage == "matting" else model.predict_trimap(image)
    return fuse(model.matte(image, trimap), trimap), trimap
