"""Case report export from the window: ask where (HTML or PDF, by the file's extension), then build
and write the report in a worker thread (a big batch re-reads every image; PDF layout is slow) with
a busy cursor meanwhile. Errors come back as values and are shown in a message box."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, QRunnable, Qt, QThreadPool, Signal
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QApplication, QFileDialog, QMessageBox, QWidget

log = logging.getLogger(__name__)

FILTERS = "HTML report (*.html *.htm);;PDF document (*.pdf)"


@dataclass
class ReportItem:
    """One result to put in the report, with its picture when known and its notes/tags."""

    result: object  # AnalysisResult
    rgb: np.ndarray | None = field(default=None, repr=False)
    notes: str = ""
    tags: str = ""


@dataclass
class ReportJob:
    items: list[ReportItem]
    path: Path
    fmt: str  # "html" | "pdf"
    title: str
    card: object = None
    forensics: list[str] = field(default_factory=list)  # filters whose maps each image shows


def report_format(path: str | Path, selected_filter: str = "") -> tuple[Path, str]:
    """The file and format the user chose: the extension decides; none -> the chosen filter's."""
    path = Path(path)
    ext = path.suffix.lower()
    if ext in (".html", ".htm"):
        return path, "html"
    if ext == ".pdf":
        return path, "pdf"
    fmt = "pdf" if "pdf" in selected_filter.lower() else "html"
    return path.with_name(path.name + "." + fmt), fmt


def report_item(result, image: QImage | None = None, image_scale: float = 1.0, notes: str = "",
                tags: str = "") -> ReportItem:
    """A result for the report. A file is re-read by the report (which checks its SHA-256 still
    matches); only a pasted image, which has no file, is embedded from the picture on screen, and
    only when that is the full picture (not a saved preview the face boxes would not fit)."""
    rgb = None
    if (not getattr(result, "path", None) and image is not None and not image.isNull()
            and image_scale == 1.0):
        from app.ui.theme import qimage_to_rgb

        rgb = qimage_to_rgb(image)
    return ReportItem(result, rgb, notes or "", tags or "")


def build_and_write(job: ReportJob) -> int:
    """Render every item and write the file; returns pages (PDF) or items (HTML)."""
    from app.core.files import check_output_file
    from app.core.report import CaseReport

    check_output_file(job.path)  # before the slow part; a pipe would block the write forever
    report = CaseReport(card=job.card, title=job.title, forensics=job.forensics)
    for item in job.items:
        report.add(item.result, item.rgb, notes=item.notes, tags=item.tags)
    if job.fmt == "pdf":
        from app.render.report_pdf import write_report_pdf

        return write_report_pdf(report, job.path)
    report.write(job.path)
    return len(job.items)


class _Runnable(QRunnable):
    def __init__(self, exporter: ReportExporter, job: ReportJob) -> None:
        super().__init__()
        self.exporter, self.job = exporter, job

    def run(self) -> None:
        try:
            n = build_and_write(self.job)
        except Exception as exc:  # errors travel as values; the window shows them
            log.exception("Report export to %s failed", self.job.path)
            self.exporter.sig_error.emit(self.job, _plain(exc))
        else:
            self.exporter.sig_result.emit(self.job, n)
        finally:
            self.exporter.sig_finished.emit(self.job)


def _plain(exc: Exception) -> str:
    if isinstance(exc, OSError):
        return f"The file could not be written: {exc.strerror or exc}"
    return f"{type(exc).__name__}: {exc}"


class ReportExporter(QObject):
    """One export at a time, in its own one-thread pool; `shutdown()` joins it."""

    sig_result = Signal(object, int)  # ReportJob, pages (PDF) or items (HTML)
    sig_error = Signal(object, str)  # ReportJob, plain message
    sig_finished = Signal(object)  # ReportJob

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.window = parent
        self.pool = QThreadPool(self)
        self.pool.setObjectName("dfi-report")
        self.pool.setMaxThreadCount(1)
        self.job: ReportJob | None = None
        self._runnable: _Runnable | None = None
        self.forensics: list[str] = []  # forensic filters to include (ticked in the Forensics tab)
        self.sig_result.connect(self._done)
        self.sig_error.connect(self._failed)
        self.sig_finished.connect(self._finished)

    def busy(self) -> bool:
        return self.job is not None

    def ask_path(self, suggested: str) -> tuple[Path, str] | None:
        """The save dialog; None when cancelled."""
        path, chosen = QFileDialog.getSaveFileName(self.window, "Export case report",
                                                   str(Path.home() / suggested), FILTERS)
        return report_format(path, chosen) if path else None

    def export(self, items: list[ReportItem], title: str, card, suggested: str) -> bool:
        """Ask for a file, then write the report in the background; False if nothing started."""
        if self.busy():
            QMessageBox.information(self.window, "Export report",
                                    "A report is still being written; wait for it to finish.")
            return False
        if not items:
            QMessageBox.information(self.window, "Export report", "There is nothing to export.")
            return False
        chosen = self.ask_path(suggested)
        if chosen is None:
            return False
        self.job = ReportJob(items, chosen[0], chosen[1], title, card, list(self.forensics))
        self._runnable = _Runnable(self, self.job)
        QApplication.setOverrideCursor(Qt.CursorShape.BusyCursor)
        self._status(f"Writing the report to {self.job.path}...", 0)
        self.pool.start(self._runnable)
        return True

    def _done(self, job: ReportJob, n: int) -> None:
        self._end()
        what = f"{n} page{'s' if n != 1 else ''}" if job.fmt == "pdf" else \
            f"{n} image{'s' if n != 1 else ''}"
        self._status(f"Report saved: {job.path} ({what})", 15000)

    def _failed(self, job: ReportJob, message: str) -> None:
        self._end()  # the cursor comes back before the message box asks for a click
        self._status("The report could not be written.", 8000)
        QMessageBox.warning(self.window, "Export report failed",
                            f"The report could not be written to {job.path}.\n\n{message}")

    def _finished(self, _job: ReportJob) -> None:
        self._end()

    def _end(self) -> None:
        if self.job is not None:
            QApplication.restoreOverrideCursor()
        self.job, self._runnable = None, None

    def _status(self, text: str, ms: int) -> None:
        bar = getattr(self.window, "statusBar", None)
        if callable(bar):
            bar().showMessage(text, ms)

    def shutdown(self, timeout_ms: int = 60000) -> None:
        """Let a running export finish (a half-written report helps no one), then join."""
        if not self.pool.waitForDone(timeout_ms):
            log.error("Report export did not finish in %d ms", timeout_ms)
