"""SIGKILL in the middle of a batch, with the real desktop app (`python main.py FOLDER`, offscreen),
then a restart: the history opens, every row committed before the kill is there unchanged, and
running the same batch again adds only what is missing (no duplicate rows)."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from app.core.history import HistoryStore
from benchmarks.soak_photos import make_photos

REPO = Path(__file__).resolve().parents[1]
N_PHOTOS = 40
KILL_AFTER = 5  # rows committed before the kill
TIMEOUT_S = 300


def _start_app(folder: Path, card: Path, data: Path) -> subprocess.Popen:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", DFI_DATA_DIR=str(data),
               PYTHONDONTWRITEBYTECODE="1")
    return subprocess.Popen(
        [sys.executable, "main.py", str(folder), "--weights", str(card), "--allow-untrained"],
        cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _committed(db: Path) -> list[tuple]:
    """What another process sees as committed right now (read-only; [] before the table)."""
    if not db.exists():
        return []
    conn = sqlite3.connect(f"{db.absolute().as_uri()}?mode=ro", uri=True, timeout=5)
    try:
        return conn.execute("SELECT id, path, sha256, status, p_fake, faces, thumbnail "
                            "FROM analyses ORDER BY id").fetchall()
    except sqlite3.OperationalError:  # the app has not created the table yet
        return []
    finally:
        conn.close()


def _wait_rows(app: subprocess.Popen, db: Path, until) -> list[tuple]:
    deadline = time.monotonic() + TIMEOUT_S
    while time.monotonic() < deadline:
        rows = _committed(db)
        if until(rows):
            return rows
        if app.poll() is not None:
            pytest.fail(f"the app exited early ({app.returncode}): "
                        f"{app.stderr.read().decode()[-3000:]}")
        time.sleep(0.05)
    app.kill()
    pytest.fail(f"timed out waiting for history rows (have {len(_committed(db))})")


def _kill(app: subprocess.Popen) -> None:
    app.send_signal(signal.SIGKILL)
    app.wait(timeout=30)
    app.stderr.close()


def _duplicates(db: Path) -> list[tuple]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute("SELECT path, sha256, COUNT(*) FROM analyses GROUP BY path, sha256 "
                            "HAVING COUNT(*) > 1").fetchall()
    finally:
        conn.close()


@pytest.mark.slow
def test_sigkill_mid_batch_then_restart_keeps_history_whole(tmp_path, untrained_card):
    photos = make_photos(tmp_path / "photos", N_PHOTOS, seed=11)
    data = tmp_path / "data"
    db = data / "history.db"

    app = _start_app(tmp_path / "photos", untrained_card, data)
    try:
        seen = _wait_rows(app, db, lambda rows: len(rows) >= KILL_AFTER)
    finally:
        _kill(app)
    assert app.returncode == -signal.SIGKILL
    assert len(seen) < N_PHOTOS, "the batch finished before the kill: nothing was tested"

    # Restart: the history opens (WAL recovery), is consistent, and keeps every committed row.
    with HistoryStore(db) as store:
        assert store.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        after_crash = _committed(db)
        assert after_crash[: len(seen)] == seen
        assert store.count() == len(after_crash) < N_PHOTOS
    assert _duplicates(db) == []

    # The user runs the same batch again: each photo ends up in the history exactly once, and
    # the rows from before the crash keep their ids (notes and tags stay attached to them).
    app = _start_app(tmp_path / "photos", untrained_card, data)
    last = str(photos[-1])  # the batch stores in input order: the last one means it is done
    try:
        _wait_rows(app, db, lambda rows: any(r[1] == last for r in rows))
        time.sleep(0.5)
    finally:
        _kill(app)
    final = _committed(db)
    assert sorted(r[1] for r in final) == sorted(str(p) for p in photos)
    assert final[: len(after_crash)] == after_crash
    assert _duplicates(db) == []
    with HistoryStore(db) as store:
        assert store.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert store.count() == N_PHOTOS


@pytest.mark.slow
@pytest.mark.skipif(not (REPO / "weights" / "detector.json").exists(),
                    reason="the CLI refuses untrained models: needs the shipped detector")
def test_sigkill_of_the_cli_leaves_complete_json_lines(tmp_path):
    """The CLI stores nothing; what it printed before the kill is usable: every line that ended
    is one whole JSON record, in input order."""
    photos = make_photos(tmp_path / "photos", 30, seed=12)
    env = dict(os.environ, DFI_DATA_DIR=str(tmp_path / "data"), PYTHONDONTWRITEBYTECODE="1")
    cli = subprocess.Popen(
        [sys.executable, "-m", "app", "analyze", "--no-heatmap", "--quiet",
         str(tmp_path / "photos")],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        got = b""
        while got.count(b"\n") < 3:
            chunk = cli.stdout.read1(65536)
            assert chunk, "the CLI ended before printing 3 lines"
            got += chunk
    finally:
        cli.send_signal(signal.SIGKILL)
        got += cli.stdout.read()
        cli.wait(timeout=30)
        cli.stdout.close()
    lines = got.split(b"\n")[:-1]  # the text after the last newline may be cut off
    records = [json.loads(line) for line in lines]
    assert 3 <= len(records) < len(photos)
    assert [r["path"] for r in records] == [str(p) for p in photos[: len(records)]]
