"""torch's intra-op thread count is process-wide. Work that runs several analyses at once (a
photo batch's workers, a clip's scoring workers) lowers it for as long as it runs; when such
runs overlap (a window batch while the Video tab scores a clip), they share one count and the
value in force before the first is restored after the last, whatever order they finish in."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

_LOCK = threading.Lock()
_STATE: dict = {"users": 0, "saved": None}


@contextmanager
def fewer_threads(workers: int, each: int | None = None) -> Iterator[None]:
    """While inside: at most `each` threads per op (default: the original count split among
    `workers`), never raising what another overlapping run has lowered."""
    import torch

    with _LOCK:
        if _STATE["users"] == 0:
            _STATE["saved"] = torch.get_num_threads()
        want = each if each is not None else max(1, _STATE["saved"] // max(1, workers))
        if torch.get_num_threads() > want:
            torch.set_num_threads(want)
        _STATE["users"] += 1
    try:
        yield
    finally:
        with _LOCK:
            _STATE["users"] -= 1
            if _STATE["users"] == 0:
                torch.set_num_threads(_STATE["saved"])
