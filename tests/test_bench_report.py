"""bench/report.py assembles BENCHMARKS.md from the benchmarks' output: checked on made-up output, no benchmark runs."""
import json
import re

import pytest

from bench import report
from bench.report import BENCHMARKS, BenchmarkFailed, Provenance, build_report
from tests.make_dry_run import REPO, program_words

PROVENANCE = Provenance("2031-02-03", "abc1234", "Example CPU @ 2.0GHz", 16, 0.25)

SEGMENTERS_OUTPUT = """| photo | size | stage | segmenter GFLOP | matting net GFLOP | call GFLOP (x selfie) |
| --- | --- | --- | --- | --- | --- |
| astronaut.png | 1024 | selfie | 0.1 | 104.5 | 104.6 (1.00) |
| astronaut.png | 1024 | fused | 21.8 | 104.5 | 126.3 (1.21) |
threads 2, median of 5 interleaved rounds
| photo | size | selfie ms (x selfie) | deeplab ms (x selfie) | fused ms (x selfie) |
| --- | --- | --- | --- | --- |
| astronaut.png | 1024 | 1100 (1.00) | 1300 (1.18) | 1320 (1.20) |
"""


def fake_output(module: str, options) -> str:
    """What each benchmark module prints, made up."""
    if module == "bench.scripted_call":
        size = int(options[options.index("--size") + 1])
        return json.dumps({"scripted": "model_store/alphanet.pt", "size": size, "threads": 2, "trim_before_each": False,
                           "peak_rss_before_call_mib": 400, "peak_rss_mib": 400 + size, "median_s": size / 1000})
    if module == "bench.archives_in_turn":
        size = int(options[options.index("--size") + 1])
        photos = options[options.index("--photos") + 1:]
        return "\n".join(json.dumps({"photo": photo, "archive": archive, "size": size, "threads": 2, "rounds": 10,
                                     "median_s": size * ratio / 1000, "x_first": ratio}) for photo in photos
                         for archive, ratio in (("model_store/baseline.pt", 1.0), ("model_store/alphanet.pt", 0.4)))
    if module == "bench.segmenters":
        return SEGMENTERS_OUTPUT
    if module == "bench.second_look":
        return ("threads 2, fp32, median of 5 interleaved rounds\n| photo | size | one look | with the second look | "
                "x one look |\n| --- | --- | --- | --- | --- |\n| astronaut.png | 1024 | 600 ms | 601 ms | 1.00 |\n")
    if module == "bench.band_matting":
        return "threads 2; margin 256 px\n| case | size |\n|---|---|\n| photo | 1024 |\n"
    if module == "bench.png_encoding":
        return "\n".join(json.dumps({"answer": "alpha", "size": 1024, "strategy": strategy, "median_ms": ms,
                                     "bytes": 1000}) for strategy, ms in (("default", 8.96), ("rle", 8.2)))
    if module == "bench.serving":
        layout, side = options[options.index("--layout") + 1], int(options[options.index("--side") + 1])
        if layout == "in-process":
            return json.dumps({"layout": layout, "side": side, "mode": "automatic", "load_average": 0.1,
                               "median_s": side / 1000, "model_call_median_s": 1.1, "photos_per_s_per_core": 0.8})
        return json.dumps({"layout": layout, "side": side, "mode": "automatic", "load_average": 0.1,
                           "cold_start_to_first_answer_s": 9.5, "median_s": 1.3, "throughput_2_clients_per_s": 1.5,
                           "photos_per_s_per_core": 0.75})
    if module == "bench.load_test":
        return json.dumps({"requests": 4, "concurrency": 2, "side": 1500, "answered": 4, "failed": 0, "failures": [],
                           "not_sent": 0, "p50_s": 5.1, "p99_s": 5.9, "images_per_s": 0.38, "elapsed_s": 10.5,
                           "worker_rss_before_mib": [470, 460], "worker_rss_after_mib": [471, 462],
                           "worker_rss_growth_percent": [0.2, 0.4], "worker_peak_rss_mib": [930, 910],
                           "frontend_rss_mib": 300, "workers_replaced": False, "load_average": 1.0})
    if module == "bench.allocators":
        return ("alphanet.pt, 1500 px, 4 answers a worker, 2 rounds in turn, 1 thread(s)\n"
                "| setting | at rest | peak |\n| --- | --- | --- |\n| glibc-no-trim | 543 MiB | 1552 MiB |\n"
                "| glibc | 543 MiB | 1253 MiB |\n")
    raise AssertionError(f"no made-up output for {module}")


