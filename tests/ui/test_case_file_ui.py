"""The case file in the window: metadata panel, notes and tags saved to the history, report export
(HTML and PDF) from the result view and from the batch gallery."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog, QMessageBox

from tests.ui.conftest import drop_urls, wait_batch_done, wait_result

REPORT_TIMEOUT_MS = 120_000


@pytest.fixture
def exif_file(tmp_path, face_rgb) -> Path:
    """A JPEG whose EXIF claims a camera and an editing program."""
    exif = Image.Exif()
    exif[0x010F] = "Canon"  # Make
    exif[0x0110] = "Canon EOS 5D Mark IV"  # Model
    exif[0x0131] = "Adobe Photoshop 25.0"  # Software
    path = tmp_path / "exif_portrait.jpg"
    Image.fromarray(face_rgb).save(path, quality=95, exif=exif)
    return path


@pytest.fixture
def no_dialogs(monkeypatch):
    """Message boxes would block offscreen: record them instead."""
    shown: list[tuple[str, str]] = []
    for name in ("information", "warning", "critical"):
        monkeypatch.setattr(QMessageBox, name, staticmethod(
            lambda _parent, title, text, *a, _n=name, **k: shown.append((_n, f"{title}: {text}"))))
    return shown


def save_as(monkeypatch, path: Path, chosen_filter: str = "") -> None:
    monkeypatch.setattr(QFileDialog, "getSaveFileName",
                        staticmethod(lambda *a, **k: (str(path), chosen_filter)))


def open_and_wait(qtbot, win, path):
    assert drop_urls(win, [path])
    return wait_result(qtbot, win)


def test_metadata_panel_shows_the_exif_of_a_dropped_image(qtbot, make_window, exif_file):
    win = make_window()
    open_and_wait(qtbot, win, exif_file)
    pane = win.result_view.case_pane
    rows = pane.metadata.rows()
    values = " | ".join(f"{r['label']}: {r['value']}" for r in rows)
    assert "Canon EOS 5D Mark IV" in values, values
    assert "Adobe Photoshop" in values, values
    assert pane.metadata.tree.topLevelItemCount() == 2  # input quality, then metadata
    win.result_view.side_tabs.setCurrentWidget(pane)
    assert pane.metadata.isVisible() and pane.notes.isVisible()
    assert pane.metadata.headline()


def test_notes_and_tags_are_saved_and_survive_a_restart(qtbot, make_window, exif_file):
    win = make_window()
    open_and_wait(qtbot, win, exif_file)
    hid = win.case.history_id
    assert hid is not None and not win.result_view.case_pane.notes_hint.isVisible()
    editor = win.result_view.case_pane.notes
    assert editor.isEnabled() and not editor.notes_edit.isReadOnly()
    editor.notes_edit.setPlainText("Sent by source A on Signal; asked for the original.")
    editor.tags_edit.setText("election, source-A")
    editor.tags_edit.textEdited.emit(editor.tags_edit.text())
    assert editor.is_dirty()
    with qtbot.waitSignal(win.case.sig_saved, timeout=5000):  # the debounce, not a flush
        pass
    entry = win.history.get(hid)
    assert entry.notes.startswith("Sent by source A") and entry.tags == "election, source-A"

    editor.notes_edit.appendPlainText("Typed just before closing.")
    win.close()  # flushes the pending edit before the database closes

    win2 = make_window()
    (entry,) = win2.history.search("source-a")
    assert entry.id == hid and entry.notes.endswith("Typed just before closing.")
    assert entry.metadata  # the case file is stored with the record
    hv = win2.history_view
    win2.tabs.setCurrentWidget(hv)
    qtbot.waitUntil(lambda: hv.model.rowCount() == 1)
    tags_col = hv.model.index(0, 6).data()
    assert tags_col == "election, source-A"  # tags are visible in the list
    tip = hv.model.index(0, 1).data(Qt.ItemDataRole.ToolTipRole)
    assert "Tags: election, source-A" in tip and "Typed just before closing." in tip
    # Reopened while the file is gone: the saved record still shows its metadata and notes.
    exif_file.unlink()
    hv.open_row(0)
    wait_result(qtbot, win2)
    pane = win2.result_view.case_pane
    assert "Canon EOS 5D Mark IV" in " ".join(r["value"] for r in pane.metadata.rows())
    assert pane.notes.notes().endswith("Typed just before closing.")
    assert pane.notes.tags() == ["election", "source-A"]


def test_notes_read_only_when_history_is_off(qtbot, make_window, exif_file):
    win = make_window()
    win.actions_.keep_history.setChecked(False)
    open_and_wait(qtbot, win, exif_file)
    pane = win.result_view.case_pane
    assert win.case.history_id is None and win.history.count() == 0
    assert pane.notes.notes_edit.isReadOnly() and not pane.notes.isEnabled()
    assert "History is off" in pane.notes_hint.text()
    win.result_view.side_tabs.setCurrentWidget(pane)
    assert pane.notes_hint.isVisible()


def test_export_report_of_the_result_as_html_and_pdf(qtbot, make_window, exif_file, tmp_path,
                                                     monkeypatch, no_dialogs):
    win = make_window()
    open_and_wait(qtbot, win, exif_file)
    editor = win.result_view.case_pane.notes
    editor.notes_edit.setPlainText("Checked with the photographer.")
    editor.tags_edit.setText("verified")
    editor.tags_edit.textEdited.emit("verified")  # not flushed yet: the export must flush it
    sha = hashlib.sha256(exif_file.read_bytes()).hexdigest()

    out = tmp_path / "reports" / "case"  # no extension: the chosen filter decides
    out.parent.mkdir()
    save_as(monkeypatch, out, "HTML report (*.html *.htm)")
    with qtbot.waitSignal(win.reports.sig_finished, timeout=REPORT_TIMEOUT_MS):
        win.actions_.export_report.trigger()
    html = (tmp_path / "reports" / "case.html").read_text(encoding="utf-8")
    assert sha in html and "Checked with the photographer." in html and "verified" in html
    assert "Canon EOS 5D Mark IV" in html

    pdf = tmp_path / "reports" / "case.pdf"
    save_as(monkeypatch, pdf)
    with qtbot.waitSignal(win.reports.sig_result, timeout=REPORT_TIMEOUT_MS) as done:
        win.export_report()
    assert done.args[1] >= 1 and pdf.read_bytes()[:5] == b"%PDF-"
    assert no_dialogs == [] and not win.reports.busy()


def test_export_errors_are_shown_not_raised(qtbot, make_window, exif_file, tmp_path,
                                            monkeypatch, no_dialogs):
    win = make_window()
    win.export_report()  # nothing on screen yet
    assert no_dialogs and "Open a photo first" in no_dialogs[-1][1]
    open_and_wait(qtbot, win, exif_file)
    save_as(monkeypatch, tmp_path / "no-such-folder" / "report.html")
    with qtbot.waitSignal(win.reports.sig_error, timeout=REPORT_TIMEOUT_MS):
        win.export_report()
    qtbot.waitUntil(lambda: not win.reports.busy())
    assert no_dialogs[-1][0] == "warning" and "could not be written" in no_dialogs[-1][1]


def test_gallery_exports_a_report_of_the_selection(qtbot, make_window, exif_file, face_file,
                                                   tmp_path, monkeypatch, no_dialogs):
    win = make_window()
    assert drop_urls(win, [exif_file, face_file])
    wait_batch_done(qtbot, win)
    qtbot.waitUntil(lambda: win.gallery.model.rowCount() == 2)
    item = next(i for i in win.gallery.visible_items() if i.path == str(exif_file))
    win.history.set_notes(item.history_id, "Batch note on the EXIF photo.")
    out = tmp_path / "batch.pdf"
    save_as(monkeypatch, out)
    win.gallery.export_report(selected_only=True)  # nothing selected
    assert "Select one or more tiles" in no_dialogs[-1][1]
    with qtbot.waitSignal(win.reports.sig_result, timeout=REPORT_TIMEOUT_MS) as done:
        win.gallery.export_report(selected_only=False)
    assert done.args[1] >= 1 and out.read_bytes()[:5] == b"%PDF-"
    html_out = tmp_path / "batch.html"
    save_as(monkeypatch, html_out)
    with qtbot.waitSignal(win.reports.sig_result, timeout=REPORT_TIMEOUT_MS):
        win.gallery.export_report(selected_only=False)
    html = html_out.read_text(encoding="utf-8")
    assert "Batch note on the EXIF photo." in html
    for path in (exif_file, face_file):
        assert hashlib.sha256(path.read_bytes()).hexdigest() in html
    assert len(no_dialogs) == 1
