"""The Video tab: drop a clip, timeline, frame on demand with heatmap, history reopen, batch."""

from __future__ import annotations

import time

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QColor, QImage

from tests import video_clips as clips
from tests.conftest import save_rgb
from tests.ui.conftest import RESULT_TIMEOUT_MS, drop_urls, wait_batch_done


class CountingAnalyzer:
    """The real analyzer, counting frames analysed (and optionally slowed down)."""

    def __init__(self, inner, delay: float = 0.0) -> None:
        self.inner, self.delay, self.calls = inner, delay, 0

    def analyze(self, *args, **kwargs):
        self.calls += 1
        if self.delay:
            time.sleep(self.delay)
        return self.inner.analyze(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(self.inner, name)


@pytest.fixture(scope="module")
def clip_file(tmp_path_factory):
    return clips.write_clip(tmp_path_factory.mktemp("ui_clips") / "interview.mp4")


def wait_video(qtbot, win):
    view = win.videos.view
    qtbot.waitUntil(lambda: view.video is not None and not win.videos.worker.busy(),
                    timeout=RESULT_TIMEOUT_MS)
    return view.video


def test_drop_a_clip_shows_timeline_faces_and_frames(qtbot, make_window, analyzer, clip_file):
    counting = CountingAnalyzer(analyzer)
    win = make_window(lambda: counting)
    assert drop_urls(win.result_view.drop_hint, [clip_file])
    view = win.videos.view
    assert win.tabs.currentWidget() is view
    video = wait_video(qtbot, win)
    assert video.status == "ok" and len(video.tracks) >= 2
    assert view.faces.rowCount() == len(video.tracks)
    assert view.faces.item(0, 0).text() == "Face 1"
    assert view.strip.count() - 1 == len(video.key_frames) >= 1  # thumbnails + a stretch
    assert "scene cut" in view.summary.text() and view.badge.text()
    assert win.history.count() == 1
    # Click a point on the timeline: that frame comes back with boxes and a heatmap.
    view.resize(1200, 800)
    view.timeline.repaint()
    frame, t, track, _ = view.timeline._points[0][1:]
    xy = view.timeline._points[0][0]
    qtbot.mouseClick(view.timeline, Qt.MouseButton.LeftButton,
                     pos=QPoint(round(xy.x()), round(xy.y())))
    assert view.timeline.selected == (track, frame)
    qtbot.waitUntil(lambda: view.frame_view.has_heatmaps(), timeout=RESULT_TIMEOUT_MS)
    caption = view.frame_caption.text()
    assert f"Frame {frame}" in caption and f"(Face {track})" in caption and "fake" in caption


def test_history_reopen_shows_stored_timeline_unless_the_file_changed(
        qtbot, make_window, analyzer, tmp_path):
    path = clips.write_clip(tmp_path / "clip.mp4")
    counting = CountingAnalyzer(analyzer)
    win = make_window(lambda: counting)
    win.open_paths([str(path)])
    first = wait_video(qtbot, win)
    (entry,) = win.history.search()
    assert entry.thumbnail and entry.sha256 == first.sha256
    calls = counting.calls
    win.videos.view.video = None
    win.reopen(entry)
    again = wait_video(qtbot, win)
    assert counting.calls == calls  # not recomputed
    assert "unchanged" in win.videos.view.note.text()
    assert [t.to_dict() for t in again.tracks] == [t.to_dict() for t in first.tracks]
    assert again.key_frames  # thumbnails read back from the file
    # The file changes (a re-encode): reopening analyses it again and stores the new record.
    clips.write_clip(path, [f for f, _ in clips.frames()][:20])
    win.videos.view.video = None
    win.reopen(entry)
    wait_video(qtbot, win)
    assert counting.calls > calls and "changed" in win.videos.view.note.text()
    assert win.history.count() == 2
    # The file is gone: the stored timeline is still shown.
    path.unlink()
    win.videos.view.video = None
    win.reopen(entry)
    assert win.videos.view.video is not None and "no longer" in win.videos.view.note.text()


def test_cancel_stops_a_long_analysis(qtbot, make_window, analyzer, clip_file):
    slow = CountingAnalyzer(analyzer, delay=0.3)
    win = make_window(lambda: slow)
    win.open_paths([str(clip_file)])
    qtbot.waitUntil(lambda: slow.calls >= 2, timeout=RESULT_TIMEOUT_MS)
    win.videos.view.cancel_button.click()
    stopped_at = slow.calls
    qtbot.waitUntil(lambda: not win.videos.worker.busy(), timeout=5000)
    assert slow.calls <= stopped_at + 1  # at most the frame being analysed finishes
    assert win.history.count() == 0  # a cancelled clip is not filed as checked


def test_batch_gallery_lists_clips(qtbot, make_window, analyzer, tmp_path, clip_file, astronaut):
    folder = tmp_path / "case"
    folder.mkdir()
    (folder / "clip.mp4").write_bytes(clip_file.read_bytes())
    save_rgb(folder / "photo.png", astronaut[20:276, 96:352])
    win = make_window()
    win.start_batch([str(folder)])
    wait_batch_done(qtbot, win)
    items = {i.name: i for i in win.gallery.model.items}
    assert set(items) == {"clip.mp4", "photo.png"}
    clip = items["clip.mp4"]
    assert clip.result.status == "ok" and clip.thumbnail and clip.verdict in (
        "fake", "real", "uncertain")
    win.open_gallery_item(clip)  # opens in the Video tab, from the stored record
    wait_video(qtbot, win)
    assert win.tabs.currentWidget() is win.videos.view


def test_timeline_draws_threshold_and_band(qtbot, analyzer, clip_file):
    from app.core.video import analyze_video
    from app.ui.video_timeline import TimelineWidget

    video = analyze_video(analyzer, clip_file, frames_per_second=1.0)
    w = TimelineWidget()
    qtbot.addWidget(w)
    w.resize(600, 220)
    w.set_video(video, type("Card", (), {"threshold": 0.5, "uncertain_band": (0.3, 0.7)})())
    img = w.grab().toImage().convertToFormat(QImage.Format.Format_RGB32)
    y_thr = round(w.to_xy(0, 0.5).y())
    y_band = round(w.to_xy(0, 0.4).y())
    y_out = round(w.to_xy(0, 0.1).y())
    x = round(w.to_xy(video.duration_s * 0.97, 0).x())
    r = w._plot()

    def reddish(y: int) -> float:  # share of the row's pixels in the threshold's red
        cols = range(int(r.left()) + 2, int(r.right()) - 2)
        hits = sum(1 for xx in cols if (lambda c: c.red() > 150 and c.green() < 140
                                        and c.blue() < 140)(QColor(img.pixel(xx, y))))
        return hits / len(cols)

    assert reddish(y_thr) > 0.3 and reddish(y_out) < 0.05  # a dashed red line at 0.5 only
    band, outside = QColor(img.pixel(x, y_band)), QColor(img.pixel(x, y_out))
    assert outside.getRgb()[:3] == (255, 255, 255) and band.blue() < 245  # orange tint
