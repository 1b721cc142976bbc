"""Wires the Video tab into the main window: opening and reopening clips, progress, cancel,
frames on demand, report export. The main window calls `attach_video` once and routes video
paths here with a line or two."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject

from app.core.video_io import is_video_path
from app.ui.theme import icon
from app.ui.video_view import VideoView
from app.ui.video_worker import ClipDone, FrameDone, VideoWorker

VIDEO_PATTERNS = "*.mp4 *.mov *.m4v *.webm *.mkv *.avi"


class VideoPanel(QObject):
    def __init__(self, window) -> None:
        super().__init__(window)
        self.window = window
        self.view = VideoView()
        self.worker = VideoWorker(window.service.shared, self)
        self._clip_job: int | None = None
        self._frame_job: int | None = None
        self.history_id: int | None = None
        window.tabs.addTab(self.view, icon("face"), "Video")
        window.service.sig_model_ready.connect(self.view.set_card)
        self.worker.sig_result.connect(self._on_result)
        self.worker.sig_progress.connect(self._on_progress)
        self.worker.sig_error.connect(self._on_error)
        self.worker.sig_finished.connect(self._on_finished)
        self.view.sig_frame_wanted.connect(self._want_frame)
        self.view.sig_cancel.connect(self.worker.cancel)
        self.view.sig_export.connect(self.export_report)

    @staticmethod
    def handles(path: str | None) -> bool:
        return bool(path) and is_video_path(path)

    def open(self, path: str, *, store: bool = True, record: int | None = None) -> int:
        """Analyse a clip (or show its stored timeline when `record` is this unchanged file)."""
        self.worker.cancel()  # one clip at a time: a new one replaces the old
        self._clip_job = self.worker.analyze(path, store=store, record=record)
        self.history_id = record
        self.view.show_busy(path)
        self.window.tabs.setCurrentWidget(self.view)
        return self._clip_job

    def reopen(self, entry) -> None:
        """A history entry of a clip: its timeline; recomputed only if the file changed."""
        from app.core.video import stored_video

        if entry.path and Path(entry.path).is_file():
            self.open(entry.path, record=entry.id)
            return
        video = stored_video(entry.metadata)
        self.history_id = entry.id
        self.window.tabs.setCurrentWidget(self.view)
        if video is None:
            self.view.show_error("This history entry holds no timeline, and the clip is no "
                                 f"longer at {entry.path}.")
            return
        self.view.show_video(video, f"The clip is no longer at {entry.path}; showing the stored "
                                    "timeline (frames cannot be shown without the file).")

    def _want_frame(self, frame: int) -> None:
        video = self.view.video
        if video is None or not video.path or not Path(video.path).is_file():
            self.view.frame_caption.setText("The clip's file is not available, so its frames "
                                            "cannot be shown.")
            return
        self._frame_job = self.worker.explain(video.path, frame)

    def _on_result(self, done) -> None:
        if isinstance(done, ClipDone) and done.job_id == self._clip_job:
            if done.history_id is not None:
                self.history_id = done.history_id
            self.view.show_video(done.video, done.note)
            self.window.statusBar().showMessage(f"Finished {Path(done.video.path).name}.", 5000)
            if done.history_id is not None:
                self.window.history_view.refresh()
        elif isinstance(done, FrameDone) and done.job_id == self._frame_job:
            self.view.show_frame(done.frame, done.image, done.result)

    def _on_progress(self, item) -> None:
        job_id, progress = item
        if job_id == self._clip_job:
            self.view.show_progress(progress)

    def _on_error(self, item) -> None:
        job_id, message = item
        if job_id == self._clip_job:
            self.view.show_error(message)
        else:
            self.view.frame_caption.setText(message)

    def _on_finished(self, job_id: int) -> None:
        if job_id == self._clip_job and self.view.video is None:
            self.view.show_idle()  # cancelled before anything was scored

    def export_report(self) -> None:
        from app.ui.report_export import ReportItem

        video = self.view.video
        if video is None:
            return
        notes, tags = self.window.case.notes_for(self.history_id)
        name = Path(video.path).stem if video.path else "clip"
        item = ReportItem(video.as_analysis_result(), None, notes or "", tags or "")
        self.window.reports.export([item], f"Case report: {name}", self.view.card,
                                   f"case-report-{name}.html")

    def shutdown(self) -> None:
        self.worker.shutdown()


def attach_video(window) -> VideoPanel:
    return VideoPanel(window)
