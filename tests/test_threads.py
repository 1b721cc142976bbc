"""Overlapping parallel runs (a photo batch and a clip) share torch's process-wide thread count:
neither raises what the other lowered, and the original count comes back after the last."""

from __future__ import annotations

import pytest
import torch

from app.core.threads import fewer_threads


@pytest.fixture
def four_threads():
    before = torch.get_num_threads()
    torch.set_num_threads(4)
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize("batch_ends_first", [True, False])
def test_overlapping_runs_restore_the_count_whatever_order_they_end(four_threads,
                                                                    batch_ends_first):
    batch = fewer_threads(2, each=1)  # a batch: one thread per worker
    clip = fewer_threads(2)  # a clip: the count split between its two workers
    clip.__enter__()
    assert torch.get_num_threads() == 2
    batch.__enter__()
    assert torch.get_num_threads() == 1
    first, second = (batch, clip) if batch_ends_first else (clip, batch)
    first.__exit__(None, None, None)
    assert torch.get_num_threads() == 1  # the other run still works: it is not raised again
    second.__exit__(None, None, None)
    assert torch.get_num_threads() == 4


def test_a_failing_run_restores_the_count(four_threads):
    with pytest.raises(RuntimeError), fewer_threads(4):
        assert torch.get_num_threads() == 1
        raise RuntimeError("a worker failed")
    assert torch.get_num_threads() == 4
