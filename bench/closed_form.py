"""Closed-form matting refinement (alphanet/nets/closed_form.py) of the net's matte and of the guided filter's with
the net's sure pixels (closed_form_prior: what the archive refines for a call that gives a trimap) on the real
validation composites, against the net alone, the net + guided filter, and pymatting's closed-form and KNN matting.
`OMP_NUM_THREADS=1 NUMBA_NUM_THREADS=1 python -m bench.closed_form [--limit 40] [--sets stamps_studio ...]
[--settings 0.0003:100:0.1 0.001:100:0 ...] [--eps 3e-7] [--weights candidate.pt] [--no-pymatting]
[--band-width 10]`.

Each set is a folder of runs/data/real_val with image/ and alpha/; each photo gets the ground-truth trimap that
alphanet.evaluation.evaluate makes (`trimap_from_alpha`, band `--band-width` px each side, 10 by default). Every
method is given that trimap and keeps its known pixels (AlphaNet's fusion); the metrics are SAD / 1000, MSE and
gradient error / 1000 over its unknown region (the Composition-1k convention of alphanet/evaluation/metrics.py).
The net is the matting stage of `--weights` (default: the project's), one pass (`AlphaNet.matte`, no mirror
averaging). Time: wall time of the refinement alone (for closed-form and KNN: the whole method) per image, and per
megapixel of photo, on one thread.
Prints a Markdown table per set and one over all the images. Photos whose trimap has no foreground or no
background pixel are skipped (pymatting cannot matte them) and named. Not part of the test run.
"""
import argparse
import os

os.environ.setdefault("NUMBA_NUM_THREADS", "1")  # before pymatting imports numba

import sys  # noqa: E402
import time  # noqa: E402
from collections import defaultdict  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
from pymatting import estimate_alpha_cf, estimate_alpha_knn  # noqa: E402

from alphanet.evaluation.evaluate import EvaluationSet  # noqa: E402
from alphanet.evaluation.metrics import UNKNOWN, gradient_error, mse, sad  # noqa: E402
from alphanet.model import fuse  # noqa: E402
from alphanet.nets.closed_form import (CONFIDENCE_POWER, CONFIDENT_WEIGHT, EPS, ITERATIONS, PRIOR_WEIGHT,  # noqa: E402
                                       closed_form_prior, refine_closed_form)
from alphanet.nets.guided_filter import refine_matte  # noqa: E402
from alphanet.training.checkpoint import load_alphanet  # noqa: E402
from bench.matting_options import REAL_VAL, SETS  # noqa: E402

METRICS = ("sad", "mse", "grad")

