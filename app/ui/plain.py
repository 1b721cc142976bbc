"""Strings from files shown as plain text in the window.

A QLabel or a tooltip treats text that looks like HTML as rich text: a file named
"<img src=...>.jpg" or EXIF holding "<script>" would be rendered, not shown. Labels that show
such strings are set to Qt.PlainText; tooltips, which have no such switch, get the text escaped.
"""

from __future__ import annotations

import html

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QMessageBox

from app.core.plaintext import reveal_bidi


def plain_labels(*labels: QLabel | QMessageBox) -> None:
    """Show these labels' (or message boxes') text literally, never as HTML."""
    for label in labels:
        label.setTextFormat(Qt.TextFormat.PlainText)


def plain_tip(text: str | None) -> str:
    """A tooltip that shows `text` literally (line breaks kept, direction overrides visible)."""
    if not text:
        return ""
    return "<p style='white-space:pre-wrap'>" + html.escape(reveal_bidi(text)) + "</p>"
