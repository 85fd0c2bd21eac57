"""Measure AlphaNet against closed-form and KNN matting on a folder with ground truth: the paper's Tables I and II.

    python -m alphanet.evaluation.evaluate --data DIR [--weights FILE | --scripted FILE] [--trimaps DIR] [--out DIR]
                                [--methods alphanet,cf,knn] [--baseline-max-side 800] [--band-width 10] [--limit N]

DIR holds photos and ground-truth mattes in any layout `ImageAlphaReader.from_root` accepts (image/ + alpha/),
and optionally ground-truth trimaps in DIR/trimap/ (or --trimaps DIR) with the photos' file stems: 0 background,
255 foreground, anything else unknown. Without them each ground-truth trimap is made from the ground-truth alpha:
every partly transparent pixel and both sides of every hard edge, grown by --band-width pixels (default 10) on
each side (`trimap_from_alpha` with one fixed width, so the same data always gives the same trimaps). An image
whose photo, matte or trimap cannot be read (a broken or unsupported file) is named as it is met, skipped, and
listed in the report; the others are evaluated.

Table I (automatic): AlphaNet end to end, and closed-form (CF) and KNN matting from pymatting given the trimap
AlphaNet predicted. Table II (ground-truth trimap): every method, AlphaNet's matting stage included, given the
ground-truth trimap. --methods picks the methods of Table II and the baselines of Table I; Table I always has
AlphaNet, whose trimap the baselines there need anyway. Every matte keeps the known pixels of the trimap its
method was given (AlphaNet's fusion, applied to the baselines too), so the methods differ only in the unknown band.

Every table comes in two conventions (see alphanet/evaluation/metrics.py), averaged over the images that every method
in it could matte (a method that failed on all of them aside; the others are named under the table):
* usual: the unknown region of the ground-truth trimap, SAD, gradient and connectivity / 1000, MSE the region's
  mean (Deep Image Matting's code; every Composition-1k table);
* paper: the whole image, every metric averaged over its pixels, printed in the paper's units.

The baselines are slow on big images: they run on a copy whose long side is at most --baseline-max-side pixels
(default 800; AlphaNet itself caps at 1500) and their alpha is resized back. A baseline that fails on an image (a
trimap without foreground or background pixels, a solver that does not converge) is recorded as failed there.

Writes to OUT (default ./evaluation): report.md (also printed), per_image.csv (image, table, method, convention,
the four metrics, seconds, error), contact_sheet.png (AlphaNet's best and worst images in Table I by whole-image
SAD), predictions/TABLE/METHOD/IMAGE.png (the 8-bit mattes that were scored) and trimaps/{ground_truth,predicted}/.
Seconds are the wall time of one method on one image (Table I baselines: without AlphaNet's trimap prediction).
"""
import argparse
import csv
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import cv2
import numpy as np
import torch
from PIL import Image
from pymatting import estimate_alpha_cf, estimate_alpha_knn
from tqdm import tqdm

from alphanet.training.checkpoint import DEFAULT_WEIGHTS, load_as_archive
from alphanet.data.image_io import DatasetError, read_alpha, read_rgb
# The readers' folder finding and pairing by name, without the check they make when built, which opens every
# file and stops at the first one it cannot read.
from alphanet.data.readers import ALPHA_FOLDER_NAMES, IMAGE_FOLDER_NAMES, _find_folder, _matching_pairs
from alphanet.data.trimap import trimap_from_alpha
from alphanet.serving.imageio import to_uint8
from alphanet.evaluation.metrics import UNKNOWN, all_metrics
from alphanet.nets.resize import scaled_size
from alphanet.training.validation import trimap_to_uint8

TrimapMatting = Callable[[np.ndarray, np.ndarray], np.ndarray]
"""A method given a trimap: uint8 `(H, W, 3)` RGB, uint8 `(H, W)` trimap (0 / 128 / 255) -> `(H, W)` alpha in [0, 1]."""
AutomaticMatting = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]
"""A method without a trimap: uint8 `(H, W, 3)` RGB -> (`(H, W)` alpha in [0, 1], the uint8 `(H, W)` trimap it made)."""

