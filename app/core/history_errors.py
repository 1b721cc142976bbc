"""The history store's typed failures and the mapping from sqlite3/OS errors to them (no Qt)."""

from __future__ import annotations

import errno
import os
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
# Below this much free space, a failed write is taken for a full disk: SQLite reports ENOSPC as
# SQLITE_FULL only when the failing write() says so; a short write on a nearly full disk, or an
# ftruncate/mmap of the -shm file, comes back as a plain I/O error.
LOW_SPACE_BYTES = 8 * 1024 * 1024


def _translate(exc: Exception, path: Path) -> HistoryError | None:
    """Map a sqlite3/OS error to a typed HistoryError, or None for a bug (re-raise it)."""
    if isinstance(exc, OSError):
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            return HistoryDiskFullError(_FULL_MSG.format(path=path))
        if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
            return HistoryAccessError(_readonly_msg(path))
        return HistoryAccessError(f"The history file {path} cannot be written: {exc.strerror}.")
    code = getattr(exc, "sqlite_errorcode", None)
    if code is None:
        return None
    primary = code & 0xFF
    if primary == _FULL or (primary == _IOERR and _low_space(path)):
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
    if primary == _READONLY:
        return HistoryAccessError(_readonly_msg(path))
    if primary == _IOERR:
        return HistoryAccessError(
            f"The history could not be written to {path} ({exc}): the disk may be full, failing "
            "or unplugged, or the file too large for this system. What was saved before is kept."
        )
    if primary in (_CANTOPEN, _PERM):
        return HistoryAccessError(
            f"The history database {path} cannot be opened or written ({exc}). Check the disk "
            "and the folder's permissions."
        )
    return None


def _low_space(path: Path) -> bool:
    try:
        st = os.statvfs(path.parent)
    except OSError:
        return False
    return st.f_bavail * st.f_frsize < LOW_SPACE_BYTES


def _readonly_msg(path: Path) -> str:
    return (f"The history folder {path.parent} is read-only, so new analyses are not saved "
            "(the history already there can still be read). Make the folder writable, or "
            "choose another data folder with DFI_DATA_DIR.")


def _too_new_msg(path: Path, version: int, supported: int) -> str:
    return (f"The history database was written by a newer version of Deepfake Inspector (schema "
            f"{version}; this version reads up to {supported}). It is left untouched: "
            f"update the app, or move {path} away to start a new history.")


_FULL_MSG = ("The disk is full, so the history could not be saved (what was saved before is "
             "kept). Free some space. File: {path}")
