"""User files: only regular files are read, and never without limit; folders walked safely.

Why: a named pipe (FIFO) blocks `open()` forever, and a link to /dev/zero or /dev/urandom reads
without end until the kernel kills the process. So the file type is checked before any open
(`os.stat`, which follows a link; `os.lstat` tells dangling links and loops apart), the open is
non-blocking as a second guard (the file may be swapped between the check and the open), the
opened descriptor is checked again with `fstat`, and bytes are read through a cap.
"""

from __future__ import annotations

import errno
import logging
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from app.core.errors import FileMissingError, ImageLoadError, ImageTooLargeError
from app.core.plaintext import one_line

log = logging.getLogger(__name__)

# No photo comes near this; a larger "image" is refused before anything is read.
MAX_READ_BYTES = 512 * 1024 * 1024
_CHUNK = 4 * 1024 * 1024


class SpecialFileError(ImageLoadError):
    """Not a regular file (pipe, socket, device, folder) or a broken link: never opened."""


def _kind(mode: int, what: str = "an image file") -> str | None:
    """A plain name for a non-regular file type; None for a regular file. `what`: the kind of
    file that was expected, named in the message for a folder."""
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return f"a folder, not {what}"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO), not a file"
    if stat.S_ISSOCK(mode):
        return "a socket, not a file"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device (such as /dev/zero), not a file"
    return "not a regular file"


def _one_line(path: str | os.PathLike) -> str:
    """The path for a one-line message: a newline or a direction override in a file name must
    not break the line or reorder it."""
    return one_line(os.fspath(path))


def check_regular(path: str | os.PathLike, *, what: str = "an image file") -> os.stat_result:
    """Stat `path` (following a link) and raise a plain-language ImageLoadError unless it is a
    regular file. Never opens anything, so it cannot block. `what` names the expected kind of
    file in the message for a folder ("an image file", "a video file")."""
    shown = _one_line(path)
    try:
        st = os.stat(path)
    except FileNotFoundError as exc:
        try:
            link = os.lstat(path)
        except OSError:
            raise FileMissingError(f"The file does not exist (moved or deleted?): {shown}") from exc
        if stat.S_ISLNK(link.st_mode):
            raise SpecialFileError(
                f"This is a link to something that does not exist (a dangling link), so there "
                f"is nothing to read: {shown} -> {_one_line(_target(path))}") from exc
        raise FileMissingError(f"The file does not exist (moved or deleted?): {shown}") from exc
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise SpecialFileError(
                f"This link leads to itself in a loop, so there is no file to read: {shown}"
            ) from exc
        if exc.errno == errno.EACCES:
            raise ImageLoadError(f"No permission to read the file: {shown}") from exc
        raise ImageLoadError(f"The file could not be read: {exc.strerror or exc}") from exc
    kind = _kind(st.st_mode, what)
    if kind is not None:
        raise SpecialFileError(f"This is {kind}; it was not read: {shown}")
    return st


def check_readable(path: str | os.PathLike, *, what: str = "an image file") -> os.stat_result:
    """check_regular, and the user may read the file: for readers that open the file on their
    own (FFmpeg through OpenCV), whose failure would not say why. Never opens anything."""
    st = check_regular(path, what=what)
    if not os.access(path, os.R_OK):
        raise ImageLoadError(f"No permission to read the file: {_one_line(path)}")
    return st


def regular_file_problem(path: str | os.PathLike) -> str | None:
    """Why `path` cannot be read as a regular file, in plain words; None when it can be."""
    try:
        check_regular(path)
    except ImageLoadError as exc:
        return str(exc)
    return None


def _target(path: str | os.PathLike) -> str:
    try:
        return os.readlink(path)
    except OSError:
        return "?"


def _too_large(size: float, cap: int) -> ImageTooLargeError:
    mb = 1024 * 1024  # the binary megabyte, so the stated limit reads "512 MB"
    return ImageTooLargeError(
        f"The file is {size / mb:,.0f} MB or more; files over {cap / mb:,.0f} MB are refused "
        "(no photo is that large), so it was not read.")


def open_regular(path: str | os.PathLike) -> BinaryIO:
    """A binary file object for a regular file; SpecialFileError for anything else. The open
    itself cannot block: O_NONBLOCK, then the opened file's type is checked again."""
    check_regular(path)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    flags |= getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError as exc:
        raise FileMissingError(f"The file does not exist (moved or deleted?): "
                               f"{_one_line(path)}") from exc
    except PermissionError as exc:
        raise ImageLoadError(f"No permission to read the file: {_one_line(path)}") from exc
    except OSError as exc:
        raise ImageLoadError(f"The file could not be read: {exc.strerror or exc}") from exc
    try:
        kind = _kind(os.fstat(fd).st_mode)  # swapped for a pipe or device since the check?
        if kind is not None:
            raise SpecialFileError(f"This is {kind}; it was not read: {_one_line(path)}")
        return os.fdopen(fd, "rb", buffering=0)
    except BaseException:
        os.close(fd)
        raise


def read_capped(path: str | os.PathLike, cap: int = MAX_READ_BYTES) -> bytes:
    """All bytes of a regular file, refusing more than `cap` (checked before and while reading:
    the size on disk can lie, e.g. a file still growing or a /proc file that says 0)."""
    st = check_regular(path)
    if st.st_size > cap:
        raise _too_large(st.st_size, cap)
    try:
        with open_regular(path) as fh:
            chunks, total = [], 0
            while True:
                chunk = fh.read(min(_CHUNK, cap + 1 - total))
                if not chunk:
                    break
                chunks.append(chunk)
                total += len(chunk)
                if total > cap:
                    raise _too_large(total, cap)
    except ImageLoadError:
        raise
    except OSError as exc:
        raise ImageLoadError(f"The file could not be read: {exc.strerror or exc}") from exc
    return b"".join(chunks)


