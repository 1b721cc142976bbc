"""Every analysis, kept in a SQLite file in the per-user data dir (pure sqlite3, no Qt).

Schema version lives in `PRAGMA user_version`; MIGRATIONS is an ordered list applied in one
transaction after a backup copy. A database written by a newer app is refused, and the failures a
user can do something about (disk full, locked by another program, damaged file) come back as
typed errors with plain messages; anything else is a bug and propagates.
"""

from __future__ import annotations

import io
import json
import shutil
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import numpy as np

from app.core.history_errors import (  # noqa: F401 - re-exported: callers import them from here
    HistoryAccessError,
    HistoryCorruptError,
    HistoryDiskFullError,
    HistoryError,
    HistoryLockedError,
    HistoryTooNewError,
    _translate,
)
from app.core.results import AnalysisResult, FaceResult, Status, Verdict

DB_NAME = "history.db"
THUMB_SIDE = 160

# Index i upgrades schema version i to i + 1. Append only; never edit a shipped step.
MIGRATIONS: list[str] = [
    """
    CREATE TABLE analyses (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        path TEXT,
        file_name TEXT NOT NULL DEFAULT '',
        sha256 TEXT,
        analysed_at TEXT NOT NULL,
        model TEXT,
        status TEXT NOT NULL,
        verdict TEXT,
        p_fake REAL,
        error TEXT,
        image_w INTEGER,
        image_h INTEGER,
        faces TEXT NOT NULL DEFAULT '[]',
        warnings TEXT NOT NULL DEFAULT '[]',
        thumbnail BLOB
    );
    CREATE INDEX analyses_time ON analyses (analysed_at);
    CREATE INDEX analyses_sha ON analyses (sha256);
    """,
    """
    ALTER TABLE analyses ADD COLUMN notes TEXT NOT NULL DEFAULT '';
    ALTER TABLE analyses ADD COLUMN tags TEXT NOT NULL DEFAULT '';
    """,
    # Provenance/metadata findings and input-quality warnings (JSON lists of dicts), so a record
    # reopened without its file still shows its case file.
    """
    ALTER TABLE analyses ADD COLUMN metadata TEXT NOT NULL DEFAULT '[]';
    ALTER TABLE analyses ADD COLUMN quality TEXT NOT NULL DEFAULT '[]';
    """,
]
SCHEMA_VERSION = len(MIGRATIONS)


@dataclass
class HistoryEntry:
    """One stored analysis (heatmaps are not stored; reopen recomputes them)."""

    id: int
    path: str | None
    file_name: str
    sha256: str | None
    analysed_at: str
    model: str | None
    status: str
    verdict: str | None
    p_fake: float | None
    error: str | None
    image_size: tuple[int, int] | None
    faces: list[dict] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    notes: str = ""
    tags: str = ""
    metadata: list[dict] = field(default_factory=list)
    quality: list[dict] = field(default_factory=list)
    thumbnail: bytes | None = field(default=None, repr=False)

    def to_result(self) -> AnalysisResult:
        """The stored record as an AnalysisResult (no heatmaps, no timings)."""
        faces = [
            FaceResult(
                box=tuple(f["box"]), det_score=f.get("det_score", 0.0),
                landmarks=[tuple(p) for p in f["landmarks"]] if f.get("landmarks") else None,
                p_fake=f.get("p_fake"), verdict=Verdict(f["verdict"]) if f.get("verdict") else None,
                warnings=list(f.get("warnings", [])),
            )
            for f in self.faces
        ]
        status = Status(self.status)
        verdict = Verdict(self.verdict) if self.verdict and self.verdict != "error" else None
        return AnalysisResult(
            path=self.path, status=status, error=self.error, p_fake=self.p_fake, verdict=verdict,
            faces=faces, sha256=self.sha256, model=self.model, image_size=self.image_size,
            warnings=list(self.warnings), analysed_at=self.analysed_at,
            metadata=[dict(m) for m in self.metadata], quality=[dict(q) for q in self.quality],
        )


def verdict_key(result: AnalysisResult) -> str:
    """The one word a record is filed under: fake, real, uncertain, no face or error."""
    return "error" if result.status == Status.ERROR else str(result.verdict or Verdict.NO_FACE)


def make_thumbnail(rgb: np.ndarray, side: int = THUMB_SIDE, quality: int = 80) -> bytes:
    """A small JPEG (longest side `side` px) of an RGB uint8 image."""
    from PIL import Image

    im = Image.fromarray(np.ascontiguousarray(rgb[..., :3]))
    im.thumbnail((side, side), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    im.save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def _utc_iso(value: str | None) -> str:
    """Normalise to 'YYYY-MM-DDTHH:MM:SS+00:00' so text comparison orders by time."""
    dt = datetime.fromisoformat(value) if value else datetime.now(UTC)
    dt = dt if dt.tzinfo else dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC).isoformat(timespec="seconds")


