"""The history: search past analyses, reopen one, delete one or all."""

from __future__ import annotations

import logging

from PySide6.QtCore import QAbstractTableModel, QDate, QModelIndex, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDateEdit,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from app.core.history import HistoryEntry, HistoryError
from app.core.plaintext import one_line
from app.core.quality import tile_note
from app.ui.plain import plain_tip
from app.ui.result_view import local_time
from app.ui.theme import (
    VERDICT_LABELS,
    cutoffs_for,
    icon,
    percent,
    pixmap_from_jpeg,
    verdict_color,
)

log = logging.getLogger(__name__)

COLUMNS = ["", "File", "Analysed", "Verdict", "Fake score", "Faces", "Tags", "Notes"]
VERDICTS = [("Any verdict", None), ("Fake", "fake"), ("Real", "real"),
            ("Uncertain", "uncertain"), ("No face found", "no face"), ("Errors", "error")]


def _verdict_label(e: HistoryEntry) -> str:
    """The verdict word; for an untrusted score, why ("UNCERTAIN 1%" is not a finding)."""
    verdict = e.verdict or "no face"
    label = VERDICT_LABELS.get(verdict, verdict)
    note, why = tile_note(e)
    if why and verdict == "uncertain" and not e.error:
        label += f" \u00b7 {note}"
    return label


class HistoryModel(QAbstractTableModel):
    THUMB_H = 40

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.entries: list[HistoryEntry] = []
        self._pix: dict[int, object] = {}

    def set_entries(self, entries: list[HistoryEntry]) -> None:
        self.beginResetModel()
        self.entries = entries
        self._pix = {}
        self.endResetModel()

    def rowCount(self, parent=QModelIndex()) -> int:  # noqa: N802, B008 - Qt override
        return 0 if parent.isValid() else len(self.entries)

    def columnCount(self, parent=QModelIndex()) -> int:  # noqa: N802, B008 - Qt override
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):  # noqa: N802
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        e = self.entries[index.row()]
        col = index.column()
        if role == Qt.ItemDataRole.DecorationRole and col == 0:
            pix = self._pix.get(e.id)
            if pix is None:  # lazy: only rows on screen decode their thumbnail
                pix = pixmap_from_jpeg(e.thumbnail)
                if not pix.isNull():
                    pix = pix.scaledToHeight(self.THUMB_H,
                                             Qt.TransformationMode.SmoothTransformation)
                self._pix[e.id] = pix
            return pix
        if role == Qt.ItemDataRole.DisplayRole:
            if col == 3:
                return _verdict_label(e)
            return [
                "", one_line(e.file_name or ""), local_time(e.analysed_at), "",
                percent(e.p_fake, cutoffs_for(e)),
                str(len(e.faces)) if e.status != "error" else "", e.tags,
                e.notes.replace("\n", " ")[:80],
            ][col]
        if role == Qt.ItemDataRole.ForegroundRole and col == 3:
            return verdict_color(e.verdict)
        if role == Qt.ItemDataRole.ToolTipRole:
            tags = f"Tags: {e.tags}" if e.tags else ""  # the list cuts long notes: show them whole
            return plain_tip("\n".join(x for x in (e.path or "(pasted image)", e.error or "", tags,
                                                     e.notes) if x))  # from files: never HTML
        if role == Qt.ItemDataRole.BackgroundRole and e.status == "error":
            return QColor("#fbe9e7")
        return None


