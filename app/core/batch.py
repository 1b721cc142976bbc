"""Many files -> results: cancellable between images, per-file errors, progress callback.

Front ends wrap this (the GUI's batch worker, scripts); export to CSV/JSON lives here too so every
front end writes the same columns.
"""

from __future__ import annotations

import csv
import json
import logging
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from app.core.errors import InspectorError
from app.core.history import verdict_key as verdict_word
from app.core.images import LoadedImage, load_image, shown_frame
from app.core.logs import details_location
from app.core.memory import TRIM_EVERY, release_freed_memory
from app.core.results import AnalysisResult, Status
from app.core.video_io import is_video_path, walk_media

log = logging.getLogger(__name__)

CSV_COLUMNS = ("path", "status", "verdict", "p_fake", "faces", "error", "sha256", "model",
               "analysed_at")


@dataclass
class BatchProgress:
    done: int
    total: int
    elapsed_s: float
    path: str | None = None  # the file just finished

    @property
    def eta_s(self) -> float | None:
        """Seconds left at the rate so far; None before the first file finishes."""
        if self.done <= 0:
            return None
        return self.elapsed_s / self.done * (self.total - self.done)


@dataclass
class BatchItem:
    """One finished file. `image` is the decoded picture (None when it failed to load); callers
    use it (thumbnails) inside the callback and must not keep it: a batch can be thousands."""

    index: int
    path: str
    result: AnalysisResult
    image: LoadedImage | None = None


@dataclass
class BatchSummary:
    total: int
    done: int = 0
    cancelled: bool = False
    elapsed_s: float = 0.0
    counts: Counter = field(default_factory=Counter)  # verdict word -> files
    not_checked: str = ""  # files.Walk.ignored_line(): what the folder walk passed over

    @property
    def errors(self) -> int:
        return self.counts.get("error", 0)


def analyze_one(analyzer, path: str, *, heatmaps: bool | None = None) -> BatchItem:
    """Load then analyse one file; a bug in the pipeline becomes an error result (and a log
    entry) so one bad file never ends a batch."""
    try:
        if is_video_path(path):  # a clip: scored over time, shown by its first frame
            from app.core.video_batch import video_item

            return video_item(analyzer, path)
        try:
            # Keep the bytes: the analyzer's metadata step reads them instead of the file again.
            image = load_image(path, keep_bytes=True)
        except InspectorError:
            # The analyzer turns the same failure into its standard error record.
            return BatchItem(-1, path, analyzer.analyze(path, heatmaps=heatmaps))
        result = analyzer.analyze(image, heatmaps=heatmaps)
        return BatchItem(-1, path, result, shown_frame(image, result))  # the boxes' frame
    except Exception as exc:  # a bug: report in place, keep going
        log.exception("Unexpected failure analysing %s", path)
        return BatchItem(-1, path, internal_error_result(path, exc))


def internal_error_result(path: str | None, exc: BaseException) -> AnalysisResult:
    return AnalysisResult(
        path=path, status=Status.ERROR, error_type="InternalError",
        error=f"Unexpected error ({type(exc).__name__}: {exc}). This is a bug; details are in "
        f"{details_location()}.",
        analysed_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )


def run_batch(
    analyzer,
    paths: Iterable[str | os.PathLike],
    *,
    heatmaps: bool | None = False,
    cancel: threading.Event | None = None,
    on_result: Callable[[BatchItem], None] | None = None,
    on_progress: Callable[[BatchProgress], None] | None = None,
    on_start: Callable[[int], None] | None = None,
    expand: bool = True,
    workers: int = 1,
) -> BatchSummary:
    """Analyse files (folders expand recursively); results arrive in input order. `cancel` is
    checked between images; `on_start(total)` is called once the file list is known. Heatmaps
    default off: a batch is for triage, and the detailed view recomputes them for the one image
    it shows. `workers` > 1 analyses that many images at once (one torch thread each), which
    uses a multi-core CPU far better than one image with several threads."""
    walk = walk_media(list(paths)) if expand else None
    files = walk.files if walk else [os.fspath(p) for p in paths]
    summary = BatchSummary(total=len(files), not_checked=walk.ignored_line() if walk else "")
    if on_start:
        on_start(len(files))
    t0 = time.perf_counter()
    for i, path, item in _analysed(analyzer, files, heatmaps, cancel, workers):
        if item is None:
            summary.cancelled = True
            break
        item.index = i
        summary.done += 1
        summary.counts[verdict_word(item.result)] += 1
        if on_result:
            on_result(item)
        item.image = None
        if summary.done % TRIM_EVERY == 0:
            release_freed_memory()  # else RSS creeps up over thousands of images (soak.py)
        if on_progress:
            on_progress(BatchProgress(summary.done, summary.total, time.perf_counter() - t0, path))
    summary.elapsed_s = time.perf_counter() - t0
    return summary


def _analysed(analyzer, files: list[str], heatmaps, cancel, workers: int):
    """(index, path, BatchItem) in input order; item None once cancelled."""
    def cancelled() -> bool:
        return cancel is not None and cancel.is_set()

    if workers <= 1 or len(files) < 2:
        for i, path in enumerate(files):
            if cancelled():
                yield i, path, None
                return
            yield i, path, analyze_one(analyzer, path, heatmaps=heatmaps)
        return
    import queue
    from concurrent.futures import ThreadPoolExecutor

    from app.core.threads import fewer_threads

    pool_of = queue.SimpleQueue()
    pool_of.put(analyzer)
    for _ in range(workers - 1):
        pool_of.put(analyzer.sibling())

    def job(path: str) -> BatchItem:
        a = pool_of.get()
        try:
            return analyze_one(a, path, heatmaps=heatmaps)
        finally:
            pool_of.put(a)

    # Each worker thread runs its own single-threaded ops (the count is process-wide).
    with fewer_threads(workers, each=1), \
            ThreadPoolExecutor(workers, thread_name_prefix="dfi-batch") as ex:
        window: list = []
        nxt = 0
        for i, path in enumerate(files):
            while nxt < len(files) and len(window) < 2 * workers and not cancelled():
                window.append(ex.submit(job, files[nxt]))
                nxt += 1
            if not window:  # cancelled before this file was started
                yield i, path, None
                return
            yield i, path, window.pop(0).result()


# -- export ----------------------------------------------------------------------------------------


def csv_row(result: AnalysisResult) -> dict:
    d = result.to_dict()
    return {
        "path": d["path"] or "",
        "status": d["status"],
        "verdict": verdict_word(result),
        "p_fake": "" if d["p_fake"] is None else f"{d['p_fake']:.4f}",
        "faces": len(d["faces"]),
        "error": d["error"] or "",
        "sha256": d["sha256"] or "",
        "model": d["model"] or "",
        "analysed_at": d["analysed_at"] or "",
    }


def write_csv(results: Iterable[AnalysisResult], path: str | Path) -> int:
    """One row per image (UTF-8 with BOM so spreadsheet programs read accents); returns rows."""
    n = 0
    with open(path, "w", newline="", encoding="utf-8-sig") as fh:
        writer = csv.DictWriter(fh, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        for r in results:
            writer.writerow(csv_row(r))
            n += 1
    return n


def write_json(results: Iterable[AnalysisResult], path: str | Path) -> int:
    """A JSON array of `AnalysisResult.to_dict()` records; returns how many."""
    records = [r.to_dict() for r in results]
    Path(path).write_text(json.dumps(records, indent=2, ensure_ascii=False), encoding="utf-8")
    return len(records)
