"""The command's allocator settings (compositor.core.allocator): freed frame-sized buffers are reused, not
faulted in again."""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest

_FAULTS = """
import resource, sys
import numpy as np
if sys.argv[1] == "keep":
    from compositor.core.allocator import keep_freed_memory
    assert keep_freed_memory() and keep_freed_memory()  # idempotent
for i in range(12):  # a few 1280x720 float RGBA frames at once, made and freed as the pass does each frame
    if i == 2:  # after a warm-up: the heap grows to its working size once
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    frames = [np.ones((720, 1280, 4), np.float32) for _ in range(4)]
    assert all(float(f[-1, -1, 3]) == 1.0 for f in frames)
    del frames
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _faults(mode: str) -> int:
    done = subprocess.run(
        [sys.executable, "-c", _FAULTS, mode], capture_output=True, text=True, check=True, timeout=60
    )
    return int(done.stdout.strip())


@pytest.mark.skipif(
    not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's"
)
def test_freed_frame_buffers_are_reused_not_faulted_in_again() -> None:
    # 14.7 MB a frame: 3600 page faults each when mapped anew (fewer with huge pages, still many).
    assert _faults("default") > 500
    assert _faults("keep") < 100