def _day_bound(day: date | datetime, end: bool) -> str:
    """A local calendar day's start (or the next day's start, for an inclusive end) in UTC."""
    if isinstance(day, datetime):
        dt = day if day.tzinfo else day.astimezone()
    else:
        dt = datetime.combine(day + timedelta(days=1) if end else day, time()).astimezone()
    return dt.astimezone(UTC).isoformat(timespec="seconds")


def _norm_tags(tags: str | Iterable[str]) -> str:
    items = (t.strip() for t in (tags.split(",") if isinstance(tags, str) else tags))
    return ", ".join(dict.fromkeys(t for t in items if t))  # trimmed, de-duplicated, in order


class HistoryStore:
    """The history database. Thread-safe: one connection behind a lock (the UI reads while the
    analysis worker writes)."""

    def __init__(self, path: str | Path | None = None, *, timeout: float = 2.0) -> None:
        """Open (creating or migrating) the database; `timeout`: seconds to wait for a lock."""
        if path is None:
            from app.core.paths import user_data_dir

            path = user_data_dir() / DB_NAME
        self.path = Path(path)
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        with self._guard():
            self.path.parent.mkdir(parents=True, exist_ok=True)
            existed = self.path.exists() and self.path.stat().st_size > 0
            self._conn = sqlite3.connect(
                self.path, timeout=timeout, isolation_level=None, check_same_thread=False
            )
            self._conn.row_factory = sqlite3.Row
            try:
                self._open(existed)
            except BaseException:
                self.close()
                raise

    def _open(self, existed: bool) -> None:
        version = self.conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise HistoryTooNewError(
                f"The history database was written by a newer version of Deepfake Inspector "
                f"(schema {version}; this version reads up to {SCHEMA_VERSION}). Update the "
                f"app, or move {self.path} away to start a new history."
            )
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        if version < SCHEMA_VERSION:
            if existed:
                self._backup(version)
            self._migrate(version)

    # -- plumbing --------------------------------------------------------------------------------

    @contextmanager
    def _guard(self) -> Iterator[None]:
        with self._lock:
            try:
                yield
            except HistoryError:
                raise
            except (sqlite3.Error, OSError) as exc:
                typed = _translate(exc, self.path)
                if typed is None:
                    raise
                raise typed from exc

    @property
    def conn(self) -> sqlite3.Connection:
        if self._conn is None:
            raise HistoryAccessError("The history database is closed.")
        return self._conn

    def _backup(self, version: int) -> Path:
        """Copy the database (through SQLite, so WAL contents are included) before migrating."""
        dest = self.path.with_name(f"{self.path.name}.v{version}.bak")
        target = sqlite3.connect(dest)
        try:
            self.conn.backup(target)
        finally:
            target.close()
        return dest

    def _migrate(self, version: int) -> None:
        conn = self.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            for step in MIGRATIONS[version:]:
                for statement in (s.strip() for s in step.split(";")):
                    if statement:
                        conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    @property
    def schema_version(self) -> int:
        with self._guard():
            return int(self.conn.execute("PRAGMA user_version").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def __enter__(self) -> HistoryStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- writing ---------------------------------------------------------------------------------

    def add(self, result: AnalysisResult, thumbnail: bytes | None = None, *,
            file_name: str | None = None) -> int:
        """Store one analysis; returns its id."""
        name = file_name or (Path(result.path).name if result.path else "(pasted image)")
        row = (
            result.path, name, result.sha256, _utc_iso(result.analysed_at), result.model,
            str(result.status), verdict_key(result), result.p_fake, result.error,
            result.image_size[0] if result.image_size else None,
            result.image_size[1] if result.image_size else None,
            json.dumps([f.to_dict() for f in result.faces]), json.dumps(list(result.warnings)),
            thumbnail, _json_list(result.metadata), _json_list(result.quality),
        )
        with self._guard():
            cur = self.conn.execute(
                "INSERT INTO analyses (path, file_name, sha256, analysed_at, model, status, "
                "verdict, p_fake, error, image_w, image_h, faces, warnings, thumbnail, metadata, "
                "quality) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                row,
            )
            return int(cur.lastrowid)

    def set_notes(self, entry_id: int, notes: str) -> None:
        with self._guard():
            self.conn.execute("UPDATE analyses SET notes = ? WHERE id = ?", (notes or "", entry_id))

    def set_tags(self, entry_id: int, tags: str | Iterable[str]) -> None:
        """Tags are kept as one comma-separated text ('source-x, election')."""
        with self._guard():
            self.conn.execute("UPDATE analyses SET tags = ? WHERE id = ?",
                              (_norm_tags(tags), entry_id))

    def known_tags(self) -> list[str]:
        """Every tag in use, most used first (offered for completion)."""
        with self._guard():
            rows = self.conn.execute("SELECT tags FROM analyses WHERE tags != ''").fetchall()
        counts: dict[str, int] = {}
        for (text,) in rows:
            for tag in text.split(","):
                if tag.strip():
                    counts[tag.strip()] = counts.get(tag.strip(), 0) + 1
        return sorted(counts, key=lambda t: (-counts[t], t.casefold()))

    def delete(self, entry_id: int) -> None:
        with self._guard():
            self.conn.execute("DELETE FROM analyses WHERE id = ?", (entry_id,))

    def clear(self) -> None:
        """Delete every entry and give the space back to the disk."""
        with self._guard():
            self.conn.execute("DELETE FROM analyses")
            self.conn.execute("VACUUM")

    # -- reading ---------------------------------------------------------------------------------

    def get(self, entry_id: int) -> HistoryEntry | None:
        with self._guard():
            row = self.conn.execute("SELECT * FROM analyses WHERE id = ?", (entry_id,)).fetchone()
        return _entry(row) if row else None

    def count(self) -> int:
        with self._guard():
            return int(self.conn.execute("SELECT COUNT(*) FROM analyses").fetchone()[0])

    def search(self, text: str = "", *, verdict: str | None = None,
               since: date | datetime | None = None, until: date | datetime | None = None,
               limit: int = 1000) -> list[HistoryEntry]:
        """Newest first. `text` matches file name, path, notes and tags; `since`/`until` are
        inclusive local days (or exact datetimes); `verdict` is fake/real/uncertain/no face/error.
        """
        where, args = ["1"], []
        if text.strip():
            like = "%" + "".join("\\" + c if c in "\\%_" else c for c in text.strip()) + "%"
            cols = ("file_name", "path", "notes", "tags")
            where.append("(" + " OR ".join(f"{c} LIKE ? ESCAPE '\\'" for c in cols) + ")")
            args += [like] * len(cols)
        if verdict:
            where.append("verdict = ?")
            args.append(str(verdict))
        if since is not None:
            where.append("analysed_at >= ?")
            args.append(_day_bound(since, end=False))
        if until is not None:  # a calendar day includes all of it; a datetime is exact
            where.append("analysed_at <= ?" if isinstance(until, datetime) else "analysed_at < ?")
            args.append(_day_bound(until, end=True))
        sql = (f"SELECT * FROM analyses WHERE {' AND '.join(where)} "
               "ORDER BY analysed_at DESC, id DESC LIMIT ?")
        with self._guard():
            rows = self.conn.execute(sql, [*args, int(limit)]).fetchall()
        return [_entry(r) for r in rows]


def _entry(row: sqlite3.Row) -> HistoryEntry:
    w, h = row["image_w"], row["image_h"]
    return HistoryEntry(
        id=int(row["id"]), path=row["path"], file_name=row["file_name"], sha256=row["sha256"],
        analysed_at=row["analysed_at"], model=row["model"], status=row["status"],
        verdict=row["verdict"], p_fake=row["p_fake"], error=row["error"],
        image_size=(int(w), int(h)) if w and h else None,
        faces=json.loads(row["faces"] or "[]"), warnings=json.loads(row["warnings"] or "[]"),
        notes=row["notes"] or "", tags=row["tags"] or "", thumbnail=row["thumbnail"],
        metadata=json.loads(row["metadata"] or "[]"), quality=json.loads(row["quality"] or "[]"),
    )


def _json_list(items) -> str:
    """A list of plain dicts as JSON; anything odd inside (numpy scalars, bytes) as its text."""
    return json.dumps([dict(i) for i in items or []], default=str)


def move_aside(path: str | Path) -> Path:
    """Rename a damaged or too-new database out of the way (user's choice); returns the new name."""
    path = Path(path)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    dest = path.with_name(f"{path.name}.unreadable-{stamp}")
    shutil.move(str(path), dest)
    for suffix in ("-wal", "-shm"):
        side = path.with_name(path.name + suffix)
        if side.exists():
            shutil.move(str(side), dest.with_name(dest.name + suffix))
    return dest
