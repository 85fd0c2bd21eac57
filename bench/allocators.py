"""What the C library's memory allocator, and the handler's trim before large photos, do to a serving worker's
peak memory and answer time: `python -m bench.allocators [--scripted FILE] [--side 1500] [--answers 4] [--rounds 2]
[--threads 1] [--settings glibc ...]`.

Each setting runs a worker's life in a fresh process, with the setting's environment: load a TorchScript file
(`--scripted`, default the archive's model_store/alphanet.pt), warm it up and hand the freed heap back as the
handler does, then answer `--answers` cutout requests (the serving benchmarks' photo and half-unknown trimap at
`--side` px, bench.workload: the model's call and the foreground colours, the latter on numba's own thread count)
back to back, as a busy worker does. Settings run in turn, round after round, so that a machine's drift falls on
all of them. Prints, per setting, the process's resident memory at rest after the warm-up, its peak over the whole
life (VmHWM, as `ru_maxrss` reports it: what a pod's limit must allow), the median answer time and its ratio to the
first setting's in the same run, and the minor page faults and system CPU time per answer (fresh pages the kernel
had to zero).

The settings: `glibc`, the C library's malloc with the handler's trim before photos of more than TRIM_ABOVE_PIXELS
(alphanet/serving/worker.py); `glibc-no-trim`, without that trim; `glibc-trim-all`, a trim before every answer
whatever its size; `glibc-no-mmap`, the handler's trim with glibc told never to map large blocks on their own
(`MALLOC_MMAP_MAX_=0`: every tensor comes from the heap and is reused there); `jemalloc`, jemalloc preloaded with
JEMALLOC_CONF and no trim. A setting whose library is missing is skipped and named (Debian: `apt-get install
libjemalloc2`). Not part of the test run.
"""
import argparse
import ctypes.util
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

from alphanet.serving.worker import TRIM_ABOVE_PIXELS

REPO = Path(__file__).resolve().parents[1]
# One arena, and pages freed for 5 s returned to the kernel gradually: jemalloc's defaults (an arena per CPU,
# 10 s) held more at rest in trials on a 2-core machine.
JEMALLOC_CONF = "narenas:1,dirty_decay_ms:5000,muzzy_decay_ms:0"
# Each setting's trim threshold in pixels (None: never trimmed between answers).
TRIM_ABOVE = {"glibc": TRIM_ABOVE_PIXELS, "glibc-no-trim": None, "glibc-trim-all": 0,
              "glibc-no-mmap": TRIM_ABOVE_PIXELS, "jemalloc": None}
SETTINGS = tuple(TRIM_ABOVE)


def setting_environment(name: str):
    """The environment variables a setting adds, or None where its library is not installed."""
    if name == "jemalloc":
        library = ctypes.util.find_library("jemalloc")
        return None if library is None else {"LD_PRELOAD": library, "MALLOC_CONF": JEMALLOC_CONF}
    return {"MALLOC_MMAP_MAX_": "0"} if name == "glibc-no-mmap" else {}


def worker_life(args) -> dict:
    """One worker's life in this process (the child's side): its memory and answer times as a dict."""
    import psutil
    import torch
    from alphanet.serving.imageio import decontaminated_foreground
    from alphanet.serving.worker import release_free_memory, trim_before_call, warm_up
    from bench.scripted_call import peak_rss_mib
    from bench.workload import workload

    torch.set_num_threads(args.threads)
    model = torch.jit.load(str(args.scripted)).eval()
    with torch.inference_mode():
        warm_up(model)
    release_free_memory()
    at_rest = round(psutil.Process().memory_info().rss / 2**20)
    photo, trimap = workload(args.side)
    seconds = []
    before = resource.getrusage(resource.RUSAGE_SELF)
    for _ in range(args.answers):
        started = time.perf_counter()
        if args.trim_above is not None:
            trim_before_call(photo.shape[0] * photo.shape[1], args.trim_above)
        with torch.inference_mode():
            alpha, _ = model(torch.from_numpy(photo), torch.from_numpy(trimap))
        decontaminated_foreground(photo, alpha.numpy())
        seconds.append(time.perf_counter() - started)
    after = resource.getrusage(resource.RUSAGE_SELF)
    return {"at_rest_mib": at_rest, "peak_mib": round(peak_rss_mib()), "seconds": seconds,
            "faults_per_answer": (after.ru_minflt - before.ru_minflt) / args.answers,
            "system_s_per_answer": (after.ru_stime - before.ru_stime) / args.answers}


def run_setting(name: str, environment: dict, args) -> dict:
    """One worker's life under setting `name` in a fresh process with `environment` added: what worker_life
    returned there."""
    trim = [] if TRIM_ABOVE[name] is None else ["--trim-above", str(TRIM_ABOVE[name])]
    command = [sys.executable, "-m", "bench.allocators", "--child", "--scripted", str(args.scripted),
               "--side", str(args.side), "--answers", str(args.answers), "--threads", str(args.threads)] + trim
    done = subprocess.run(command, cwd=REPO, env={**os.environ, **environment}, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{name}: the worker's life failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scripted", type=Path, default=REPO / "model_store" / "alphanet.pt")
    parser.add_argument("--side", type=int, default=1500)
    parser.add_argument("--answers", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (a worker of the archive has 1)")
    parser.add_argument("--settings", nargs="+", choices=SETTINGS, default=list(SETTINGS))
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--trim-above", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(worker_life(args)))
        return
    environments = {name: setting_environment(name) for name in args.settings}
    for name in [name for name, environment in environments.items() if environment is None]:
        print(f"{name}: skipped, its library is not installed")
    lives = {name: [] for name, environment in environments.items() if environment is not None}
    if not lives:
        sys.exit("no setting left to run")
    for _ in range(args.rounds):
        for name in lives:
            lives[name].append(run_setting(name, environments[name], args))
    print_table(lives, args)


def print_table(lives: dict, args) -> None:
    """One Markdown row per setting, times as ratios to the first setting's."""
    first = next(iter(lives))
    reference = statistics.median(s for life in lives[first] for s in life["seconds"])
    print(f"{args.scripted.name}, {args.side} px, {args.answers} answers a worker, {args.rounds} rounds in turn, "
          f"{args.threads} thread(s)")
    print(f"| setting | at rest | peak | median answer | x {first} | page faults / answer | system CPU / answer |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for name, runs in lives.items():
        median = statistics.median(s for life in runs for s in life["seconds"])
        faults = statistics.mean(r["faults_per_answer"] for r in runs)
        system = statistics.mean(r["system_s_per_answer"] for r in runs)
        print(f"| {name} | {max(r['at_rest_mib'] for r in runs)} MiB | {max(r['peak_mib'] for r in runs)} MiB | "
              f"{median:.2f} s | {median / reference:.2f} | {faults:.0f} | {system:.2f} s |")


if __name__ == "__main__":
    main()
