"""History storage faults with real processes and real file systems: a full disk (a small tmpfs,
and a file-size limit), a read-only folder, a lock held by another process, garbage in place of
the database, a database from a newer version, and the rule that the same analysis is not stored
twice. Each gives a typed error with a plain message and leaves what was stored intact."""

from __future__ import annotations

import hashlib
import json
import os
import resource
import shutil
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from app.core.history import (
    HistoryCorruptError,
    HistoryLockedError,
    HistoryStore,
    HistoryTooNewError,
)
from app.core.results import AnalysisResult, Status
from tests.history_child import THUMB, sample_result

REPO = Path(__file__).resolve().parents[1]
CHILD_ENV = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")


def _child(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tests.history_child", *args], cwd=REPO,
                          env=CHILD_ENV, capture_output=True, text=True, timeout=120, **kwargs)


def _history(path: Path, n: int) -> list[tuple]:
    """A database with `n` stored analyses, closed cleanly; returns its rows."""
    with HistoryStore(path) as s:
        for i in range(n):
            s.add(sample_result(i), THUMB)
    return _rows(path)


def _rows(path: Path) -> list[tuple]:
    # Read-write, though only reading: a read-only connection would leave -wal/-shm behind.
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        return conn.execute("SELECT id, path, sha256, p_fake, thumbnail FROM analyses "
                            "ORDER BY id").fetchall()
    finally:
        conn.close()


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _can_use_namespaces() -> bool:
    """A private mount namespace (unshare -Urm) lets a test mount a tmpfs or a read-only bind
    without root; some containers and CI runners forbid it."""
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(["unshare", "-Urm", "sh", "-c", "mount -t tmpfs tmpfs /mnt"],
                           capture_output=True, timeout=30)
    return probe.returncode == 0


needs_namespaces = pytest.mark.skipif(not sys.platform.startswith("linux")
                                      or not _can_use_namespaces(),
                                      reason="needs unshare -Urm (mount namespaces)")


def _in_namespace(script: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["unshare", "-Urm", "sh", "-c", script, "sh", *args], cwd=REPO,
                          env=CHILD_ENV, capture_output=True, text=True, timeout=180)


# -- the same analysis twice -----------------------------------------------------------------------


def test_the_same_analysis_is_stored_once(tmp_path):
    with HistoryStore(tmp_path / "h.db") as s:
        first = s.add(sample_result(1), THUMB)
        s.set_notes(first, "from source A")
        assert s.add(sample_result(1), THUMB) == first  # e.g. a batch run again after a crash
        assert s.count() == 1 and s.get(first).notes == "from source A"
        moved = sample_result(1)
        moved.path = "/elsewhere/p00001.jpg"  # the same picture under another name: its own row
        edited = sample_result(1)
        edited.sha256 = "f" * 64  # the file changed since
        other_model = sample_result(1)
        other_model.model = "model-v2"
        ids = {s.add(r) for r in (moved, edited, other_model)}
        assert len(ids) == 3 and first not in ids and s.count() == 4


def test_an_unreadable_file_is_recorded_once(tmp_path):
    bad = AnalysisResult(path="/p/broken.jpg", status=Status.ERROR, error="damaged file",
                         analysed_at="2026-01-01T00:00:00+00:00")
    with HistoryStore(tmp_path / "h.db") as s:
        assert s.add(bad) == s.add(bad) and s.count() == 1


# -- disk full -------------------------------------------------------------------------------------


@needs_namespaces
def test_disk_full_on_a_small_tmpfs_keeps_what_was_stored(tmp_path):
    before = _history(tmp_path / "seed.db", 10)
    out = tmp_path / "after"
    out.mkdir()
    # A 1 MB file system holding the history and a filler that leaves it ~64 KB: a few more
    # records fit, then the disk is really full (ENOSPC from the kernel).
    script = """
        set -e
        mnt=$(mktemp -d); mount -t tmpfs -o size=1m tmpfs "$mnt"
        cp "$1" "$mnt/history.db"
        dd if=/dev/zero of="$mnt/filler" bs=4k 2>/dev/null || true
        truncate -s -64K "$mnt/filler"
        python -m tests.history_child fill "$mnt/history.db"
        cp "$mnt"/history.db* "$2"/
    """.replace("python", sys.executable)
    done = _in_namespace(script, str(tmp_path / "seed.db"), str(out))
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["error"] == "HistoryDiskFullError", report
    assert "disk is full" in report["message"] and "saved before is kept" in report["message"]
    assert report["count_consistent"]
    after = _rows(out / "history.db")  # integrity_check inside
    assert after[: len(before)] == before  # nothing stored before was lost or changed
    assert len(after) == len(before) + report["added"]


