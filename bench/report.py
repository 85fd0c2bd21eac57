"""BENCHMARKS.md in one command: a chosen set of the benchmarks in bench/, each run as its own process on this
machine against the archive `make mar` builds, their output gathered into one Markdown file.

    python -m bench.report [--out BENCHMARKS.md] [--quick] [--only NAME ...] [--skip NAME ...]
    make bench                  (builds the default archive first, then runs this with --out BENCHMARKS.md)

It runs, in this order (NAME: what), in about 8 minutes on a 2-core AMD EPYC with the default archive (fused, bf16;
441 s on 2026-12-05, before `allocators`, which adds about 3 minutes at fp32):

- `model_call`: bench.scripted_call on model_store/alphanet.pt and on model_store/baseline.pt (the default archive
  of 2026-12-02, which `make bench` builds) at 1024 and 1500 px, 2 threads, median of 5 calls, one process per
  archive and size (a process's peak memory never goes down): time and peak memory of the model call.
- `against_peer`: bench.archives_in_turn, the two archives in turn on three shared photos at 1024 px (10 rounds)
  and 1500 px (5): the default's ratio to the archive of 2026-12-02, carried over to IS-Net medium at 1024 px.
- `segmenters`: bench.segmenters on the astronaut photo at 1024 and 1500 px, 2 threads, 5 interleaved rounds: the
  operations of each segmentation stage (counted) and the three stages' call times against the person segmenter.
- `second_look`: bench.second_look at 1024 and 1500 px, 2 threads, 5 interleaved rounds, fp32 then bf16: the
  default model with and without the segmenter's second look, on a photo where it crops and one where it steps
  back.
- `band_matting`: bench.band_matting at 1024 and 1500 px, discs of radius 1/16 and 1/4, 3 rounds, 8 small-object
  composites: band-only matting (on by default) against the full pass, in time and in alpha.
- `encoding`: bench.png_encoding at 1024 px: the answer's PNG encoding, zlib's default and run-length strategies.
- `serving`: bench.serving at 1024 and 1500 px in automatic mode, TorchServe on loopback with 2 workers of 1 thread
  (it starts and stops its own server), then the same request in process: HTTP latency, throughput of 2 clients
  and per core, cold start.
- `load_test`: bench.load_test, 4 requests of 1500 px at concurrency 2 (its own TorchServe): each worker's peak and
  resting memory, what a pod must hold.
- `allocators`: bench.allocators at 1500 px, 2 rounds: a busy worker's peak memory and answer time with the heap
  trimmed before large photos (the handler's default) and without.

Not run: bench.bench_model and bench.guided_filter (they script the selfie or DeepLab stage, not the default fused
one), bench.backend_latency (it needs the Triton virtualenv), bench.load_test's 1000-request run (about 7
minutes at 256 px on its own), and the probes of quality choices whose figures the model card, the training log and
docs/deployment.md give: bench.matting_options, bench.closed_form, bench.int8_bodies, bench.full_pass_share.

Each section gets the date (`date -u +%F`), the commit (`git rev-parse --short HEAD`, "with uncommitted changes"
when tracked files differ from it), the CPU (`lscpu`'s model name and CPU count) and the load average when it
started, and the exact command that produced it. Nothing is written unless every benchmark ran: a failure names
the benchmark and its error output, and the exit status is 1. `--quick` runs tiny sizes and repeats (TorchServe
still starts twice: a few minutes) to check the report end to end; it prints to standard output unless --out is
given, and says at its top that its figures are not measurements. `--only` / `--skip` pick benchmarks by NAME.
"""
import argparse
import json
import os
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

REPO = Path(__file__).resolve().parents[1]
ARCHIVE = REPO / "model_store" / "alphanet.pt"
# The last BENCHMARKS.md written by hand: figures from other machines and defaults, kept in git.
HAND_WRITTEN = "8b650f9"


@dataclass(frozen=True)
class Run:
    """One process of a benchmark: its module's options for the report, and for --quick."""
    options: Tuple[str, ...]
    quick: Tuple[str, ...]


@dataclass(frozen=True)
class Benchmark:
    name: str
    title: str
    module: str
    about: str  # Markdown: what the figures are, said once above them
    runs: Tuple[Run, ...]
    render: Callable[[List[str]], str]  # the runs' standard outputs, in order -> the section's tables
    results_on_exit: Tuple[int, ...] = (0,)  # exit statuses whose output is still a result


