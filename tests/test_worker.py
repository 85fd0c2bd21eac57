"""alphanet.serving.worker: the warm-up a serving worker runs before its first request, and handing freed memory
back."""
import subprocess
import sys

import torch

from alphanet.serving.worker import WARM_UP_CALLS, warm_up

ANON_RSS_MIB = """
def anon():
    return int(next(l for l in open('/proc/self/status') if l.startswith('RssAnon')).split()[1]) // 1024
"""

# In a fresh interpreter: 400 MiB of 64 KiB blocks (under glibc's mmap threshold, so they live in the heap), of
# which every tenth and the last stay allocated: free() then cannot shrink the heap from its top, as after loading
# a scripted model. RssAnon in MiB before and after.
FREE_400_MIB_IN_THE_HEAP = """
blocks = [bytearray(b'x' * 65536) for _ in range(6400)]
kept = blocks[::10] + blocks[-1:]
del blocks
"""
RELEASE_SCRIPT = ANON_RSS_MIB + FREE_400_MIB_IN_THE_HEAP + """
from alphanet.serving.worker import release_free_memory
before = anon()
assert release_free_memory()
print(before, anon())
"""
# The same freed heap before a call on a photo of as many pixels as the threshold, then of one more.
TRIM_BEFORE_CALL_SCRIPT = ANON_RSS_MIB + FREE_400_MIB_IN_THE_HEAP + """
from alphanet.serving.worker import trim_before_call
before = anon()
assert not trim_before_call(1000 * 1000, 1000 * 1000)
at_the_threshold = anon()
assert trim_before_call(1000 * 1000 + 1, 1000 * 1000)
print(before, at_the_threshold, anon())
"""
# The same freed heap, with TrimWhenIdle: still held while requests follow each other, handed back after a rest.
IDLE_SCRIPT = ANON_RSS_MIB + FREE_400_MIB_IN_THE_HEAP + """
import time
from alphanet.serving.worker import TrimWhenIdle
trim = TrimWhenIdle(idle_seconds=0.5)
trim.answered()
time.sleep(0.2)
trim.request_started()  # the next request came before the rest was over
time.sleep(0.6)
busy = anon()
trim.answered()
time.sleep(1.5)
print(busy, anon())
"""


def test_release_free_memory_returns_freed_heap_pages_to_the_os():
    run = subprocess.run([sys.executable, "-c", RELEASE_SCRIPT], capture_output=True, text=True, check=True)
    before, after = map(int, run.stdout.split())
    assert before - after > 250, (before, after)  # glibc alone kept them: freed but resident


def test_trim_before_call_trims_only_before_photos_above_the_threshold():
    run = subprocess.run([sys.executable, "-c", TRIM_BEFORE_CALL_SCRIPT], capture_output=True, text=True, check=True)
    before, at_the_threshold, above = map(int, run.stdout.split())
    assert before - at_the_threshold < 50, (before, at_the_threshold)
    assert at_the_threshold - above > 250, (at_the_threshold, above)


def test_trim_when_idle_waits_for_a_rest_after_the_last_answer():
    run = subprocess.run([sys.executable, "-c", IDLE_SCRIPT], capture_output=True, text=True, check=True)
    busy, rested = map(int, run.stdout.split())
    assert busy > 300, busy  # the cancelled timer did not trim
    assert busy - rested > 250, (busy, rested)


def test_warm_up_runs_the_automatic_and_the_trimap_path():
    calls = []

    def model(image, trimap):
        calls.append((image.clone(), None if trimap is None else trimap.clone()))
        return torch.zeros(image.shape[:2]), torch.zeros(image.shape[:2])

    warm_up(model)
    assert len(calls) == 2 * WARM_UP_CALLS
    for image, trimap in calls:
        assert image.dtype == torch.uint8 and image.dim() == 3 and image.shape[2] == 3
        assert image.float().std() > 0  # not a flat image the segmenter could skip through
    trimaps = [trimap for _, trimap in calls if trimap is not None]
    assert len(trimaps) == WARM_UP_CALLS
    for trimap in trimaps:
        assert trimap.shape == calls[0][0].shape[:2]
        assert set(trimap.unique().tolist()) == {0, 128, 255}  # an unknown band: the matting net runs
