"""Give memory freed during a long run back to the operating system.

glibc's malloc keeps freed blocks in its heaps for reuse, one heap per thread that allocates.
A batch decodes images of every size and runs the networks on every pyramid shape, so the free
space is scattered and grows: measured by benchmarks/soak.py, a 2-worker CLI run without this
went from 995 MB after 416 photos to 1,224 MB after 2,758 (a 600-photo run: 1,051 MB at the end,
854 MB after one malloc_trim). Trimming every 25 images kept the level flat over 10,000 photos
but let it swing by up to ~400 MB between trims; after every image, the swing over 400 photos
was about half that of every 25th (52 vs 97 MB) for a few ms per image. Elsewhere (macOS,
Windows, musl) this does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys
from functools import cache

TRIM_EVERY = 1  # images; one trim takes a few milliseconds


@cache
def _malloc_trim():
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None
    trim = getattr(libc, "malloc_trim", None)  # glibc only
    if trim is not None:
        trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return trim


def release_freed_memory() -> bool:
    """Return free heap pages to the OS; True when the C library could do it."""
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True