BASELINES = {"cf": estimate_alpha_cf, "knn": estimate_alpha_knn}
METHODS = ("alphanet", *BASELINES)
METHOD_LABELS = {"alphanet": "AlphaNet", "cf": "Closed-form (CF)", "knn": "KNN"}
TABLES = {
    "automatic": "Table I, automatic: AlphaNet's predicted trimap given to CF and KNN",
    "trimap_gt": "Table II: the ground-truth trimap given to every method",
}
METRICS = ("mse", "sad", "gradient", "connectivity")


@dataclass(frozen=True)
class Convention:
    heading: str
    units: dict[str, float]  # a table prints each metric divided by its unit


CONVENTIONS = {
    "usual": Convention("usual convention: unknown region of the ground-truth trimap; MSE mean over it, "
                        "SAD, gradient and connectivity summed over it / 1000",
                        {"mse": 1.0, "sad": 1.0, "gradient": 1.0, "connectivity": 1.0}),
    "paper": Convention("the paper's convention: whole image, averaged over its pixels; "
                        "MSE and SAD x 1e-3, gradient and connectivity x 1e-5",
                        {"mse": 1e-3, "sad": 1e-3, "gradient": 1e-5, "connectivity": 1e-5}),
}
CSV_COLUMNS = ("image", "table", "method", "convention", *METRICS, "seconds", "error")

TRIMAP_FOLDER = "trimap"
DEFAULT_BAND_WIDTH = 10
DEFAULT_BASELINE_MAX_SIDE = 800
# A shrunk trimap pixel counts as known only if every full-size pixel under it is known and the same; any
# unknown pixel under it moves its level by at least 0.5 / (pixels under it), far above this for scales < 20.
KNOWN_LEVEL_TOLERANCE = 1e-3
CONTACT_SHEET_CASES = 3  # best and worst, each
CONTACT_PANEL_HEIGHT = 160
CONTACT_LABEL_HEIGHT = 22


@dataclass(frozen=True)
class Case:
    """One image with its ground truth. image: uint8 `(H, W, 3)` RGB; alpha: float32 `(H, W)` in [0, 1];
    trimap: uint8 `(H, W)`, 0 background, 128 unknown, 255 foreground."""
    name: str
    image: np.ndarray
    alpha: np.ndarray
    trimap: np.ndarray


class UnreadableCase(Exception):
    """An image whose photo, matte or trimap cannot be read or does not fit the others; the message names it."""


class EvaluationSet:
    """The photos and mattes of a data folder (the first `limit`, by name) with their ground-truth trimaps, read
    from a folder or made from the alpha, one `Case` at a time.

    Files are paired by name when the set is built, and opened only when their case is read: a file that cannot
    be read then raises UnreadableCase, which the evaluation reports and skips, going on with the others."""

    def __init__(self, data: Path, trimap_dir: Path | None = None, band_width: int = DEFAULT_BAND_WIDTH,
                 limit: int | None = None):
        data = Path(data)
        if not data.is_dir():
            raise DatasetError(f"{data}: no such folder")
        image_dir = _find_folder(data, IMAGE_FOLDER_NAMES, "image")
        self.pairs = _matching_pairs(image_dir, _find_folder(data, ALPHA_FOLDER_NAMES, "alpha"))
        if trimap_dir is None and (data / TRIMAP_FOLDER).is_dir():
            trimap_dir = data / TRIMAP_FOLDER
        # Every photo needs a trimap of the same name, or the set fails naming the file.
        self.trimaps = [trimap for _, trimap in _matching_pairs(image_dir, Path(trimap_dir))] if trimap_dir else None
        self.trimap_source = f"read from {trimap_dir}" if trimap_dir else (
            f"made from the ground-truth alpha, band {band_width} px each side")
        self.band_width = band_width
        self.names = [image.stem for image, _ in self.pairs][:limit]

    def case(self, index: int) -> Case:
        files = [*self.pairs[index], *([self.trimaps[index]] if self.trimaps else [])]
        try:
            return self._read(index)
        except Exception as error:  # Pillow's decoders raise many types on broken files, not only DatasetError
            raise UnreadableCase(f"{self.names[index]} ({', '.join(map(str, files))}): {error}") from None

    def _read(self, index: int) -> Case:
        image_path, alpha_path = self.pairs[index]
        image, alpha = read_rgb(image_path), read_alpha(alpha_path)
        trimap = self._trimap(index, alpha)
        if not image.shape[:2] == alpha.shape == trimap.shape:
            raise DatasetError(f"sizes differ: photo {image.shape[:2]}, alpha {alpha.shape}, trimap {trimap.shape}")
        return Case(image_path.stem, np.round(image * 255).astype(np.uint8), alpha, trimap)

    def _trimap(self, index: int, alpha: np.ndarray) -> np.ndarray:
        if self.trimaps is None:
            # min width = max width: the generator's random draw has one outcome.
            return trimap_to_uint8(trimap_from_alpha(alpha, np.random.default_rng(0), self.band_width,
                                                     self.band_width))
        return read_trimap(self.trimaps[index])


