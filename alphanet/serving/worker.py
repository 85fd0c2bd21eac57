"""What a long-lived serving worker does around the scripted AlphaNet besides calling it: warm it up before the
first request, and hand the memory it freed back to the operating system (glibc's `malloc_trim`) once it rests
and before each large photo."""
import ctypes
import ctypes.util
import threading

import torch

WARM_UP_SIDE = 128  # not 64: warmed up on 64 px, the bf16 graph then took 10 s per 1024 px photo instead of 0.5
WARM_UP_CALLS = 2
IDLE_SECONDS_BEFORE_TRIM = 10.0  # longer than the gaps between a lightly loaded worker's requests
# Photos with more pixels than this start from a trimmed heap (trim_before_call): between the 1024 px square
# (1.05 MP), where a trim saved little, and the 1500 px square (2.25 MP), where it saved much.
TRIM_ABOVE_PIXELS = 1_500_000


def warm_up(model: torch.jit.ScriptModule) -> None:
    """Run both paths of the graph (automatic, and with a user trimap whose unknown band makes the matting net
    run) WARM_UP_CALLS times on a tiny image. TorchScript's profiling executor optimises a graph during its
    first calls: cold, the first two 1024 px calls took 2.42 and 2.28 s and the third 1.84 s (1 thread,
    BENCHMARKS.md); after this warm-up (milliseconds) the first took 1.85 s. Photos of other sizes keep the
    optimised graph."""
    image = torch.arange(WARM_UP_SIDE * WARM_UP_SIDE * 3, dtype=torch.int64).remainder(256).to(torch.uint8)
    image = image.reshape(WARM_UP_SIDE, WARM_UP_SIDE, 3)
    trimap = torch.full((WARM_UP_SIDE, WARM_UP_SIDE), 128, dtype=torch.uint8)
    trimap[: WARM_UP_SIDE // 4], trimap[-WARM_UP_SIDE // 4:] = 0, 255
    with torch.inference_mode():
        for _ in range(WARM_UP_CALLS):
            model(image, None)
            model(image, trimap)


def _malloc_trim():
    """libc's malloc_trim, or None where the C library has none (musl, macOS)."""
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None


MALLOC_TRIM = _malloc_trim()


def release_free_memory() -> bool:
    """Return every whole free page of glibc's heap to the OS (milliseconds); False where that is not possible.

    glibc keeps freed small and medium blocks for reuse. Loading the scripted file frees about 600 MiB of
    compilation memory in the middle of the heap, which the large (mmapped) tensors of a call never reuse, and a
    1500 px call leaves its medium-sized temporaries behind: a worker would otherwise hold both for its life."""
    if MALLOC_TRIM is None:
        return False
    MALLOC_TRIM(0)
    return True


def trim_before_call(pixels: int, trim_above_pixels: int = TRIM_ABOVE_PIXELS) -> bool:
    """release_free_memory before the call on a photo of `pixels` pixels if it has more than `trim_above_pixels`;
    whether it did.

    A busy worker's calls follow each other without a rest, and each leaves its freed temporaries in glibc's heap
    in pieces that the next large call only partly reuses: at 1500 px a trim before each of four answers in a row
    lowered a worker's peak by about 280 MiB, the call then page-faulting its memory in afresh for 1.02-1.24x
    the time. At 1024 px it saved 40 MiB for 1.07x, where the peak was then the loading's anyway
    (docs/deployment.md, "A busy worker's heap")."""
    if pixels <= trim_above_pixels:
        return False
    return release_free_memory()


class TrimWhenIdle:
    """Calls release_free_memory once no request has started for IDLE_SECONDS_BEFORE_TRIM after the last answer.

    Not after every answer: the next call then page-faults the trimmed memory back in, which made a 1024 px call
    about 7 % slower (docs/deployment.md); small photos that follow each other reuse it instead, and large ones
    are trimmed before their call (trim_before_call).
    A resting worker still ends up holding only its model. The trim runs on a timer thread; malloc_trim takes
    glibc's own locks."""

    def __init__(self, idle_seconds: float = IDLE_SECONDS_BEFORE_TRIM):
        self.idle_seconds = idle_seconds
        self._timer = None

    def request_started(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def answered(self) -> None:
        self.request_started()
        self._timer = threading.Timer(self.idle_seconds, release_free_memory)
        self._timer.daemon = True  # never keeps a stopping worker alive
        self._timer.start()