def check_output_file(path: str | os.PathLike) -> None:
    """Raise OSError (a plain `strerror`) unless `path` is a new name in a writable folder or a
    writable regular file: opening a FIFO for writing blocks until someone reads it, a device
    would swallow the report, and a missing or read-only folder would fail only after all the
    analysis was done."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        folder = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(folder):
            raise OSError(errno.ENOENT, f"The folder {_one_line(folder)} does not exist; nothing "
                                        "was written. Choose another place.") from None
        if not os.access(folder, os.W_OK | os.X_OK):
            raise OSError(errno.EACCES, f"The folder {_one_line(folder)} cannot be written to "
                                        "(no permission); nothing was written.") from None
        return  # a new file (or a dangling link, which the write will report itself)
    except OSError as exc:
        raise OSError(exc.errno, f"{_one_line(path)} cannot be written: "
                                 f"{exc.strerror or exc}") from exc
    kind = "a folder" if stat.S_ISDIR(st.st_mode) else _kind(st.st_mode)
    if kind is not None:
        raise OSError(errno.EINVAL, f"{_one_line(path)} is {kind}; nothing was written there. "
                                    "Choose a file name.")
    if not os.access(path, os.W_OK):
        raise OSError(errno.EACCES, f"{_one_line(path)} cannot be written (read-only or no "
                                    "permission); nothing was written.")


# -- folders ---------------------------------------------------------------------------------------


@dataclass
class Walk:
    """What a walk found: files to analyse (input order) and what it left out, and why."""

    files: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, plain reason)
    # Files inside the folders passed over because their names are not wanted (a document, a
    # sound file, a clip in a format by a name the app does not know); hidden files not counted.
    ignored: list[str] = field(default_factory=list)
    wanted: str = "images"  # what the walk kept, in words ("images or videos")

    def ignored_line(self, examples: int = 3) -> str:
        """One plain line about `ignored` ("" when none), for stderr or a status line."""
        if not self.ignored:
            return ""
        names = ", ".join(_one_line(Path(p).name) for p in self.ignored[:examples])
        more = ", ..." if len(self.ignored) > examples else ""
        n = len(self.ignored)
        return (f"{n} other file{'s' if n > 1 else ''} in the folders {'were' if n > 1 else 'was'}"
                f" not checked: not {self.wanted} by name ({names}{more}). Give a file by "
                "name to have it tried anyway.")


def walk_images(paths: list[str | os.PathLike], keep: Callable[[str], bool] | None = None,
                wanted: str = "images") -> Walk:
    """Files in input order; folders expand recursively (sorted, a folder's files before its
    subfolders). A path given by name is always kept, so the user learns why it failed.

    Inside folders: names without an image extension are passed over and listed in `ignored`
    (one warning line says how many, with examples). An
    image-named entry that is not a regular file (pipe, socket, device, dangling link, link
    loop) is kept, so it gets its own one-line error instead of vanishing. Links to folders are
    followed, but a folder already walked (a link loop, or a second link to it) is skipped and
    listed in `skipped` (and logged as a warning); so is a subfolder that cannot be listed.
    `keep(name)` decides which names inside folders are wanted (default: image extensions);
    `wanted` says what those are, for the line about the others.
    """
    if keep is None:
        from app.core.images import is_image_path as keep

    out = Walk(wanted=wanted)
    for p in paths:
        path = os.fspath(p)
        try:
            is_dir = stat.S_ISDIR(os.stat(path).st_mode)
        except OSError:
            is_dir = False  # missing, dangling, looping: the loader says which
        if is_dir:  # each folder named has its own walk: naming one twice lists it twice
            _walk_dir(path, set(), out, keep)
        else:
            out.files.append(path)
    for line in describe_skipped(out.skipped):
        log.warning(line)  # the CLI prints warnings on stderr; the window's log keeps them
    if out.ignored:
        log.warning(out.ignored_line())
    return out


def _housekeeping(name: str) -> bool:
    """Files no one means to check: hidden ones and the desktop's own (thumbnail caches)."""
    return name.startswith(".") or name.lower() in ("thumbs.db", "desktop.ini", "ehthumbs.db")


def _walk_dir(top: str, visited: set, out: Walk, is_image) -> None:
    stack = [top]
    while stack:
        folder = stack.pop()
        try:
            st = os.stat(folder)
        except OSError as exc:
            out.skipped.append((folder, f"could not be opened ({exc.strerror or exc})"))
            continue
        key = (st.st_dev, st.st_ino)
        if key in visited:
            out.skipped.append((folder, "a link to a folder already read (a loop or a "
                                        "duplicate); not followed"))
            continue
        visited.add(key)
        try:
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            out.skipped.append((folder, f"could not be listed ({exc.strerror or exc})"))
            continue
        subdirs = []
        for entry in entries:
            try:
                is_dir = entry.is_dir()  # follows a link; a dangling or looping one is False
            except OSError:
                is_dir = False
            if is_dir:
                subdirs.append(entry.path)
            elif is_image(entry.name):
                out.files.append(entry.path)
            elif not _housekeeping(entry.name):
                out.ignored.append(entry.path)
        stack.extend(reversed(subdirs))  # depth-first, in sorted order


def iter_image_files(paths: list[str | os.PathLike],
                     keep: Callable[[str], bool] | None = None) -> list[str]:
    """The files `walk_images` finds (see there), as a list of paths."""
    return walk_images(paths, keep).files


def describe_skipped(skipped: list[tuple[str, str]]) -> list[str]:
    """One line per entry a folder walk left out, for stderr or a status line."""
    return [f"skipped {_one_line(Path(p))}: {why}" for p, why in skipped]
