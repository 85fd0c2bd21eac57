"""Send a folder of photos to AlphaNet's inference API and write the answers into a mirror of the folder.

    alphanet client photos/ --out cutouts/ --url http://10.0.0.5:8080 --url http://10.0.0.6:8080 --concurrency 8

Each photo is POSTed to `/predictions/alphanet` (the raw bytes, or multipart with its trimap when --trimap-dir
has one with the same relative path and stem). `photos/shoes/red.jpg` becomes `cutouts/shoes/red.png`, or
`.jpg` when the server answers JPEG. A photo whose output already exists is skipped, so running the same command
again after a crash or Ctrl-C finishes the job. Overload answers (429, 503, 507), timeouts and connection errors
are retried with exponential backoff and full jitter; any other error answer fails that photo at once, and the
summary at the end lists why. Exit status: 0 all done, 1 some photo failed, 130 interrupted.

Importable as `process(...)`; `alphanet client` (or `python -m alphanet.client`) runs the command line. Uses
requests, tqdm and Pillow (the options' colour names), no torch, so it runs on any machine that can reach the
servers.
"""
import argparse
import email.utils
import os
import queue
import random
import sys
import threading
import time
import urllib.parse
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import requests
from tqdm import tqdm

from alphanet.errors import BadRequest
from alphanet.options import SUFFIXES, OutputOptions, add_option_arguments

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif"}
PREDICTIONS_PATH = "/predictions/alphanet"
DEFAULT_URL = "http://127.0.0.1:8080" + PREDICTIONS_PATH
# Answers that mean "busy, ask again later": TorchServe's 503 when its job queue is full, 507 when it runs short
# of memory, and 429 from a rate-limiting proxy in front of it. Not 500: the server failed on this very photo (its
# JSON says why), and another would too. A 4xx (a broken or unsupported file) is the photo's own fault.
RETRYABLE_STATUSES = {429, 503, 507}
# ChunkedEncodingError is a connection dropped in the middle of the answer's body.
RETRYABLE_ERRORS = (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError)
CONNECT_TIMEOUT_S = 10.0
# A server that failed this many requests in a row is passed over for the cool-down (one failure could be a
# single bad moment; three in a row is a server that is down or swamped).
FAILURES_BEFORE_COOLDOWN = 3
# Temp files end with this and start with a dot: never an image suffix, so never taken for an output.
TEMP_SUFFIX = ".alphanet-part"
INTERRUPTED_EXIT = 130  # the shell's code for a program stopped by SIGINT
# The main thread's longest sleep: the OS may deliver SIGINT to a worker thread, which leaves a main thread blocked
# on a queue unaware of it until it next wakes.
WAKE_UP_SECONDS = 0.2


class UsageError(ValueError):
    """Arguments that cannot work (the command line turns it into a usage message)."""


class JobFailed(Exception):
    """One photo that will not get an output; the message says why."""


