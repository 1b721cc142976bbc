"""Give memory freed during a long run back to the operating system.

glibc's malloc keeps freed blocks in its heaps for reuse, one heap per thread that allocates.
A batch decodes images of every size and runs the networks on every pyramid shape, so the free
space is scattered and grows: measured by benchmarks/soak.py, a 2-worker CLI run without this
went from 995 MB after 416 photos to 1,224 MB after 2,758 (a 600-photo run: 1,051 MB at the end,
854 MB after one malloc_trim). Trimming every 25 images kept the level flat over 10,000 photos
but let it swing by up to ~400 MB between trims; after every image, the swing over 400 photos
was about half that of every 25th (52 vs 97 MB) for a few ms per image. Peaks stayed +187 MB
over warm-up until `tune_allocator` (below): with it, +111 MB over 10,000 photos, and the level
at the end 849 MB instead of 1,143 (docs/RELIABILITY.md). Elsewhere (macOS, Windows, musl) this
does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys
from functools import cache

TRIM_EVERY = 1  # images; one trim takes a few milliseconds


# glibc's mallopt parameters (malloc.h).
M_MMAP_THRESHOLD = -3
M_ARENA_MAX = -8
MMAP_THRESHOLD = 1 << 20  # bytes: blocks this large get their own mapping, unmapped on free
ARENA_MAX = 2  # heaps shared by all threads (glibc's default: 8 per core)


@cache
def _libc():
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None
    return libc if hasattr(libc, "malloc_trim") else None  # glibc only (not musl)


@cache
def _malloc_trim():
    libc = _libc()
    if libc is None:
        return None
    trim = libc.malloc_trim
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return trim


@cache
def tune_allocator() -> bool:
    """Make glibc give large freed blocks straight back: call once, early in a process.

    glibc raises its mmap threshold each time a large block is freed (up to 32 MB), after which
    tensors and decoded images of a few MB are carved from the heaps and their space lingers
    there; and every thread that allocates may get a heap of its own. A fixed 1 MB threshold
    and two heaps keep the resident size close to what is in use. True when applied.
    """
    libc = _libc()
    if libc is None or not hasattr(libc, "mallopt"):
        return False
    libc.mallopt.argtypes, libc.mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and \
        bool(libc.mallopt(M_ARENA_MAX, ARENA_MAX))


def release_freed_memory() -> bool:
    """Return free heap pages to the OS; True when the C library could do it."""
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True
