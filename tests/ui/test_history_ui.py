"""History in the window: survives a restart, reopen (unchanged / changed / gone), delete, clear,
search, and the 'keep no history' preference."""

from __future__ import annotations

import json

import numpy as np
import pytest

from app.core.paths import user_data_dir
from tests.conftest import save_rgb
from tests.ui.conftest import wait_result


def test_history_survives_closing_and_reopening_the_window(qtbot, make_window, face_file):
    win = make_window()
    win.open_paths([str(face_file)])
    first = wait_result(qtbot, win)
    win.close()

    win2 = make_window()
    win2.tabs.setCurrentWidget(win2.history_view)  # switching tabs refreshes the list
    hv = win2.history_view
    assert hv.model.rowCount() == 1
    (entry,) = hv.model.entries
    assert entry.file_name == "portrait.png" and entry.sha256 == first.sha256
    assert entry.p_fake == pytest.approx(first.p_fake)
    assert entry.faces[0]["box"] == [round(v, 1) for v in first.faces[0].box]
    assert "Showing 1 of 1" in hv.info.text()


def test_reopen_unchanged_changed_and_gone(qtbot, make_window, tmp_path, face_rgb):
    path = save_rgb(tmp_path / "case.png", face_rgb)
    win = make_window()
    win.open_paths([str(path)])
    wait_result(qtbot, win)
    (entry,) = win.history.search()

    win.reopen(entry)  # file unchanged: shown again, not stored twice
    wait_result(qtbot, win)
    assert "unchanged" in win.result_view.note.text()
    assert win.history.count() == 1

    save_rgb(path, np.ascontiguousarray(face_rgb[:, ::-1]))  # the file was edited
    win.result_view.show_busy("...")
    win.reopen(entry)
    result = wait_result(qtbot, win)
    assert "changed" in win.result_view.note.text() and result.sha256 != entry.sha256
    assert win.history.count() == 2

    path.unlink()  # the file is gone: the record is shown from the database
    win.reopen(entry)
    shown = wait_result(qtbot, win)
    assert "no longer" in win.result_view.note.text()
    assert shown.p_fake == entry.p_fake and len(shown.faces) == 1
    view = win.result_view.image_view
    assert view.scene().sceneRect().width() == entry.image_size[0]  # thumbnail scaled up
    assert not win.result_view.overlay_check.isEnabled()  # no heatmap in a record


def test_search_delete_and_clear(qtbot, make_window, tmp_path, face_rgb):
    win = make_window()
    for name in ("alpha.png", "beta.png"):
        win.open_paths([str(save_rgb(tmp_path / name, face_rgb))])
        wait_result(qtbot, win)
        win.result_view.show_busy("...")
    hv = win.history_view
    win.tabs.setCurrentWidget(hv)
    assert hv.model.rowCount() == 2
    beta = next(e for e in hv.model.entries if e.file_name == "beta.png")
    win.history.set_tags(beta.id, "election")
    hv.search_edit.setText("electi")
    qtbot.waitUntil(lambda: hv.model.rowCount() == 1)
    assert hv.model.entries[0].file_name == "beta.png"
    hv.search_edit.setText("")
    qtbot.waitUntil(lambda: hv.model.rowCount() == 2)
    hv.verdict_combo.setCurrentIndex(hv.verdict_combo.findData("error"))
    qtbot.waitUntil(lambda: hv.model.rowCount() == 0)
    hv.verdict_combo.setCurrentIndex(0)
    qtbot.waitUntil(lambda: hv.model.rowCount() == 2)
    hv.table.selectRow(0)
    hv.delete_selected(confirm=False)
    assert hv.model.rowCount() == 1 and win.history.count() == 1
    hv.clear_all(confirm=False)
    assert hv.model.rowCount() == 0 and win.history.count() == 0


def test_keep_no_history(qtbot, make_window, face_file):
    win = make_window()
    win.actions_.keep_history.setChecked(False)
    prefs = json.loads((user_data_dir() / "prefs.json").read_text())
    assert prefs["keep_history"] is False
    win.open_paths([str(face_file)])
    assert wait_result(qtbot, win).status == "ok"
    assert win.history.count() == 0
    win.close()
    win2 = make_window()
    assert not win2.prefs.keep_history and not win2.actions_.keep_history.isChecked()
