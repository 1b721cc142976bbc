"""The per-user log file, shared by the window and the command line, and where to find details.

An "unexpected error" message must name the real place its details went: the window and the
CLI both log to <data dir>/logs/inspector.log; the CLI's --verbose also prints them on stderr.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterator
from logging.handlers import RotatingFileHandler
from pathlib import Path

from app.core.paths import user_data_dir

LOG_NAME = "inspector.log"
_FORMAT = "%(asctime)s %(levelname)s %(process)d %(threadName)s %(name)s: %(message)s"
# Before any set-up, Python's last-resort handler prints errors (with traceback) on stderr.
_where = "the error output (stderr)"


def log_file() -> Path:
    """<data dir>/logs/inspector.log (the folder is made if missing)."""
    folder = user_data_dir() / "logs"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / LOG_NAME


def setup_logging(level: int = logging.INFO, *, verbose: bool | None = None) -> Path | None:
    """Log to the rotated per-user file and to stderr; returns the file (None when it cannot be
    written: a read-only home must not stop the app). Calling it again changes nothing.

    `verbose=None` (the window): warnings and their tracebacks also on stderr. The CLI passes
    True (--verbose: tracebacks on stderr) or False (one line on stderr, details in the file).
    """
    global _where
    root = logging.getLogger()
    root.setLevel(level)
    ours = [h for h in root.handlers if getattr(h, "_dfi", False)]
    if ours:
        return next((Path(h.baseFilename) for h in ours if hasattr(h, "baseFilename")), None)
    path: Path | None = None
    try:
        path = log_file()
        handler = RotatingFileHandler(path, maxBytes=2_000_000, backupCount=3, encoding="utf-8")
    except OSError as exc:
        print(f"warning: no log file ({exc}); errors go to stderr only", file=sys.stderr)
    else:
        handler._dfi = True  # mark ours: set-up twice must not log twice
        handler.setFormatter(logging.Formatter(_FORMAT))
        root.addHandler(handler)
    stderr = logging.StreamHandler()
    stderr._dfi = True
    stderr.setLevel(logging.WARNING)
    if verbose is False and path is not None:  # the traceback is in the file; one line here
        stderr.setFormatter(_NoTraceback())
    root.addHandler(stderr)
    if path is None:
        _where = "the error output (stderr)"
    elif verbose is None:
        _where = str(path)
    elif verbose:
        _where = f"{path}, and printed on the error output (stderr)"
    else:
        _where = f"{path} (or run with --verbose to print them)"
    return path


class _NoTraceback(logging.Formatter):
    """One line per record on stderr: the traceback goes to the log file only."""

    def format(self, record: logging.LogRecord) -> str:
        return f"{record.levelname.lower()}: {record.getMessage()}"


def details_location() -> str:
    """Where the details of an unexpected error went, in words fit for an error message."""
    return _where


@contextlib.contextmanager
def cli_logging(verbose: bool) -> Iterator[Path | None]:
    """Logging for one command-line run: set up, then removed again (so a second run in the same
    process, such as a test, starts clean and the file is closed)."""
    global _where
    root = logging.getLogger()
    before, where, level = list(root.handlers), _where, root.level
    try:
        yield setup_logging(verbose=verbose)
    finally:
        for h in root.handlers[:]:
            if h not in before:
                root.removeHandler(h)
                h.close()
        _where = where
        root.setLevel(level)
