"""The result view's case file: what the file's metadata says, and the journalist's notes and tags
on its history record (saved as they type, through HistoryStore.set_notes/set_tags)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QLabel, QSplitter, QVBoxLayout, QWidget

from app.core.history import HistoryError
from app.ui.metadata_panel import MetadataPanel
from app.ui.notes_editor import NotesEditor

log = logging.getLogger(__name__)

HISTORY_OFF = ("History is off (Settings > Keep History of Analyses), so notes and tags cannot be "
               "saved. Turn it on to take notes on the images you analyse next.")
HISTORY_UNAVAILABLE = "The history database is unavailable, so notes and tags cannot be saved."
NOT_SAVED = "This result is not saved in the history, so notes and tags cannot be kept for it."


def _caption(text: str) -> QLabel:
    label = QLabel(text)
    label.setObjectName("caption")
    return label


def warning_count(result) -> int:
    """Findings and quality problems worth a look (counted on the tab): all but routine info."""
    if result is None:
        return 0
    items = [*(getattr(result, "metadata", None) or []), *(getattr(result, "quality", None) or [])]
    return sum(1 for i in items if i.get("severity", "info") != "info" or i.get("makes_uncertain"))


class CaseFilePane(QWidget):
    """Metadata findings above, notes and tags below (a splitter, so either can have the room)."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.metadata = MetadataPanel()
        self.notes = NotesEditor()
        self.notes_hint = QLabel()
        self.notes_hint.setObjectName("note")
        self.notes_hint.setWordWrap(True)
        self.notes_hint.hide()
        top = QWidget()
        t = QVBoxLayout(top)
        t.setContentsMargins(0, 0, 0, 4)
        t.addWidget(_caption("METADATA AND INPUT QUALITY"))
        t.addWidget(self.metadata, 1)
        bottom = QWidget()
        b = QVBoxLayout(bottom)
        b.setContentsMargins(0, 4, 0, 0)
        b.addWidget(self.notes_hint)
        b.addWidget(self.notes, 1)
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.addWidget(top)
        self.splitter.addWidget(bottom)
        self.splitter.setChildrenCollapsible(False)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([340, 160])  # the findings list needs the room; notes are short
        lay = QVBoxLayout(self)
        lay.setContentsMargins(10, 8, 10, 8)
        lay.addWidget(self.splitter)

    def set_result(self, result) -> None:
        self.metadata.set_result(result)

    def set_notes_blocked(self, reason: str | None) -> None:
        """Read-only with the reason shown above the editor (None: editable)."""
        self.notes_hint.setText(reason or "")
        self.notes_hint.setVisible(bool(reason))
        self.notes.set_read_only(bool(reason))


class NotesKeeper(QObject):
    """Ties the notes editor to the history record of the result on screen."""

    sig_saved = Signal(int)  # history id whose notes/tags were written
    sig_error = Signal(str)  # a HistoryError's plain message

    def __init__(self, pane: CaseFilePane, history: Callable[[], object], prefs,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.pane = pane
        self.editor = pane.notes
        self._history = history  # a callable: the store can be replaced (reset) or be None
        self.prefs = prefs
        self.history_id: int | None = None
        self.editor.sig_changed.connect(self._save)

    def show_record(self, history_id: int | None) -> None:
        """Edit the notes of `history_id` (flushing the previous record's edits first)."""
        store = self._history()
        self.editor.flush()
        self.history_id = history_id
        entry, reason = None, None
        if store is None:
            reason = HISTORY_UNAVAILABLE
        elif history_id is None:
            reason = NOT_SAVED if self.prefs.keep_history else HISTORY_OFF
        else:
            try:
                entry = store.get(history_id)
                self.editor.set_known_tags(store.known_tags())
            except HistoryError as exc:
                reason = str(exc)
            if entry is None and reason is None:
                reason = "This history entry was deleted, so its notes cannot be edited."
            elif entry is not None and not self.prefs.keep_history:
                reason = HISTORY_OFF
        if entry is None:
            self.editor.clear()
        else:
            self.editor.set_record(entry.id, entry.notes, entry.tags)
        self.pane.set_notes_blocked(reason)

    def notes_for(self, history_id: int | None) -> tuple[str, str]:
        """(notes, tags) of a record for a report; empty when unknown."""
        store = self._history()
        if history_id is None or store is None:
            return "", ""
        self.flush()
        try:
            entry = store.get(history_id)
        except HistoryError:
            return "", ""
        return (entry.notes, entry.tags) if entry else ("", "")

    def flush(self) -> None:
        self.editor.flush()

    def _save(self, key, notes: str, tags: list) -> None:
        store = self._history()
        if store is None or key is None:
            return
        try:
            store.set_notes(int(key), notes)
            store.set_tags(int(key), tags)
        except HistoryError as exc:
            log.warning("Notes not saved: %s", exc)
            self.editor.status.setText("Not saved: " + str(exc))
            self.sig_error.emit(str(exc))
            return
        self.sig_saved.emit(int(key))