# The archive's refinement, the uniform weight it had before 2026-12-07, and the archive's with half the steps.
DEFAULT_SETTINGS = [(PRIOR_WEIGHT, ITERATIONS, CONFIDENT_WEIGHT), (0.001, ITERATIONS, 0.0),
                    (PRIOR_WEIGHT, ITERATIONS // 2, CONFIDENT_WEIGHT)]


def parse_setting(text: str) -> tuple[float, int, float]:
    """'PRIOR_WEIGHT:ITERATIONS[:CONFIDENT_WEIGHT]' -> (prior weight, iterations, the extra weight where the prior
    is sure; default the archive's)."""
    fields = text.split(":")
    confident = float(fields[2]) if len(fields) > 2 else CONFIDENT_WEIGHT
    return float(fields[0]), int(fields[1]), confident


def seconds_and_result(call):
    start = time.perf_counter()
    result = call()
    return time.perf_counter() - start, result


def case_tensors(case) -> tuple[torch.Tensor, torch.Tensor]:
    """A case's photo `(1, 3, H, W)` in [0, 1] and trimap `(1, 1, H, W)` in {0, 0.5, 1}."""
    rgb = torch.from_numpy(case.image).permute(2, 0, 1)[None].float() / 255
    levels = torch.from_numpy(case.trimap)[None, None]
    trimap = torch.where(levels == UNKNOWN, 0.5, (levels == 255).float())
    return rgb, trimap


def has_both_known_regions(case) -> bool:
    """Whether a case's trimap has foreground and background pixels: pymatting cannot matte one without."""
    return bool((case.trimap == 0).any() and (case.trimap == 255).any())


def net_matte(model, rgb: torch.Tensor, trimap: torch.Tensor) -> torch.Tensor:
    """The matting net's one-pass matte, fused with the trimap and clamped: `(1, 1, H, W)`."""
    with torch.inference_mode():
        return fuse(model.matte(rgb, trimap), trimap).clamp(0, 1)


def pymatting_method(estimate, case, trimap: torch.Tensor) -> torch.Tensor:
    """A pymatting estimator on the whole photo (long side <= 512 here), fused with the trimap."""
    alpha = estimate(case.image.astype(np.float64) / 255, trimap[0, 0].double().numpy())
    return fuse(torch.from_numpy(alpha).float()[None, None], trimap)


def mattes(case, model, settings: list[tuple[float, int, float]], eps: float,
           pymatting: bool = True) -> dict[str, tuple[float, torch.Tensor]]:
    """Every method's (seconds, `(1, 1, H, W)` alpha) on one case; seconds is the refinement's or the method's.
    `pymatting=False` leaves out pymatting's closed-form and KNN (a sweep of the refinement's settings needs them
    once)."""
    rgb, trimap = case_tensors(case)
    net = net_matte(model, rgb, trimap)
    results = {"net": (0.0, net)}
    guided_seconds, guided = seconds_and_result(lambda: fuse(refine_matte(rgb, net).clamp(0, 1), trimap))
    results["net + guided filter"] = (guided_seconds, guided)
    for weight, iterations, confident in settings:
        def refined_from(prior: torch.Tensor) -> torch.Tensor:
            return refine_closed_form(rgb, prior, trimap, prior_weight=weight, confident_weight=confident, eps=eps,
                                      iterations=iterations)
        setting = f"prior {weight:g} + {confident:g} abs(2p - 1)^{CONFIDENCE_POWER:g}, {iterations} it"
        results[f"net + closed form ({setting})"] = seconds_and_result(lambda: refined_from(net))
        # What the archive does for a call with a trimap: the guided filter's matte as the prior, the net's where
        # the net is sure.
        seconds, refined = seconds_and_result(lambda: refined_from(closed_form_prior(net, guided)))
        results[f"net + guided filter + closed form ({setting})"] = (guided_seconds + seconds, refined)
    if not pymatting:
        return results
    results["closed form (pymatting)"] = seconds_and_result(lambda: pymatting_method(estimate_alpha_cf, case, trimap))
    results["KNN (pymatting)"] = seconds_and_result(lambda: pymatting_method(estimate_alpha_knn, case, trimap))
    return results


def scores(alpha: torch.Tensor, case) -> dict[str, float]:
    pred = alpha[0, 0].numpy()
    return {"sad": sad(pred, case.alpha, case.trimap), "mse": mse(pred, case.alpha, case.trimap),
            "grad": gradient_error(pred, case.alpha, case.trimap)}


def table(rows: dict[str, list[dict]], title: str) -> str:
    """Markdown: per method the mean of each metric and of the time over the images, and seconds per megapixel."""
    count = len(next(iter(rows.values())))
    lines = [f"### {title} ({count} images)", "",
             "| method | SAD | MSE | Grad | time / image (ms) | time / megapixel (s) |", "|---|---|---|---|---|---|"]
    for method, method_rows in rows.items():
        means = {key: np.mean([row[key] for row in method_rows]) for key in (*METRICS, "seconds")}
        megapixels = sum(row["megapixels"] for row in method_rows)
        per_megapixel = sum(row["seconds"] for row in method_rows) / megapixels
        lines.append(f"| {method} | {means['sad']:.3f} | {means['mse']:.5f} | {means['grad']:.3f} | "
                     f"{1000 * means['seconds']:.0f} | {per_megapixel:.2f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", nargs="+", default=list(SETS))
    parser.add_argument("--limit", type=int, default=40, help="at most this many images per set (the first by name)")
    parser.add_argument("--settings", nargs="+", type=parse_setting,
                        default=DEFAULT_SETTINGS,
                        help="closed-form refinements to try, each PRIOR_WEIGHT:ITERATIONS[:CONFIDENT_WEIGHT] "
                             "(the extra weight where the prior is sure, |2p - 1|^CONFIDENCE_POWER of it; "
                             "default the archive's)")
    parser.add_argument("--eps", type=float, default=EPS, help="the ridge (default: the archive's)")
    parser.add_argument("--weights", type=Path, help="AlphaNet weights file (default: the project's)")
    parser.add_argument("--no-pymatting", dest="pymatting", action="store_false",
                        help="leave out pymatting's closed-form and KNN (their figures do not depend on the settings)")
    parser.add_argument("--band-width", type=int, default=10,
                        help="the ground-truth trimap's unknown band, pixels each side of the edge")
    args = parser.parse_args()
    torch.set_num_threads(1)
    model = load_alphanet(args.weights, segmenter="fused").eval()
    print(f"one thread; eps {args.eps}; at most {args.limit} images per set (the first by name); ground-truth "
          f"trimaps, band {args.band_width} px; SAD and Grad / 1000 and MSE over the unknown region\n")
    everything: dict[str, list[dict]] = defaultdict(list)
    for name in args.sets:
        dataset = EvaluationSet(REAL_VAL / name, band_width=args.band_width, limit=args.limit)
        rows: dict[str, list[dict]] = defaultdict(list)
        for index in range(len(dataset.names)):
            case = dataset.case(index)
            if not has_both_known_regions(case):
                print(f"{name}/{case.name}: skipped, its trimap lacks foreground or background\n")
                continue
            start = time.perf_counter()
            megapixels = case.alpha.size / 1e6
            for method, (seconds, alpha) in mattes(case, model, args.settings, args.eps, args.pymatting).items():
                rows[method].append({**scores(alpha, case), "seconds": seconds, "megapixels": megapixels})
            print(f"{name}/{case.name}: {time.perf_counter() - start:.1f} s", file=sys.stderr, flush=True)
        print(table(rows, name) + "\n", flush=True)
        for method, method_rows in rows.items():
            everything[method] += method_rows
    print(table(everything, "all sets, mean over all images"))


if __name__ == "__main__":
    main()