def test_file_size_limit_stops_writing_with_a_plain_message(tmp_path):
    db = tmp_path / "h.db"
    before = _history(db, 10)
    limit = db.stat().st_size + 64 * 1024

    def limit_file_size() -> None:
        # Without this the kernel kills the process (SIGXFSZ) instead of failing the write.
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    done = _child("fill", str(db), preexec_fn=limit_file_size)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["error"] in ("HistoryAccessError", "HistoryDiskFullError"), report
    assert "could not be" in report["message"] and str(db) in report["message"]
    assert report["count_consistent"] and report["added"] >= 1
    after = _rows(db)
    assert after[: len(before)] == before and len(after) == len(before) + report["added"]
    with HistoryStore(db) as s:  # without the limit, writing works again
        s.add(sample_result(50_000))


# -- read-only folder ------------------------------------------------------------------------------


def _probe_read_only(folder: Path) -> dict:
    """Open and try to write the history in `folder` made read-only for the probe process."""
    db = str(folder / "history.db")
    if os.geteuid() != 0:
        folder.chmod(0o555)
        try:
            done = _child("probe", db)
        finally:
            folder.chmod(0o755)
    elif _can_use_namespaces():  # root ignores permissions: a read-only mount stops it too
        done = _in_namespace('mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" && '
                             f'{sys.executable} -m tests.history_child probe "$2"', str(folder), db)
    else:
        pytest.skip("running as root without mount namespaces: no way to make a folder read-only")
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_read_only_folder_opens_the_history_for_reading(tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    before = _history(folder / "history.db", 3)
    digest = _sha(folder / "history.db")
    report = _probe_read_only(folder)
    assert report["read_only"] is True and report["count"] == 3
    assert sorted(report["names"]) == ["p00000.jpg", "p00001.jpg", "p00002.jpg"]
    assert report["add_error"] == "HistoryAccessError" and "read-only" in report["message"]
    assert sorted(p.name for p in folder.iterdir()) == ["history.db"]  # no -wal/-shm made
    assert _sha(folder / "history.db") == digest and _rows(folder / "history.db") == before


def test_read_only_folder_without_a_history_says_so(tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    report = _probe_read_only(folder)
    assert report["open_error"] == "HistoryAccessError" and "read-only" in report["message"]


def test_read_only_folder_with_a_newer_history_is_refused(tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    _history(folder / "history.db", 1)
    conn = sqlite3.connect(folder / "history.db")
    conn.execute("ALTER TABLE analyses RENAME TO analyses_v99")  # a newer app's layout
    conn.execute("PRAGMA user_version = 99")
    conn.commit()
    conn.close()
    report = _probe_read_only(folder)
    assert report["open_error"] == "HistoryTooNewError" and "untouched" in report["message"]


# -- locked by another process ---------------------------------------------------------------------


def test_locked_by_another_process_then_free_again(tmp_path):
    db = tmp_path / "h.db"
    before = _history(db, 3)
    other = subprocess.Popen([sys.executable, "-m", "tests.history_child", "hold-lock", str(db)],
                             cwd=REPO, env=CHILD_ENV, stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)
    try:
        assert other.stdout.readline().strip() == "held"
        with HistoryStore(db, timeout=0.3) as s:
            assert s.count() == 3  # reading still works (WAL)
            with pytest.raises(HistoryLockedError, match="locked by another program"):
                s.add(sample_result(7))
            other.communicate("go\n", timeout=30)  # the other program lets go
            assert s.add(sample_result(7)) > 0
    finally:
        if other.poll() is None:
            other.kill()
            other.wait()
    assert _rows(db)[:3] == before


# -- garbage and newer versions: refused, the file left exactly as it was ------------------------


def test_garbage_in_place_of_the_database_is_never_overwritten(tmp_path):
    db = tmp_path / "history.db"
    db.write_bytes(b"PK\x03\x04 not a database, maybe a sync conflict " * 500)
    digest = _sha(db)
    for _ in range(2):  # opening again does not change anything either
        with pytest.raises(HistoryCorruptError, match="damaged") as info:
            HistoryStore(db)
        assert str(db) in str(info.value)
    assert _sha(db) == digest
    assert sorted(p.name for p in tmp_path.iterdir()) == ["history.db"]


def test_database_from_a_newer_version_is_left_untouched(tmp_path):
    db = tmp_path / "history.db"
    _history(db, 2)
    conn = sqlite3.connect(db)
    conn.execute("ALTER TABLE analyses ADD COLUMN from_the_future TEXT")
    conn.execute("PRAGMA user_version = 99")
    conn.commit()
    conn.close()
    digest = _sha(db)
    with pytest.raises(HistoryTooNewError, match="newer version") as info:
        HistoryStore(db)
    assert "untouched" in str(info.value) and "schema 99" in str(info.value)
    assert _sha(db) == digest
