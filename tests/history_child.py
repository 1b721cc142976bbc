"""A second process for the history fault tests: `python -m tests.history_child ACTION DB`.

hold-lock  open DB as another program would, take an exclusive write transaction, print "held",
           and keep it until a line arrives on stdin (then roll back and exit)
fill       add records to DB until the store refuses one (disk full, size limit...); print one
           JSON line: how many were added, the error's class and message
probe      open DB, print one JSON line: read_only, count, the error opening or adding (if any)
"""

from __future__ import annotations

import json
import sqlite3
import sys
from datetime import UTC, datetime


def sample_result(i: int):
    """A plausible stored analysis (one face), distinct per `i` (its path and hash)."""
    from app.core.results import AnalysisResult, FaceResult, Status, Verdict

    face = FaceResult(box=(10.0, 20.0, 60.0, 80.0), det_score=0.99, p_fake=0.25,
                      verdict=Verdict.REAL, landmarks=[(1.0, 2.0)] * 5)
    return AnalysisResult(
        path=f"/photos/p{i:05d}.jpg", status=Status.OK, p_fake=0.25, verdict=Verdict.REAL,
        faces=[face], sha256=f"{i:064x}", model="test-model", image_size=(640, 480),
        analysed_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )


THUMB = bytes(range(256)) * 24  # 6 KB, about what a real thumbnail takes


def _hold_lock(db: str) -> None:
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("BEGIN EXCLUSIVE")
    conn.execute("UPDATE analyses SET notes = 'being edited by another program'")
    print("held", flush=True)
    sys.stdin.readline()
    conn.execute("ROLLBACK")
    conn.close()


def _fill(db: str) -> None:
    from app.core.history import HistoryError, HistoryStore

    added, error = 0, None
    with HistoryStore(db) as store:
        start = store.count()
        try:
            for i in range(start, start + 100_000):
                store.add(sample_result(i), THUMB)
                added += 1
        except HistoryError as exc:
            error = exc
        ids_ok = store.count() == start + added  # the refused record left nothing behind
    print(json.dumps({"added": added, "error": type(error).__name__, "message": str(error),
                      "count_consistent": ids_ok}), flush=True)


def _probe(db: str) -> None:
    from app.core.history import HistoryError, HistoryStore

    out: dict = {}
    try:
        store = HistoryStore(db)
    except HistoryError as exc:
        out.update(open_error=type(exc).__name__, message=str(exc))
    else:
        with store:
            out.update(read_only=store.read_only, count=store.count(),
                       names=[e.file_name for e in store.search()])
            try:
                store.add(sample_result(99_999))
            except HistoryError as exc:
                out.update(add_error=type(exc).__name__, message=str(exc))
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    action, db = sys.argv[1], sys.argv[2]
    {"hold-lock": _hold_lock, "fill": _fill, "probe": _probe}[action](db)