@dataclass(frozen=True)
class Provenance:
    date: str
    commit: str
    cpu: str
    cores: int
    load: Optional[float] = None  # 1-minute load average when the benchmark started

    def line(self) -> str:
        load = "" if self.load is None else f"; load average {self.load:.2f} when it started"
        return f"Measured {self.date}, commit {self.commit}, {self.cpu} ({self.cores} cores){load}."


class BenchmarkFailed(RuntimeError):
    pass


# --- Turning the benchmarks' output into Markdown ------------------------------------------------------------------

def tidy_markdown(text: str) -> str:
    """Markdown the benchmark printed, with a blank line around every table and every other line a paragraph of
    its own (the scripts print a line of settings above a table without a blank line between)."""
    blocks: List[List[str]] = []
    for line in text.strip().splitlines():
        line = line.rstrip()
        if not line:
            continue
        is_table = line.startswith("|")
        if blocks and is_table and blocks[-1][0].startswith("|"):
            blocks[-1].append(line)
        else:
            blocks.append([line])
    return "\n\n".join("\n".join(block) for block in blocks)


def markdown(outputs: List[str]) -> str:
    return "\n\n".join(tidy_markdown(output) for output in outputs if output.strip())


def json_records(outputs: List[str]) -> List[dict]:
    """The JSON lines of the outputs (the scripts print one JSON object a line; other lines are ignored)."""
    records = []
    for output in outputs:
        for line in output.splitlines():
            line = line.strip()
            if line.startswith("{"):
                records.append(json.loads(line))
    return records


Column = Tuple[str, Callable[[dict], object]]


def cell(value: object) -> str:
    if value is None or value == "":
        return "-"
    if isinstance(value, (list, tuple)):
        return ", ".join(cell(item) for item in value) or "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def unit(key: str, suffix: str) -> Callable[[dict], str]:
    """A column of `record[key]` followed by `suffix`; "-" where the record lacks it."""
    def get(record: dict) -> str:
        value = record.get(key)
        if value is None:
            return "-"
        if isinstance(value, (list, tuple)):
            return ", ".join(f"{item}{suffix}" for item in value) or "-"
        return f"{value}{suffix}"
    return get


def table(columns: Sequence[Column], records: List[dict]) -> str:
    if not records:
        raise ValueError("no JSON line in the benchmark's output")
    lines = ["| " + " | ".join(header for header, _ in columns) + " |", "|" + " --- |" * len(columns)]
    lines += ["| " + " | ".join(cell(get(record)) for _, get in columns) + " |" for record in records]
    return "\n".join(lines)


def json_table(*columns: Column) -> Callable[[List[str]], str]:
    return lambda outputs: table(columns, json_records(outputs))


def load_test_table(outputs: List[str]) -> str:
    records = json_records(outputs)
    rendered = table(LOAD_TEST_COLUMNS, records)
    problems = [r for r in records if r.get("failed") or r.get("not_sent") or r.get("workers_replaced")]
    if problems:
        failures = sorted({failure for r in problems for failure in r.get("failures", [])})
        rendered += ("\n\nNot a clean run (a request failed or was not sent, or a worker was replaced)"
                     + (": " + ", ".join(failures) if failures else "") + ".")
    return rendered


def call_needs(record: dict) -> str:
    if record.get("peak_rss_mib") is None or record.get("peak_rss_before_call_mib") is None:
        return "-"
    return f"{record['peak_rss_mib'] - record['peak_rss_before_call_mib']} MiB"


LOAD_TEST_COLUMNS: Tuple[Column, ...] = (
    ("side", unit("side", " px")),
    ("requests at concurrency", lambda r: f"{r.get('requests')} at {r.get('concurrency')}"),
    ("answered / failed / not sent", lambda r: f"{r.get('answered')} / {r.get('failed')} / {r.get('not_sent')}"),
    ("p50", unit("p50_s", " s")),
    ("p99", unit("p99_s", " s")),
    ("throughput", unit("images_per_s", " images/s")),
    ("worker peak (VmHWM)", unit("worker_peak_rss_mib", " MiB")),
    ("workers at rest, before", unit("worker_rss_before_mib", " MiB")),
    ("after", unit("worker_rss_after_mib", " MiB")),
    ("frontend", unit("frontend_rss_mib", " MiB")),
)

