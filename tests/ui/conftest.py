"""UI fixtures: a main window wired to the session's explicitly UNTRAINED test analyzer."""

from __future__ import annotations

import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication

from tests.conftest import save_rgb

MODEL_TIMEOUT_MS = 120_000
RESULT_TIMEOUT_MS = 60_000


class WrappedAnalyzer:
    """Delegates to a real Analyzer; counts calls, can slow down or inject a bug."""

    def __init__(self, inner, delay: float = 0.0, fail_on: str | None = None) -> None:
        self.inner, self.delay, self.fail_on = inner, delay, fail_on
        self.calls = 0

    def analyze(self, source, heatmaps=None):
        self.calls += 1
        path = str(getattr(source, "path", None) or source)
        if self.fail_on and self.fail_on in path:
            raise RuntimeError("injected bug for the test")
        if self.delay:
            time.sleep(self.delay)
        return self.inner.analyze(source, heatmaps=heatmaps)

    def __getattr__(self, name):
        return getattr(self.inner, name)


@pytest.fixture(autouse=True)
def _no_worker_pools_left():
    """Every window's worker threads are joined by the end of the test."""
    yield
    from app.ui.worker import live_pools

    QApplication.processEvents()
    assert live_pools() == [], "a window's worker pool was not shut down"


@pytest.fixture
def make_window(qtbot, analyzer):
    from app.ui.main_window import MainWindow

    windows = []

    def make(factory=None, wait: bool = True):
        win = MainWindow(factory or (lambda: analyzer))
        win.show()
        windows.append(win)
        if wait:
            qtbot.waitUntil(lambda: win.model_ready or win.model_error is not None,
                            timeout=MODEL_TIMEOUT_MS)
        return win

    yield make
    for win in windows:
        win.close()


@pytest.fixture(scope="session")
def face_rgb(astronaut) -> np.ndarray:
    """A 256 x 256 crop around the astronaut's face (face ~90 px wide): quick to analyse."""
    return np.ascontiguousarray(astronaut[20:276, 96:352])


@pytest.fixture
def face_file(tmp_path, face_rgb) -> Path:
    return save_rgb(tmp_path / "portrait.png", face_rgb)


def make_folder(root: Path, face_rgb, no_face, n_faces: int = 3, broken: bool = True) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for i in range(n_faces):
        save_rgb(root / f"face_{i:02d}.png", face_rgb if i % 2 == 0 else face_rgb[:, ::-1].copy())
    save_rgb(root / "cup.jpg", cv2.resize(no_face, (160, 106)))
    if broken:
        (root / "face_01b_broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    return root


def drop_urls(widget, paths) -> bool:
    """Simulate dragging files from the file manager onto `widget`; True when accepted."""
    md = QMimeData()
    md.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    pos = QPoint(widget.width() // 2, widget.height() // 2)
    enter = QDragEnterEvent(pos, Qt.DropAction.CopyAction, md, Qt.MouseButton.LeftButton,
                            Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, enter)
    if not enter.isAccepted():
        return False
    drop = QDropEvent(QPointF(pos), Qt.DropAction.CopyAction, md, Qt.MouseButton.LeftButton,
                      Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, drop)
    return drop.isAccepted()


def wait_result(qtbot, win, timeout: int = RESULT_TIMEOUT_MS):
    """Wait until the result view shows a finished result; returns it."""
    qtbot.waitUntil(lambda: win.result_view.stack.currentIndex() == win.result_view.PAGE_RESULT,
                    timeout=timeout)
    return win.result_view.result


def wait_batch_done(qtbot, win, timeout: int = RESULT_TIMEOUT_MS) -> None:
    qtbot.waitUntil(lambda: not win.gallery.is_running() and win.service.batches_pending() == 0,
                    timeout=timeout)
