"""History store: round trip, search, notes/tags, migrations, and the typed failures."""

from __future__ import annotations

import sqlite3
import threading
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest

from app.core import history as h
from app.core.history import (
    SCHEMA_VERSION,
    HistoryCorruptError,
    HistoryDiskFullError,
    HistoryLockedError,
    HistoryStore,
    HistoryTooNewError,
    make_thumbnail,
)
from app.core.results import AnalysisResult, FaceResult, Status, Verdict


def _result(path="/photos/a.jpg", p=0.9, when=None, status=Status.OK) -> AnalysisResult:
    faces = [] if status != Status.OK else [
        FaceResult(box=(10.0, 20.0, 60.0, 80.0), det_score=0.99, p_fake=p,
                   verdict=Verdict.FAKE if p >= 0.5 else Verdict.REAL,
                   landmarks=[(1.0, 2.0)] * 5, heatmap=np.zeros((4, 4), np.float32)),
    ]
    return AnalysisResult(
        path=path, status=status, p_fake=p if faces else None,
        verdict=(faces[0].verdict if faces else (Verdict.NO_FACE if status == Status.NO_FACE
                                                 else None)),
        faces=faces, sha256="ab" * 32, model="m1", image_size=(640, 480),
        error="broken file" if status == Status.ERROR else None,
        analysed_at=(when or datetime.now(UTC)).isoformat(timespec="seconds"),
        warnings=["w1"] if faces else [],
    )


@pytest.fixture
def store(tmp_path):
    s = HistoryStore(tmp_path / "h.db")
    yield s
    s.close()


def test_default_location_is_the_user_data_dir(tmp_path):
    with HistoryStore() as s:
        assert s.path == tmp_path / "userdata" / "history.db"


def test_new_database_is_current_and_wal(store):
    assert store.schema_version == SCHEMA_VERSION == len(h.MIGRATIONS)
    assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_round_trip_keeps_boxes_scores_verdict_and_thumbnail(store):
    rgb = np.full((300, 200, 3), 128, np.uint8)
    thumb = make_thumbnail(rgb)
    assert thumb[:2] == b"\xff\xd8" and len(thumb) < 10_000
    entry_id = store.add(_result(), thumb)
    e = store.get(entry_id)
    assert (e.path, e.file_name, e.model, e.verdict, e.status) == (
        "/photos/a.jpg", "a.jpg", "m1", "fake", "ok")
    assert e.p_fake == pytest.approx(0.9) and e.thumbnail == thumb
    assert e.faces[0]["box"] == [10.0, 20.0, 60.0, 80.0] and e.faces[0]["p_fake"] == 0.9
    assert e.image_size == (640, 480) and e.warnings == ["w1"]
    r = e.to_result()
    assert r.verdict == Verdict.FAKE and r.faces[0].p_fake == pytest.approx(0.9)
    assert r.faces[0].heatmap is None and r.most_suspicious is r.faces[0]


def test_errors_and_no_face_are_filed_under_their_own_verdict(store):
    store.add(_result("/x/bad.jpg", status=Status.ERROR))
    store.add(_result("/x/cup.jpg", status=Status.NO_FACE))
    assert [e.file_name for e in store.search(verdict="error")] == ["bad.jpg"]
    assert [e.file_name for e in store.search(verdict="no face")] == ["cup.jpg"]
    assert store.search(verdict="error")[0].to_result().error == "broken file"


def test_search_by_name_notes_tags_verdict_and_dates(store):
    now = datetime.now(UTC)
    a = store.add(_result("/p/protest_crowd.jpg", 0.95, now))
    b = store.add(_result("/p/minister.png", 0.1, now - timedelta(days=3)))
    c = store.add(_result("/p/old.png", 0.5, now - timedelta(days=40)))
    store.set_notes(b, "Sent by source X on Signal")
    store.set_tags(c, ["election", " fact-check ", "election"])
    assert store.get(c).tags == "election, fact-check"
    assert [e.id for e in store.search("crowd")] == [a]
    assert [e.id for e in store.search("SOURCE x")] == [b]  # notes, case-insensitive
    assert [e.id for e in store.search("fact-check")] == [c]  # tags
    assert [e.id for e in store.search("100%")] == []  # LIKE wildcards are literal
    assert [e.id for e in store.search(verdict="real")] == [b]
    assert [e.id for e in store.search()] == [a, b, c]  # newest first
    today = date.today()
    assert {e.id for e in store.search(since=today - timedelta(days=5))} == {a, b}
    assert {e.id for e in store.search(until=today - timedelta(days=1))} == {b, c}
    assert [e.id for e in store.search(since=today - timedelta(days=5),
                                       until=today - timedelta(days=1))] == [b]


def test_delete_and_clear(store):
    ids = [store.add(_result(f"/p/{i}.jpg")) for i in range(3)]
    store.delete(ids[1])
    assert store.get(ids[1]) is None and store.count() == 2
    store.clear()
    assert store.count() == 0 and store.search() == []


def test_history_survives_reopening(tmp_path):
    with HistoryStore(tmp_path / "h.db") as s:
        entry_id = s.add(_result())
    with HistoryStore(tmp_path / "h.db") as s:
        assert s.get(entry_id).file_name == "a.jpg"


