"""Dropping a file shows the engine's numbers; overlay, opacity, faces, zoom, paste, errors."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication

from app.core.detector import shown_percent
from app.core.explain import colorize, overlay_faces
from app.core.results import VERDICT_TEXT
from app.ui.theme import qimage_to_rgb, rgb_to_qimage
from tests.conftest import save_rgb
from tests.ui.conftest import WrappedAnalyzer, drop_urls, wait_result


def test_dropped_file_shows_the_engines_numbers(qtbot, make_window, analyzer, face_file):
    win = make_window()
    assert drop_urls(win.result_view.drop_hint, [face_file])
    shown = wait_result(qtbot, win)
    expected = analyzer.analyze(face_file)
    assert shown.status == "ok" and len(shown.faces) == len(expected.faces) == 1
    assert shown.p_fake == pytest.approx(expected.p_fake, abs=1e-6)
    rv = win.result_view
    n = shown_percent(expected.p_fake, win.card)  # as printed: agrees with the verdict
    assert abs(n - 100 * expected.p_fake) <= 1
    assert rv.bars.text() == f"Fake {n}%, Real {100 - n}%"
    assert rv.badge.text() == VERDICT_TEXT[expected.verdict]
    assert rv.face_verdict.text() == VERDICT_TEXT[expected.faces[0].verdict]
    assert rv.title.text() == "portrait.png"
    assert "UNTRAINED" in rv.warnings_label.text()  # result warnings are shown
    assert "40%" in rv.tiers.text() and "60%" in rv.tiers.text()  # the card's tiers
    assert win.history.count() == 1


def _patch_mean(rgb: np.ndarray, x: int, y: int, r: int = 4) -> np.ndarray:
    return rgb[y - r : y + r + 1, x - r : x + r + 1].reshape(-1, 3).astype(float).mean(0)


def test_overlay_toggle_and_opacity_repaint_without_rerunning(qtbot, make_window, analyzer,
                                                              face_rgb, face_file):
    counting = WrappedAnalyzer(analyzer)
    win = make_window(lambda: counting)
    win.open_paths([str(face_file)])
    result = wait_result(qtbot, win)
    rv, view = win.result_view, win.result_view.image_view
    face = result.faces[0]
    assert face.heatmap is not None
    view.zoom_actual()
    assert view.zoom() == 1.0
    x1, y1, x2, y2 = face.box
    # A point inside the face where the heatmap is defined.
    ix, iy = int((x1 + x2) / 2), int((y1 + y2) / 2 + 10)

    def painted() -> np.ndarray:
        qtbot.wait(10)
        shot = qimage_to_rgb(view.viewport().grab().toImage())
        vx, vy = view.scene_to_viewport(ix, iy)
        return _patch_mean(shot, vx, vy)

    calls = counting.calls
    rv.set_overlay(False)
    assert not win.actions_.overlay.isChecked()
    off = painted()
    assert np.abs(off - _patch_mean(face_rgb, ix, iy)).max() < 3  # the photo itself

    rv.set_overlay(True)
    for opacity in (0.3, 0.7, 1.0):
        rv.opacity_slider.setValue(round(100 * opacity))
        got = painted()
        want = _patch_mean(overlay_faces(face_rgb, result.faces, opacity), ix, iy)
        assert np.abs(got - want).max() < 8, (opacity, got, want)
    # Full opacity is the colour map alone; zero is the photo again.
    assert np.abs(got - _patch_mean(overlay_faces(face_rgb, result.faces, 1.0), ix, iy)).max() < 8
    rv.opacity_slider.setValue(0)
    assert np.abs(painted() - off).max() < 3
    assert counting.calls == calls  # repainting never re-ran the model
    assert win.prefs.overlay_opacity == 0.0
    assert colorize(face.heatmap).shape[:2] == face.heatmap.shape


def test_h_key_toggles_the_overlay(qtbot, make_window, face_file):
    win = make_window()
    win.open_paths([str(face_file)])
    wait_result(qtbot, win)
    win.activateWindow()
    qtbot.waitUntil(lambda: QGuiApplication.focusWindow() is not None)
    win.result_view.image_view.setFocus()
    before = win.result_view.overlay_check.isChecked()
    qtbot.keyClick(win.result_view.image_view, Qt.Key.Key_H)
    assert win.result_view.overlay_check.isChecked() is (not before)
    qtbot.keyClick(win.result_view.image_view, Qt.Key.Key_H)
    assert win.result_view.overlay_check.isChecked() is before


def test_zoom_fit_and_actual_size(qtbot, make_window, tmp_path, astronaut):
    win = make_window()
    big = save_rgb(tmp_path / "big.png", np.ascontiguousarray(np.tile(astronaut, (3, 3, 1))))
    win.open_paths([str(big)])
    wait_result(qtbot, win, timeout=120_000)
    view = win.result_view.image_view
    view.zoom_fit()
    assert view.zoom() < 1.0 and view.is_fit()
    win.zoom_actual()
    assert view.zoom() == 1.0 and not view.is_fit()


def test_several_faces_click_or_pick_and_image_takes_the_top_face(qtbot, make_window,
                                                                  three_faces, tmp_path):
    win = make_window()
    path = save_rgb(tmp_path / "group.png", three_faces)
    win.open_paths([str(path)])
    result = wait_result(qtbot, win, timeout=120_000)
    rv = win.result_view
    assert len(result.faces) == 3 and rv.face_list.count() == 3 and rv.faces_box.isVisible()
    top = max(range(3), key=lambda i: result.faces[i].p_fake)
    assert rv.selected_face() == top
    assert result.p_fake == pytest.approx(result.faces[top].p_fake)
    assert f"face {top + 1}" in rv.summary.text()
    other = (top + 1) % 3
    rv.face_list.setCurrentRow(other)  # pick from the list
    assert rv.bars.text().startswith(f"Fake {shown_percent(result.faces[other].p_fake, win.card)}%")
    view = rv.image_view
    view.zoom_fit()
    target = (top + 2) % 3
    x1, y1, x2, y2 = result.faces[target].box
    vx, vy = view.scene_to_viewport((x1 + x2) / 2, (y1 + y2) / 2)
    from PySide6.QtCore import QPoint

    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(vx, vy))
    assert rv.selected_face() == target


def test_bad_file_shows_its_error_in_place(qtbot, make_window, tmp_path):
    win = make_window()
    bad = tmp_path / "holiday.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 this download was cut short")
    assert drop_urls(win.result_view.drop_hint, [bad])
    result = wait_result(qtbot, win)
    rv = win.result_view
    assert result.status == "error"
    assert rv.badge.text() == "Could not analyse this file" and rv.badge.word == "error"
    assert rv.error_label.isVisible() and rv.error_label.text() == result.error
    assert "damaged" in result.error or "not an image" in result.error
    assert not win.reporter.dialogs  # a user error is not a crash dialog


def test_paste_a_screenshot(qtbot, make_window, face_rgb):
    win = make_window()
    QGuiApplication.clipboard().setImage(rgb_to_qimage(face_rgb))
    win.paste()
    result = wait_result(qtbot, win)
    assert result.status == "ok" and result.path is None
    assert win.result_view.title.text() == "Pasted image"
    (entry,) = win.history.search()
    assert entry.file_name.startswith("Pasted image")


def test_unexpected_exception_opens_a_dialog_and_the_app_goes_on(qtbot, make_window, analyzer,
                                                                 tmp_path, face_rgb):
    win = make_window(lambda: WrappedAnalyzer(analyzer, fail_on="trigger_bug"))
    win.open_paths([str(save_rgb(tmp_path / "trigger_bug.png", face_rgb))])
    qtbot.waitUntil(lambda: bool(win.reporter.dialogs), timeout=60_000)
    assert "injected bug" in win.reporter.dialogs[0].informativeText()
    win.reporter.dialogs[0].close()
    win.open_paths([str(save_rgb(tmp_path / "fine.png", face_rgb))])
    assert wait_result(qtbot, win).status == "ok"


def test_printed_cutoffs_and_scores_agree_next_to_a_cutoff(qtbot):
    """A real face at 31.8 % next to "below 32 % real" reads 31 %, in the bars too; the
    tier words and the About box print the same whole percents."""
    from app.core.detector import ModelCard
    from app.ui.result_view import ResultView
    from app.ui.widgets import ConfidenceBars

    card = ModelCard(id="m", architecture="clip_vit_b16_multilayer", input_size=224,
                     normalization="clip", threshold=0.9572, uncertain_band=(0.3196, 0.9571))
    bars = ConfidenceBars()
    qtbot.addWidget(bars)
    bars.set_p_fake(0.318, card)
    assert bars.text() == "Fake 31%, Real 69%"
    bars.set_p_fake(0.318)  # no cutoffs known (another model's record): plain rounding
    assert bars.text() == "Fake 32%, Real 68%"
    rv = ResultView()
    qtbot.addWidget(rv)
    rv.set_card(card)
    assert "fake from 96% up" in rv.tiers.text()
    assert "between 32% and 95%" in rv.tiers.text()
    from app.ui.model_info import card_html

    about = card_html(card)
    assert "Below 32%" in about and "from 32% to 95%" in about and "from 96% up" in about
    # The card's engineering words are explained for a journalist.
    assert "Terms used above" in about and "AUC (ROC AUC)" in about and "no better than a coin" \
        in about


def test_an_untrusted_low_score_says_why_it_is_uncertain(qtbot):
    """'UNCERTAIN 1%' read as a contradiction (a GUI walk-through): the reason goes with it, in
    the result's summary and in the History list."""
    from app.core.history_records import HistoryEntry
    from app.core.quality import FACE_TOO_SMALL, QualityWarning
    from app.core.results import AnalysisResult, FaceResult, Status, Verdict
    from app.ui.history_view import HistoryModel
    from app.ui.result_view import ResultView

    quality = [QualityWarning(FACE_TOO_SMALL, "small", face=0).to_dict()]
    face = FaceResult(box=(0, 0, 30, 30), det_score=0.99, p_fake=0.01,
                      verdict=Verdict.UNCERTAIN)
    result = AnalysisResult(path="/x/small.jpg", status=Status.OK, faces=[face], p_fake=0.01,
                            verdict=Verdict.UNCERTAIN, quality=quality)
    text = ResultView._summary_text(result, "uncertain")
    assert "1% likely to be manipulated. Face too small to judge, so the verdict is" in text
    entry = HistoryEntry(id=1, path="/x/small.jpg", file_name="small.jpg", sha256=None,
                         analysed_at="2026-12-02T00:00:00+00:00", model=None, status="ok",
                         verdict="uncertain", p_fake=0.01, error=None, image_size=None,
                         faces=[face.to_dict()], quality=quality)
    model = HistoryModel()
    model.set_entries([entry])
    assert model.data(model.index(0, 3)) == "UNCERTAIN \u00b7 Face too small to judge"
