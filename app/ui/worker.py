"""Model work off the UI thread: QThreadPool + QRunnable jobs sharing one Analyzer.

Results, progress and errors come back as signals of AnalysisService (a UI-thread QObject), so
Qt queues them to the UI thread. Errors travel as values: a job never lets an exception escape.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import os
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import shiboken6
from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal, Slot
from PySide6.QtGui import QImage

log = logging.getLogger(__name__)

_LIVE_POOLS: weakref.WeakSet[QThreadPool] = weakref.WeakSet()
_ids = itertools.count(1)


def live_pools() -> list[QThreadPool]:
    """Worker pools not yet shut down (tests assert none are left after a window closes)."""
    out = []
    for pool in list(_LIVE_POOLS):
        try:
            if shiboken6.isValid(pool):
                out.append(pool)
        except RuntimeError:
            pass
    return out


@dataclass
class Job:
    kind: str  # "load" | "single" | "batch"
    paths: list[str] = field(default_factory=list)
    rgb: np.ndarray | None = field(default=None, repr=False)
    name: str | None = None  # display name of a pasted image
    store: bool = True  # record in history (when the preference allows)
    expect_sha: str | None = None  # reopening a history entry: the hash it had then
    history_error: str | None = None  # why saving failed; the job's later results are not saved
    id: int = field(default_factory=lambda: next(_ids))
    cancel: threading.Event = field(default_factory=threading.Event, repr=False)


@dataclass
class JobResult:
    job_id: int
    kind: str
    index: int
    result: object  # AnalysisResult
    image: QImage | None = None  # full picture, single jobs only
    thumbnail: bytes | None = None  # small JPEG
    history_id: int | None = None
    note: str | None = None  # e.g. "the file changed since it was analysed"


@dataclass
class JobError:
    job_id: int
    message: str
    fatal: bool = True  # False: shown in the status bar (history could not be saved, ...)


@dataclass
class JobDone:
    job_id: int
    kind: str
    summary: object = None  # BatchSummary for batches
    cancelled: bool = False


class _Shared:
    """What both workers share: the Analyzer, once loaded, and the history store."""

    def __init__(self, factory: Callable[[], object], history, prefs) -> None:
        self.factory = factory
        self.history = history
        self.prefs = prefs
        self.analyzer = None
        self.ready = threading.Event()
        self.closing = threading.Event()

    def wait_analyzer(self, cancel: threading.Event):
        """Block (in a worker) until the model load finished; None when cancelled or closing."""
        while not self.ready.wait(0.05):
            if cancel.is_set() or self.closing.is_set():
                return None
        return self.analyzer


class _JobRunner:
    """Runs jobs in a pool thread and reports through the service's signals (a UI-thread
    QObject, so Qt queues every report to the UI thread)."""

    def __init__(self, shared: _Shared, service: AnalysisService) -> None:
        self.shared = shared
        self.service = service

    def run_job(self, job: Job) -> None:
        s = self.service
        summary, cancelled = None, False
        try:
            if job.cancel.is_set() or self.shared.closing.is_set():
                cancelled = True
            elif job.kind == "load":
                self._load()
            elif job.kind == "single":
                self._single(job)
            elif job.kind == "batch":
                summary = self._batch(job)
                # No summary: cancelled (or the window closed) while the model was loading.
                cancelled = (summary.cancelled if summary is not None
                             else job.cancel.is_set() or self.shared.closing.is_set())
        except Exception as exc:  # a bug: report it, keep the worker alive
            log.exception("Job %s (%s) failed", job.id, job.kind)
            s.sig_error.emit(JobError(job.id, f"{type(exc).__name__}: {exc}"))
        finally:
            s.sig_finished.emit(JobDone(job.id, job.kind, summary, cancelled))

    # -- jobs ------------------------------------------------------------------------------------

    def _load(self) -> None:
        from app.core.errors import ModelError

        try:
            self.shared.analyzer = self.shared.factory()
            _leave_a_core_for_the_ui()
            _warm_up_io()
            self.shared.analyzer.warm_up()
            self.service.sig_model_ready.emit(self.shared.analyzer.detector.card)
        except ModelError as exc:
            self.service.sig_model_error.emit(exc)
        finally:
            self.shared.ready.set()

    def _single(self, job: Job) -> None:
        from app.core.batch import internal_error_result
        from app.core.errors import InspectorError
        from app.core.history import make_thumbnail
        from app.core.images import LoadedImage, load_image, shown_frame
        from app.ui.theme import rgb_to_qimage

        emit = self.service.sig_result.emit
        analyzer = self.shared.wait_analyzer(job.cancel)
        if analyzer is None:
            if not job.cancel.is_set() and not self.shared.closing.is_set():
                emit(JobResult(job.id, job.kind, 0, internal_error_result(
                    job.paths[0] if job.paths else None, RuntimeError("the model did not start"))))
            return
        store, note = job.store, None
        if job.rgb is not None:
            rgb = np.ascontiguousarray(job.rgb[..., :3], dtype=np.uint8)
            image = LoadedImage(rgb=rgb, sha256=hashlib.sha256(rgb.tobytes()).hexdigest())
        else:
            try:
                image = load_image(job.paths[0])
            except InspectorError:
                result = analyzer.analyze(job.paths[0])
                emit(JobResult(job.id, job.kind, 0, result,
                               history_id=self._store(job, result, None, store)))
                return
        if job.expect_sha is not None:
            if image.sha256 == job.expect_sha:
                store, note = False, "The file is unchanged since it was analysed."
            else:
                store, note = True, ("The file has changed since it was analysed, so it was "
                                     "analysed again.")
        result = analyzer.analyze(image, heatmaps=True)
        image = shown_frame(image, result)  # the frame the boxes are on
        thumb = make_thumbnail(image.rgb)
        hid = self._store(job, result, thumb, store)
        emit(JobResult(job.id, job.kind, 0, result, rgb_to_qimage(image.rgb), thumb, hid, note))

    def _batch(self, job: Job):
        from app.core.batch import run_batch
        from app.core.history import make_thumbnail

        s = self.service
        analyzer = self.shared.wait_analyzer(job.cancel)
        if analyzer is None:
            return None

        def on_result(item) -> None:
            thumb = make_thumbnail(item.image.rgb) if item.image is not None else None
            hid = self._store(job, item.result, thumb, job.store)
            s.sig_result.emit(JobResult(job.id, job.kind, item.index, item.result, None, thumb,
                                        hid))

        # One core stays free for the window; the rest each analyse one image at a time.
        workers = max(1, (os.cpu_count() or 1) - 1)
        return run_batch(
            analyzer, job.paths, heatmaps=False, cancel=job.cancel, on_result=on_result,
            workers=workers,
            on_progress=lambda p: s.sig_progress.emit((job.id, p)),
            on_start=lambda n: s.sig_started.emit((job.id, n)),
        )

    def _store(self, job: Job, result, thumb: bytes | None, store: bool) -> int | None:
        from app.core.history import HistoryError

        history = self.shared.history
        if not store or history is None or not self.shared.prefs.keep_history:
            return None
        if getattr(result, "error_type", None) in ("NoTrainedModelError", "ModelError"):
            return None  # no analysis happened: nothing worth keeping
        if job.history_error is not None:
            return None  # said once; a full or locked disk would cost every image a wait
        try:
            return history.add(result, thumb, file_name=job.name)
        except HistoryError as exc:
            log.warning("History not saved (%s): %s", type(exc).__name__, exc)
            job.history_error = str(exc)
            rest = " The rest of this batch is not saved either." if job.kind == "batch" else ""
            self.service.sig_error.emit(JobError(job.id, f"{exc}{rest}", fatal=False))
            return None


class _Runnable(QRunnable):
    def __init__(self, fn: Callable[[Job], None], job: Job) -> None:
        super().__init__()
        self.fn, self.job = fn, job

    def run(self) -> None:
        _lower_this_threads_priority()
        self.fn(self.job)


WORKER_NICENESS = 5
_MAIN_TID = threading.main_thread().native_id


def _lower_this_threads_priority() -> None:
    """Let the UI thread win the CPU over model work: Linux schedules each thread by its own nice
    value (QThread priorities are ignored there). Set relative to the UI thread, so repeating it
    on a reused pool thread changes nothing. Harmless elsewhere."""
    if not hasattr(os, "setpriority"):
        return
    try:
        tid = threading.get_native_id()
        target = min(19, os.getpriority(os.PRIO_PROCESS, _MAIN_TID) + WORKER_NICENESS)
        if os.getpriority(os.PRIO_PROCESS, tid) < target:
            os.setpriority(os.PRIO_PROCESS, tid, target)
    except OSError:  # not permitted / not supported: only a responsiveness tweak
        pass


def _warm_up_io() -> None:
    """Do the one-time imports of image decoding and thumbnails now, while the window waits for
    the model anyway, rather than in the middle of the first batch (they hold the GIL)."""
    import io

    from PIL import Image

    from app.core import batch, history  # noqa: F401 - imported for their side effect: loaded
    from app.core.images import load_image

    buf = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buf, format="PNG")
    history.make_thumbnail(load_image(buf.getvalue()).rgb)


def _leave_a_core_for_the_ui() -> None:
    """Torch may use every core; leave one so the window stays responsive during a batch."""
    import torch

    n = max(1, (os.cpu_count() or 2) - 1)
    if torch.get_num_threads() > n:
        torch.set_num_threads(n)


class AnalysisService(QObject):
    """The UI's one handle on the model: submit jobs; signals come back on the UI thread.

    Two single-thread pools: "interactive" (model load, then the images the user opens) and
    "batch" (folders). Both share one Analyzer, whose lock serialises them, so opening an image
    during a long batch waits for one image, not for the whole batch.
    """

    sig_result = Signal(object)  # JobResult
    sig_progress = Signal(object)  # (job_id, BatchProgress)
    sig_error = Signal(object)  # JobError
    sig_finished = Signal(object)  # JobDone
    sig_started = Signal(object)  # (job_id, number of files)
    sig_model_ready = Signal(object)  # ModelCard
    sig_model_error = Signal(object)  # the ModelError (its str() is the plain message)

    def __init__(self, analyzer_factory: Callable[[], object], history=None, prefs=None,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        from app.ui.prefs import Prefs

        self.shared = _Shared(analyzer_factory, history, prefs or Prefs())
        self.jobs: dict[int, Job] = {}
        self._runnables: dict[int, _Runnable] = {}  # kept alive until their job finished
        self._runner = _JobRunner(self.shared, self)
        self._pools: dict[str, QThreadPool] = {}
        for lane in ("interactive", "batch"):
            pool = QThreadPool()
            pool.setObjectName(f"dfi-{lane}")
            pool.setMaxThreadCount(1)  # one job at a time per lane, in order
            self._pools[lane] = pool
            _LIVE_POOLS.add(pool)
        self.sig_finished.connect(self._forget)
        self._started = False

    @property
    def analyzer(self):
        return self.shared.analyzer

    def start(self) -> None:
        """Load the model in the background (the window is already on screen)."""
        if self._started:
            return
        self._started = True
        self._submit(Job("load"), "interactive")

    def _submit(self, job: Job, lane: str) -> int:
        if not self._started:
            self.start()
        pool = self._pools.get(lane)
        if pool is None or self.shared.closing.is_set():
            return job.id  # shutting down: nothing more runs
        self.jobs[job.id] = job
        runnable = _Runnable(self._runner.run_job, job)
        self._runnables[job.id] = runnable
        pool.start(runnable)
        return job.id

    @Slot(object)
    def _forget(self, done: JobDone) -> None:
        self.jobs.pop(done.job_id, None)
        self._runnables.pop(done.job_id, None)

    def analyze_file(self, path: str, *, store: bool = True, expect_sha: str | None = None) -> int:
        """One image with heatmaps, for the result view; waits for the model if still loading."""
        return self._submit(Job("single", [str(path)], store=store, expect_sha=expect_sha),
                            "interactive")

    def analyze_image(self, rgb: np.ndarray, name: str) -> int:
        return self._submit(Job("single", rgb=rgb, name=name), "interactive")

    def run_batch(self, paths: list[str]) -> int:
        return self._submit(Job("batch", [str(p) for p in paths]), "batch")

    def cancel(self, job_id: int | None = None) -> None:
        """Cancel one job, or every pending batch when job_id is None (checked between images)."""
        for job in list(self.jobs.values()):
            if job.id == job_id or (job_id is None and job.kind == "batch"):
                job.cancel.set()

    def batches_pending(self) -> int:
        return sum(1 for j in self.jobs.values() if j.kind == "batch")

    def shutdown(self, timeout_ms: int = 30000) -> bool:
        """Cancel everything, wait for the running image to finish, join the threads; True when
        all stopped in time."""
        self.shared.closing.set()
        for job in list(self.jobs.values()):
            job.cancel.set()
        ok = True
        for name, pool in list(self._pools.items()):
            pool.clear()  # drop jobs not started yet
            if not pool.waitForDone(timeout_ms):
                log.error("Worker pool %s did not stop in %d ms", name, timeout_ms)
                ok = False
                continue
            del self._pools[name]
            shiboken6.delete(pool)  # the destructor joins the idle threads
        self._runnables.clear()
        if ok:
            analyzer, self.shared.analyzer = self.shared.analyzer, None
            if analyzer is not None and hasattr(analyzer, "close"):
                analyzer.close()
        return ok
