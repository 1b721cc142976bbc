"""Video work off the UI thread: analyse a clip (progress, ETA, cancel), reopen a stored one, and
compute one frame's heatmap on demand. Shares the window's Analyzer and history store; its own
single-thread pool so a long clip never queues behind (or ahead of) a photo.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal
from PySide6.QtGui import QImage

from app.ui.worker import _LIVE_POOLS

log = logging.getLogger(__name__)


@dataclass
class VideoJob:
    kind: str  # "clip" | "frame"
    path: str
    id: int
    store: bool = True
    record: int | None = None  # the history entry being reopened
    frame: int = 0
    cancel: threading.Event = field(default_factory=threading.Event, repr=False)


@dataclass
class ClipDone:
    job_id: int
    video: object  # VideoResult
    note: str | None = None
    history_id: int | None = None


@dataclass
class FrameDone:
    job_id: int
    frame: int
    image: QImage
    result: object  # AnalysisResult of that frame, with heatmaps


class _Run(QRunnable):
    def __init__(self, controller: VideoWorker, job: VideoJob) -> None:
        super().__init__()
        self.controller, self.job = controller, job

    def run(self) -> None:
        self.controller._run(self.job)


class VideoWorker(QObject):
    """Signals come back on the UI thread (this object lives there)."""

    sig_result = Signal(object)  # ClipDone | FrameDone
    sig_progress = Signal(object)  # (job id, VideoProgress)
    sig_error = Signal(object)  # (job id, plain message)
    sig_finished = Signal(object)  # job id

    def __init__(self, shared, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.shared = shared  # app.ui.worker._Shared: analyzer, history, prefs
        self.pool = QThreadPool()
        self.pool.setObjectName("dfi-video")
        self.pool.setMaxThreadCount(1)
        _LIVE_POOLS.add(self.pool)
        self.jobs: dict[int, VideoJob] = {}
        self._runs: dict[int, _Run] = {}
        self._next = 0
        self._closing = False
        self.sig_finished.connect(self.forget)

    def _submit(self, job: VideoJob) -> int:
        if self._closing:
            return job.id
        self.jobs[job.id] = job
        self._runs[job.id] = run = _Run(self, job)
        self.pool.start(run)
        return job.id

    def _new_id(self) -> int:
        self._next += 1
        return self._next

    def analyze(self, path: str, *, store: bool = True, record: int | None = None) -> int:
        """Analyse a clip, or show its stored timeline when `record` holds one for this very
        file (same SHA-256)."""
        return self._submit(VideoJob("clip", path, self._new_id(), store=store, record=record))

    def explain(self, path: str, frame: int) -> int:
        """One frame decoded again, with boxes and heatmaps."""
        for job in self.jobs.values():  # a newer click supersedes one still waiting
            if job.kind == "frame":
                job.cancel.set()
        return self._submit(VideoJob("frame", path, self._new_id(), frame=frame))

    def cancel(self) -> None:
        for job in list(self.jobs.values()):
            job.cancel.set()

    def busy(self) -> bool:
        return any(j.kind == "clip" for j in self.jobs.values())

    # -- in the pool thread ----------------------------------------------------------------------

    def _run(self, job: VideoJob) -> None:
        try:
            analyzer = self.shared.wait_analyzer(job.cancel)
            if analyzer is None or job.cancel.is_set():
                return
            if job.kind == "clip":
                self._clip(analyzer, job)
            else:
                self._frame(analyzer, job)
        except Exception as exc:  # a bug: report it as a value, keep the worker alive
            log.exception("Video job %s failed", job.id)
            self.sig_error.emit((job.id, f"{type(exc).__name__}: {exc}"))
        finally:
            self.sig_finished.emit(job.id)

    def _clip(self, analyzer, job: VideoJob) -> None:
        from app.core.video import analyze_video

        stored = self._stored(job)
        if stored is not None:
            self.sig_result.emit(ClipDone(job.id, stored, "Reopened from history: the file is "
                                          "unchanged, so its stored timeline is shown."))
            return
        video = analyze_video(analyzer, job.path, cancel=job.cancel,
                              on_progress=lambda p: self.sig_progress.emit((job.id, p)))
        note = None
        if job.record is not None:
            note = "The file has changed since it was analysed, so it was analysed again."
        hid = self._store(job, video, force=job.record is not None)
        self.sig_result.emit(ClipDone(job.id, video, note, hid))

    def _stored(self, job: VideoJob):
        """The history's timeline for this file, if the file is unchanged; else None."""
        from app.core.video import key_frames_from_file, read_frame, stored_video
        from app.core.video_io import sha256_of_file

        history = self.shared.history
        if job.record is None or history is None:
            return None
        entry = history.get(job.record)
        video = stored_video(entry.metadata) if entry is not None else None
        if video is None or sha256_of_file(job.path, job.cancel) != entry.sha256:
            return None
        video.path = job.path
        try:  # pictures are not stored: a few frames read back for the thumbnails
            video.first_frame = read_frame(job.path, 0)
            video.key_frames = key_frames_from_file(video)
        except Exception:  # only thumbnails: the timeline stands without them
            log.warning("Could not read back frames of %s", job.path, exc_info=True)
        return video

    def _store(self, job: VideoJob, video, force: bool) -> int | None:
        from app.core.history import HistoryError, make_thumbnail

        history, prefs = self.shared.history, self.shared.prefs
        if not (job.store or force) or history is None or not prefs.keep_history:
            return None
        if video.error_type in ("NoTrainedModelError", "ModelError") or video.cancelled:
            return None
        thumb = make_thumbnail(video.first_frame) if video.first_frame is not None else None
        try:
            return history.add(video.as_analysis_result(), thumb)
        except HistoryError as exc:
            self.sig_error.emit((job.id, f"The history could not be saved: {exc}"))
            return None

    def _frame(self, analyzer, job: VideoJob) -> None:
        from app.core.errors import InspectorError
        from app.core.video import explain_frame
        from app.ui.theme import rgb_to_qimage

        try:
            rgb, result = explain_frame(analyzer, job.path, job.frame)
        except InspectorError as exc:
            self.sig_error.emit((job.id, str(exc)))
            return
        if not job.cancel.is_set():
            self.sig_result.emit(FrameDone(job.id, job.frame, rgb_to_qimage(rgb), result))

    # -- lifecycle -------------------------------------------------------------------------------

    def forget(self, job_id: int) -> None:
        self.jobs.pop(job_id, None)
        self._runs.pop(job_id, None)

    def shutdown(self, timeout_ms: int = 30000) -> bool:
        import shiboken6

        self._closing = True
        self.cancel()
        self.pool.clear()
        ok = self.pool.waitForDone(timeout_ms)
        if ok:
            shiboken6.delete(self.pool)
        self._runs.clear()
        return ok

