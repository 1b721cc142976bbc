"""Every analysis, kept in a SQLite file in the per-user data dir (pure sqlite3, no Qt).

Schema version lives in `PRAGMA user_version`; MIGRATIONS is an ordered list applied in one
transaction after a backup copy. A database written by a newer app is refused, and the failures a
user can do something about (disk full, locked by another program, damaged file) come back as
typed errors with plain messages; anything else is a bug and propagates. In a folder the app
cannot write, an existing history opens read-only. The same analysis is never stored twice (see
`HistoryStore.add`). What was tried, and the tests: docs/RELIABILITY.md.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path

import numpy as np

from app.core.history_errors import (  # noqa: F401 - re-exported: callers import them from here
    HistoryAccessError,
    HistoryCorruptError,
    HistoryDiskFullError,
    HistoryError,
    HistoryLockedError,
    HistoryTooNewError,
    _readonly_msg,
    _too_new_msg,
    _translate,
)
from app.core.history_records import (  # noqa: F401 - HistoryEntry re-exported
    HistoryEntry,
    day_bound,
    entry_from_row,
    json_list,
    norm_tags,
    utc_iso,
)
from app.core.results import AnalysisResult, Status, Verdict

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

# The record a repeated analysis would duplicate (`IS` so that NULL matches NULL).
_SAME_RECORD = ("SELECT id FROM analyses WHERE sha256 IS ? AND path IS ? AND file_name = ? AND "
                "model IS ? AND status = ? AND error IS ? ORDER BY id LIMIT 1")


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


class HistoryStore:
    """The history database. Thread-safe: one connection behind a lock (the UI reads while the
    analysis worker writes)."""

    def __init__(self, path: str | Path | None = None, *, timeout: float = 2.0) -> None:
        """Open (creating or migrating) the database; `timeout`: seconds to wait for a lock.

        In a folder the app cannot write (a read-only disk, a locked-down account), an existing
        history opens read-only (`read_only` is True): it can be browsed, and every write raises
        HistoryAccessError saying why."""
        if path is None:
            from app.core.paths import user_data_dir

            path = user_data_dir() / DB_NAME
        self.path = Path(path)
        self.read_only = False
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        with self._guard():
            existed = self.path.exists() and self.path.stat().st_size > 0
            if not self._writable_here():
                if not existed:
                    raise HistoryAccessError(_readonly_msg(self.path))
                self._open_read_only(timeout)
                return
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(
                self.path, timeout=timeout, isolation_level=None, check_same_thread=False
            )
            self._conn.row_factory = sqlite3.Row
            try:
                self._open(existed)
            except BaseException:
                self.close()
                raise

    def _writable_here(self) -> bool:
        """Whether the folder (for -wal/-shm) and the file can be written; access() also sees a
        read-only mount, even for root."""
        folder = self.path.parent
        if not folder.exists():
            return True  # created below; a failure there is reported as it happens
        if not os.access(folder, os.W_OK | os.X_OK):
            return False
        return not self.path.exists() or os.access(self.path, os.W_OK)

    def _open_read_only(self, timeout: float) -> None:
        """Browse-only: `mode=ro` reads a WAL database whose -wal/-shm files exist; `immutable`
        reads one closed cleanly (no -wal) in a folder where SQLite cannot create them."""
        uri = self.path.absolute().as_uri()
        error: Exception = HistoryAccessError(_readonly_msg(self.path))
        for options in ("mode=ro", "mode=ro&immutable=1"):
            conn = sqlite3.connect(f"{uri}?{options}", uri=True, timeout=timeout,
                                   isolation_level=None, check_same_thread=False)
            try:
                version = conn.execute("PRAGMA user_version").fetchone()[0]
                if version == SCHEMA_VERSION:
                    conn.execute("SELECT COUNT(*) FROM analyses").fetchone()
            except sqlite3.Error as exc:
                conn.close()
                error = exc
                continue
            if version != SCHEMA_VERSION:
                conn.close()
                if version > SCHEMA_VERSION:
                    raise HistoryTooNewError(_too_new_msg(self.path, version, SCHEMA_VERSION))
                raise HistoryAccessError(
                    f"{_readonly_msg(self.path)} The history was written by an older version "
                    "and cannot be upgraded while it is read-only.")
            conn.row_factory = sqlite3.Row
            self._conn, self.read_only = conn, True
            return
        raise error

    def _open(self, existed: bool) -> None:
        version = self.conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise HistoryTooNewError(_too_new_msg(self.path, version, SCHEMA_VERSION))
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
        with self._transaction() as conn:
            for step in MIGRATIONS[version:]:
                for statement in (s.strip() for s in step.split(";")):
                    if statement:
                        conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE ... COMMIT, rolled back on any failure. SQLite may already have rolled
        back itself (disk full, I/O error); then only the original error is raised."""
        if self.read_only:
            raise HistoryAccessError(_readonly_msg(self.path))
        conn = self.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                try:
                    conn.execute("ROLLBACK")
                except sqlite3.Error:
                    pass  # the connection is broken anyway: report the first error
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
        """Store one analysis; returns its id. The same file (path and SHA-256) analysed again
        by the same model with the same outcome is not stored twice: its existing record's id
        is returned, with its notes, tags and first date (see docs/RELIABILITY.md: a batch run
        again after a crash adds only what is missing)."""
        name = file_name or (Path(result.path).name if result.path else "(pasted image)")
        row = (
            result.path, name, result.sha256, utc_iso(result.analysed_at), result.model,
            str(result.status), verdict_key(result), result.p_fake, result.error,
            result.image_size[0] if result.image_size else None,
            result.image_size[1] if result.image_size else None,
            json.dumps([f.to_dict() for f in result.faces]), json.dumps(list(result.warnings)),
            thumbnail, json_list(result.metadata), json_list(result.quality),
        )
        same = (result.sha256, result.path, name, result.model, str(result.status), result.error)
        with self._guard(), self._transaction() as conn:
            found = conn.execute(_SAME_RECORD, same).fetchone()
            if found is not None:
                return int(found[0])
            cur = conn.execute(
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
                              (norm_tags(tags), entry_id))

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
        return entry_from_row(row) if row else None

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
            args.append(day_bound(since, end=False))
        if until is not None:  # a calendar day includes all of it; a datetime is exact
            where.append("analysed_at <= ?" if isinstance(until, datetime) else "analysed_at < ?")
            args.append(day_bound(until, end=True))
        sql = (f"SELECT * FROM analyses WHERE {' AND '.join(where)} "
               "ORDER BY analysed_at DESC, id DESC LIMIT ?")
        with self._guard():
            rows = self.conn.execute(sql, [*args, int(limit)]).fetchall()
        return [entry_from_row(r) for r in rows]


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