class Stopped(BaseException):
    """Ctrl-C was pressed: the worker drops its photo. A BaseException, like KeyboardInterrupt, so that the
    worker's catch-all for unexpected errors lets it through."""


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter: before retry n, a random wait in [0, min(cap, base * 2**(n-1))]."""
    base_s: float = 1.0
    cap_s: float = 30.0
    max_attempts: int = 8

    def __post_init__(self):
        if self.max_attempts < 1:
            raise UsageError("max attempts must be at least 1")

    def backoff(self, retry: int) -> float:
        return random.uniform(0.0, min(self.cap_s, self.base_s * 2 ** (retry - 1)))


@dataclass(frozen=True)
class Job:
    image: Path
    output: Path  # where the answer goes, without its extension (which the answer's Content-Type decides)
    trimap: Optional[Path]

    def output_with(self, suffix: str) -> Path:
        return self.output.with_name(self.output.name + suffix)


@dataclass(frozen=True)
class Outcome:
    job: Job
    output: Optional[Path]  # None when the photo failed
    error: Optional[str] = None


@dataclass
class Summary:
    done: list = field(default_factory=list)  # outputs written by this run
    skipped: list = field(default_factory=list)  # outputs that were already there
    failed: dict = field(default_factory=dict)  # photo -> why it has no output
    unfinished: int = 0  # photos neither done nor failed when Ctrl-C stopped the run
    interrupted: bool = False

    def record(self, outcome: Outcome) -> None:
        if outcome.error is None:
            self.done.append(outcome.output)
        else:
            self.failed[outcome.job.image] = outcome.error

    @property
    def exit_code(self) -> int:
        if self.interrupted:
            return INTERRUPTED_EXIT
        return 1 if self.failed else 0

    def report(self) -> str:
        lines = [f"done: {len(self.done)}, skipped (already done): {len(self.skipped)}, failed: {len(self.failed)}"]
        lines += [f"  failed {image}: {reason}" for image, reason in self.failed.items()]
        if self.interrupted:
            lines.append(f"interrupted: {self.unfinished} photo(s) unfinished; run the same command again to "
                         "finish them")
        return "\n".join(lines)


def process(inputs, out_dir, urls=(DEFAULT_URL,), output="cutout", bg=None, file_format=None, trimap_dir=None,
            concurrency=4, timeout_s=180.0, retry=RetryPolicy(), cooldown_s=30.0, token=None) -> Summary:
    """Send every photo in `inputs` (files, or folders searched recursively) to the servers at `urls`, `concurrency`
    requests at a time, and write the answers under `out_dir`. `token` (TorchServe's inference key, or whatever
    the gateway in front expects) goes as a bearer token with every request. Ctrl-C returns the summary so far, marked
    interrupted. Raises UsageError for arguments that cannot work."""
    options = checked_options(output, bg, file_format)
    if concurrency < 1:
        raise UsageError("concurrency must be at least 1")
    pool = UrlPool([prediction_url(url) for url in urls], cooldown_s)
    out_dir = Path(out_dir)
    summary = Summary()
    jobs = plan_jobs([Path(path) for path in inputs], out_dir, Path(trimap_dir) if trimap_dir else None, summary)
    remove_temp_files(out_dir)
    pending = skip_done(jobs, options.suffix, summary)
    timeout = (min(CONNECT_TIMEOUT_S, timeout_s), timeout_s)
    run_jobs(pending, Uploader(pool, options, retry, timeout, threading.Event(), token), concurrency, summary)
    return summary


def checked_options(output: str, bg: Optional[str], file_format: Optional[str]) -> OutputOptions:
    """The options, checked before any photo is sent: the server would refuse bad ones for every photo."""
    try:
        return OutputOptions.parse(output, bg, file_format)
    except BadRequest as error:
        raise UsageError(error.message) from None


# --- Which photos, and where their answers go -------------------------------------------------------------

def plan_jobs(inputs: list, out_dir: Path, trimap_dir: Optional[Path], summary: Summary) -> list:
    """One Job per photo found. Two photos that would share an output (`a.jpg` and `a.png`) would overwrite each
    other, and a resumed run would skip the second: the later one is failed instead."""
    trimaps = find_trimaps(trimap_dir) if trimap_dir else {}
    jobs, owners = [], {}
    for image, relative in find_images(inputs, out_dir):
        output = out_dir / relative.with_suffix("")
        if output in owners:
            summary.failed[image] = f"its output {output}.* would overwrite that of {owners[output]}"
            continue
        owners[output] = image
        jobs.append(Job(image, output, trimaps.get(relative.with_suffix(""))))
    return jobs


def skip_done(jobs: list, suffix: str, summary: Summary) -> list:
    """The jobs whose output (with `suffix`) is not there yet; the others are recorded as skipped."""
    pending = []
    for job in jobs:
        done = job.output_with(suffix)
        if done.exists():
            summary.skipped.append(done)
        else:
            pending.append(job)
    return pending


def find_images(inputs: list, out_dir: Optional[Path]) -> list:
    """(photo, its path relative to the mirror's root) for each photo: a file named directly goes to the root,
    a folder is searched recursively (skipping `out_dir`, so outputs kept inside it are not sent as photos)."""
    found = []
    for given in inputs:
        if given.is_dir():
            found += [(path, path.relative_to(given)) for path in images_under(given, out_dir)]
        elif given.is_file():
            found.append((given, Path(given.name)))
        else:
            raise UsageError(f"no such file or folder: {given}")
    return found


def images_under(folder: Path, out_dir: Optional[Path]) -> list:
    """Image files under `folder`, recursively and in a stable order, leaving out the folder `out_dir`."""
    skipped = out_dir.resolve() if out_dir else None
    images = []
    for parent, subfolders, names in os.walk(folder):
        subfolders[:] = sorted(name for name in subfolders if Path(parent, name).resolve() != skipped)
        images += [Path(parent, name) for name in sorted(names) if Path(name).suffix.lower() in IMAGE_SUFFIXES]
    return images


def find_trimaps(trimap_dir: Path) -> dict:
    """Relative path without extension -> trimap file: `trimaps/shoes/red.png` serves `photos/shoes/red.jpg`.
    Photos without a trimap are sent alone, and the server predicts theirs."""
    if not trimap_dir.is_dir():
        raise UsageError(f"no such trimap folder: {trimap_dir}")
    return {relative.with_suffix(""): path for path, relative in find_images([trimap_dir], None)}


# --- Running the jobs -----------------------------------------------------------------------------------

def run_jobs(jobs: list, uploader: "Uploader", concurrency: int, summary: Summary) -> None:
    """Work through `jobs` on `concurrency` threads, recording each outcome in `summary` as it arrives.

    The threads are daemons so that Ctrl-C can return at once: requests in flight are abandoned rather than
    awaited (they could take minutes), and the process exits without joining them."""
    waiting, outcomes = queue.Queue(), queue.Queue()
    for job in jobs:
        waiting.put(job)
    recorded = 0
    with tqdm(total=len(jobs) + len(summary.skipped), initial=len(summary.skipped), unit="photo") as bar:
        try:
            for _ in range(min(concurrency, len(jobs))):
                threading.Thread(target=uploader.work, args=(waiting, outcomes), daemon=True).start()
            while recorded < len(jobs):
                try:  # in slices of WAKE_UP_SECONDS, so that a Ctrl-C is seen at once
                    outcome = outcomes.get(timeout=WAKE_UP_SECONDS)
                except queue.Empty:
                    continue
                summary.record(outcome)
                recorded += 1
                bar.set_postfix(failed=len(summary.failed), refresh=False)
                bar.update()
        except KeyboardInterrupt:
            uploader.stop.set()
            summary.interrupted = True
            summary.unfinished = len(jobs) - recorded


@dataclass
class Uploader:
    """Sends photos and writes their answers; `work` is the body of each worker thread."""
    pool: "UrlPool"
    options: OutputOptions
    retry: RetryPolicy
    timeout: tuple  # (connect, read) seconds
    stop: threading.Event  # set on Ctrl-C
    token: Optional[str] = None  # sent as "Authorization: Bearer <token>"

    def work(self, waiting: queue.Queue, outcomes: queue.Queue) -> None:
        with requests.Session() as session:  # one per thread: a Session is not safe to share between threads
            if self.token:
                session.headers["Authorization"] = f"Bearer {self.token}"
            while not self.stop.is_set():
                try:
                    job = waiting.get_nowait()
                except queue.Empty:
                    return
                try:
                    outcomes.put(self.run(session, job))
                except Stopped:
                    return

    def run(self, session: requests.Session, job: Job) -> Outcome:
        try:
            answer = self.fetch_answer(session, job)
            if self.stop.is_set():  # the summary is being printed: this answer comes too late to count
                raise Stopped
            output = job.output_with(answer_suffix(answer))
            write_atomically(output, answer.content)
            return Outcome(job, output)
        except JobFailed as failure:
            return Outcome(job, None, str(failure))
        except Exception as error:  # anything else (an unreadable photo, a full disk) fails this photo only
            return Outcome(job, None, f"{type(error).__name__}: {error}")

    def fetch_answer(self, session: requests.Session, job: Job) -> requests.Response:
        """POST the photo until a server answers for good; a retry goes to another server where there is one."""
        image = job.image.read_bytes()
        trimap = job.trimap.read_bytes() if job.trimap else None
        url, wait = None, 0.0
        for attempt in range(1, self.retry.max_attempts + 1):
            if self.stop.wait(wait):
                raise Stopped
            url = self.pool.pick(avoid=url)
            try:
                answer = self.post(session, url, job, image, trimap)
            except RETRYABLE_ERRORS as error:
                self.pool.record_failure(url)
                reason, wait = f"{type(error).__name__} from {url}", self.retry.backoff(attempt)
                continue
            if answer.status_code in RETRYABLE_STATUSES:
                self.pool.record_failure(url)
                reason = f"HTTP {answer.status_code} from {url}"
                wait = max(self.retry.backoff(attempt), retry_after_s(answer))
                continue
            self.pool.record_success(url)  # even a 400 shows the server is up
            if answer.ok:
                return answer
            raise JobFailed(server_message(answer))
        raise JobFailed(f"gave up after {self.retry.max_attempts} attempts; the last: {reason}")

    def post(self, session, url: str, job: Job, image: bytes, trimap: Optional[bytes]) -> requests.Response:
        """The options go both in the query (the API as documented) and as X-<name> headers: TorchServe 0.12
        drops the query string of /predictions/ URLs, so its handler reads the headers."""
        parameters = self.options.parameters()
        headers = {f"X-{name.capitalize()}": value for name, value in parameters.items()}
        if trimap is None:
            headers["Content-Type"] = "application/octet-stream"
            return session.post(url, params=parameters, headers=headers, data=image, timeout=self.timeout)
        parts = {"image": (job.image.name, image, "application/octet-stream"),
                 "trimap": (job.trimap.name, trimap, "application/octet-stream")}
        return session.post(url, params=parameters, headers=headers, files=parts, timeout=self.timeout)


def retry_after_s(answer: requests.Response) -> float:
    """The wait a Retry-After header asks for, in seconds (delay-seconds or an HTTP date); 0 without one."""
    value = answer.headers.get("Retry-After", "").strip()
    if value.isdigit():
        return float(value)
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return 0.0
    return max(0.0, moment.timestamp() - time.time())


def server_message(answer: requests.Response) -> str:
    """'HTTP 400: <the message of the server's JSON error>', or the start of the body when it is not JSON."""
    try:
        message = answer.json()["message"]
    except (ValueError, KeyError, TypeError):
        message = answer.text[:200]
    return f"HTTP {answer.status_code}: {message}"


# --- Servers --------------------------------------------------------------------------------------------

def prediction_url(given: str) -> str:
    """A server's prediction URL: `host:port` gets http://, and a URL without a path gets /predictions/alphanet."""
    url = given.strip() if "://" in given else f"http://{given.strip()}"
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise UsageError(f"not an http(s) URL: {given!r}")
    return url if parts.path.strip("/") else url.rstrip("/") + PREDICTIONS_PATH


class UrlPool:
    """Spreads requests over the servers in turn. A server that failed FAILURES_BEFORE_COOLDOWN requests in a
    row is passed over for `cooldown_s` while another one is usable; once that runs out it gets one request,
    and another failure cools it down again at once."""

    def __init__(self, urls: list, cooldown_s: float):
        if not urls:
            raise UsageError("no server URL")
        self.urls = urls
        self.cooldown_s = cooldown_s
        self.turn = 0
        self.failures_in_a_row = {url: 0 for url in urls}
        self.cool_until = {url: 0.0 for url in urls}
        self.lock = threading.Lock()

    def pick(self, avoid: Optional[str] = None) -> str:
        """The next server in turn, preferring those not cooling down, then one other than `avoid` (the server
        that just failed this photo). With every server cooling down, one is still used: the backoff paces it."""
        with self.lock:
            in_turn = self.urls[self.turn:] + self.urls[:self.turn]
            self.turn = (self.turn + 1) % len(self.urls)
            now = time.monotonic()
            return min(in_turn, key=lambda url: (self.cool_until[url] > now, url == avoid))

    def record_failure(self, url: str) -> None:
        with self.lock:
            self.failures_in_a_row[url] += 1
            if self.failures_in_a_row[url] >= FAILURES_BEFORE_COOLDOWN:
                self.cool_until[url] = time.monotonic() + self.cooldown_s

    def record_success(self, url: str) -> None:
        with self.lock:
            self.failures_in_a_row[url] = 0
            self.cool_until[url] = 0.0


# --- Writing outputs ------------------------------------------------------------------------------------

def answer_suffix(answer: requests.Response) -> str:
    content_type = answer.headers.get("Content-Type", "").split(";")[0].strip().lower()
    if content_type not in SUFFIXES:
        raise JobFailed(f"the server answered {content_type or 'no Content-Type'}, not PNG or JPEG")
    return SUFFIXES[content_type]


def write_atomically(path: Path, data: bytes) -> None:
    """Write into a temp file beside `path`, then rename it over: a crash leaves no half-written output that a
    resumed run would take as done. fsync first, or a power cut could leave the renamed file empty."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.{uuid.uuid4().hex}{TEMP_SUFFIX}")
    try:
        with open(temp, "xb") as file:  # not tempfile.mkstemp: its files are private (0600) to their owner
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def remove_temp_files(out_dir: Path) -> None:
    """Temp files left by a run that crashed or was interrupted mid-write."""
    if out_dir.is_dir():
        for temp in out_dir.rglob(f".*{TEMP_SUFFIX}"):
            temp.unlink(missing_ok=True)


# --- Command line ---------------------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="alphanet client", description=__doc__.split("\n\n")[0])
    parser.add_argument("inputs", nargs="+", type=Path, help="photos, or folders searched recursively")
    parser.add_argument("--out", required=True, type=Path, help="folder for the outputs (mirrors the inputs)")
    parser.add_argument("--url", action="append", help=f"a server (repeat it, or separate with commas); a URL "
                                                        f"without a path gets {PREDICTIONS_PATH} (default "
                                                        f"{DEFAULT_URL})")
    add_option_arguments(parser)
    parser.add_argument("--trimap-dir", type=Path, help="trimaps at the photos' relative paths, any image "
                                                        "extension; photos without one are sent alone")
    parser.add_argument("--concurrency", type=int, default=4, help="requests in flight at once (default 4)")
    parser.add_argument("--timeout", type=float, default=180.0, help="seconds to wait for an answer (default 180)")
    parser.add_argument("--max-attempts", type=int, default=8, help="tries per photo (default 8)")
    parser.add_argument("--backoff-base", type=float, default=1.0, help="first retry's longest wait, in s")
    parser.add_argument("--backoff-cap", type=float, default=30.0, help="longest wait before a retry, in s")
    parser.add_argument("--cooldown", type=float, default=30.0, help="seconds a failing server is passed over")
    parser.add_argument("--token", default=os.environ.get("ALPHANET_TOKEN"),
                        help="bearer token for every request: TorchServe's inference key in the production profile "
                             "(default: $ALPHANET_TOKEN)")
    return parser


def main(argv: Optional[list] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    urls = [url for given in args.url or [DEFAULT_URL] for url in given.split(",") if url.strip()]
    retry = RetryPolicy(args.backoff_base, args.backoff_cap, args.max_attempts)
    try:
        summary = process(args.inputs, args.out, urls, args.output, args.bg, args.file_format, args.trimap_dir,
                          args.concurrency, args.timeout, retry, args.cooldown, args.token)
    except UsageError as error:
        parser.error(str(error))
    except KeyboardInterrupt:  # while listing the photos, before any was sent
        print("interrupted before any photo was sent", file=sys.stderr)
        return INTERRUPTED_EXIT
    print(summary.report())
    return summary.exit_code


if __name__ == "__main__":
    sys.exit(main())
