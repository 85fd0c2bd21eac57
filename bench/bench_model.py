"""Model speed on this machine: parameters and FLOPs per stage, median forward time eager vs scripted, and the
achieved GFLOP/s as a fraction of the machine's fp32 and bf16 matrix-multiply peaks measured in the same run.

    python -m bench.bench_model [--sizes 512 1024 1500] [--repeats 5] [--threads N] [--weights FILE]
                                [--segmenter deeplab|selfie] [--precision fp32|bf16] [--mirror-average]

Photos are the shared astronaut photo resized to a square of each size (a real image, so the ED band is a real
band). Not part of the test run: it prints figures for BENCHMARKS.md.
"""
import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

from alphanet.training.checkpoint import given_overrides, load_as_archive
from alphanet.export import script_alphanet
from alphanet.nets.inference_form import PRECISIONS
from alphanet.shared_data import square_photo
from alphanet.training.train import native_bf16


def matmul_peak_gflops(dtype: torch.dtype, size: int = 2048, repeats: int = 10) -> float:
    """Best GEMM throughput of `size` x `size` matrices of `dtype`: the reference for "fraction of peak"."""
    a, b = torch.randn(size, size, dtype=dtype), torch.randn(size, size, dtype=dtype)
    a @ b
    best = min(_timed(lambda: a @ b) for _ in range(repeats))
    return 2 * size**3 / best / 1e9


def _timed(call) -> float:
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def count_flops(model, image) -> dict:
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(image)
    flops = counter.get_flop_counts()
    return {"total": counter.get_total_flops(),
            "segmenter": sum(flops.get("AlphaNet.segmenter", {}).values()),
            "matting_net": sum(flops.get("AlphaNet.matting_net", {}).values())}


def median_seconds(call, repeats: int) -> float:
    call()  # warm-up: the TorchScript profiling executor optimises on the first runs
    call()
    return statistics.median(_timed(call) for _ in range(repeats))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[512, 1024, 1500])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--weights", help="AlphaNet weights (default: the project's)")
    parser.add_argument("--segmenter", choices=("deeplab", "selfie"))
    parser.add_argument("--precision", choices=PRECISIONS, default="fp32", help="the scripted matting net's")
    parser.add_argument("--mirror-average", action=argparse.BooleanOptionalAction,
                        help="matte the mirror image too and average (default: the archive's, off)")
    parser.add_argument("--guided-filter", action=argparse.BooleanOptionalAction,
                        help="refine the matte with the photo as guide (default: the weights file's)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    eager = load_as_archive(args.weights, **given_overrides(segmenter=args.segmenter,
                                                            mirror_average=args.mirror_average,
                                                            guided_filter=args.guided_filter))
    scripted = script_alphanet(eager, args.precision)
    with tempfile.TemporaryDirectory() as tmp:
        scripted.save(f"{tmp}/alphanet.pt")
        file_mib = Path(f"{tmp}/alphanet.pt").stat().st_size / 2**20
    # Where the CPU emulates bf16 its "peak" is a fraction of fp32's and a share of it means nothing.
    bf16_peak = matmul_peak_gflops(torch.bfloat16) if native_bf16(torch.device("cpu")) else None
    fp32_peak = matmul_peak_gflops(torch.float32)
    print(f"mirror averaging {'on' if eager.mirror_average else 'off'}; "
          f"guided filter {'on' if eager.guided_filter else 'off'}; threads {args.threads}; "
          f"matmul peak fp32 {fp32_peak:.1f}, bf16 "
          f"{'not measured (emulated on this CPU)' if bf16_peak is None else f'{bf16_peak:.1f}'} GFLOP/s; "
          f"scripted file ({args.precision} matting net) {file_mib:.1f} MiB")
    for name, part in (("segmenter", eager.segmenter), ("matting_net", eager.matting_net)):
        print(f"{name}: {sum(p.numel() for p in part.parameters()) / 1e6:.2f} M parameters")
    print("| size | segmenter GFLOP | matting GFLOP | eager median s | scripted median s | scripted GFLOP/s | "
          "of fp32 matmul peak | of bf16 matmul peak |")
    print("|---|---|---|---|---|---|---|---|")
    for size in args.sizes:
        image = torch.from_numpy(square_photo(size))
        flops = count_flops(eager, image)
        with torch.no_grad():
            eager_s = median_seconds(lambda: eager(image), args.repeats)
            scripted_s = median_seconds(lambda: scripted(image), args.repeats)
        achieved = flops["total"] / scripted_s / 1e9
        print(f"| {size} | {flops['segmenter'] / 1e9:.1f} | {flops['matting_net'] / 1e9:.1f} | {eager_s:.3f} | "
              f"{scripted_s:.3f} | {achieved:.1f} | {achieved / fp32_peak:.0%} | "
              f"{'-' if bf16_peak is None else f'{achieved / bf16_peak:.0%}'} |")


if __name__ == "__main__":
    main()
