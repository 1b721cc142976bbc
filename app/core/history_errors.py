"""The history store's typed failures and the mapping from sqlite3/OS errors to them (no Qt)."""

from __future__ import annotations

import errno
from pathlib import Path

from app.core.errors import InspectorError


class HistoryError(InspectorError):
    """The history store failed in a way the user can act on (`str()` says how)."""


class HistoryDiskFullError(HistoryError):
    """No space left on the disk (SQLITE_FULL / ENOSPC)."""


class HistoryLockedError(HistoryError):
    """Another program holds the database (SQLITE_BUSY / SQLITE_LOCKED)."""


class HistoryCorruptError(HistoryError):
    """The file is damaged or not a database (SQLITE_CORRUPT / SQLITE_NOTADB)."""


class HistoryTooNewError(HistoryError):
    """Written by a newer app: its schema version is above ours."""


class HistoryAccessError(HistoryError):
    """No permission, read-only medium, or the file cannot be opened at all."""


_FULL, _BUSY, _LOCKED, _CORRUPT, _NOTADB = 13, 5, 6, 11, 26
_READONLY, _IOERR, _CANTOPEN, _PERM = 8, 10, 14, 3


def _translate(exc: Exception, path: Path) -> HistoryError | None:
    """Map a sqlite3/OS error to a typed HistoryError, or None for a bug (re-raise it)."""
    if isinstance(exc, OSError):
        if exc.errno == errno.ENOSPC:
            return HistoryDiskFullError(_FULL_MSG.format(path=path))
        return HistoryAccessError(f"The history file {path} cannot be written: {exc.strerror}.")
    code = getattr(exc, "sqlite_errorcode", None)
    if code is None:
        return None
    primary = code & 0xFF
    if primary == _FULL:
        return HistoryDiskFullError(_FULL_MSG.format(path=path))
    if primary in (_BUSY, _LOCKED):
        return HistoryLockedError(
            f"The history database is locked by another program (is a second copy of the app "
            f"open?). Close it and try again. File: {path}"
        )
    if primary in (_CORRUPT, _NOTADB):
        return HistoryCorruptError(
            f"The history database is damaged and cannot be read. Move or delete {path} to start "
            "a new history (the app keeps backups beside it as *.bak)."
        )
    if primary in (_READONLY, _IOERR, _CANTOPEN, _PERM):
        return HistoryAccessError(
            f"The history database {path} cannot be opened or written ({exc}). Check the disk "
            "and the folder's permissions."
        )
    return None


_FULL_MSG = "The disk is full, so the history could not be saved. Free some space. File: {path}"
