"""The int8 lever, probed: the matting net's encoder stage bodies (MobileNetV2 inverted residuals, most of its
work) quantized to int8 after training (FX graph mode, x86 backend: AVX512-VNNI where the CPU has it), the rest in
fp32. `python -m bench.int8_bodies [--size 1024] [--repeats 3] [--threads 2]`.

The default weights' matting net in its inference form; the bodies calibrated on three shared photos at 512 px with
the model's own trimaps, then the astronaut photo at `--size` with its trimap: both nets called in turns (eager),
the median time of each and their ratio, and how far the int8 alpha is from the fp32 one over the band (mean, 90th
percentile, largest). Not part of the test run, and not in the archive: torch marks FX quantization as deprecated.
"""
import argparse
import copy
import statistics
import time
import warnings

import torch
from torch import Tensor, nn
from torch.ao.quantization import get_default_qconfig_mapping
from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx

from alphanet.nets.inference_form import inference_form
from alphanet.shared_data import SHARED_PHOTOS, square_photo
from alphanet.training.checkpoint import load_alphanet

CALIBRATION_PHOTOS = ("astronaut.png", "coffee.png", "chelsea.png")


def photo_and_trimap(model: nn.Module, name: str, size: int) -> tuple[Tensor, Tensor]:
    """`(1, 3, size, size)` RGB in [0, 1] of a shared photo and `(1, 1, size, size)` trimap the model makes."""
    rgb = torch.from_numpy(square_photo(size, SHARED_PHOTOS / name)).permute(2, 0, 1)[None].float() / 255
    with torch.inference_mode():
        return rgb, model.predict_trimap(rgb)


def int8_bodies(net: nn.Module, calibration: list[tuple[Tensor, Tensor]]) -> nn.Module:
    """A copy of the inference-form `net` whose encoder stage bodies (inside their RowStrips) run in int8."""
    quantized = copy.deepcopy(net)
    strips = [stage.body for stage in quantized.encoder[1:]]
    mapping = get_default_qconfig_mapping("x86")
    for part in strips:
        channels = next(m for m in part.body.modules() if isinstance(m, nn.Conv2d)).in_channels
        part.body = prepare_fx(part.body.eval(), mapping, (torch.randn(1, channels, 32, 32),))
    with torch.inference_mode():
        for rgb, trimap in calibration:
            quantized(rgb, trimap)
    for part in strips:
        part.body = convert_fx(part.body)
    return quantized


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")  # FX quantization's deprecation notices
    torch.set_num_threads(args.threads)
    torch.backends.quantized.engine = "x86"
    model = load_alphanet()
    nets = {"fp32": inference_form(model.matting_net).eval()}
    nets["int8"] = int8_bodies(nets["fp32"], [photo_and_trimap(model, name, 512) for name in CALIBRATION_PHOTOS])
    rgb, trimap = photo_and_trimap(model, "astronaut.png", args.size)
    times: dict[str, list[float]] = {way: [] for way in nets}
    alphas = {}
    with torch.inference_mode():
        for round_ in range(args.repeats + 2):  # the first two rounds warm up
            for way, net in nets.items():
                start = time.perf_counter()
                alphas[way] = net(rgb, trimap)
                if round_ >= 2:
                    times[way].append(time.perf_counter() - start)
    difference = (alphas["int8"] - alphas["fp32"]).abs()[trimap == 0.5]
    fp32, int8 = (statistics.median(times[way]) for way in ("fp32", "int8"))
    print(f"{args.size} px, {args.threads} threads, median of {args.repeats}: fp32 {fp32:.3f} s, int8 bodies "
          f"{int8:.3f} s ({int8 / fp32:.2f}x); int8 alpha vs fp32 over the band: mean {difference.mean():.4f}, "
          f"90th percentile {difference.quantile(0.9):.4f}, largest {difference.max():.3f}")


if __name__ == "__main__":
    main()
