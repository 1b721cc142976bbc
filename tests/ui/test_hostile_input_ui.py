"""The window with hostile input (issue 11): special files dropped, pasted or reopened never hang
it, and strings from files (names, errors, metadata) are shown as text, never as HTML."""

from __future__ import annotations

import os
from datetime import UTC, datetime

from PySide6.QtCore import QMimeData, Qt, QUrl
from PySide6.QtGui import QGuiApplication

from app.core.results import AnalysisResult, Status
from tests.guards import no_hang
from tests.ui.conftest import drop_urls, make_folder, wait_batch_done, wait_result

HOSTILE = "<b>bold</b> <img src='x.png'> <script>alert(1)</script> \"q\" 'q' \u202egpj.exe"
NAME = "<b>bold<b> <img src='x.png'> <script>alert(1)<script> \"q\" 'q' \u202egpj.exe"  # no "/"


def _error_result(path: str) -> AnalysisResult:
    return AnalysisResult(path=path, status=Status.ERROR, error=f"Broken: {HOSTILE}",
                          error_type="CorruptImageError", warnings=[f"Note {HOSTILE}"],
                          analysed_at=datetime.now(UTC).isoformat(timespec="seconds"))


def test_a_dropped_fifo_is_an_error_line_not_a_hang(qtbot, make_window, tmp_path):
    fifo = tmp_path / "photo.jpg"
    os.mkfifo(fifo)
    win = make_window()
    with no_hang(60, fifos=(fifo,)):
        assert drop_urls(win.result_view.drop_hint, [fifo])
        result = wait_result(qtbot, win)
    assert result.status == "error" and "named pipe (FIFO)" in result.error
    assert win.result_view.error_label.text() == result.error


def test_a_pasted_folder_with_special_entries_finishes(qtbot, make_window, tmp_path, face_rgb,
                                                      no_face):
    folder = make_folder(tmp_path / "batch", face_rgb, no_face, n_faces=1, broken=False)
    os.mkfifo(folder / "pipe.jpg")
    (folder / "dangling.png").symlink_to(folder / "gone.png")
    (folder / "loop").symlink_to(folder)  # a folder link back to itself
    win = make_window()
    md = QMimeData()
    md.setUrls([QUrl.fromLocalFile(str(folder))])
    QGuiApplication.clipboard().setMimeData(md)
    with no_hang(120, fifos=(folder / "pipe.jpg",)):
        win.paste()
        qtbot.waitUntil(lambda: win.gallery.is_running() or win.gallery.model.rowCount() > 0,
                        timeout=60_000)
        wait_batch_done(qtbot, win)
    results = {os.path.basename(i.path): i.result for i in win.gallery.model.items}
    assert set(results) == {"cup.jpg", "dangling.png", "face_00.png", "pipe.jpg"}
    assert results["face_00.png"].status == "ok"
    assert "named pipe" in results["pipe.jpg"].error
    assert "dangling link" in results["dangling.png"].error


def test_reopening_a_history_entry_whose_file_became_a_fifo(qtbot, make_window, face_file):
    win = make_window()
    assert drop_urls(win.result_view.drop_hint, [face_file])
    assert wait_result(qtbot, win).status == "ok"
    entry = win.history.search()[0]
    face_file.unlink()
    os.mkfifo(face_file)  # same name, now a pipe
    win.result_view.show_empty()
    with no_hang(60, fifos=(face_file,)):
        win.reopen(entry)
        wait_result(qtbot, win)
    assert win.result_view.stack.currentIndex() == win.result_view.PAGE_RESULT
    note = win.result_view.note.text()
    assert "saved record" in note and "named pipe (FIFO)" in note  # what happened to the file


def test_result_view_shows_file_strings_as_plain_text(qtbot, make_window):
    win = make_window(wait=False)
    rv = win.result_view
    rv.show_result(_error_result(f"/tmp/{NAME}.jpg"), None)
    for label in (rv.title, rv.error_label, rv.warnings_label, rv.busy_label):
        assert label.textFormat() == Qt.TextFormat.PlainText
    assert "<script>alert(1)</script>" in rv.error_label.text()
    assert "<b>bold<b>" in rv.title.text() and "[U+202E]" in rv.title.text()
    assert "\u202e" not in rv.title.text()
    tip = rv.title.toolTip()  # tooltips have no plain-text switch: escaped instead
    assert "&lt;script&gt;" in tip and "<script>" not in tip and "<img" not in tip


def test_gallery_and_history_tooltips_are_escaped(qtbot, make_window):
    win = make_window(wait=False)
    model = win.gallery.model
    from app.ui.worker import JobResult

    win.gallery.batch_queued(99)
    win.gallery.add_result(JobResult(99, "batch", 0, _error_result(f"/tmp/{HOSTILE}.jpg")))
    tip = model.data(model.index(0, 0), Qt.ItemDataRole.ToolTipRole)
    assert "&lt;img" in tip and "<img" not in tip and "[U+202E]" in tip
    shown = model.data(model.index(0, 0), Qt.ItemDataRole.DisplayRole)  # the tile's name
    assert "[U+202E]gpj.exe.jpg" in shown and "\u202e" not in shown
    hid = win.history.add(_error_result(f"/tmp/{HOSTILE}.jpg"), None)
    assert hid is not None
    win.history_view.refresh()
    hm = win.history_view.model
    tip = hm.data(hm.index(0, 0), Qt.ItemDataRole.ToolTipRole)
    assert "&lt;script&gt;" in tip and "<script>" not in tip
    shown = hm.data(hm.index(0, 1), Qt.ItemDataRole.DisplayRole)  # the file-name column
    assert "[U+202E]gpj.exe.jpg" in shown and "\u202e" not in shown


def test_error_dialog_and_banner_are_plain_text(qtbot, make_window):
    win = make_window(wait=False)
    win.banner.show_message(f"The detector could not be loaded: {HOSTILE}", "warning")
    assert win.banner.label.textFormat() == Qt.TextFormat.PlainText
    win.reporter._show(f"ValueError: {HOSTILE}", "")
    box = win.reporter.dialogs[-1]
    assert box.textFormat() == Qt.TextFormat.PlainText
    assert HOSTILE in box.informativeText()
    box.close()


def test_metadata_panel_shows_values_as_text(qtbot, make_window):
    win = make_window(wait=False)
    finding = {"category": "author", "label": f"Artist {HOSTILE}", "value": HOSTILE,
               "meaning": f"Says {HOSTILE}", "severity": "warning"}
    result = AnalysisResult(path="/tmp/x.jpg", status=Status.NO_FACE, metadata=[finding])
    panel = win.result_view.case_pane.metadata
    panel.set_result(result)
    group = next(panel.tree.topLevelItem(i) for i in range(panel.tree.topLevelItemCount())
                 if panel.tree.topLevelItem(i).text(0).startswith("Provenance"))
    item = group.child(0)
    assert item.text(2) == HOSTILE  # a tree item's text is never read as HTML
    assert "&lt;script&gt;" in item.toolTip(1) and "<script>" not in item.toolTip(1)
    panel.tree.setCurrentItem(item)
    detail = panel._detail.text()
    assert "&lt;script&gt;" in detail and "<script>" not in detail and "[U+202E]" in detail


def test_report_export_to_a_pipe_is_refused(tmp_path):
    import pytest

    from app.ui.report_export import ReportJob, build_and_write

    fifo = tmp_path / "case.html"
    os.mkfifo(fifo)
    with no_hang(30, fifos=(fifo,)), pytest.raises(OSError, match="named pipe"):
        build_and_write(ReportJob([], fifo, "html", "Case report"))