BASELINE = "model_store/baseline.pt"  # the Makefile builds it
# The measurement, on another machine, 2 threads, a 1024 px photo: IS-Net medium and the `before` archive.
PEER_MS, BEFORE_MS = 1411, 1178
PEER_PHOTOS = ("astronaut.png", "coffee.png", "coffee.png@brick.png")


def peer_run(size: str, rounds: str, quick_size: str) -> Run:
    """bench.archives_in_turn on `before` and the default at one size (--quick: one round of one photo)."""
    def options(side: str, turns: str, *photos: str) -> Tuple[str, ...]:
        return ("--json", BASELINE, "model_store/alphanet.pt", "--size", side, "--threads", "2", "--rounds", turns,
                "--photos", *photos)
    return Run(options(size, rounds, *PEER_PHOTOS), options(quick_size, "1", PEER_PHOTOS[0]))


def faster_than_peer(record: dict) -> str:
    """At 1024 px, how many times faster than IS-Net medium the archive's ratio to `before` makes it."""
    if record.get("size") != 1024 or not record.get("x_first"):
        return "-"
    return f"{PEER_MS / (BEFORE_MS * record['x_first']):.2f}"

# --- What runs -----------------------------------------------------------------------------------------------------

BENCHMARKS: Tuple[Benchmark, ...] = (
    Benchmark(
        "model_call", "The model call in process", "bench.scripted_call",
        "The archive's TorchScript file (model_store/alphanet.pt, what the serving workers load) called in a fresh "
        "process on the astronaut photo resized to a square, in automatic mode (segmentation, ED band, matting, "
        "guided filter): the median of the calls after the first two, which also optimise the graph. Peak memory "
        "is the process's peak resident set before the first call (Python, torch and the loaded model) and after "
        "it; their difference is what a call needs. One process per size, as a process's peak never goes down. "
        "`before`: the default archive of 2026-12-02 (`make model_store/baseline.pt`: exported by that day's "
        "code, commit f322adb: the person segmenter, mirror averaging and the guided filter on the whole photo, in "
        "the default's PRECISION), the one whose call took 1178 ms at 1024 px against IS-Net medium's 1411 ms on "
        "another machine's 2 threads. The next section times the two in turn.",
        (Run(("--size", "1024", "--threads", "2", "--repeats", "5"),
             ("--size", "256", "--threads", "2", "--repeats", "1")),
         Run(("--scripted", BASELINE, "--size", "1024", "--threads", "2", "--repeats", "5"),
             ("--scripted", BASELINE, "--size", "256", "--threads", "2", "--repeats", "1")),
         Run(("--size", "1500", "--threads", "2", "--repeats", "5"),
             ("--size", "320", "--threads", "2", "--repeats", "1")),
         Run(("--scripted", BASELINE, "--size", "1500", "--threads", "2", "--repeats", "5"),
             ("--scripted", BASELINE, "--size", "320", "--threads", "2", "--repeats", "1"))),
        json_table(("archive", lambda r: "before (2026-12-02)" if r.get("scripted") == BASELINE else "default"),
                   ("size", unit("size", " px")), ("threads", unit("threads", "")),
                   ("median call", unit("median_s", " s")),
                   ("peak before the first call", unit("peak_rss_before_call_mib", " MiB")),
                   ("peak after it", unit("peak_rss_mib", " MiB")),
                   ("what a call needs", call_needs))),
    Benchmark(
        "against_peer", "The default against the archive of 2026-12-02, and so against IS-Net",
        "bench.archives_in_turn",
        "The default archive and `before` (above) called in turn, round after round, in one process on shared "
        "photos resized to a square (a person and a product filling the frame; `before`'s person segmenter finds "
        "nothing in photos without people, so it has no time to compare there) and on the product a third of the "
        "side on a brick wall (`coffee.png@brick.png`, where the band-only matting takes a box around the cup), 2 "
        "threads: each one's median call and its ratio to `before`'s. IS-Net medium (the rembg-class peer, "
        "onnxruntime) is not on this machine (no model file, no network); it took "
        f"{PEER_MS} ms on a 1024 px photo where `before` took {BEFORE_MS} ms on the same 2 threads, so at 1024 px "
        f"the last column carries the ratio over: {PEER_MS} / ({BEFORE_MS} x the ratio), how many times faster "
        "than IS-Net medium the call is (the target: 3).",
        (peer_run("1024", "10", "256"), peer_run("1500", "5", "320")),
        json_table(("photo", unit("photo", "")),
                   ("archive", lambda r: "before (2026-12-02)" if r.get("archive") == BASELINE else "default"),
                   ("size", unit("size", " px")), ("threads", unit("threads", "")),
                   ("median call", unit("median_s", " s")), ("x before", unit("x_first", "")),
                   ("x faster than IS-Net medium (carried over)", faster_than_peer))),
    Benchmark(
        "segmenters", "What each segmentation stage costs", "bench.segmenters",
        "First the floating-point operations of each stage's whole call (counted by `torch.utils.flop_counter`, a "
        "multiply-add being 2; the same on any machine). `fused` (the default) runs the person segmenter and DeepLab, "
        "whose input is capped at 384 px whatever the photo's size, so it adds DeepLab's work to every call. Then "
        "the three models, scripted from the default weights in fp32 and otherwise alike, called in turn round after "
        "round, so that a machine's changing load falls on all of them alike: each one's median time and its ratio "
        "to `selfie`'s in the same rounds.",
        (Run(("--sizes", "1024", "1500", "--photos", "astronaut.png", "--repeats", "5", "--threads", "2"),
             ("--sizes", "256", "--photos", "astronaut.png", "--repeats", "1", "--threads", "2")),),
        markdown),
    Benchmark(
        "second_look", "What the segmenter's second look costs", "bench.second_look",
        "The default archive's model with the second look (`SECOND_LOOK=on`, the default: the segmenter run again "
        "on a crop around its first mask, or a step back from a photo the mask fills, the two looks blended) and "
        "without, otherwise alike, called in turn round after round, in fp32 and in bf16 (`PRECISION`): a portrait "
        "that fills the frame, where it steps back, and a product a third of the photo's side, where it crops: "
        "either way one more call of the fused segmenter, whose inputs do not grow with the photo.",
        (Run(("--sizes", "1024", "1500", "--rounds", "5", "--threads", "2", "--precision", "fp32"),
             ("--sizes", "256", "--rounds", "1", "--threads", "2", "--precision", "fp32")),
         Run(("--sizes", "1024", "1500", "--rounds", "5", "--threads", "2", "--precision", "bf16"),
             ("--sizes", "256", "--rounds", "1", "--threads", "2", "--precision", "bf16"))),
        markdown),
    Benchmark(
        "band_matting", "Band-only matting", "bench.band_matting",
        "Band-only matting (on by default; `alphanet export --no-band-matting` turns it off) runs the matting net on "
        "the unknown band's bounding box with a 32 px margin, or on 320 px windows around the 256 px tiles that hold "
        "the band, whichever covers fewer pixels, rather than on the whole photo, and makes the full pass where they "
        "would cover more than 3/4 of the photo. The default archive's model (fused stage, one matting pass, guided "
        "filter), fp32, scripted both ways and called in turns in one process. First table: the astronaut photo in "
        "automatic mode and textured discs with the ED layer's band given as a trimap (the disc's size alone sets the "
        "band's); the band's share of the photo, the windows taken and theirs, the full pass's "
        "median call and the band-only call's ratio to it in wall time and in the process's CPU time (the work done, "
        "which other jobs on a shared machine disturb less), and how far the band-only alpha is from the full pass's "
        "over the band. It is not exact: the net's alpha depends on the whole photo (GroupNorm and the ASPP's image "
        "pooling). Second table: small-object composites (synthetic foregrounds at 25-60 % of a 1024 px shared photo, "
        "automatic mode), each way's error against the true alpha over the served band (SAD / 1000 "
        "and MSE) and the two alphas' difference there.",
        (Run(("--sizes", "1024", "1500", "--radii", "0.0625", "0.25", "--repeats", "3", "--threads", "2",
              "--composites", "8"),
             ("--sizes", "256", "--radii", "0.25", "--repeats", "1", "--threads", "2", "--composites", "1")),),
        markdown),
    Benchmark(
        "encoding", "The answer's PNG encoding", "bench.png_encoding",
        "The archive's alpha and cutout of the astronaut photo encoded as PNG at zlib level 1 under zlib's default "
        "and run-length strategies, the decoded pixels checked to be the encoded ones; the handler uses run-length "
        "(`PNG_ZLIB_STRATEGY` in alphanet/serving/imageio.py). Median of the repeats, one thread.",
        (Run(("--size", "1024", "--repeats", "15"), ("--size", "256", "--repeats", "1")),),
        json_table(("answer", unit("answer", "")), ("photo", unit("size", " px")), ("strategy", unit("strategy", "")),
                   ("median", unit("median_ms", " ms")), ("PNG", unit("bytes", " bytes")))),
    Benchmark(
        "serving", "Over HTTP: TorchServe against the same work in process", "bench.serving",
        "The demo photo resized to a square, sent as the PNG file a client has, in automatic mode (segmentation, "
        "the ED band, matting where the band is), answered with a cutout PNG. `2x1`: TorchServe with the "
        "development profile on free loopback ports, 2 workers of 1 thread; cold start is launch to the first "
        "answer, then the median of sequential requests, the throughput of 2 clients sending at once and that "
        "throughput per core (2 cores busy): the figure to plan a worker pool with. `in-process`: the same decode, "
        "scripted call and encode in this process on one thread, and the model call alone; the difference between "
        "the two medians is what serving adds, and one over the median is one core's photos per second without "
        "a server.",
        tuple(Run(("--layout", layout, "--side", side, "--requests", "5"),
                  ("--layout", layout, "--side", "256", "--requests", "1"))
              for side in ("1024", "1500") for layout in ("2x1", "in-process")),
        json_table(("layout", unit("layout", "")), ("photo", unit("side", " px")),
                   ("median request", unit("median_s", " s")),
                   ("model call alone", unit("model_call_median_s", " s")),
                   ("throughput, 2 clients", unit("throughput_2_clients_per_s", " photos/s")),
                   ("photos per second per core", unit("photos_per_s_per_core", "")),
                   ("cold start to first answer", unit("cold_start_to_first_answer_s", " s")),
                   ("load average", unit("load_average", "")))),
    Benchmark(
        "load_test", "Load test: worker memory", "bench.load_test",
        "TorchServe with the development profile on free loopback ports, the archive's 2 workers of 1 thread, sent "
        "the demo photo with a half-unknown trimap (a cutout answer; at 1500 px its 1.1 megapixels of band are "
        "refined by closed-form matting in stripes) from several threads at once, so both workers are busy "
        "together. Worker peak is the most each worker process ever held (Linux's VmHWM): what a pod's memory "
        "limit must allow, beside the Java frontend. At rest is each worker's resident memory after it has "
        "rested long enough to hand its freed heap back (alphanet/serving/worker.py), after a warm-up and again "
        "after the load: the two should match. The model caps its work at 1500 px, so larger photos add only "
        "decoding, resizing the alpha back and the cutout's colours.",
        (Run(("--requests", "4", "--concurrency", "2", "--side", "1500"),
             ("--requests", "2", "--concurrency", "2", "--side", "256")),),
        load_test_table, results_on_exit=(0, 1)),  # 1: a failed request or a grown worker, shown in the table
    Benchmark(
        "allocators", "A busy worker's heap at 1500 px", "bench.allocators",
        "A worker's life in a fresh process per setting, the settings in turn round after round: the archive's "
        "file loaded, warmed up and its freed heap handed back as the handler does, then 4 cutout answers back to "
        "back (the load test's photo and trimap, the model call and the foreground colours), 1 thread. `glibc`: "
        "the heap trimmed before each photo of more than 1.5 megapixels, as the handler does "
        "(alphanet/serving/worker.py, `trim_above_pixels` in config/model-config.yaml); `glibc-no-trim`: never "
        "between answers. Peak is the process's most ever held (VmHWM), the answer time a ratio to the untrimmed "
        "one's in the same run; page faults and system CPU per answer are the fresh pages the kernel had to zero.",
        (Run(("--side", "1500", "--answers", "4", "--rounds", "2", "--settings", "glibc-no-trim", "glibc"),
             ("--side", "256", "--answers", "2", "--rounds", "1", "--settings", "glibc-no-trim", "glibc")),),
        markdown),
)

