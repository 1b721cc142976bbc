"""Frames scored two at a time: order, and torch's process-wide thread count (shared between
clips scored at once, restored after the last whatever order they finish in)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

torch = pytest.importorskip("torch")

from app.core import video_parallel  # noqa: E402


class _FakeAnalyzer:
    def __init__(self) -> None:
        self.threads_seen: list[int] = []

    def sibling(self):
        return self

    def analyze(self, rgb, heatmaps=False, metadata=False):
        self.threads_seen.append(torch.get_num_threads())
        return SimpleNamespace(value=rgb)


def _samples(n: int):
    return [SimpleNamespace(rgb=i) for i in range(n)]


def test_results_in_order_and_the_thread_count_restored_after_overlapping_clips():
    before = torch.get_num_threads()
    torch.set_num_threads(4)
    try:
        a, b = _FakeAnalyzer(), _FakeAnalyzer()
        first = video_parallel.scored(a, _samples(6), lambda: False, workers=2)
        second = video_parallel.scored(b, _samples(4), lambda: False, workers=2)
        got_a = [next(first)[1].value, next(first)[1].value]  # the first clip has started
        got_b = [r.value for _, r, _ in second]  # a second clip runs start to end meanwhile
        assert torch.get_num_threads() == 2  # the first is still running: still shared
        got_a += [r.value for _, r, _ in first]
        assert got_a == list(range(6)) and got_b == list(range(4))
        assert set(a.threads_seen) | set(b.threads_seen) <= {2}
        assert torch.get_num_threads() == 4  # restored after the last one
    finally:
        torch.set_num_threads(before)


def test_the_first_clip_finishing_first_leaves_the_count_as_it_was():
    before = torch.get_num_threads()
    torch.set_num_threads(4)
    try:
        first = video_parallel.scored(_FakeAnalyzer(), _samples(3), lambda: False, workers=2)
        second = video_parallel.scored(_FakeAnalyzer(), _samples(3), lambda: False, workers=2)
        next(first)
        next(second)
        list(first)  # the first clip ends while the second is still scoring
        assert torch.get_num_threads() == 2
        list(second)
        assert torch.get_num_threads() == 4  # not the 2 the second clip found when it began
    finally:
        torch.set_num_threads(before)
