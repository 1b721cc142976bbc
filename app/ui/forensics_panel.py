"""Attaches the Forensics tab to the main window: the picture shown in the Result tab is the one
examined. The window calls `attach_forensics` once and `shutdown` when it closes."""

from __future__ import annotations

import hashlib

from PySide6.QtCore import QObject

from app.ui.forensics_view import ForensicsView
from app.ui.forensics_worker import Source
from app.ui.theme import icon, qimage_to_rgb


class ForensicsPanel(QObject):
    def __init__(self, window) -> None:
        super().__init__(window)
        self.window = window
        self.view = ForensicsView()
        window.tabs.addTab(self.view, icon("heatmap"), "Forensics")
        window.service.sig_result.connect(self._on_result)
        self.view.sig_status.connect(lambda text: window.statusBar().showMessage(text, 10000))
        self.view.sig_report_filters.connect(self._set_report_filters)

    def _on_result(self, jr) -> None:
        if jr.kind != "single" or jr.job_id != getattr(self.window, "_single_job", None):
            return
        r = jr.result
        if getattr(r, "status", "error") == "error" or jr.image is None or jr.image.isNull():
            self.view.set_source(None, None)
            return
        if r.path:
            source = Source(key=r.sha256 or r.path, path=r.path)
        else:  # a pasted picture: only its pixels
            rgb = qimage_to_rgb(jr.image)
            source = Source(key=r.sha256 or hashlib.sha256(rgb.tobytes()).hexdigest(), rgb=rgb)
        self.view.set_source(source, jr.image, r.path or "pasted")

    def _set_report_filters(self, names: list[str]) -> None:
        self.window.reports.forensics = list(names)

    def shutdown(self) -> None:
        self.view.shutdown()


def attach_forensics(window) -> ForensicsPanel:
    return ForensicsPanel(window)