# --- Running them --------------------------------------------------------------------------------------------------

Runner = Callable[[str, Sequence[str]], Tuple[int, str, str]]


def run_module(module: str, options: Sequence[str]) -> Tuple[int, str, str]:
    """`python -m module options...` from the repository root: exit status, standard output, standard error."""
    done = subprocess.run([sys.executable, "-m", module, *options], cwd=REPO, capture_output=True, text=True)
    return done.returncode, done.stdout, done.stderr


def python_shown() -> str:
    """The interpreter as the commands show it: relative to the repository where it lives there."""
    executable = Path(sys.executable)
    try:
        return str(executable.relative_to(REPO))
    except ValueError:
        return str(executable)


def command_line(module: str, options: Sequence[str], python: str = "python") -> str:
    return " ".join([python, "-m", module, *options])


def output(command: Sequence[str]) -> str:
    try:
        return subprocess.run(list(command), cwd=REPO, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


def cpu_model() -> Tuple[str, int]:
    """`lscpu`'s model name and CPU count (/proc/cpuinfo and os.cpu_count() where lscpu is missing)."""
    fields = {}
    for line in output(["lscpu"]).splitlines():
        key, _, value = line.partition(":")
        fields.setdefault(key.strip(), value.strip())
    name = fields.get("Model name")
    if not name:
        cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
        name = next((line.split(":", 1)[1].strip() for line in cpuinfo.splitlines()
                     if line.startswith("model name")), "unknown CPU")
    cores = fields.get("CPU(s)", "")
    return name, int(cores) if cores.isdigit() else (os.cpu_count() or 0)


def commit(out: Optional[Path]) -> str:
    """The short commit, and whether tracked files (other than the report being written) differ from it."""
    head = output(["git", "rev-parse", "--short", "HEAD"]) or "unknown"
    # each line: a status of one or two letters, then the path (output() strips the first line's leading space)
    status = output(["git", "status", "--porcelain", "--untracked-files=no"])
    changed = [line.split(maxsplit=1)[1] for line in status.splitlines()]
    ignored = {str(out.resolve().relative_to(REPO))} if out and out.resolve().is_relative_to(REPO) else set()
    return head + (" with uncommitted changes" if set(changed) - ignored else "")


def provenance_now(out: Optional[Path]) -> Provenance:
    date = output(["date", "-u", "+%F"]) or time.strftime("%Y-%m-%d", time.gmtime())
    cpu, cores = cpu_model()
    return Provenance(date, commit(out), cpu, cores, round(os.getloadavg()[0], 2))


def archive_description() -> str:
    """What model_store/alphanet.pt is, from `make mar`'s build stamp."""
    stamps = sorted((REPO / "model_store").glob(".build-*"))
    if not ARCHIVE.exists():
        return "model_store/alphanet.pt (missing: run `make mar`)"
    if not stamps:
        return "model_store/alphanet.pt, built without `make mar` (no build stamp)"
    fields = stamps[-1].name[len(".build-"):].split("-", 8)
    if len(fields) < 8:
        return "model_store/alphanet.pt, built by an older `make mar` (run `make mar` again)"
    seg, precision, mirror, guided, second_look, subject_only, pose, closed_form, *weights = fields
    choices = (f"SEG={seg}, PRECISION={precision}, MIRROR={mirror}, GUIDED_FILTER={guided}, SECOND_LOOK={second_look}, "
               f"SUBJECT_ONLY={subject_only}, POSE={pose}, CLOSED_FORM={closed_form}")
    return f"model_store/alphanet.pt as `make mar` built it ({choices}" + (
        f", WEIGHTS={weights[0]})" if weights else ", the default weights)")


def run_benchmark(benchmark: Benchmark, quick: bool, runner: Runner) -> List[str]:
    outputs = []
    for run in benchmark.runs:
        options = run.quick if quick else run.options
        status, stdout, stderr = runner(benchmark.module, options)
        if status not in benchmark.results_on_exit or (status != 0 and not json_records([stdout])):
            raise BenchmarkFailed(f"{benchmark.name}: `{command_line(benchmark.module, options)}` exited with "
                                  f"{status}\n{stderr[-3000:]}")
        outputs.append(stdout)
    return outputs


def wrap(text: str) -> str:
    """Prose at the width of the project's other Markdown files (115 characters)."""
    return "\n".join(textwrap.wrap(text, 115, break_long_words=False, break_on_hyphens=False))


def section(benchmark: Benchmark, provenance: Provenance, outputs: List[str], quick: bool, python: str) -> str:
    commands = "\n".join(command_line(benchmark.module, run.quick if quick else run.options, python)
                         for run in benchmark.runs)
    measured = wrap(provenance.line() + " From the repository root:")
    return (f"## {benchmark.title}\n\n{wrap(benchmark.about)}\n\n{measured}\n\n"
            f"```sh\n{commands}\n```\n\n{benchmark.render(outputs)}\n")


def introduction(archive: str, quick: bool) -> str:
    text = "# Benchmarks\n\n" + wrap(
            f"Written by `make bench` (`python -m bench.report`, bench/report.py says what it runs): every section "
            f"measured in one run on one machine, against {archive}. Each section gives its date, commit and CPU, "
            "the load average when it started and the exact command; on a machine shared with other jobs (a load "
            "average well above 0) the times are not figures, the operation counts and memory still are. Run "
            "`make bench` again on your own machine, alone on it. Earlier measurements by hand, on other machines "
            "and defaults (the speed work before and after, the heap trim's cost, the pod sizing table, bf16's "
            f"quality, Triton against TorchServe): `git show {HAND_WRITTEN}:BENCHMARKS.md`.") + "\n"
    if quick:
        text += "\n" + wrap("**A quick run (`--quick`): tiny sizes and repeats to check that the report is written; "
                             "its figures are not measurements.**") + "\n"
    return text


def build_report(benchmarks: Sequence[Benchmark], quick: bool = False, runner: Runner = run_module,
                 provenance: Callable[[], Provenance] = lambda: provenance_now(None),
                 archive: str = "", python: str = "python",
                 progress: Callable[[str], None] = lambda message: None) -> str:
    """The whole document; BenchmarkFailed at the first benchmark that did not run."""
    sections = []
    for number, benchmark in enumerate(benchmarks, 1):
        progress(f"[{number}/{len(benchmarks)}] {benchmark.name} ({benchmark.module})")
        started = provenance()  # the date, commit and load average as the benchmark starts
        sections.append(section(benchmark, started, run_benchmark(benchmark, quick, runner), quick, python))
    return introduction(archive or archive_description(), quick) + "\n" + "\n".join(sections)


def preflight(benchmarks: Sequence[Benchmark], runner: Runner) -> None:
    """Each module's --help, so an import error stops the run before the long benchmarks, not after them."""
    for benchmark in benchmarks:
        status, _, stderr = runner(benchmark.module, ["--help"])
        if status != 0:
            raise BenchmarkFailed(f"{benchmark.name}: `python -m {benchmark.module} --help` exited with {status}\n"
                                  f"{stderr[-3000:]}")


def chosen(only: Optional[List[str]], skip: List[str]) -> List[Benchmark]:
    names = [benchmark.name for benchmark in BENCHMARKS]
    unknown = sorted((set(only or []) | set(skip)) - set(names))
    if unknown:
        raise SystemExit(f"unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(names)}")
    return [b for b in BENCHMARKS if (only is None or b.name in only) and b.name not in skip]


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", help="the file to write (default: BENCHMARKS.md; with --quick, standard output)")
    parser.add_argument("--quick", action="store_true", help="tiny sizes and repeats: a check, not figures")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="run only these benchmarks")
    parser.add_argument("--skip", nargs="+", default=[], metavar="NAME", help="leave these benchmarks out")
    args = parser.parse_args(argv)
    benchmarks = chosen(args.only, args.skip)
    out = None if args.out == "-" or (args.quick and args.out is None) else Path(args.out or REPO / "BENCHMARKS.md")
    started = time.monotonic()

    def progress(message: str) -> None:
        print(f"{time.monotonic() - started:6.0f} s  {message}", file=sys.stderr, flush=True)

    try:
        preflight(benchmarks, run_module)
        document = build_report(benchmarks, args.quick, run_module, lambda: provenance_now(out),
                                archive_description(), python_shown(), progress)
    except BenchmarkFailed as failure:
        print(f"benchmark failed, nothing written: {failure}", file=sys.stderr)
        return 1
    if out is None:
        print(document, end="")
    else:
        out.write_text(document)
        progress(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
