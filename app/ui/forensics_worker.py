"""Forensic filters off the UI thread: one job at a time, the newest request wins, cancellable.

The worker keeps the last image it loaded (file bytes included, for the JPEG and EXIF readers),
so switching filters or moving a slider does not read the file again.
"""

from __future__ import annotations

import itertools
import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import shiboken6
from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

from app.ui.worker import _LIVE_POOLS, _lower_this_threads_priority

log = logging.getLogger(__name__)
_ids = itertools.count(1)


@dataclass
class Source:
    """The picture to examine: a file (preferred: its bytes carry JPEG tables and EXIF) or
    pixels only (a pasted image)."""

    key: str  # the cache key: sha256 of the file, or of the pixels
    path: str | None = None
    rgb: np.ndarray | None = field(default=None, repr=False)


@dataclass
class ForensicsJob:
    kind: str  # "filter" | "export"
    source: Source
    filter: str
    param: float | None = None
    result: object = None  # export: the ForensicResult to write
    folder: str | None = None
    stem: str = "image"  # export: file names start with this
    id: int = field(default_factory=lambda: next(_ids))
    cancel: threading.Event = field(default_factory=threading.Event, repr=False)


@dataclass
class ForensicsDone:
    job_id: int
    kind: str
    key: str
    filter: str
    param: float | None
    result: object = None  # ForensicResult (filter jobs)
    files: list[str] = field(default_factory=list)  # export jobs


class _Run(QRunnable):
    def __init__(self, worker: ForensicsWorker, job: ForensicsJob) -> None:
        super().__init__()
        self.worker, self.job = worker, job

    def run(self) -> None:
        _lower_this_threads_priority()
        self.worker._run(self.job)


class ForensicsWorker(QObject):
    """Signals arrive on the UI thread (this object lives there)."""

    sig_result = Signal(object)  # ForensicsDone
    sig_progress = Signal(object)  # (job id, plain text of what it is doing)
    sig_error = Signal(object)  # (job id, plain message)
    sig_finished = Signal(object)  # (job id, cancelled)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.pool = QThreadPool()
        self.pool.setObjectName("dfi-forensics")
        self.pool.setMaxThreadCount(1)
        _LIVE_POOLS.add(self.pool)
        self.jobs: dict[int, ForensicsJob] = {}
        self._runs: dict[int, _Run] = {}
        self._loaded: tuple[str, object] | None = None  # (key, LoadedImage), worker thread only
        self._closing = False
        self.sig_finished.connect(self._forget)

    def submit(self, job: ForensicsJob) -> int:
        """Queue a job; a new filter job cancels the filter jobs still waiting or running."""
        if self._closing:
            return job.id
        if job.kind == "filter":
            for other in self.jobs.values():
                if other.kind == "filter":
                    other.cancel.set()
        self.jobs[job.id] = job
        run = _Run(self, job)
        self._runs[job.id] = run
        self.pool.start(run)
        return job.id

    def cancel(self) -> None:
        for job in self.jobs.values():
            job.cancel.set()

    def busy(self) -> bool:
        return bool(self.jobs)

    def _forget(self, done) -> None:
        self.jobs.pop(done[0], None)
        self._runs.pop(done[0], None)

    # -- in the pool thread ----------------------------------------------------------------------

    def _run(self, job: ForensicsJob) -> None:
        cancelled = True
        try:
            if job.cancel.is_set() or self._closing:
                return
            if job.kind == "export":
                from app.core.forensics.files import write_maps

                files = write_maps(job.result, Path(job.folder or "."), job.stem,
                                   with_json=True)
                self.sig_result.emit(ForensicsDone(job.id, job.kind, job.source.key, job.filter,
                                                   job.param, files=files))
            else:
                result = self._filter(job)
                if result is None or job.cancel.is_set():
                    return
                self.sig_result.emit(ForensicsDone(job.id, job.kind, job.source.key, job.filter,
                                                   job.param, result))
            cancelled = False
        except Exception as exc:  # errors travel as values; the worker stays alive
            log.exception("Forensics job %s failed", job.id)
            self.sig_error.emit((job.id, _plain(exc)))
            cancelled = False
        finally:
            self.sig_finished.emit((job.id, cancelled))

    def _filter(self, job: ForensicsJob):
        from app.core.forensics import run_filter

        image = self._image(job)
        if image is None or job.cancel.is_set():
            return None
        self.sig_progress.emit((job.id, f"Computing {job.filter}..."))
        return run_filter(job.filter, image, job.param)

    def _image(self, job: ForensicsJob):
        from app.core.images import LoadedImage, load_image

        src = job.source
        if self._loaded is not None and self._loaded[0] == src.key:
            return self._loaded[1]
        self.sig_progress.emit((job.id, "Reading the file..."))
        if src.path:
            image = load_image(src.path, keep_bytes=True)
        else:
            image = LoadedImage(rgb=np.ascontiguousarray(src.rgb[..., :3], dtype=np.uint8))
        self._loaded = (src.key, image)
        return image

    def shutdown(self, timeout_ms: int = 30000) -> bool:
        """Cancel, wait for the running filter (at most a second or two), join the thread."""
        self._closing = True
        self.cancel()
        self.pool.clear()
        ok = self.pool.waitForDone(timeout_ms)
        if ok and shiboken6.isValid(self.pool):
            shiboken6.delete(self.pool)
        self._runs.clear()
        self._loaded = None
        return ok


def _plain(exc: Exception) -> str:
    from app.core.errors import InspectorError

    if isinstance(exc, InspectorError):
        return str(exc)
    if isinstance(exc, OSError):
        return f"Could not write the files: {exc.strerror or exc}"
    return f"The filter failed ({type(exc).__name__}: {exc}). Details are in the log."
