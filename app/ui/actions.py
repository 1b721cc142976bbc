"""Menus, toolbar and shortcuts of the main window, built in one place."""

from __future__ import annotations

from types import SimpleNamespace

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMainWindow, QToolBar

from app.ui.help_menu import show_about, show_log_folder, show_model_info
from app.ui.theme import icon


def _action(win: QMainWindow, text: str, slot=None, shortcut=None, icon_name: str | None = None,
            tip: str | None = None, checkable: bool = False) -> QAction:
    act = QAction(text, win)
    if icon_name:
        act.setIcon(icon(icon_name))
    if shortcut:
        act.setShortcut(QKeySequence(shortcut))
    if tip:
        act.setToolTip(tip)
        act.setStatusTip(tip)
    act.setCheckable(checkable)
    if slot is not None:
        (act.toggled if checkable else act.triggered).connect(slot)
    return act


def build_actions(win) -> SimpleNamespace:
    """Create the actions, the menu bar and the toolbar for `win` (a MainWindow)."""
    a = SimpleNamespace()
    a.open = _action(win, "&Open Photo or Video...", win.open_dialog,
                     QKeySequence.StandardKey.Open, "open",
                     "Open one or more photos or video clips (Ctrl+O)")
    a.open_folder = _action(win, "Open &Folder...", win.open_folder_dialog, "Ctrl+Shift+O",
                            "folder", "Check every photo in a folder and its subfolders")
    a.paste = _action(win, "&Paste Image", win.paste, QKeySequence.StandardKey.Paste, "paste",
                      "Analyse an image or screenshot from the clipboard (Ctrl+V)")
    a.cancel = _action(win, "&Cancel Batch", win.cancel_batch, "Esc", "cancel",
                       "Stop the running batch after the current image")
    a.cancel.setEnabled(False)
    a.quit = _action(win, "&Quit", win.close, QKeySequence.StandardKey.Quit)
    a.overlay = _action(win, "Show &Heatmap", win.result_view.set_overlay, "H", "heatmap",
                        "Show which areas drove the decision (H)", checkable=True)
    a.fit = _action(win, "Zoom to &Fit", win.result_view.image_view.zoom_fit, "Ctrl+0", "fit",
                    "Fit the picture (Ctrl+0)")
    a.actual = _action(win, "&Actual Size (1:1)", win.zoom_actual, "Ctrl+1", "actual",
                       "One image pixel per screen pixel (Ctrl+1)")
    a.zoom_in = _action(win, "Zoom &In", lambda: win.result_view.image_view.zoom_by(1.25),
                        QKeySequence.StandardKey.ZoomIn)
    a.zoom_out = _action(win, "Zoom &Out", lambda: win.result_view.image_view.zoom_by(0.8),
                         QKeySequence.StandardKey.ZoomOut)
    a.keep_history = _action(win, "&Keep History of Analyses", win.set_keep_history,
                             tip="Save every analysis in the history on this computer",
                             checkable=True)
    a.model_info = _action(win, "About the &Model...", lambda: show_model_info(win),
                           icon_name="info")
    a.open_logs = _action(win, "Show &Log Folder", show_log_folder)
    a.about = _action(win, "&About Deepfake Inspector", lambda: show_about(win))
    a.export_report = _action(win, "&Export Report...", win.export_report, "Ctrl+E", "export",
                              "Save a case report of the result on screen, with your notes, as "
                              "HTML or PDF (Ctrl+E)")

    bar = win.menuBar()
    m = bar.addMenu("&File")
    for act in (a.open, a.open_folder, a.paste, None, a.export_report, None, a.cancel, None,
                a.quit):
        m.addSeparator() if act is None else m.addAction(act)
    m = bar.addMenu("&View")
    for act in (a.overlay, None, a.fit, a.actual, a.zoom_in, a.zoom_out):
        m.addSeparator() if act is None else m.addAction(act)
    m = bar.addMenu("&Settings")
    m.addAction(a.keep_history)
    m = bar.addMenu("&Help")
    for act in (a.model_info, a.open_logs, None, a.about):
        m.addSeparator() if act is None else m.addAction(act)

    tb = QToolBar("Main", win)
    tb.setObjectName("mainToolbar")
    tb.setMovable(False)
    tb.setIconSize(QSize(22, 22))
    tb.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
    for act in (a.open, a.open_folder, a.paste, None, a.overlay, a.fit, a.actual, None, a.cancel,
                None, a.model_info):
        tb.addSeparator() if act is None else tb.addAction(act)
    win.addToolBar(Qt.ToolBarArea.TopToolBarArea, tb)
    a.toolbar = tb
    return a
