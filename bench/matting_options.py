"""The matting stage's options on the real validation: ED band width, mirror averaging, guided filter, band-only
tiles. `python -m bench.matting_options [--data DIR ...] [--limit N] [--threads 1]`.

For each photo of each image + alpha folder (`alphanet.data.real_validation`'s sets: held-out real objects and
people on studio backdrops and in scenes) the default archive's segmentation (fused, with its second look) runs
once; then every variant mattes it, in automatic mode (its own ED band from the segmenter's mask) and, where the ED
band does not matter, on the ground-truth trimap (the evaluation's: the alpha's transition grown by 10 px each
side). Prints one Markdown table per folder and one over all photos, a row per variant:
- automatic: IoU of alpha > 0.5 with the true alpha > 0.5, beside the segmentation mask's own IoU, and the number
  of photos where the matte's IoU is more than 0.01 below the mask's ("worse"); the mean absolute error and MSE
  over the whole photo;
- ground-truth trimap: SAD / 1000, MSE and gradient error / 1000 over its unknown region (the usual convention).
Not part of the test run: it prints figures for MODEL_CARD.md and BENCHMARKS.md.
"""
import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Tuple

import numpy as np
import torch

from alphanet.data.readers import ImageAlphaReader
from alphanet.data.trimap import trimap_from_alpha
from alphanet.evaluation.metrics import gradient_error, mse, sad
from alphanet.model import AlphaNet
from alphanet.nets.inference_form import inference_form
from alphanet.training.checkpoint import load_alphanet
from alphanet.training.validation import mask_iou

REAL_VAL = Path("runs/data/real_val")
SETS = ("stamps_studio", "stamps_scene", "portraits_studio", "portraits_scene")
GROUND_TRUTH_BAND = 10  # the evaluation's band width (alphanet.evaluation.evaluate)


@dataclass(frozen=True)
class Variant:
    name: str
    erode: float
    dilate: float
    mirror: bool
    guided_filter: bool
    band_matting: bool = False


def variants(default_erode: float, default_dilate: float) -> List[Variant]:
    e, d = default_erode, default_dilate
    return [Variant(f"ED {e:g}/{d:g}, mirror, guided filter (the archive before)", e, d, True, True),
            Variant(f"ED {e:g}/{d:g}, guided filter", e, d, False, True),
            Variant(f"ED {e:g}/{d:g}, mirror", e, d, True, False),
            Variant(f"ED {e:g}/{d:g}", e, d, False, False),
            Variant("ED 0.02/0.03, guided filter", 0.02, 0.03, False, True),
            Variant("ED 0.02/0.03, guided filter, band tiles", 0.02, 0.03, False, True, True),
            Variant("ED 0.01/0.02, guided filter", 0.01, 0.02, False, True),
            Variant("ED 0.03/0.04, guided filter", 0.03, 0.04, False, True)]


def configure(model: AlphaNet, variant: Variant) -> None:
    model.ed_layer.erode_fraction, model.ed_layer.dilate_fraction = variant.erode, variant.dilate
    model.mirror_average, model.guided_filter = variant.mirror, variant.guided_filter
    model.band_matting = variant.band_matting


class FixedSegmenter(torch.nn.Module):
    """Answers with a probability map computed once, so that every variant sees the same segmentation."""

    def __init__(self, probability: torch.Tensor):
        super().__init__()
        self.probability = probability

    def forward(self, rgb: torch.Tensor) -> torch.Tensor:
        return self.probability


def score_photo(model: AlphaNet, segment: Callable[[torch.Tensor], torch.Tensor], image: np.ndarray,
                alpha: np.ndarray, all_variants: List[Variant]) -> Dict[str, List[float]]:
    """{variant name: [mask IoU, matte IoU, SAD, MSE (automatic), SAD, MSE, Grad (ground-truth trimap)]}."""
    photo = torch.from_numpy(image)
    rgb = photo.permute(2, 0, 1)[None].float() / 255
    with torch.inference_mode():
        probability = segment(rgb)  # real_val photos are under the 1500 px cap: no capping
    model.segmenter = FixedSegmenter(probability)
    truth = alpha > 0.5
    mask_score = mask_iou(probability[0, 0].numpy() > 0.5, truth)
    trimap = (trimap_from_alpha(alpha, np.random.default_rng(0), GROUND_TRUTH_BAND, GROUND_TRUTH_BAND) * 255)
    trimap = trimap.round().astype(np.uint8)
    rows = {}
    for variant in all_variants:
        configure(model, variant)
        with torch.inference_mode():
            automatic = model(photo)[0].numpy()
            given = model(photo, torch.from_numpy(trimap))[0].numpy()
        rows[variant.name] = [mask_score, mask_iou(automatic > 0.5, truth), sad(automatic, alpha),
                              mse(automatic, alpha), sad(given, alpha, trimap), mse(given, alpha, trimap),
                              gradient_error(given, alpha, trimap)]
    return rows


def table(title: str, rows: List[Dict[str, List[float]]]) -> str:
    lines = [f"**{title}** ({len(rows)} photos)", "",
             "| variant | mask IoU | matte IoU | worse | mean abs error | MSE | GT trimap: SAD | MSE | Grad |",
             "|---|---|---|---|---|---|---|---|---|"]
    for name in rows[0]:
        figures = np.array([row[name] for row in rows])
        worse = int((figures[:, 1] < figures[:, 0] - 0.01).sum())
        mean = figures.mean(axis=0)
        lines.append(f"| {name} | {mean[0]:.4f} | {mean[1]:.4f} | {worse} | {mean[2]:.4f} | {mean[3]:.5f} | "
                     f"{mean[4]:.3f} | {mean[5]:.5f} | {mean[6]:.3f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, nargs="+", default=[REAL_VAL / name for name in SETS])
    parser.add_argument("--limit", type=int, default=0, help="at most this many photos per folder (0: all)")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    segment = load_alphanet().segment  # the default archive's segmentation
    model = load_alphanet(second_look=False)  # one look: at the FixedSegmenter that answers with segment's map
    model.matting_net = inference_form(model.matting_net)
    all_variants = variants(model.ed_layer.erode_fraction, model.ed_layer.dilate_fraction)
    everything: List[Dict[str, List[float]]] = []
    for folder in args.data:
        reader = ImageAlphaReader.from_root(folder)
        count = len(reader) if args.limit == 0 else min(args.limit, len(reader))
        rows = [score_photo(model, segment, *photo_and_alpha(reader, index), all_variants)
                for index in range(count)]
        print(table(folder.name, rows), flush=True)
        everything += rows
    print(table("all", everything))


def photo_and_alpha(reader: ImageAlphaReader, index: int) -> Tuple[np.ndarray, np.ndarray]:
    """uint8 `(H, W, 3)` photo and float `(H, W)` alpha in [0, 1]."""
    sample = reader.read(index, np.random.default_rng(0))
    return np.round(sample.fg * 255).astype(np.uint8), sample.alpha


if __name__ == "__main__":
    main()
