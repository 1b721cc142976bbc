"""Score a clip's sampled frames on two cores at once, in order.

MTCNN and the classifier run single-threaded per Analyzer on a 2-core machine (the app leaves a
core for the window); a clip has many frames, so two frames are scored at a time by the Analyzer
and a sibling sharing its loaded networks (as batches do). Results come back in frame order, at
most `workers` frames are in flight, and no new frame starts once `cancelled()` is true.
"""

from __future__ import annotations

import os
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator


def default_workers() -> int:
    return 2 if (os.cpu_count() or 1) >= 2 else 1


def scored(analyzer, samples: Iterable, cancelled: Callable[[], bool],
           workers: int | None = None) -> Iterator[tuple[object, object, float]]:
    """(sample, AnalysisResult, ms) for each sample, in order."""
    workers = default_workers() if workers is None else workers
    if workers <= 1 or not hasattr(analyzer, "sibling"):
        for sample in samples:
            yield _one(analyzer, sample)
            if cancelled():
                return
        return
    import queue
    from concurrent.futures import ThreadPoolExecutor

    from app.core.threads import fewer_threads

    free: queue.SimpleQueue = queue.SimpleQueue()
    free.put(analyzer)
    for twin in _twins(analyzer, workers - 1):
        free.put(twin)

    def job(sample):
        a = free.get()
        try:
            return _one(a, sample)
        finally:
            free.put(a)

    window: deque = deque()
    with fewer_threads(workers), \
            ThreadPoolExecutor(workers, thread_name_prefix="dfi-video-score") as pool:
        try:
            for sample in samples:
                if cancelled():
                    break
                window.append(pool.submit(job, sample))
                if len(window) >= workers:
                    yield window.popleft().result()
            while window:
                yield window.popleft().result()
        finally:
            for future in window:
                future.cancel()  # not started yet: never will be; running ones finish


def _twins(analyzer, n: int) -> list:
    """Siblings kept on the analyzer for the next clip (each builds its own face finder)."""
    twins = getattr(analyzer, "_video_twins", None)
    if twins is None or len(twins) < n:
        twins = [analyzer.sibling() for _ in range(n)]
        try:
            analyzer._video_twins = twins
        except AttributeError:  # a wrapper that refuses attributes: build them each time
            pass
    return twins[:n]


def _one(analyzer, sample) -> tuple[object, object, float]:
    t0 = time.perf_counter()
    result = analyzer.analyze(sample.rgb, heatmaps=False, metadata=False)
    return sample, result, (time.perf_counter() - t0) * 1000.0
