"""The main window: composes the views, routes files to the worker and results to the views."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from PySide6.QtCore import QSettings, QStandardPaths
from PySide6.QtGui import QGuiApplication, QImage, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QApplication,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.core.history import DB_NAME, HistoryError, HistoryStore, move_aside
from app.core.paths import user_data_dir
from app.ui.actions import build_actions
from app.ui.case_file import NotesKeeper
from app.ui.errors import ErrorReporter
from app.ui.forensics_panel import attach_forensics
from app.ui.gallery_view import GalleryView
from app.ui.history_view import HistoryView
from app.ui.prefs import Prefs
from app.ui.report_export import ReportExporter, report_item
from app.ui.result_view import ResultView
from app.ui.theme import app_icon, icon, qimage_to_rgb, set_live_card
from app.ui.video_panel import VIDEO_PATTERNS, attach_video
from app.ui.widgets import Banner
from app.ui.worker import AnalysisService

log = logging.getLogger(__name__)

NO_MODEL_TEXT = "No trained detector installed"
_PHOTO_PATTERNS = "*.jpg *.jpeg *.jpe *.png *.webp *.bmp *.tif *.tiff *.gif *.heic *.heif *.avif"
IMAGE_FILTER = (f"Photos and videos ({_PHOTO_PATTERNS} {VIDEO_PATTERNS});;"
                f"Photos ({_PHOTO_PATTERNS});;Videos ({VIDEO_PATTERNS});;All files (*)")


def default_analyzer_factory(weights: str | None = None,
                             allow_untrained: bool = False) -> Callable[[], object]:
    """The shipped app's Analyzer: the installed model, untrained ones refused unless asked."""

    def make():
        from app.core.analysis import Analyzer

        return Analyzer(weights, allow_untrained=allow_untrained)

    return make


