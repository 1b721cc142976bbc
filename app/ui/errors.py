"""Failure visible, never fatal: a log file in the data dir and a dialog for unexpected errors."""

from __future__ import annotations

import logging
import sys
import threading
import traceback

from PySide6.QtCore import QObject, Qt, Signal, Slot
from PySide6.QtWidgets import QMessageBox, QWidget

from app.core.logs import LOG_NAME, details_location, log_file, setup_logging

log = logging.getLogger("app")
# The window and the CLI share one per-user log (app.core.logs); re-exported for the UI.
__all__ = ["LOG_NAME", "ErrorReporter", "log_file", "setup_logging"]


class ErrorReporter(QObject):
    """Installed as sys.excepthook and threading.excepthook: logs the traceback, then shows a
    dialog on the UI thread (a queued signal carries reports from other threads)."""

    sig_report = Signal(str, str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.parent_widget = parent
        self.dialogs: list[QMessageBox] = []
        self.sig_report.connect(self._show, Qt.ConnectionType.QueuedConnection)
        self._old_hooks = None

    def install(self) -> None:
        self._old_hooks = (sys.excepthook, threading.excepthook)
        sys.excepthook = self.excepthook
        threading.excepthook = lambda args: self.excepthook(
            args.exc_type, args.exc_value, args.exc_traceback)

    def uninstall(self) -> None:
        if self._old_hooks:
            sys.excepthook, threading.excepthook = self._old_hooks
            self._old_hooks = None

    def excepthook(self, exc_type, exc_value, tb) -> None:
        if issubclass(exc_type, KeyboardInterrupt):
            sys.__excepthook__(exc_type, exc_value, tb)
            return
        log.error("Unexpected error", exc_info=(exc_type, exc_value, tb))
        details = "".join(traceback.format_exception(exc_type, exc_value, tb))
        self.report(f"{exc_type.__name__}: {exc_value}", details)

    def report(self, message: str, details: str = "") -> None:
        self.sig_report.emit(message, details)

    @Slot(str, str)
    def _show(self, message: str, details: str) -> None:
        if len(self.dialogs) >= 3:  # an error in a paint loop must not bury the window
            return
        box = QMessageBox(self.parent_widget)
        box.setIcon(QMessageBox.Icon.Critical)
        box.setWindowTitle("Something went wrong")
        box.setTextFormat(Qt.TextFormat.PlainText)  # the message may quote a file name
        box.setText("Something unexpected went wrong. The app keeps running; your results so "
                    "far are safe.")
        box.setInformativeText(f"{message}\n\nDetails were written to:\n{details_location()}")
        if details:
            box.setDetailedText(details)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.finished.connect(lambda _=0, b=box: self.dialogs.remove(b)
                             if b in self.dialogs else None)
        self.dialogs.append(box)
        box.open()  # not exec(): a modal loop inside a slot invites re-entrancy