def read_trimap(path: Path) -> np.ndarray:
    """Trimap file -> uint8 `(H, W)`: 0 where the file is black, 255 where white, UNKNOWN (128) elsewhere."""
    levels = read_alpha(path)
    return np.where(levels == 0, 0, np.where(levels == 1, 255, UNKNOWN)).astype(np.uint8)


class AlphaNetMatting:
    """AlphaNet, eager or scripted (the same forward contract), as the tables' two kinds of method."""

    def __init__(self, model: torch.nn.Module):
        self.model = model

    @torch.inference_mode()
    def automatic(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """An `AutomaticMatting`: the whole pipeline, with the trimap it predicted."""
        alpha, trimap = self.model(torch.from_numpy(image))
        return alpha.numpy(), trimap_to_uint8(trimap.numpy())

    @torch.inference_mode()
    def with_trimap(self, image: np.ndarray, trimap: np.ndarray) -> np.ndarray:
        """A `TrimapMatting`: the matting stage on the given trimap."""
        alpha, _ = self.model(torch.from_numpy(image), torch.from_numpy(trimap))
        return alpha.numpy()


def pymatting_on_shrunk_copy(estimate_alpha, image: np.ndarray, trimap: np.ndarray, max_side: int) -> np.ndarray:
    """A `TrimapMatting` from a pymatting estimator: runs it on a copy with the long side at most `max_side`
    and resizes its alpha back to `(H, W)`."""
    height, width = trimap.shape
    small_height, small_width = scaled_size(height, width, min(max_side, max(height, width)))
    small_image = cv2.resize(image, (small_width, small_height), interpolation=cv2.INTER_AREA)
    levels = cv2.resize(trimap.astype(np.float32) / 255, (small_width, small_height), interpolation=cv2.INTER_AREA)
    small_trimap = np.select([levels <= KNOWN_LEVEL_TOLERANCE, levels >= 1 - KNOWN_LEVEL_TOLERANCE], [0.0, 1.0], 0.5)
    alpha = estimate_alpha(small_image.astype(np.float64) / 255, small_trimap)
    return cv2.resize(alpha, (width, height), interpolation=cv2.INTER_LINEAR)


def trimap_methods(names: Sequence[str], alphanet: AlphaNetMatting, baseline_max_side: int) -> dict[str, TrimapMatting]:
    """The methods called `names` (a subset of METHODS), in that order."""
    available = {"alphanet": alphanet.with_trimap,
                 **{name: partial(pymatting_on_shrunk_copy, estimate, max_side=baseline_max_side)
                    for name, estimate in BASELINES.items()}}
    return {name: available[name] for name in names}


@dataclass(frozen=True)
class Prediction:
    """One method's matte for one image in one table. alpha: uint8 `(H, W)`, the 8-bit matte that is saved and
    scored (as Deep Image Matting's evaluation reads PNGs), None if the method failed; trimap: uint8 `(H, W)`,
    the one it was given or made."""
    table: str
    method: str
    alpha: np.ndarray | None
    trimap: np.ndarray
    seconds: float
    error: str = ""


def predict_case(case: Case, automatic: AutomaticMatting, methods: dict[str, TrimapMatting]) -> list[Prediction]:
    """Table I: `automatic` (as "alphanet") and every other method given its trimap; Table II: every method
    given the ground-truth trimap."""
    start = time.perf_counter()
    alpha, predicted_trimap = automatic(case.image)
    predictions = [Prediction("automatic", "alphanet", to_uint8(alpha), predicted_trimap, time.perf_counter() - start)]
    # AlphaNet's matting stage on its own trimap would repeat the automatic row.
    predictions += [run_with_trimap("automatic", name, method, case.image, predicted_trimap)
                    for name, method in methods.items() if name != "alphanet"]
    predictions += [run_with_trimap("trimap_gt", name, method, case.image, case.trimap)
                    for name, method in methods.items()]
    return predictions


def run_with_trimap(table: str, name: str, method: TrimapMatting, image: np.ndarray, trimap: np.ndarray) -> Prediction:
    """`method` on one image, timed, its matte fused with the trimap; a ValueError (pymatting's way of failing)
    gives a failed prediction."""
    start = time.perf_counter()
    if not (trimap == UNKNOWN).any():
        # Nothing to decide, and pymatting's solvers fail on the empty system: the trimap is the answer.
        return Prediction(table, name, trimap.copy(), trimap, time.perf_counter() - start)
    try:
        alpha = method(image, trimap)
    except ValueError as error:
        return Prediction(table, name, None, trimap, time.perf_counter() - start, f"{type(error).__name__}: {error}")
    seconds = time.perf_counter() - start
    fused = np.where(trimap == UNKNOWN, alpha, trimap / 255)
    return Prediction(table, name, to_uint8(fused), trimap, seconds)


def score(prediction: Prediction, case: Case) -> list[dict]:
    """Two CSV rows (usual and paper convention) for one prediction; a failed one gets empty metrics."""
    rows = []
    for convention, trimap in (("usual", case.trimap), ("paper", None)):
        if prediction.alpha is None:
            metrics = dict.fromkeys(METRICS)
        else:
            # Decoded the way read_alpha decodes the ground truth, so that equal 8-bit mattes score exactly 0.
            metrics = all_metrics(prediction.alpha.astype(np.float32) / 255, case.alpha, trimap)
        rows.append({"image": case.name, "table": prediction.table, "method": prediction.method,
                     "convention": convention, **metrics, "seconds": prediction.seconds, "error": prediction.error})
    return rows


def evaluate(dataset: EvaluationSet, alphanet: AlphaNetMatting, methods: dict[str, TrimapMatting],
             out: Path) -> tuple[list[dict], list[str]]:
    """Predicts, saves and scores every image that can be read; returns the CSV rows, and why each other image
    was skipped (also printed as it happens)."""
    rows, skipped = [], []
    for index in tqdm(range(len(dataset.names)), desc="evaluating", unit="image"):
        try:
            case = dataset.case(index)
        except UnreadableCase as unreadable:
            tqdm.write(f"skipped {unreadable}")
            skipped.append(str(unreadable))
            continue
        predictions = predict_case(case, alphanet.automatic, methods)
        save_case(out, case, predictions)
        rows += [row for prediction in predictions for row in score(prediction, case)]
    if not rows:
        raise DatasetError(f"none of the {len(dataset.names)} images could be read")
    return rows, skipped


def save_case(out: Path, case: Case, predictions: list[Prediction]) -> None:
    """The ground-truth trimap, AlphaNet's predicted trimap and every matte that was scored, as PNGs."""
    save_png(out / "trimaps" / "ground_truth" / f"{case.name}.png", case.trimap)
    automatic = predictions[0]  # predict_case puts AlphaNet's end-to-end prediction first
    save_png(out / "trimaps" / "predicted" / f"{case.name}.png", automatic.trimap)
    for prediction in predictions:
        if prediction.alpha is not None:
            save_png(prediction_path(out, prediction.table, prediction.method, case.name), prediction.alpha)


def prediction_path(out: Path, table: str, method: str, name: str) -> Path:
    return out / "predictions" / table / method / f"{name}.png"


def save_png(path: Path, pixels: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path)


def write_csv(path: Path, rows: list[dict]) -> None:
    with open(path, "w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)


def report(rows: list[dict], header: str) -> str:
    """Markdown: `header`, then each table in each convention, one line per method (see `shared_images`)."""
    sections = [header]
    for table, title in TABLES.items():
        for convention_name, convention in CONVENTIONS.items():
            selected = [r for r in rows if r["table"] == table and r["convention"] == convention_name]
            images = shared_images(selected)
            lines = [f"### {title} ({convention.heading})", "",
                     "| Method | MSE | SAD | Gradient | Connectivity | Failed on | Seconds / image |",
                     "|---|---|---|---|---|---|---|"]
            for method in dict.fromkeys(row["method"] for row in selected):  # in the order they ran
                lines.append(method_line(method, [r for r in selected if r["method"] == method], images, convention))
            lines += ["", coverage_note(images, {row["image"] for row in selected})]
            sections.append("\n".join(lines))
    return "\n\n".join(sections) + "\n"


def shared_images(rows: list[dict]) -> set[str]:
    """The images every method of `rows` matted, leaving aside methods that failed on all of them: a table
    averages over these only, so that its lines compare like with like."""
    working = {row["method"] for row in rows if not row["error"]}
    failed = {row["image"] for row in rows if row["error"] and row["method"] in working}
    return {row["image"] for row in rows} - failed


def method_line(method: str, rows: list[dict], images: set[str], convention: Convention) -> str:
    """One markdown table line: the mean of each metric and of the seconds over `images`."""
    scored = [row for row in rows if row["image"] in images and not row["error"]]
    failures = sum(1 for row in rows if row["error"])
    if scored:
        means = [f"{np.mean([row[m] for row in scored]) / convention.units[m]:.4g}" for m in METRICS]
        seconds = f"{np.mean([row['seconds'] for row in scored]):.3g}"
    else:
        means, seconds = ["failed" if failures == len(rows) else "-"] * len(METRICS), "-"
    return f"| {METHOD_LABELS[method]} | {' | '.join(means)} | {failures} / {len(rows)} | {seconds} |"


def coverage_note(images: set[str], all_images: set[str]) -> str:
    left_out = sorted(all_images - images)
    note = f"Means over the {len(images)} of {len(all_images)} images that every method could matte"
    if not left_out:
        return note + "."
    more = f" and {len(left_out) - 10} more" if len(left_out) > 10 else ""
    return f"{note} (left out: {', '.join(left_out[:10])}{more}; see per_image.csv)."


def save_contact_sheet(path: Path, dataset: EvaluationSet, rows: list[dict], out: Path) -> None:
    """AlphaNet's best and worst images in Table I by whole-image SAD (which also counts segmentation mistakes
    outside the band): image | predicted trimap | predicted alpha | ground-truth alpha, each row labelled."""
    ranked = sorted((row for row in rows if row["table"] == "automatic" and row["method"] == "alphanet"
                     and row["convention"] == "paper"), key=lambda row: row["sad"])
    count = max(1, min(CONTACT_SHEET_CASES, len(ranked) // 2))
    chosen = [(f"best {i + 1}", row) for i, row in enumerate(ranked[:count])]
    chosen += [(f"worst {i + 1}", row) for i, row in enumerate(ranked[::-1][:count])]
    strips = [labelled("image | AlphaNet trimap | AlphaNet alpha | ground-truth alpha")]
    for rank, row in chosen:
        case = dataset.case(dataset.names.index(row["image"]))
        trimap = np.asarray(Image.open(out / "trimaps" / "predicted" / f"{case.name}.png"))
        alpha = np.asarray(Image.open(prediction_path(out, "automatic", "alphanet", case.name)))
        panels = [case.image, trimap, alpha, to_uint8(case.alpha)]
        label = f"{rank}: {case.name}, whole-image SAD {row['sad']:.4g}"
        strips += [labelled(label), np.concatenate([panel_rgb(panel) for panel in panels], axis=1)]
    width = max(strip.shape[1] for strip in strips)
    padded = [cv2.copyMakeBorder(s, 0, 0, 0, width - s.shape[1], cv2.BORDER_CONSTANT, value=(255, 255, 255))
              for s in strips]
    Image.fromarray(np.concatenate(padded, axis=0)).save(path)


def panel_rgb(pixels: np.ndarray) -> np.ndarray:
    """uint8 `(H, W)` or `(H, W, 3)` -> uint8 `(CONTACT_PANEL_HEIGHT, W', 3)`, aspect kept."""
    rgb = pixels if pixels.ndim == 3 else np.repeat(pixels[:, :, None], 3, axis=2)
    width = max(1, round(rgb.shape[1] * CONTACT_PANEL_HEIGHT / rgb.shape[0]))
    return cv2.resize(rgb, (width, CONTACT_PANEL_HEIGHT), interpolation=cv2.INTER_AREA)


def labelled(text: str) -> np.ndarray:
    """A white uint8 `(CONTACT_LABEL_HEIGHT, W, 3)` strip just wide enough for `text`, written in black."""
    (text_width, _), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, 0.45, 1)
    strip = np.full((CONTACT_LABEL_HEIGHT, text_width + 8, 3), 255, np.uint8)
    cv2.putText(strip, text, (4, CONTACT_LABEL_HEIGHT - 7), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    return strip


def model_description(weights: Path | None, scripted: Path | None) -> str:
    if scripted:
        return f"scripted file {scripted}"
    if weights:
        return f"weights {weights}"
    if DEFAULT_WEIGHTS.exists():
        return f"default weights {DEFAULT_WEIGHTS}"
    return "NO TRAINED WEIGHTS: a seeded random AlphaNet, whose numbers are meaningless"


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="alphanet evaluate", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True, help="folder with image/ + alpha/ [+ trimap/]")
    model = parser.add_mutually_exclusive_group()
    model.add_argument("--weights", type=Path, help="AlphaNet weights file (default: the project's), scored as "
                                                    "`make mar WEIGHTS=FILE` builds it (fused stage, one pass)")
    model.add_argument("--scripted", type=Path, help="scripted AlphaNet file (python -m alphanet.export)")
    parser.add_argument("--trimaps", type=Path, help=f"ground-truth trimaps (default: DATA/{TRIMAP_FOLDER} if "
                                                     "present, else made from the ground-truth alpha)")
    parser.add_argument("--band-width", type=int, default=DEFAULT_BAND_WIDTH,
                        help="pixels each side of the edge that made trimaps mark unknown")
    parser.add_argument("--out", type=Path, default=Path("evaluation"), help="output folder")
    parser.add_argument("--methods", default=",".join(METHODS), help=f"comma-separated subset of {','.join(METHODS)}")
    parser.add_argument("--baseline-max-side", type=int, default=DEFAULT_BASELINE_MAX_SIDE,
                        help="CF and KNN run on a copy with at most this long side, their alpha resized back")
    parser.add_argument("--limit", type=int, help="only the first N images (sorted by name)")
    args = parser.parse_args(argv)
    args.methods = args.methods.split(",")
    unknown = sorted(set(args.methods) - set(METHODS))
    if unknown or not args.methods:
        parser.error(f"--methods: unknown {', '.join(unknown)}; choose from {', '.join(METHODS)}")
    for path in (args.weights, args.scripted):
        if path is not None and not path.is_file():
            parser.error(f"{path}: no such file")
    if args.band_width < 0 or args.baseline_max_side < 1 or (args.limit is not None and args.limit < 1):
        parser.error("need --band-width >= 0, --baseline-max-side >= 1 and --limit >= 1")
    return args


def skipped_lines(skipped: list[str]) -> list[str]:
    """The report's list of the images left out because a file of theirs could not be read."""
    if not skipped:
        return []
    return [f"- skipped, unreadable: {len(skipped)}"] + [f"  - {reason}" for reason in skipped]


def run(args: argparse.Namespace) -> str:
    """The whole evaluation for parsed arguments; writes everything to args.out and returns the report."""
    dataset = EvaluationSet(args.data, args.trimaps, args.band_width, args.limit)
    model = torch.jit.load(str(args.scripted)) if args.scripted else load_as_archive(args.weights)
    alphanet = AlphaNetMatting(model)
    args.out.mkdir(parents=True, exist_ok=True)
    rows, skipped = evaluate(dataset, alphanet, trimap_methods(args.methods, alphanet, args.baseline_max_side),
                             args.out)
    write_csv(args.out / "per_image.csv", rows)
    save_contact_sheet(args.out / "contact_sheet.png", dataset, rows, args.out)
    header = "\n".join([
        f"# AlphaNet evaluation: {args.data}", "",
        f"- images: {len(dataset.names) - len(skipped)}; model: {model_description(args.weights, args.scripted)}",
        *skipped_lines(skipped),
        f"- ground-truth trimaps: {dataset.trimap_source}",
        f"- CF and KNN (pymatting) on copies with the long side at most {args.baseline_max_side} px",
        "- seconds: one method on one image; Table I's CF and KNN without AlphaNet's trimap prediction",
    ])
    text = report(rows, header)
    (args.out / "report.md").write_text(text)
    return text


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    try:
        print(run(args))
    except DatasetError as error:
        raise SystemExit(f"error: {error}") from None

if __name__ == "__main__":
    main()
