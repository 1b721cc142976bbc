"""The Forensics tab: opens on the current picture, switches filters, moves the slider, exports,
cancels, all without blocking the window; the map is painted over the picture."""

from __future__ import annotations

import json
import time

import numpy as np
from PySide6.QtWidgets import QApplication
from skimage import data

from app.core.forensics import FILTERS
from app.ui.forensics_view import ForensicsView
from app.ui.forensics_worker import Source
from app.ui.theme import rgb_to_qimage
from tests.forensics_synth import clone, enc, with_thumbnail
from tests.ui.conftest import wait_result

TIMEOUT_MS = 60_000


def _shown(qtbot, view, name: str) -> None:
    qtbot.waitUntil(lambda: view.result is not None and view.result.filter == name,
                    timeout=TIMEOUT_MS)


def _responsive_while(qtbot, condition) -> float:
    """Longest gap between event-loop turns while waiting (the UI must keep painting)."""
    worst, last = 0.0, time.perf_counter()
    deadline = last + TIMEOUT_MS / 1000
    while not condition() and time.perf_counter() < deadline:
        QApplication.processEvents()
        now = time.perf_counter()
        worst, last = max(worst, now - last), now
        time.sleep(0.005)
    assert condition()
    return worst


def test_view_switches_filters_and_exports_without_blocking(qtbot, tmp_path):
    img, _, _ = clone(data.astronaut(), (150, 40), (330, 300), 150)
    path = tmp_path / "cloned.jpg"
    path.write_bytes(with_thumbnail(img, data.astronaut()))
    view = ForensicsView()
    qtbot.addWidget(view)
    view.resize(1200, 700)
    view.show()
    view.set_source(Source(key="k1", path=str(path)), rgb_to_qimage(img), path.name)
    for name in FILTERS:
        view.set_filter(name)
        assert _responsive_while(qtbot, lambda n=name: view.result is not None
                                 and view.result.filter == n) < 1.0
        assert FILTERS[name].how_to_read[:40] in view.text.toPlainText().replace("\n", " ")
    assert "Two regions match" not in view.text.toPlainText()  # thumbnail on screen now
    assert view.preview.isVisible()  # the EXIF preview beside its comparison
    view.set_filter("copymove")  # cached: no new job
    assert not view.worker.busy() and view.result.filter == "copymove"
    assert "Two regions match" in view.text.toPlainText()
    assert view.map_view.has_map()
    # The map is painted over the picture at the chosen opacity.
    view.opacity_slider.setValue(100)
    grab = view.map_view.grab().toImage()
    assert not grab.isNull()

    out = tmp_path / "export"
    job = view.export(str(out))
    assert job is not None
    qtbot.waitUntil(lambda: len(list(out.glob("*"))) >= 2 and not view.worker.busy(),
                    timeout=TIMEOUT_MS)
    found = json.loads((out / "cloned.copymove.json").read_text())
    assert found["edited"] is True and (out / "cloned.copymove.png").stat().st_size > 0
    assert view.shutdown()


def test_slider_recomputes_and_cache_serves_repeats(qtbot):
    rgb = data.chelsea()
    view = ForensicsView()
    qtbot.addWidget(view)
    view.show()
    view.set_source(Source(key="k2", rgb=rgb), rgb_to_qimage(rgb), "pasted")
    view.set_filter("ela")
    _shown(qtbot, view, "ela")
    assert view.result.params["quality"] == 90
    view.param_slider.setValue(70)
    qtbot.waitUntil(lambda: view.result.params["quality"] == 70, timeout=TIMEOUT_MS)
    first = view.result
    view.param_slider.setValue(90)
    qtbot.waitUntil(lambda: view.result.params["quality"] == 90, timeout=TIMEOUT_MS)
    view.param_slider.setValue(70)
    qtbot.waitUntil(lambda: view.result.params["quality"] == 70, timeout=TIMEOUT_MS)
    assert view.result is first  # from the cache
    # A different picture: nothing shown from the old one.
    other = np.ascontiguousarray(rgb[:, ::-1])
    view.set_source(Source(key="k3", rgb=other), rgb_to_qimage(other), "other")
    assert view.result is None
    _shown(qtbot, view, "ela")
    assert view.result is not first
    assert view.shutdown()


def test_cancel_leaves_the_view_usable(qtbot):
    big = np.ascontiguousarray(np.tile(data.astronaut(), (4, 4, 1)))  # 2048 x 2048
    view = ForensicsView()
    qtbot.addWidget(view)
    view.show()
    view.set_source(Source(key="k4", rgb=big), rgb_to_qimage(big), "big")
    view.set_filter("copymove")
    view.cancel()
    qtbot.waitUntil(lambda: not view.worker.busy(), timeout=TIMEOUT_MS)
    assert view.busy_label.text() == ""
    view.set_filter("noise")
    _shown(qtbot, view, "noise")
    assert view.shutdown()


def test_window_has_a_forensics_tab_on_the_opened_picture(qtbot, make_window, tmp_path):
    win = make_window()
    path = tmp_path / "cup.jpg"
    path.write_bytes(enc(data.coffee(), 85))
    win.open_file(str(path))
    wait_result(qtbot, win)
    view = win.forensics.view
    assert view.source is not None and view.source.path == str(path)
    win.tabs.setCurrentWidget(view)
    view.set_filter("jpeg")
    _shown(qtbot, view, "jpeg")
    assert "quality 85" in view.text.toPlainText()


def test_in_case_report_boxes_reach_the_report_export(qtbot, make_window, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QFileDialog

    win = make_window()
    img, _, _ = clone(data.astronaut(), (150, 40), (330, 300), 150)
    path = tmp_path / "cloned.jpg"
    path.write_bytes(enc(img, 92))
    win.open_file(str(path))
    wait_result(qtbot, win)
    view = win.forensics.view
    win.tabs.setCurrentWidget(view)
    view.set_filter("copymove")
    view.report_check.setChecked(True)
    view.set_filter("ela")
    assert not view.report_check.isChecked()  # per filter
    view.set_filter("copymove")
    assert view.report_check.isChecked()
    assert win.reports.forensics == ["copymove"]
    out = tmp_path / "case.html"
    monkeypatch.setattr(QFileDialog, "getSaveFileName",
                        staticmethod(lambda *a, **k: (str(out), "")))
    win.export_report()
    qtbot.waitUntil(lambda: not win.reports.busy() and out.exists(), timeout=TIMEOUT_MS)
    html = out.read_text(encoding="utf-8")
    assert "Copy-move (cloned regions)" in html and "EDITED? " in html
