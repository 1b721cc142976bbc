"""The batch gallery: progress with count and ETA, thumbnail grid, sort, filter, export."""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QModelIndex, Qt, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListView,
    QMenu,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.ui.gallery_model import ITEM_ROLE, GalleryDelegate, GalleryItem, GalleryModel, GalleryProxy
from app.ui.theme import icon

log = logging.getLogger(__name__)

FILTERS = [("All results", None), ("Fake", "fake"), ("Real", "real"), ("Uncertain", "uncertain"),
           ("No face found", "no face"), ("Errors", "error")]
SORTS = [("Order analysed", "time"), ("Most suspicious first", "score"), ("File name", "name")]


_COUNT_ORDER = ["fake", "uncertain", "real", "no face", "error"]
_COUNT_WORDS = {"fake": "likely fake", "uncertain": "uncertain", "real": "no sign of manipulation",
                "no face": "without a face", "error": "could not be read"}


def format_eta(seconds: float | None) -> str:
    if seconds is None:
        return "estimating time left..."
    if seconds < 60:
        return f"about {max(1, round(seconds))} s left"
    if seconds < 3600:
        return f"about {round(seconds / 60)} min left"
    return f"about {seconds / 3600:.1f} h left"


class GalleryView(QWidget):
    sig_open = Signal(object)  # GalleryItem
    sig_cancel = Signal()
    sig_export_report = Signal(list)  # GalleryItems for a case report (HTML or PDF)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.model = GalleryModel(self)
        self.proxy = GalleryProxy(self)
        self.proxy.setSourceModel(self.model)
        self._jobs: dict[int, list[int]] = {}  # job id -> [done, total]
        self._rate: float | None = None  # seconds per image in the running batch

        self.progress = QProgressBar()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setTextVisible(True)
        self.progress.setFormat("")  # "%v / %m" once a batch runs (not "0 / 1" when idle)
        self.progress.setMinimumWidth(220)
        self.status = QLabel("Drop a folder or several photos to check them all at once.")
        self.status.setObjectName("hint")
        self.status.setWordWrap(True)
        self.status.setTextFormat(Qt.TextFormat.PlainText)  # it can quote file names
        self.cancel_button = QPushButton(icon("cancel"), "Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.sig_cancel)
        self.sort_combo = QComboBox()
        for label, key in SORTS:
            self.sort_combo.addItem(label, key)
        self.sort_combo.currentIndexChanged.connect(
            lambda _: self.proxy.set_sort(self.sort_combo.currentData()))
        self.filter_combo = QComboBox()
        for label, key in FILTERS:
            self.filter_combo.addItem(label, key)
        self.filter_combo.currentIndexChanged.connect(
            lambda _: self.proxy.set_verdict_filter(self.filter_combo.currentData()))
        self.export_button = QToolButton()
        self.export_button.setText("Export")
        self.export_button.setIcon(icon("export"))
        self.export_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.export_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        menu = QMenu(self.export_button)
        for label, fmt, sel in (("Selected results as CSV...", "csv", True),
                                ("Selected results as JSON...", "json", True),
                                ("All results as CSV...", "csv", False),
                                ("All results as JSON...", "json", False)):
            act = QAction(label, menu)
            act.triggered.connect(lambda _=False, f=fmt, s=sel: self.export_dialog(f, s))
            menu.addAction(act)
        menu.addSeparator()
        for label, sel in (("Selected results as a case report (HTML or PDF)...", True),
                           ("All results as a case report (HTML or PDF)...", False)):
            act = QAction(label, menu)
            act.triggered.connect(lambda _=False, s=sel: self.export_report(s))
            menu.addAction(act)
        self.export_button.setMenu(menu)
        self.clear_button = QPushButton(icon("delete"), "Clear")
        self.clear_button.setToolTip("Remove every tile from the gallery (history keeps them)")
        self.clear_button.clicked.connect(self.clear)

        self.list = QListView()
        self.list.setObjectName("gallery")
        self.list.setModel(self.proxy)
        self.list.setItemDelegate(GalleryDelegate(self.list))
        self.list.setViewMode(QListView.ViewMode.IconMode)
        self.list.setResizeMode(QListView.ResizeMode.Adjust)
        self.list.setMovement(QListView.Movement.Static)
        self.list.setUniformItemSizes(True)  # O(1) layout: smooth with thousands of tiles
        self.list.setLayoutMode(QListView.LayoutMode.Batched)
        self.list.setBatchSize(200)
        self.list.setSpacing(4)
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.list.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.list.activated.connect(self._activated)  # double-click and Enter
        self.list.setAccessibleName("Checked photos")
        self.list.setAccessibleDescription("Each photo with its verdict; Enter opens it")
        self.sort_combo.setAccessibleName("Sort photos by")
        self.filter_combo.setAccessibleName("Show photos")

        top = QHBoxLayout()
        top.addWidget(self.progress)
        top.addWidget(self.status, 1)
        top.addWidget(self.cancel_button)
        tools = QHBoxLayout()
        tools.addWidget(QLabel("Sort:"))
        tools.addWidget(self.sort_combo)
        tools.addSpacing(12)
        tools.addWidget(QLabel("Show:"))
        tools.addWidget(self.filter_combo)
        tools.addSpacing(16)
        # One legend for every badge: "REAL 21%" is not 21 % real.
        self.legend = QLabel("Badge: verdict · % = how likely the face is manipulated")
        self.legend.setObjectName("hint")
        self.legend.setWordWrap(True)  # a narrow window wraps it rather than widening
        tools.addWidget(self.legend, 1)
        tools.addStretch(1)
        tools.addWidget(self.export_button)
        tools.addWidget(self.clear_button)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(10, 8, 10, 8)
        lay.addLayout(top)
        lay.addLayout(tools)
        lay.addWidget(self.list, 1)

    # -- batch progress --------------------------------------------------------------------------

    def batch_queued(self, job_id: int) -> None:
        self._jobs[job_id] = [0, 0]
        self.cancel_button.setEnabled(True)
        self._update_progress()

    def batch_started(self, job_id: int, total: int) -> None:
        self._jobs.setdefault(job_id, [0, 0])[1] = total
        self._update_progress()

    def add_result(self, job_result) -> None:
        r = job_result.result
        self.model.add(GalleryItem(r.path or "", r, job_result.thumbnail, job_result.history_id))

    def batch_progress(self, job_id: int, progress) -> None:
        self._jobs.setdefault(job_id, [0, progress.total])[:] = [progress.done, progress.total]
        if progress.done:
            self._rate = progress.elapsed_s / progress.done
        self._update_progress()

    def batch_finished(self, job_id: int, summary, cancelled: bool) -> None:
        self._jobs.pop(job_id, None)
        if self._jobs:
            self._update_progress()
            return
        self.cancel_button.setEnabled(False)
        self._rate = None
        if summary is not None:
            done, total = summary.done, summary.total
            self.progress.setRange(0, max(total, 1))
            self.progress.setValue(done)
            counts = ", ".join(f"{n} {_COUNT_WORDS[w]}" for w, n in sorted(
                summary.counts.items(), key=lambda kv: _COUNT_ORDER.index(kv[0])) if n)
            if cancelled:
                text = f"Cancelled after {done} of {total} images ({counts})."
            else:
                text = f"Done: {done} images in {summary.elapsed_s:.0f} s ({counts})."
            not_checked = getattr(summary, "not_checked", "")
            self.status.setText(f"{text}\n{not_checked}" if not_checked else text)
        elif cancelled:
            self.status.setText("Cancelled before any image was analysed.")
        else:
            self.status.setText("Not analysed: the detector did not start (see the message "
                                "at the top of the window).")

    def is_running(self) -> bool:
        return bool(self._jobs)

    def _update_progress(self) -> None:
        done = sum(d for d, _ in self._jobs.values())
        total = sum(t for _, t in self._jobs.values())
        waiting = sum(1 for _, t in self._jobs.values() if t == 0)
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(done)
        self.progress.setFormat("%v / %m" if total else "")
        if total == 0:
            self.status.setText("Waiting for the model...")
            return
        eta = None if self._rate is None else self._rate * (total - done)
        extra = f" (+{waiting} more batch{'es' if waiting > 1 else ''} queued)" if waiting else ""
        self.status.setText(f"Analysed {done} of {total} images, {format_eta(eta)}{extra}")

    # -- items -----------------------------------------------------------------------------------

    def _activated(self, index: QModelIndex) -> None:
        item = index.data(ITEM_ROLE)
        if item is not None:
            self.sig_open.emit(item)

    def visible_items(self) -> list[GalleryItem]:
        """Items in the order shown (sorted, filtered)."""
        return [self.proxy.index(r, 0).data(ITEM_ROLE) for r in range(self.proxy.rowCount())]

    def selected_items(self) -> list[GalleryItem]:
        rows = sorted(i.row() for i in self.list.selectionModel().selectedIndexes())
        return [self.proxy.index(r, 0).data(ITEM_ROLE) for r in rows]

    def clear(self) -> None:
        self.model.clear()
        if not self._jobs:
            self.progress.setRange(0, 1)
            self.progress.setValue(0)
            self.progress.setFormat("")
            self.status.setText("Drop a folder or several photos to check them all at once.")

    # -- export ----------------------------------------------------------------------------------

    def export(self, path: str | Path, fmt: str, selected_only: bool = False) -> int:
        """Write results (selection, or all shown in the current order) as CSV or JSON."""
        from app.core.batch import write_csv, write_json

        items = self.selected_items() if selected_only else self.visible_items()
        results = [i.result for i in items]
        return (write_csv if fmt == "csv" else write_json)(results, path)

    def export_report(self, selected_only: bool) -> None:
        """Ask the window for a case report of the selection (or of all results shown)."""
        items = self.selected_items() if selected_only else self.visible_items()
        if not items:
            QMessageBox.information(self, "Export report", "Select one or more tiles first."
                                    if selected_only else "There are no results to export yet.")
            return
        self.sig_export_report.emit(items)

    def export_dialog(self, fmt: str, selected_only: bool) -> None:
        if selected_only and not self.selected_items():
            QMessageBox.information(self, "Export", "Select one or more tiles first.")
            return
        if not self.model.items:
            QMessageBox.information(self, "Export", "There are no results to export yet.")
            return
        name = "deepfake-results." + fmt
        path, _ = QFileDialog.getSaveFileName(self, "Export results", str(Path.home() / name),
                                              "CSV (*.csv)" if fmt == "csv" else "JSON (*.json)")
        if not path:
            return
        try:
            n = self.export(path, fmt, selected_only)
        except OSError as exc:
            QMessageBox.warning(self, "Export failed", f"Could not write {path}:\n{exc}")
            return
        self.status.setText(f"Exported {n} results to {path}")
