"""History faults in the window: the analysis is always shown, the user is told why it was not
saved (and the message is not hidden by "Finished ..."), and what was stored stays intact."""

from __future__ import annotations

import hashlib
import sqlite3
import subprocess
import sys

from app.core.history import HistoryStore
from app.core.paths import user_data_dir
from tests.history_child import THUMB, sample_result
from tests.test_history_faults import CHILD_ENV, REPO
from tests.ui.conftest import make_folder, wait_batch_done, wait_result


def _seed(n: int = 2) -> list:
    with HistoryStore(user_data_dir() / "history.db") as s:
        for i in range(n):
            s.add(sample_result(i), THUMB)
        return [(e.id, e.path, e.sha256) for e in s.search()]


def _stored(win) -> list:
    return [(e.id, e.path, e.sha256) for e in win.history.search()]


def _sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_locked_by_another_process(qtbot, make_window, face_file):
    before = _seed()
    win = make_window()
    other = subprocess.Popen(
        [sys.executable, "-m", "tests.history_child", "hold-lock",
         str(user_data_dir() / "history.db")],
        cwd=REPO, env=CHILD_ENV, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert other.stdout.readline().strip() == "held"
        win.open_paths([str(face_file)])
        result = wait_result(qtbot, win, timeout=60_000)
        assert result.status == "ok" and len(result.faces) == 1  # the analysis is shown
        message = win.statusBar().currentMessage()
        assert "Finished portrait.png. Not saved:" in message
        assert "locked by another program" in message
        other.communicate("go\n", timeout=30)
    finally:
        if other.poll() is None:
            other.kill()
            other.wait()
    assert _stored(win) == before  # nothing lost, nothing half-written


def test_disk_full_during_a_batch(qtbot, make_window, tmp_path, face_rgb, no_face):
    before = _seed()
    win = make_window()
    conn = win.history.conn  # SQLite's own page limit: every new page fails with SQLITE_FULL
    conn.execute(f"PRAGMA max_page_count = {conn.execute('PRAGMA page_count').fetchone()[0]}")
    win.start_batch([str(make_folder(tmp_path / "photos", face_rgb, no_face, n_faces=3))])
    wait_batch_done(qtbot, win)
    items = win.gallery.visible_items()
    assert len(items) == 5 and all(i.history_id is None for i in items)
    assert sum(1 for i in items if i.result.status == "ok") == 3  # every result is shown
    message = win.statusBar().currentMessage()
    assert message.startswith("Batch finished. Not saved: The disk is full")
    assert "rest of this batch is not saved" in message
    assert _stored(win) == before


def test_garbage_in_place_of_the_history(qtbot, make_window, face_file):
    db = user_data_dir() / "history.db"
    db.write_bytes(b"\x00\x01 this is not a database " * 400)
    digest = _sha(db)
    win = make_window()
    assert win.history is None
    hv = win.history_view
    assert "History is unavailable" in hv.info.text() and "damaged" in hv.info.text()
    assert not hv.reset_button.isHidden()  # offers to start a new one; never does it alone
    win.open_paths([str(face_file)])
    assert wait_result(qtbot, win).status == "ok"  # analysis works without a history
    assert _sha(db) == digest

    win.reset_history()  # the user's choice: the damaged file is kept beside the new one
    (kept,) = db.parent.glob("history.db.unreadable-*")
    assert _sha(kept) == digest
    assert win.history is not None and "kept as" in win.statusBar().currentMessage()
    win.open_paths([str(face_file)])
    wait_result(qtbot, win)
    assert win.history.count() == 1


def test_history_from_a_newer_version(qtbot, make_window, face_file):
    db = user_data_dir() / "history.db"
    _seed()
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA user_version = 99")
    conn.commit()
    conn.close()
    digest = _sha(db)
    win = make_window()
    assert win.history is None and "newer version" in win.history_view.info.text()
    win.open_paths([str(face_file)])
    assert wait_result(qtbot, win).status == "ok"
    assert _sha(db) == digest


def test_read_only_history_is_browsable(qtbot, make_window, face_file, monkeypatch):
    """The folder's permission check is forced here (a real read-only mount needs a mount
    namespace: tests/test_history_faults.py); SQLite then really opens the file read-only."""
    before = _seed(3)
    monkeypatch.setattr(HistoryStore, "_writable_here", lambda self: False)
    win = make_window()
    assert win.history.read_only
    win.tabs.setCurrentWidget(win.history_view)
    assert win.history_view.model.rowCount() == 3
    assert win.history_view.info.text().startswith("Read-only:")
    win.open_paths([str(face_file)])
    assert wait_result(qtbot, win).status == "ok"
    assert "read-only" in win.statusBar().currentMessage()
    assert _stored(win) == before