def fake_runner(calls: list, status: int = 0):
    def run(module, options):
        calls.append((module, list(options)))
        return status, fake_output(module, options), "some warnings"
    return run


def document(quick: bool = False, calls: list = None) -> str:
    return build_report(BENCHMARKS, quick, fake_runner([] if calls is None else calls), lambda: PROVENANCE,
                        "model_store/alphanet.pt as `make mar` built it (SEG=fused)")


def sections(text: str) -> dict:
    """Heading -> the text under it, for the document's ## sections."""
    parts = re.split(r"^## (.+)$", text, flags=re.MULTILINE)
    return dict(zip(parts[1::2], parts[2::2]))


def test_every_benchmark_gets_a_section_with_provenance_command_and_explanation():
    text = document()
    assert text.startswith("# Benchmarks\n") and "SEG=fused" in text.split("## ")[0]
    found = sections(text)
    assert list(found) == [benchmark.title for benchmark in BENCHMARKS]
    for benchmark in BENCHMARKS:
        body = found[benchmark.title]
        prose = " ".join(body.split("```")[0].split())  # wrapped at 115 characters
        assert "Measured 2031-02-03, commit abc1234, Example CPU @ 2.0GHz (16 cores); load average 0.25" in prose
        assert benchmark.about in prose
        commands = re.search(r"```sh\n(.*?)\n```", body, re.DOTALL)[1].splitlines()
        assert commands == [f"python -m {benchmark.module} " + " ".join(run.options) for run in benchmark.runs]
        assert "|" in body.split("```")[-1], f"{benchmark.name}: no table after the command"
    assert "quick run" not in text


def test_markdown_output_is_kept_with_blank_lines_around_its_tables():
    body = sections(document())["What each segmentation stage costs"]
    assert "| astronaut.png | 1024 | fused | 21.8 | 104.5 | 126.3 (1.21) |" in body
    assert "\n\nthreads 2, median of 5 interleaved rounds\n\n| photo | size | selfie ms" in body
    assert report.tidy_markdown("a\n| x |\n|---|\n| 1 |\nb") == "a\n\n| x |\n|---|\n| 1 |\n\nb"


def test_json_lines_become_tables_with_units():
    found = sections(document())
    assert "| 1024 px | 2 | 1.024 s | 400 MiB | 1424 MiB | 1024 MiB |" in found["The model call in process"]
    assert "| 1500 px | 2 | 1.5 s | 400 MiB | 1900 MiB | 1500 MiB |" in found["The model call in process"]
    peer = found["The default against the archive of 2026-12-02, and so against IS-Net"]
    for photo in report.PEER_PHOTOS:
        assert f"| {photo} | before (2026-12-02) | 1024 px | 2 | 1.024 s | 1.0 | 1.20 |" in peer  # the 1.2x
        assert f"| {photo} | default | 1024 px | 2 | 0.4096 s | 0.4 | 2.99 |" in peer  # 1411 / (1178 x 0.4)
        assert f"| {photo} | default | 1500 px | 2 | 0.6 s | 0.4 | - |" in peer  # the peer was timed at 1024 only
    serving = found["Over HTTP: TorchServe against the same work in process"]
    for side in (1024, 1500):
        assert f"| 2x1 | {side} px | 1.3 s | - | 1.5 photos/s | 0.75 | 9.5 s | 0.1 |" in serving
        assert f"| in-process | {side} px | {side / 1000} s | 1.1 s | - | 0.8 | - | 0.1 |" in serving
    load = found["Load test: worker memory"]
    assert "| 1500 px | 4 at 2 | 4 / 0 / 0 | 5.1 s | 5.9 s | 0.38 images/s | 930 MiB, 910 MiB |" in load
    assert "Not a clean run" not in load