class HistoryView(QWidget):
    sig_open = Signal(object)  # HistoryEntry
    sig_reset = Signal()  # the user chose to replace an unreadable database

    def __init__(self, store, prefs, parent=None) -> None:
        super().__init__(parent)
        self.store = store
        self.prefs = prefs
        self.model = HistoryModel(self)
        self.search_edit = QLineEdit()
        self.search_edit.setPlaceholderText("Search file name, notes or tags")
        self.search_edit.setClearButtonEnabled(True)
        self.verdict_combo = QComboBox()
        for label, key in VERDICTS:
            self.verdict_combo.addItem(label, key)
        self.from_check, self.from_date = QCheckBox("From"), QDateEdit(QDate.currentDate())
        self.to_check, self.to_date = QCheckBox("to"), QDateEdit(QDate.currentDate())
        for d in (self.from_date, self.to_date):
            d.setCalendarPopup(True)
            d.setDisplayFormat("yyyy-MM-dd")
            d.setEnabled(False)
        self.from_check.toggled.connect(self.from_date.setEnabled)
        self.to_check.toggled.connect(self.to_date.setEnabled)
        self._debounce = QTimer(self, singleShot=True, interval=200, timeout=self.refresh)
        for sig in (self.search_edit.textChanged, self.verdict_combo.currentIndexChanged,
                    self.from_check.toggled, self.to_check.toggled, self.from_date.dateChanged,
                    self.to_date.dateChanged):
            sig.connect(lambda *_: self._debounce.start())
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setTabKeyNavigation(False)  # Tab reaches the buttons; arrows move rows
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(HistoryModel.THUMB_H + 6)
        self.table.setIconSize(QSize(HistoryModel.THUMB_H * 3 // 2, HistoryModel.THUMB_H))
        hdr = self.table.horizontalHeader()
        # Short columns fit their contents; the file name gets a fixed share the user can drag,
        # and the notes (the free text that needs room) take whatever is left.
        hdr.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        hdr.setSectionResizeMode(0, QHeaderView.ResizeMode.Fixed)
        hdr.setSectionResizeMode(1, QHeaderView.ResizeMode.Interactive)
        hdr.setStretchLastSection(True)
        self.table.setColumnWidth(0, HistoryModel.THUMB_H * 3 // 2 + 10)
        self.table.setColumnWidth(1, 300)
        self.table.setTextElideMode(Qt.TextElideMode.ElideMiddle)  # keep the file's extension
        self.table.activated.connect(lambda idx: self.open_row(idx.row()))
        self.table.setAccessibleName("History of analyses")
        self.table.setAccessibleDescription("One row per analysed file; Enter opens it")
        self.search_edit.setAccessibleName("Search the history")
        self.verdict_combo.setAccessibleName("Show verdicts")
        self.from_date.setAccessibleName("From date")
        self.to_date.setAccessibleName("To date")
        self.open_button = QPushButton(icon("open"), "Open")
        self.open_button.clicked.connect(lambda: self.open_row(self.current_row()))
        self.delete_button = QPushButton(icon("delete"), "Delete")
        self.delete_button.clicked.connect(lambda: self.delete_selected(confirm=True))
        self.clear_button = QPushButton("Clear all...")
        self.clear_button.clicked.connect(lambda: self.clear_all(confirm=True))
        self.info = QLabel()
        self.info.setObjectName("hint")
        self.info.setWordWrap(True)
        self.reset_button = QPushButton("Start a new history...")
        self.reset_button.setToolTip("Keep the unreadable file aside and start an empty history")
        self.reset_button.clicked.connect(self.sig_reset)
        self.reset_button.hide()

        bar = QHBoxLayout()
        bar.addWidget(self.search_edit, 2)
        bar.addWidget(self.verdict_combo)
        for w in (self.from_check, self.from_date, self.to_check, self.to_date):
            bar.addWidget(w)
        buttons = QHBoxLayout()
        buttons.addWidget(self.info, 1)
        for b in (self.reset_button, self.open_button, self.delete_button, self.clear_button):
            buttons.addWidget(b)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(10, 8, 10, 8)
        lay.addLayout(bar)
        lay.addWidget(self.table, 1)
        lay.addLayout(buttons)
        if store is None:
            for w in (self.search_edit, self.table, self.open_button, self.delete_button,
                      self.clear_button):
                w.setEnabled(False)

    def set_unavailable(self, message: str, can_reset: bool = True) -> None:
        self.store = None
        self.model.set_entries([])
        self.info.setText(message)
        self.reset_button.setVisible(can_reset)
        for w in (self.search_edit, self.table, self.open_button, self.delete_button,
                  self.clear_button):
            w.setEnabled(False)

    def set_store(self, store) -> None:
        self.store = store
        self.reset_button.hide()
        for w in (self.search_edit, self.table, self.open_button, self.delete_button,
                  self.clear_button):
            w.setEnabled(True)
        self.refresh()

    # -- data ------------------------------------------------------------------------------------

    def refresh(self) -> None:
        if self.store is None:
            return
        since = self.from_date.date().toPython() if self.from_check.isChecked() else None
        until = self.to_date.date().toPython() if self.to_check.isChecked() else None
        try:
            entries = self.store.search(self.search_edit.text(),
                                        verdict=self.verdict_combo.currentData(),
                                        since=since, until=until)
            total = self.store.count()
        except HistoryError as exc:
            self.info.setText(str(exc))
            return
        self.model.set_entries(entries)
        off = "" if self.prefs.keep_history else (
            "History is off: new analyses are not saved (Settings > Keep history).  ")
        if getattr(self.store, "read_only", False):
            off = (f"Read-only: the folder {self.store.path.parent} cannot be written, so new "
                   "analyses are not saved.  ")
        self.info.setText(f"{off}Showing {len(entries)} of {total} saved analyses.")

    def current_row(self) -> int:
        rows = self.table.selectionModel().selectedRows()
        return rows[0].row() if rows else -1

    def open_row(self, row: int) -> None:
        if 0 <= row < len(self.model.entries):
            self.sig_open.emit(self.model.entries[row])

    def delete_selected(self, confirm: bool = True) -> None:
        row = self.current_row()
        if self.store is None or row < 0:
            return
        entry = self.model.entries[row]
        if confirm and QMessageBox.question(
                self, "Delete entry", f"Delete the history entry for {entry.file_name}?"
        ) != QMessageBox.StandardButton.Yes:
            return
        self._try(lambda: self.store.delete(entry.id))

    def clear_all(self, confirm: bool = True) -> None:
        if self.store is None:
            return
        if confirm and QMessageBox.question(
                self, "Clear history",
                "Delete every saved analysis? The image files themselves are not touched.",
        ) != QMessageBox.StandardButton.Yes:
            return
        self._try(self.store.clear)

    def _try(self, fn) -> None:
        try:
            fn()
        except HistoryError as exc:
            QMessageBox.warning(self, "History", str(exc))
        self.refresh()
