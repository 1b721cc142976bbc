"""Freed heap memory goes back to the OS when asked (what keeps a long batch's RSS flat)."""

from __future__ import annotations

import sys

import pytest

from app.core.memory import _malloc_trim, release_freed_memory


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
