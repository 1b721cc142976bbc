"""Freed heap memory goes back to the OS when asked (what keeps a long batch's RSS flat)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from app.core.memory import _malloc_trim, release_freed_memory, tune_allocator


def _rss_mb() -> float:
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


@pytest.mark.skipif(not sys.platform.startswith("linux") or _malloc_trim() is None,
                    reason="glibc's malloc_trim only")
def test_freed_heap_memory_is_returned():
    blocks = [bytearray(4096) for _ in range(40_000)]  # 160 MB in small heap blocks
    pin = bytearray(4096)  # allocated last: the heap cannot simply shrink from its top
    del blocks
    before = _rss_mb()
    assert release_freed_memory()
    after = _rss_mb()
    assert before - after > 80, f"RSS {before:.0f} MB -> {after:.0f} MB"
    assert len(pin) == 4096


def test_does_nothing_where_unsupported(monkeypatch):
    monkeypatch.setattr("app.core.memory._malloc_trim", lambda: None)
    assert release_freed_memory() is False


_PROBE = """
import subprocess
import sys
from app.core.memory import tune_allocator
def rss():
    for line in open('/proc/self/status'):
        if line.startswith('VmRSS:'):
            return int(line.split()[1]) / 1024
print(tune_allocator())
big = bytearray(16 << 20); del big  # untuned glibc would now keep blocks under 16 MB in its heap
base = rss()
blocks, pins = [], []
for _ in range(40):  # 80 MB in 2 MB blocks, each followed by a small live block
    blocks.append(bytearray(2 << 20)); pins.append(bytearray(64))
del blocks
print(rss() - base)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux") or _malloc_trim() is None,
                    reason="glibc's mallopt only")
def test_tuned_allocator_returns_large_blocks_on_free():
    # A fresh interpreter: mallopt must come before the process has threads and heaps.
    out = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True,
                         timeout=60, check=True).stdout.split()
    assert out[0] == "True"
    assert float(out[1]) < 8, f"{out[1]} MB of 80 MB freed stayed resident"


def test_tuning_does_nothing_where_unsupported(monkeypatch):
    tune_allocator.cache_clear()
    monkeypatch.setattr("app.core.memory._libc", lambda: None)
    try:
        assert tune_allocator() is False
    finally:
        tune_allocator.cache_clear()