class MainWindow(QMainWindow):
    def __init__(self, analyzer_factory: Callable[[], object] | None = None, *,
                 start: bool = True, reporter: ErrorReporter | None = None) -> None:
        super().__init__()
        self.setWindowTitle("Deepfake Inspector")
        self.setWindowIcon(app_icon())
        self.setAcceptDrops(True)
        self.prefs = Prefs.load()
        self.reporter = reporter or ErrorReporter(self)
        self.card = None
        self.model_error: Exception | None = None
        self.model_ready = False
        self._single_job: int | None = None
        self._single_record: int | None = None  # history id of what the single job reopens
        self._notices: dict[int, str] = {}  # job id -> why its results were not saved
        self.history, history_error = self._open_history()
        self.service = AnalysisService(analyzer_factory or default_analyzer_factory(),
                                       self.history, self.prefs, self)

        self.banner = Banner()
        self.result_view = ResultView()
        self._nav_item = None  # the gallery tile on show in the result view, if any
        self.gallery = GalleryView()
        self.history_view = HistoryView(self.history, self.prefs)
        self.case = NotesKeeper(self.result_view.case_pane, lambda: self.history, self.prefs, self)
        self.reports = ReportExporter(self)
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self.result_view, icon("face"), "Result")
        self.tabs.addTab(self.gallery, icon("gallery"), "Batch")
        self.tabs.addTab(self.history_view, icon("history"), "History")
        self.tabs.currentChanged.connect(self._on_tab)
        self.videos = attach_video(self)  # the Video tab; video paths are routed to it
        self.forensics = attach_forensics(self)  # the Forensics tab: whole-picture filters
        # The tabs from the keyboard, wherever the focus is (as in a browser).
        for keys, step in (("Ctrl+Tab", 1), ("Ctrl+PgDown", 1), ("Ctrl+Shift+Tab", -1),
                           ("Ctrl+PgUp", -1)):
            QShortcut(QKeySequence(keys), self, activated=lambda s=step: self.next_tab(s))
        central = QWidget()
        lay = QVBoxLayout(central)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        lay.addWidget(self.banner)
        lay.addWidget(self.tabs, 1)
        self.setCentralWidget(central)
        self.model_label = QLabel("Loading model...")
        self.model_label.setObjectName("modelLabel")
        self.statusBar().addPermanentWidget(self.model_label)
        self.statusBar().showMessage("Loading model...")
        self.actions_ = build_actions(self)
        self.actions_.overlay.setChecked(self.prefs.show_overlay)
        self.actions_.keep_history.setChecked(self.prefs.keep_history)
        self.result_view.set_overlay(self.prefs.show_overlay)
        self.result_view.set_opacity(self.prefs.overlay_opacity)
        self.result_view.sig_overlay_toggled.connect(self._overlay_changed)
        self.result_view.sig_opacity_changed.connect(self._opacity_changed)
        if history_error:
            self.history_view.set_unavailable(history_error, can_reset=self._history_path_exists())
        self._connect()
        self._restore_geometry()
        if start:
            self.service.start()

    def _open_history(self) -> tuple[HistoryStore | None, str | None]:
        try:
            return HistoryStore(), None
        except HistoryError as exc:
            log.error("History unavailable: %s", exc)
            return None, f"History is unavailable: {exc}"

    @staticmethod
    def _history_path_exists() -> bool:
        return (user_data_dir() / DB_NAME).exists()

    def reset_history(self) -> None:
        """Move an unreadable history database aside and start an empty one."""
        try:
            moved = move_aside(user_data_dir() / DB_NAME)
        except OSError as exc:
            QMessageBox.warning(self, "History", f"The old history file could not be moved: "
                                                 f"{exc}")
            return
        self.history, error = self._open_history()
        self.service.shared.history = self.history
        if self.history is None:
            self.history_view.set_unavailable(error or "", can_reset=False)
            return
        self.history_view.set_store(self.history)
        self.statusBar().showMessage(f"Started a new history; the old file is kept as {moved}",
                                     15000)

    def _connect(self) -> None:
        s = self.service
        s.sig_model_ready.connect(self._on_model_ready)
        s.sig_model_error.connect(self._on_model_error)
        s.sig_result.connect(self._on_result)
        s.sig_progress.connect(lambda p: self.gallery.batch_progress(*p))
        s.sig_started.connect(lambda p: self.gallery.batch_started(*p))
        s.sig_error.connect(self._on_error)
        s.sig_finished.connect(self._on_finished)
        self.gallery.sig_open.connect(self.open_gallery_item)
        self.result_view.sig_step.connect(self.step_gallery)
        for keys, step in (("Alt+Left", -1), ("Alt+Right", 1)):
            QShortcut(QKeySequence(keys), self, activated=lambda s=step: self.step_gallery(s))
        self.gallery.sig_cancel.connect(self.cancel_batch)
        self.gallery.sig_export_report.connect(self.export_gallery_report)
        self.case.sig_error.connect(lambda msg: self.statusBar().showMessage(msg, 15000))
        self.history_view.sig_open.connect(self.reopen)
        self.history_view.sig_reset.connect(self.reset_history)
        self.result_view.stack.currentChanged.connect(self._update_view_actions)
        self._update_view_actions()

    def _update_view_actions(self, *_) -> None:
        """Heatmap, zoom and report act on a result: greyed out until one is on screen."""
        on = self.result_view.stack.currentIndex() == self.result_view.PAGE_RESULT
        a = self.actions_
        for act in (a.overlay, a.fit, a.actual, a.zoom_in, a.zoom_out, a.export_report):
            act.setEnabled(on)

    # -- model state -----------------------------------------------------------------------------

    def _on_model_ready(self, card) -> None:
        self.card, self.model_ready, self.model_error = card, True, None
        set_live_card(card)
        self.result_view.set_card(card)
        self.model_label.setText(f"Model: {card.id}")
        self.statusBar().showMessage("Ready. Drop photos or folders to check them.", 8000)
        if not card.trained:
            self.banner.show_message(
                "UNTRAINED TEST MODEL: its scores are random and mean nothing. For testing the "
                "app only; never use these results.", "danger")
            self.model_label.setText(f"UNTRAINED TEST MODEL ({card.id})")
        else:
            self.banner.hide()

    def _on_model_error(self, exc: Exception) -> None:
        from app.core.errors import NoTrainedModelError

        self.model_error, self.model_ready = exc, False
        if isinstance(exc, NoTrainedModelError):
            head = NO_MODEL_TEXT
            text = (f"{NO_MODEL_TEXT}. Photos can be opened, but no real/fake score can be given "
                    "until a trained detector is installed (see Help > About the model).")
        else:
            head = "The detector could not be loaded"
            text = f"{head}: {exc}"
        self.banner.show_message(text, "warning")
        self.model_label.setText(head)
        self.statusBar().showMessage(head)

    # -- opening ---------------------------------------------------------------------------------

    def open_paths(self, paths: list[str]) -> None:
        """One file -> the result view; folders or several files -> the batch gallery."""
        paths = [os.fspath(p) for p in paths if p]
        if not paths:
            return
        if len(paths) == 1 and not Path(paths[0]).is_dir():
            self.open_file(paths[0])
        else:
            self.start_batch(paths)

    def open_file(self, path: str, *, store: bool = True, expect_sha: str | None = None,
                  record: int | None = None) -> int:
        """Analyse one file for the result view; `record`: its history entry, when known."""
        self._nav_item = None  # open_gallery_item sets it again when the file is a tile
        self.result_view.set_nav(None)
        if self.videos.handles(path):
            return self.videos.open(path, store=store, record=record)
        self._single_job = self.service.analyze_file(path, store=store, expect_sha=expect_sha)
        self._single_record = record
        self._show_busy(Path(path).name)
        return self._single_job

    def _show_busy(self, name: str) -> None:
        wait = "" if self.model_ready or self.model_error else "\n(waiting for the model to load)"
        self.result_view.show_busy(f"Analysing {name}...{wait}")
        self.tabs.setCurrentWidget(self.result_view)

    def start_batch(self, paths: list[str]) -> int:
        job_id = self.service.run_batch(paths)
        self.gallery.batch_queued(job_id)
        self.actions_.cancel.setEnabled(True)
        self.tabs.setCurrentWidget(self.gallery)
        return job_id

    def cancel_batch(self) -> None:
        self.service.cancel(None)
        self.statusBar().showMessage("Cancelling after the current image...", 5000)

    def next_tab(self, step: int) -> None:
        self.tabs.setCurrentIndex((self.tabs.currentIndex() + step) % self.tabs.count())

    def open_dialog(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(self, "Open photos or videos",
                                                self._last_folder(), IMAGE_FILTER)
        if files:
            self._remember_folder(str(Path(files[0]).parent))
        self.open_paths(files)

    def open_folder_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open a folder of photos",
                                                  self._last_folder())
        if folder:
            self._remember_folder(str(Path(folder).parent))
            self.start_batch([folder])

    def _last_folder(self) -> str:
        """Where the open dialogs start: the folder used last, else the user's Pictures."""
        last = self._settings().value("last_folder")
        if last and Path(str(last)).is_dir():
            return str(last)
        pictures = QStandardPaths.writableLocation(
            QStandardPaths.StandardLocation.PicturesLocation)
        return pictures if pictures and Path(pictures).is_dir() else str(Path.home())

    def _remember_folder(self, folder: str) -> None:
        self._settings().setValue("last_folder", folder)

    def paste(self) -> None:
        """Ctrl+V: an image (a screenshot) or copied files from the clipboard."""
        data = QGuiApplication.clipboard().mimeData()
        if data is not None and data.hasImage():
            image = QImage(QGuiApplication.clipboard().image())
            if not image.isNull():
                self.analyze_qimage(image)
                return
        if data is not None and data.hasUrls():
            self.open_paths([u.toLocalFile() for u in data.urls() if u.isLocalFile()])
            return
        self.statusBar().showMessage("The clipboard holds no image to analyse.", 6000)

    def analyze_qimage(self, image: QImage) -> int:
        self._nav_item = None
        self.result_view.set_nav(None)
        name = f"Pasted image {datetime.now():%Y-%m-%d %H:%M:%S}"
        self._single_job = self.service.analyze_image(qimage_to_rgb(image), name)
        self._single_record = None
        self._show_busy(name)
        return self._single_job

    def open_gallery_item(self, item) -> None:
        if item.result.status == "error" or not item.path:
            self.result_view.show_result(item.result, None)
            self.case.show_record(item.history_id)
            self.tabs.setCurrentWidget(self.result_view)
        else:  # recompute with heatmaps for this one image; already in the history, unless
            # the file changed since the batch (then it is analysed and filed anew, and said so)
            self.open_file(item.path, store=False, expect_sha=item.result.sha256,
                           record=item.history_id)
        self._nav_item = item
        self._show_nav()

    def _photos_in_gallery(self) -> list:
        """The gallery's photos in its order (clips open in the Video tab: not stepped to). A
        clip is known from its record, so a step reads no file."""
        from app.core.report_video import is_video_result

        return [i for i in self.gallery.visible_items() if not is_video_result(i.result)]

    def _show_nav(self) -> None:
        photos = self._photos_in_gallery()
        pos = next((k for k, i in enumerate(photos) if i is self._nav_item), None)
        self.result_view.set_nav(pos, len(photos))

    def step_gallery(self, step: int) -> None:
        """The previous (-1) or next (+1) photo of the batch, from the result view."""
        item = getattr(self, "_nav_item", None)
        if item is None or self.tabs.currentWidget() is not self.result_view:
            return
        photos = self._photos_in_gallery()
        pos = next((k for k, i in enumerate(photos) if i is item), None)
        if pos is not None and 0 <= pos + step < len(photos):
            self.open_gallery_item(photos[pos + step])

    def reopen(self, entry) -> None:
        """A history entry: re-analysed when the file changed, else shown from the record."""
        if self.videos.handles(entry.path):
            self.videos.reopen(entry)
            return
        if entry.path and Path(entry.path).is_file():
            self.open_file(entry.path, expect_sha=entry.sha256, record=entry.id)
            return
        image = QImage.fromData(entry.thumbnail) if entry.thumbnail else None
        scale = 1.0
        if image is not None and not image.isNull() and entry.image_size:
            scale = entry.image_size[0] / max(image.width(), 1)
        if entry.path:  # gone, or now a pipe/device/broken link: say which
            from app.core.files import regular_file_problem

            why = regular_file_problem(entry.path) or f"The file at {entry.path} is unreadable."
            note = (f"The original file is no longer usable ({why}); showing the saved record "
                    "(small preview, no heatmap).")
        else:
            note = ("The original is no longer available (pasted image); showing the saved "
                    "record (small preview, no heatmap).")
        self.result_view.show_result(entry.to_result(), image, image_scale=scale, note=note)
        self.case.show_record(entry.id)
        self.tabs.setCurrentWidget(self.result_view)

    # -- drag and drop ---------------------------------------------------------------------------

    def dragEnterEvent(self, event) -> None:  # noqa: N802 - Qt override
        md = event.mimeData()
        if (md.hasUrls() and any(u.isLocalFile() for u in md.urls())) or md.hasImage():
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event) -> None:  # noqa: N802 - Qt override
        self.dragEnterEvent(event)

    def dropEvent(self, event) -> None:  # noqa: N802 - Qt override
        md = event.mimeData()
        paths = [u.toLocalFile() for u in md.urls() if u.isLocalFile()] if md.hasUrls() else []
        if paths:
            self.open_paths(paths)
        elif md.hasImage():
            self.analyze_qimage(QImage(md.imageData()))
        else:
            event.ignore()
            return
        event.acceptProposedAction()

    # -- worker signals --------------------------------------------------------------------------

    def _on_result(self, jr) -> None:
        if jr.kind == "batch":
            self.gallery.add_result(jr)
        elif jr.job_id == self._single_job:
            self.result_view.show_result(jr.result, jr.image, note=jr.note)
            # A changed file was stored anew (history_id); an unchanged one keeps its record.
            self.case.show_record(jr.history_id if jr.history_id is not None
                                  else self._single_record)
            notice = self._notices.pop(jr.job_id, None)  # else "Finished" would hide it
            self.statusBar().showMessage(f"Finished {self.result_view.title.text()}."
                                         + (f" Not saved: {notice}" if notice else ""),
                                         30000 if notice else 5000)
        if jr.history_id is not None and self.tabs.currentWidget() is self.history_view:
            self.history_view.refresh()

    def _on_error(self, err) -> None:
        if not err.fatal:
            self._notices[err.job_id] = err.message
            self.statusBar().showMessage(err.message, 15000)
            return
        if err.job_id == self._single_job:
            self.result_view.show_empty()
        self.reporter.report(err.message)

    def _on_finished(self, done) -> None:
        notice = self._notices.pop(done.job_id, None)
        if done.kind == "batch":
            self.gallery.batch_finished(done.job_id, done.summary, done.cancelled)
            self.actions_.cancel.setEnabled(self.service.batches_pending() > 0)
            if notice:  # shown again at the end: a long batch outlasts the first message
                self.statusBar().showMessage(f"Batch finished. Not saved: {notice}")

    def _on_tab(self, index: int) -> None:
        self.case.flush()  # so the history's search sees what was just typed
        if self.tabs.widget(index) is self.history_view:
            self.history_view.refresh()
        # The heatmap and zoom tools act on the Result tab's picture: greyed out elsewhere.
        on_result = self.tabs.widget(index) is self.result_view
        a = getattr(self, "actions_", None)
        if a is not None:
            for act in (a.overlay, a.fit, a.actual, a.zoom_in, a.zoom_out):
                act.setEnabled(on_result)

    # -- view ------------------------------------------------------------------------------------

    def _overlay_changed(self, on: bool) -> None:
        self.prefs.show_overlay = on
        if self.actions_.overlay.isChecked() != on:
            self.actions_.overlay.setChecked(on)

    def _opacity_changed(self, value: float) -> None:
        self.prefs.overlay_opacity = value

    def zoom_actual(self) -> None:
        self.result_view.image_view.zoom_actual()

    def set_keep_history(self, on: bool) -> None:
        self.prefs.keep_history = on
        self.prefs.save()
        self.statusBar().showMessage(
            "New analyses will be saved in the history." if on else
            "History is off: new analyses are not saved. Existing entries stay until you clear "
            "them (History tab).", 8000)
        self.history_view.refresh()
        if self.result_view.result is not None:
            self.case.show_record(self.case.history_id)

    # -- reports ---------------------------------------------------------------------------------

    def export_report(self) -> None:
        """File > Export Report: the result on screen, with its notes and tags."""
        rv = self.result_view
        if rv.result is None or rv.stack.currentIndex() != rv.PAGE_RESULT:
            QMessageBox.information(self, "Export report", "Open a photo first: the report is "
                                    "made for the result on screen.")
            return
        name = Path(rv.result.path).stem if rv.result.path else "pasted-image"
        notes, tags = self.case.notes_for(self.case.history_id)
        self.reports.export([report_item(rv.result, rv.image, rv.image_scale, notes, tags)],
                            f"Case report: {name}", self.card, f"case-report-{name}.html")

    def export_gallery_report(self, items: list) -> None:
        """The batch gallery's selection (or all of it) as one report; pictures re-read."""
        report = [report_item(i.result, None, 1.0, *self.case.notes_for(i.history_id))
                  for i in items]
        self.reports.export(report, f"Case report ({len(report)} images)", self.card,
                            f"case-report-{datetime.now():%Y%m%d-%H%M}.html")

    # -- lifecycle -------------------------------------------------------------------------------

    def _settings(self) -> QSettings:
        return QSettings(str(user_data_dir() / "window.ini"), QSettings.Format.IniFormat)

    def _restore_geometry(self) -> None:
        geometry = self._settings().value("geometry")
        if geometry is None or not self.restoreGeometry(geometry):
            self.resize(1240, 800)
        self._fit_to_screen()

    def _fit_to_screen(self) -> None:
        """A laptop's 1366 x 768 (less its taskbar) is smaller than the default size, and a
        saved size may come from a bigger screen: never start larger than the free area."""
        screen = self.screen() or QApplication.primaryScreen()
        if screen is None:
            return
        free = screen.availableGeometry()
        w, h = min(self.width(), free.width() - 16), min(self.height(), free.height() - 48)
        if (w, h) != (self.width(), self.height()):
            self.resize(max(w, 640), max(h, 480))

    def shutdown(self) -> None:
        """Stop a running batch cleanly, join the worker threads, close the database (once)."""
        if getattr(self, "_shut", False):
            return
        self._shut = True
        self._settings().setValue("geometry", self.saveGeometry())
        self.prefs.save()
        self.case.flush()  # the notes typed in the last moment, before the database closes
        self.videos.shutdown()
        self.forensics.shutdown()
        self.service.shutdown()
        self.reports.shutdown()
        if self.history is not None:
            self.history.close()
        self.reporter.uninstall()

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt override
        self.statusBar().showMessage("Stopping...")
        self.shutdown()
        super().closeEvent(event)