def test_migrates_version_1_after_a_backup(tmp_path):
    path = tmp_path / "h.db"
    conn = sqlite3.connect(path)
    conn.executescript(h.MIGRATIONS[0])
    conn.execute("INSERT INTO analyses (path, file_name, analysed_at, status, verdict) "
                 "VALUES ('/old.jpg', 'old.jpg', '2024-01-01T00:00:00+00:00', 'ok', 'real')")
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()
    with HistoryStore(path) as s:
        assert s.schema_version == SCHEMA_VERSION
        (e,) = s.search()
        assert (e.file_name, e.notes, e.tags) == ("old.jpg", "", "")
        s.set_notes(e.id, "checked")
    backup = tmp_path / "h.db.v1.bak"
    assert backup.exists()
    b = sqlite3.connect(backup)
    assert b.execute("PRAGMA user_version").fetchone()[0] == 1
    assert b.execute("SELECT file_name FROM analyses").fetchall() == [("old.jpg",)]
    b.close()


def test_failed_migration_rolls_back(tmp_path, monkeypatch):
    path = tmp_path / "h.db"
    HistoryStore(path).close()
    monkeypatch.setattr(h, "MIGRATIONS", [*h.MIGRATIONS, "ALTER TABLE nope ADD COLUMN x"])
    monkeypatch.setattr(h, "SCHEMA_VERSION", len(h.MIGRATIONS))
    with pytest.raises(sqlite3.OperationalError):
        HistoryStore(path)
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    conn.close()


def test_refuses_a_database_from_a_newer_app(tmp_path):
    path = tmp_path / "h.db"
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    with pytest.raises(HistoryTooNewError, match="newer version"):
        HistoryStore(path)
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 99  # untouched
    conn.close()


def test_corrupt_file_is_reported_as_corrupt(tmp_path):
    path = tmp_path / "h.db"
    path.write_bytes(b"this is not a database, just some text" * 200)
    with pytest.raises(HistoryCorruptError, match="damaged") as info:
        HistoryStore(path)
    assert str(path) in str(info.value)
    moved = h.move_aside(path)
    assert moved.exists() and not path.exists()


def test_locked_database_is_reported_as_locked(tmp_path):
    path = tmp_path / "h.db"
    with HistoryStore(path, timeout=0.1) as s:
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN EXCLUSIVE")
        try:
            with pytest.raises(HistoryLockedError, match="locked"):
                s.add(_result())
        finally:
            other.execute("ROLLBACK")
            other.close()
        s.add(_result())  # fine again once the other program lets go


def test_full_disk_is_reported_as_disk_full(store):
    pages = store.conn.execute("PRAGMA page_count").fetchone()[0]
    store.conn.execute(f"PRAGMA max_page_count = {pages + 2}")
    with pytest.raises(HistoryDiskFullError, match="disk is full"):
        store.add(_result(), b"x" * 200_000)


def test_bugs_are_not_disguised(store):
    with pytest.raises(sqlite3.OperationalError), store._guard():
        store.conn.execute("SELECT no_such_column FROM analyses")


def test_concurrent_writers_from_threads(store):
    def work(k):
        for i in range(20):
            store.add(_result(f"/t/{k}_{i}.jpg"))

    threads = [threading.Thread(target=work, args=(k,)) for k in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert store.count() == 60


METADATA = [{"category": "camera", "label": "Camera (claimed)", "value": "Canon EOS 5D",
             "meaning": "Any software can write this.", "severity": "info"}]
QUALITY = [{"code": "heavy_jpeg", "message": "Heavy JPEG compression.", "severity": "notable",
            "face": None, "value": 35.0, "makes_uncertain": False}]


def test_round_trip_keeps_metadata_and_quality(store):
    r = _result()
    r.metadata, r.quality = METADATA, QUALITY
    e = store.get(store.add(r))
    assert e.metadata == METADATA and e.quality == QUALITY
    back = e.to_result()
    assert back.metadata == METADATA and back.quality == QUALITY
    assert store.get(store.add(_result("/p/b.jpg"))).to_result().metadata == []


def _old_database(path, version: int) -> None:
    """A database as the app wrote it at schema `version`: the shipped migrations up to there."""
    conn = sqlite3.connect(path)
    for step in h.MIGRATIONS[:version]:
        conn.executescript(step)
    conn.execute("INSERT INTO analyses (path, file_name, analysed_at, status, verdict, p_fake, "
                 "faces, notes, tags) VALUES ('/old.jpg', 'old.jpg', '2024-01-01T00:00:00+00:00',"
                 " 'ok', 'fake', 0.8, '[]', 'from source A', 'election')")
    conn.execute(f"PRAGMA user_version = {version}")
    conn.commit()
    conn.close()


def test_migrates_the_previous_version_keeping_rows_notes_and_tags(tmp_path):
    previous = SCHEMA_VERSION - 1
    path = tmp_path / "h.db"
    _old_database(path, previous)
    with HistoryStore(path) as s:
        assert s.schema_version == SCHEMA_VERSION
        (e,) = s.search("source a")
        assert (e.file_name, e.verdict, e.notes, e.tags) == ("old.jpg", "fake", "from source A",
                                                              "election")
        assert e.metadata == [] and e.quality == [] and e.to_result().metadata == []
        r = _result("/new.jpg")
        r.metadata = METADATA
        assert s.get(s.add(r)).metadata == METADATA
        assert s.known_tags() == ["election"]
    assert (tmp_path / f"h.db.v{previous}.bak").exists()


def test_known_tags_most_used_first(store):
    a, b = store.add(_result("/p/a.jpg")), store.add(_result("/p/b.jpg"))
    store.set_tags(a, "zeta, source-A")
    store.set_tags(b, ["source-A"])
    assert store.known_tags() == ["source-A", "zeta"]