def test_quick_runs_the_quick_options_and_says_so():
    calls = []
    text = document(quick=True, calls=calls)
    assert "quick run" in text and "not measurements" in " ".join(text.split())
    assert calls == [(b.module, list(run.quick)) for b in BENCHMARKS for run in b.runs]
    assert all(run.quick != run.options for b in BENCHMARKS for run in b.runs)


def test_a_failed_benchmark_stops_the_report():
    def failing(module, options):
        if module == "bench.band_matting":
            return 1, "", "ModuleNotFoundError: No module named 'x'"
        return 0, fake_output(module, options), ""
    with pytest.raises(BenchmarkFailed, match="(?s)band_matting.*ModuleNotFoundError"):
        build_report(BENCHMARKS, False, failing, lambda: PROVENANCE, "an archive")


def test_the_load_tests_exit_status_1_is_a_result_when_it_printed_one():
    record = json.loads(fake_output("bench.load_test", []))
    record.update(failed=1, answered=3, failures=["HTTP 503"])
    load_test = next(b for b in BENCHMARKS if b.module == "bench.load_test")
    text = build_report([load_test], False, lambda m, o: (1, json.dumps(record), ""), lambda: PROVENANCE, "x")
    assert "| 3 / 1 / 0 |" in text and "Not a clean run" in text and "HTTP 503" in text
    with pytest.raises(BenchmarkFailed):
        build_report([load_test], False, lambda m, o: (1, "", "Traceback"), lambda: PROVENANCE, "x")


def test_nothing_is_written_when_a_benchmark_fails(tmp_path, monkeypatch):
    out = tmp_path / "BENCHMARKS.md"
    out.write_text("the old file\n")
    monkeypatch.setattr(report, "run_module", lambda module, options: (2, "", "boom"))
    assert report.main(["--out", str(out), "--only", "encoding"]) == 1
    assert out.read_text() == "the old file\n"


def test_every_option_is_one_its_module_takes():
    for benchmark in BENCHMARKS:
        source = (REPO / (benchmark.module.replace(".", "/") + ".py")).read_text()
        for run in benchmark.runs:
            for option in {word for word in run.options + run.quick if word.startswith("--")}:
                assert f'"{option}"' in source, f"{benchmark.module} has no {option}"


def test_unknown_names_are_refused():
    with pytest.raises(SystemExit):
        report.chosen(["no_such_benchmark"], [])
    assert [b.name for b in report.chosen(None, ["load_test", "serving"])] == [
        b.name for b in BENCHMARKS if b.name not in ("load_test", "serving")]


def test_make_bench_writes_benchmarks_md_with_the_report():
    words = program_words("bench.report", "bench")
    assert words and words[words.index("--out") + 1] == "BENCHMARKS.md"


CHANGED = "abc1234 with uncommitted changes"


@pytest.mark.parametrize("status,expected", [(" M BENCHMARKS.md", "abc1234"),
                                             (" M BENCHMARKS.md\n M alphanet/model.py", CHANGED),
                                             ("M  alphanet/model.py", CHANGED), ("", "abc1234")])
def test_the_commit_is_marked_changed_only_for_files_other_than_the_report(monkeypatch, status, expected):
    answers = {"rev-parse": "abc1234", "status": status.strip()}  # as output() gives it: stripped
    monkeypatch.setattr(report, "output", lambda command: answers[command[1]])
    assert report.commit(REPO / "BENCHMARKS.md") == expected
