"""Failure visible, never fatal: a log file in the data dir and a dialog for unexpected errors."""

from __future__ import annotations

import logging
import sys
import threading
import traceback
from logging.handlers import RotatingFileHandler
from pathlib import Path

from PySide6.QtCore import QObject, Qt, Signal, Slot
from PySide6.QtWidgets import QMessageBox, QWidget

from app.core.paths import user_data_dir

log = logging.getLogger("app")
LOG_NAME = "inspector.log"


def log_file() -> Path:
    folder = user_data_dir() / "logs"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / LOG_NAME


def setup_logging(level: int = logging.INFO) -> Path:
    """Log to <data dir>/logs/inspector.log (rotated) and stderr; returns the log path."""
    path = log_file()
    root = logging.getLogger()
    root.setLevel(level)
    if not any(getattr(h, "_dfi", False) for h in root.handlers):
        handler = RotatingFileHandler(path, maxBytes=2_000_000, backupCount=3, encoding="utf-8")
        handler._dfi = True  # mark ours: setup twice must not log twice
        handler.setFormatter(logging.Formatter(
            "%(asctime)s %(levelname)s %(threadName)s %(name)s: %(message)s"))
        root.addHandler(handler)
        stderr = logging.StreamHandler()
        stderr._dfi = True
        stderr.setLevel(logging.WARNING)
        root.addHandler(stderr)
    return path


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
        box.setText("Something unexpected went wrong. The app keeps running; your results so "
                    "far are safe.")
        box.setInformativeText(f"{message}\n\nDetails were written to:\n{log_file()}")
        if details:
            box.setDetailedText(details)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.finished.connect(lambda _=0, b=box: self.dialogs.remove(b)
                             if b in self.dialogs else None)
        self.dialogs.append(box)
        box.open()  # not exec(): a modal loop inside a slot invites re-entrancy
