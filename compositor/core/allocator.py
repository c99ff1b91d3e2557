"""The C allocator's settings for the command's process: freed frame-sized buffers are kept for the next frame.

Every frame-sized array (a float32 RGBA frame is 14.7 MB at 1280x720, 33 MB at 1920x1080) is allocated and freed
many times a frame (decoding, warps, sweeps, writing). glibc's malloc serves any block over its mmap threshold
(128 kB, raised to the size of the last such block freed) by a fresh ``mmap`` and gives it back by ``munmap`` when
freed, and trims the top of its heap down whenever more than twice that is free there: so nearly every new frame
array is memory the kernel must fault in and zero again, page by page. On the temporal pass at 1280x720 that was
about 3 000 page faults and 15-25 ms of system time a frame (about a tenth of the pass's CPU time).

``keep_freed_memory`` raises the mmap threshold to its maximum (32 MB: a 1920x1080 float RGBA frame just fits;
larger frames are still mapped and unmapped as before) and the trim threshold out of reach, so freed frames stay in
the heap and the next frame reuses their pages. The process's peak memory is what it was (the frames it holds at
once); it is only not handed back to the system before the process ends, which suits a command that renders and
exits. It changes no pixel: where each array lives, not what it holds.

Only the command does it (``compositor.cli.main``), once, before any frame: a library must not change the
allocator of the program that imports it. Elsewhere than glibc it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD_MAX = 32 * 1024 * 1024
"""glibc refuses an mmap threshold over half its largest heap (``HEAP_MAX_SIZE / 2``: 32 MB on 64-bit)."""
TRIM_THRESHOLD = 2**31 - 1
"""Free memory at the top of the heap kept, at most (mallopt takes an int): beyond any frame, so never trimmed in
practice."""


def keep_freed_memory() -> bool:
    """Set glibc malloc's mmap and trim thresholds as the module says; returns whether both were set (False on
    another C library, or where glibc refused)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # musl and others: no mallopt, nothing to do
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_MAX)) and bool(
        mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD)
    )
