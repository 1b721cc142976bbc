"""Screen readers and keyboards: every control the views create has a name, the painted widgets
(bars, boxes, timeline, gallery tiles) say in words what they draw, and what the mouse can open
the keyboard can open too."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QAbstractSlider,
    QAbstractSpinBox,
    QComboBox,
    QGraphicsView,
    QLineEdit,
    QPlainTextEdit,
    QTextEdit,
)

from tests import video_clips as clips
from tests.ui.conftest import RESULT_TIMEOUT_MS, drop_urls, wait_result

# Controls whose text alone does not tell a screen reader what they are.
NEEDS_A_NAME = (QAbstractSlider, QAbstractSpinBox, QComboBox, QLineEdit, QAbstractItemView,
                QGraphicsView, QPlainTextEdit, QTextEdit)


def unnamed_controls(*views) -> tuple[list[str], int]:
    """`view.attr` for every control held by these views that has no accessible name, and how
    many controls were looked at."""
    from app.ui.video_timeline import TimelineWidget
    from app.ui.widgets import ConfidenceBars

    missing, seen = [], 0
    for view in views:
        for attr, w in vars(view).items():
            if isinstance(w, NEEDS_A_NAME + (ConfidenceBars, TimelineWidget)):
                seen += 1
                if not w.accessibleName().strip():
                    missing.append(f"{type(view).__name__}.{attr}")
    return missing, seen


def test_every_control_of_the_window_has_a_name(qtbot, make_window, face_file):
    win = make_window()
    assert drop_urls(win.result_view.drop_hint, [face_file])
    wait_result(qtbot, win)
    rv = win.result_view
    views = (rv, rv.image_view, rv.case_pane.metadata, rv.case_pane.notes, win.gallery,
             win.history_view, win.videos.view, win.forensics.view)
    missing, seen = unnamed_controls(*views)
    assert missing == [] and seen >= 20


def test_painted_widgets_say_what_they_draw(qtbot, make_window, face_file):
    win = make_window()
    assert drop_urls(win.result_view.drop_hint, [face_file])
    result = wait_result(qtbot, win)
    rv = win.result_view
    # The bars: the same two numbers as painted, adding up to 100.
    said = rv.bars.accessibleDescription()
    assert said == rv.bars.text()
    fake, real = (int(part.split()[1].rstrip("%")) for part in said.split(", "))
    assert fake + real == 100
    # The picture: one entry per box, with the face's verdict word.
    words = rv.image_view.accessibleDescription()
    assert words.count("Face ") == len(result.faces) >= 1
    assert f"{fake}% fake" in words
    assert rv.badge.accessibleName().startswith("Verdict: ")


def test_gallery_tiles_are_spoken_with_verdict_score_and_note(qtbot):
    from app.core.quality import FACE_TOO_SMALL, QualityWarning
    from app.core.results import AnalysisResult, FaceResult, Status, Verdict
    from app.ui.gallery_model import GalleryItem, GalleryModel

    face = FaceResult(box=(0, 0, 30, 30), det_score=0.99, p_fake=0.07)
    small = AnalysisResult(path="/x/tiny.jpg", status=Status.OK, faces=[face], p_fake=0.07,
                           verdict=Verdict.UNCERTAIN,
                           quality=[QualityWarning(FACE_TOO_SMALL, "small", face=0).to_dict()])
    broken = AnalysisResult(path="/x/broken.jpg", status=Status.ERROR, error="damaged file")
    model = GalleryModel()
    model.extend([GalleryItem(small.path, small), GalleryItem(broken.path, broken)])
    spoken = [model.data(model.index(i), Qt.ItemDataRole.AccessibleTextRole) for i in range(2)]
    assert spoken[0] == "tiny.jpg, uncertain, 7% likely manipulated, Face too small to judge"
    assert spoken[1] == "broken.jpg, error, damaged file"


def test_the_video_tab_works_from_the_keyboard(qtbot, make_window, tmp_path):
    win = make_window()
    clip = clips.write_clip(tmp_path / "interview.mp4")
    assert drop_urls(win.result_view.drop_hint, [clip])
    view = win.videos.view
    qtbot.waitUntil(lambda: view.video is not None and not win.videos.worker.busy(),
                    timeout=RESULT_TIMEOUT_MS)
    video = view.video
    # The timeline in words: every tracked face with its span and score.
    said = view.timeline.accessibleDescription()
    assert said.count("Face ") == len(video.tracks) >= 1 and "fake" in said
    # A kept frame: reachable with Tab, opened with Enter, named with its time and score.
    thumb = view.strip.itemAt(0).widget()
    assert thumb.focusPolicy() & Qt.FocusPolicy.TabFocus
    assert thumb.accessibleName().startswith("Frame at ") and "fake" in thumb.accessibleName()
    with qtbot.waitSignal(view.sig_frame_wanted, timeout=5000) as frame:
        qtbot.keyClick(thumb, Qt.Key.Key_Return)
    assert frame.args == [thumb.frame]
    # A face row: Enter shows that face's most suspicious frame.
    view.faces.setCurrentCell(0, 0)
    with qtbot.waitSignal(view.sig_frame_wanted, timeout=5000) as frame:
        view.faces.cellActivated.emit(0, 0)
    assert frame.args == [video.tracks[0].peak.frame]
    qtbot.waitUntil(lambda: not win.videos.worker.busy(), timeout=RESULT_TIMEOUT_MS)


def test_verdict_colours_are_readable_under_white_text():
    """WCAG AA (4.5:1) for the white words on every verdict badge."""
    from app.ui.theme import VERDICT_COLORS

    def luminance(hex_color: str) -> float:
        rgb = [int(hex_color[i:i + 2], 16) / 255 for i in (1, 3, 5)]
        lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]

    for word, color in VERDICT_COLORS.items():
        assert (1.05 / (luminance(color) + 0.05)) >= 4.5, word


def test_the_window_fits_a_laptop_screen_and_tabs_switch_from_the_keyboard(
        qtbot, make_window, tmp_path):
    win = make_window()
    free = win.screen().availableGeometry()
    assert win.width() <= free.width() and win.height() <= free.height()
    start = win.tabs.currentIndex()
    qtbot.keyClick(win, Qt.Key.Key_PageDown, Qt.KeyboardModifier.ControlModifier)
    assert win.tabs.currentIndex() == (start + 1) % win.tabs.count()
    # Tab leaves the tables (it used to move between their cells for good).
    assert not win.history_view.table.tabKeyNavigation()
    assert not win.videos.view.faces.tabKeyNavigation()
    # A clip, even a tall one, never makes the window taller than a 768 px laptop screen:
    # the Video page scrolls instead.
    clip = clips.write_clip(tmp_path / "interview.mp4")
    assert drop_urls(win.result_view.drop_hint, [clip])
    view = win.videos.view
    qtbot.waitUntil(lambda: view.video is not None and not win.videos.worker.busy(),
                    timeout=RESULT_TIMEOUT_MS)
    assert win.minimumSizeHint().height() < 700
