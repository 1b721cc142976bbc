"""Notes and tags for one record (an analysed image), saved as the journalist types.

The editor does not store anything itself: it emits `sig_changed(key, notes, tags)` a moment after
typing stops (and at once on `flush()`), and the owner writes it (HistoryStore.set_notes/set_tags).
"""

from __future__ import annotations

from collections.abc import Iterable

from PySide6.QtCore import QStringListModel, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QCompleter,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
)

MAX_TAG_LEN = 40


def parse_tags(text: str | Iterable[str]) -> list[str]:
    """Comma-separated text (or a list) -> tags: trimmed, no empties, no duplicates (any case)."""
    items = text.split(",") if isinstance(text, str) else list(text)
    out: list[str] = []
    seen: set[str] = set()
    for raw in items:
        tag = " ".join(str(raw).split())[:MAX_TAG_LEN]
        if tag and tag.casefold() not in seen:
            seen.add(tag.casefold())
            out.append(tag)
    return out


class NotesEditor(QWidget):
    """Notes + tags editor for one record at a time.

    API: set_record(key, notes="", tags=()), key(), notes(), tags(), is_dirty(), flush(),
    set_known_tags(list) for completion, set_read_only(bool), clear().
    Signal sig_changed(object key, str notes, list tags): debounced DEBOUNCE_MS after an edit,
    and on flush() (call it before the app closes; set_record() flushes the previous record).
    """

    sig_changed = Signal(object, str, list)
    DEBOUNCE_MS = 800

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._key = None
        self._dirty = False
        self._loading = False
        self.notes_edit = QPlainTextEdit()
        self.notes_edit.setPlaceholderText(
            "Your notes on this image: sources contacted, what you checked, conclusions...")
        self.tags_edit = QLineEdit()
        self.tags_edit.setPlaceholderText("comma-separated, e.g. election, source-A, verified")
        self._known = QStringListModel([])
        completer = QCompleter(self._known, self)
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.tags_edit.setCompleter(completer)
        self.notes_edit.setAccessibleName("Your notes")
        self.tags_edit.setAccessibleName("Tags")
        self.status = QLabel()
        self.status.setObjectName("hint")
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(self.DEBOUNCE_MS)
        self._timer.timeout.connect(self.flush)
        self.notes_edit.textChanged.connect(self._edited)
        self.tags_edit.textEdited.connect(self._edited)
        self.tags_edit.editingFinished.connect(self.flush)
        form = QFormLayout()
        form.addRow("Tags", self.tags_edit)
        self.title = QLabel("YOUR NOTES")
        self.title.setObjectName("caption")
        head = QHBoxLayout()  # the save state beside the title: no line of its own in a side panel
        head.addWidget(self.title)
        head.addStretch(1)
        head.addWidget(self.status)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addLayout(head)
        lay.addWidget(self.notes_edit, 1)
        lay.addLayout(form)
        self.clear()

    # -- API -------------------------------------------------------------------------------------

    def set_record(self, key, notes: str = "", tags: str | Iterable[str] = ()) -> None:
        """Edit another record; unsaved edits of the previous one are emitted first."""
        self.flush()
        self._loading = True
        try:
            self._key = key
            self.notes_edit.setPlainText(notes or "")
            self.tags_edit.setText(", ".join(parse_tags(tags)))
        finally:
            self._loading = False
        self._dirty = False
        self.setEnabled(key is not None)
        self.status.setText("" if key is None else "Saved.")

    def clear(self) -> None:
        self.set_record(None)

    def key(self):
        return self._key

    def notes(self) -> str:
        return self.notes_edit.toPlainText()

    def tags(self) -> list[str]:
        return parse_tags(self.tags_edit.text())

    def is_dirty(self) -> bool:
        return self._dirty

    def set_known_tags(self, tags: Iterable[str]) -> None:
        """Tags offered for completion (e.g. all tags in the history)."""
        self._known.setStringList(parse_tags(tags))

    def set_read_only(self, read_only: bool) -> None:
        self.notes_edit.setReadOnly(read_only)
        self.tags_edit.setReadOnly(read_only)

    def flush(self) -> None:
        """Emit pending edits now (no-op when nothing changed)."""
        self._timer.stop()
        if not self._dirty or self._key is None:
            return
        self._dirty = False
        self.status.setText("Saved.")
        self.sig_changed.emit(self._key, self.notes(), self.tags())

    # -- internals -------------------------------------------------------------------------------

    def _edited(self, *_args) -> None:
        if self._loading or self._key is None:
            return
        self._dirty = True
        self.status.setText("Unsaved changes\u2026")
        self._timer.start()
