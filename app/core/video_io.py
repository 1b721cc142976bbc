"""Open a video file safely and walk it once, yielding only the frames worth scoring.

One sequential pass with OpenCV's FFmpeg backend: `grab()` every frame (cheap, no colour
conversion), `retrieve()` only the planned samples and a few small probe frames per second for
scene-cut detection. Nothing but the current frame is held, so memory stays flat for any length,
and a truncated or damaged stream simply ends early (the caller gets a warning).
"""

from __future__ import annotations

import hashlib
import math
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from app.core.errors import FileMissingError, ImageLoadError, InspectorError
from app.core.files import check_readable, open_regular

VIDEO_EXTENSIONS = frozenset({".mp4", ".mov", ".m4v", ".webm", ".mkv", ".avi", ".3gp", ".3g2",
                              ".mts", ".m2ts", ".mpg", ".mpeg", ".wmv", ".flv", ".ogv"})
MAX_VIDEO_BYTES = 16 * 1024**3  # 16 GiB: hours of phone video; beyond that, refuse
MAX_FRAME_PIXELS = 8192 * 4352  # 8K is the largest frame any camera writes
MAX_DURATION_S = 12 * 3600  # the walk never goes further than this, whatever the header says
CUT_PROBES_PER_S = 8.0
CUT_THRESHOLD = 0.45  # histogram total-variation distance between probes that marks a cut
MIN_CUT_GAP_S = 0.5  # flashes and strobes must not count as many cuts
MAX_CUTS_KEPT = 2000


class VideoLoadError(InspectorError):
    """The file could not be read as a video (the message says why, plainly)."""


def is_video_name(name: str | os.PathLike) -> bool:
    """By the name alone (folder walks)."""
    return Path(name).suffix.lower() in VIDEO_EXTENSIONS


def is_video_path(path: str | os.PathLike) -> bool:
    """A video by its name, or by its content (app.core.sniff): a clip saved as `.jpg` or under
    a name the app does not know goes to the video path, not to an image decoder."""
    from app.core.sniff import VIDEO, sniff

    return is_video_name(path) or sniff(path) == VIDEO


def walk_media(paths: list[str | os.PathLike]):
    """app.core.files.walk_images, keeping images and videos (by name) inside folders; the
    other files it passes over are in `Walk.ignored`."""
    from app.core.files import walk_images
    from app.core.images import is_image_path

    return walk_images(paths, keep=lambda name: is_image_path(name) or is_video_name(name),
                       wanted="images or videos")


def iter_media_files(paths: list[str | os.PathLike]) -> list[str]:
    """The files `walk_media` finds, as a list (folder-link loops skipped and logged, special
    entries kept so each gets its own error line)."""
    return walk_media(paths).files


Cancel = Callable[[], bool] | threading.Event | None


def as_cancel_check(cancel: Cancel) -> Callable[[], bool]:
    """A callable or an Event (or None) as one `() -> bool` check."""
    if cancel is None:
        return lambda: False
    if isinstance(cancel, threading.Event):
        return cancel.is_set
    return cancel


@dataclass
class VideoInfo:
    path: str
    file_size: int
    fps: float
    frame_count: int | None  # None when the container does not say
    width: int
    height: int
    codec: str
    duration_s: float | None
    container: dict = field(default_factory=dict)
    sha256: str | None = None
    warnings: list[str] = field(default_factory=list)


def check_video_file(path: str) -> int:
    """Size of a readable regular file; a typed error for anything else, before anything opens
    it (a pipe or device would block a reader forever). What counts as a regular readable file
    is decided in one place, app.core.files.check_readable; the size limits are the video's.

    Raises FileMissingError when nothing is there (as for images), VideoLoadError otherwise,
    each with a one-line, plain message."""
    try:
        st = check_readable(path, what="a video file")
    except FileMissingError:
        raise
    except ImageLoadError as exc:  # a pipe, device, socket, folder, dangling link, no access
        raise VideoLoadError(str(exc)) from exc
    if st.st_size == 0:
        raise VideoLoadError("The file is empty (0 bytes); it holds no video.")
    if st.st_size > MAX_VIDEO_BYTES:
        raise VideoLoadError(
            f"The file is {st.st_size / 1024**3:.1f} GB; videos over "
            f"{MAX_VIDEO_BYTES / 1024**3:.0f} GB "
            "are refused. Cut the part you need with a video editor first.")
    return int(st.st_size)


def sha256_of_file(path: str, cancel: Cancel = None) -> str | None:
    """SHA-256 in 1 MiB chunks (None if cancelled part-way). Opened with `open_regular`, so a
    path swapped for a pipe or device after the check is refused, never read forever."""
    cancelled = as_cancel_check(cancel)
    h = hashlib.sha256()
    with _open_checked(path) as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            if cancelled():
                return None
            h.update(chunk)
    return h.hexdigest()


def _open_checked(path: str):
    """open_regular with the video's error types."""
    try:
        return open_regular(path)
    except FileMissingError:
        raise
    except ImageLoadError as exc:
        raise VideoLoadError(str(exc)) from exc


def _open(path: str):
    """OpenCV's capture of a regular file that cannot be swapped under it: the file is opened
    (non-blocking, type-checked) first, and on Linux FFmpeg is given that open file's
    /proc/self/fd link, which reopens the same file even if the name now points at a pipe."""
    import cv2

    _quiet_opencv()
    with _open_checked(path) as fh:
        pinned = f"/proc/self/fd/{fh.fileno()}"
        cap = cv2.VideoCapture(pinned if os.path.exists(pinned) else path, cv2.CAP_FFMPEG)
    if not cap.isOpened():
        cap.release()
        if _sound_only(path):
            raise VideoLoadError(
                "This file holds sound only (no video track): the app checks faces in photos "
                "and videos, not voices.")
        raise VideoLoadError(
            "This file could not be opened as a video. It may be damaged or truncated (an MP4 "
            "whose recording was cut off before its index was written cannot be read), or use a "
            "codec this app cannot decode.")
    return cap


def _quiet_opencv() -> None:
    """OpenCV's own warnings ("backend ... can't be used to capture by name") are noise on the
    user's stderr: the app words every failure itself. Errors still print."""
    try:
        import cv2.utils.logging as cv_log

        if cv_log.getLogLevel() > cv_log.LOG_LEVEL_ERROR:
            cv_log.setLogLevel(cv_log.LOG_LEVEL_ERROR)
    except (ImportError, AttributeError):  # an OpenCV build without the logging module
        pass


def _sound_only(path: str) -> bool:
    """An MP4/QuickTime file whose tracks are all sound (its handler types, read from 'moov')."""
    from app.core.video_meta import read_container_metadata

    kinds = set(read_container_metadata(path).get("track_types", "").split(", ")) - {""}
    return bool(kinds) and "soun" in kinds and "vide" not in kinds


def probe(path: str | os.PathLike, *, hash_file: bool = True, cancel: Cancel = None) -> VideoInfo:
    """Check the file and read its stream properties and container metadata."""
    import cv2

    from app.core.video_meta import read_container_metadata

    path = os.fspath(path)
    size = check_video_file(path)
    cap = _open(path)
    try:
        fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        width = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH) or 0)
        height = int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT) or 0)
        fourcc = int(cap.get(cv2.CAP_PROP_FOURCC) or 0)
    finally:
        cap.release()
    if width <= 0 or height <= 0:
        raise VideoLoadError("The file holds no video picture (audio only, or damaged).")
    if width * height > MAX_FRAME_PIXELS:
        raise VideoLoadError(f"The video is {width}x{height}; frames larger than 8K are refused.")
    container = read_container_metadata(path)
    warnings: list[str] = []
    if not (0.5 <= fps <= 1000.0) or math.isnan(fps):
        warnings.append("The file does not state a usable frame rate; 25 fps was assumed, so "
                        "times are approximate.")
        fps = 25.0
    frame_count = count if count > 0 else None
    duration = frame_count / fps if frame_count else container.get("container_duration_s")
    if frame_count is None and duration:
        frame_count = int(round(float(duration) * fps))
    codec = "".join(chr((fourcc >> (8 * i)) & 0xFF) for i in range(4)).strip("\0 ") or "unknown"
    if not codec.isprintable():
        codec = "unknown"
    sha = sha256_of_file(path, cancel) if hash_file else None
    return VideoInfo(path=path, file_size=size, fps=fps, frame_count=frame_count, width=width,
                     height=height, codec=codec,
                     duration_s=None if duration is None else float(duration),
                     container=container, sha256=sha, warnings=warnings)


@dataclass
class Sample:
    index: int  # frame number from 0
    t: float  # seconds from the start
    rgb: np.ndarray
    reason: str  # "even" or "cut"
    cuts_before: int = 0  # scene cuts found up to this frame (tracks end at each)


@dataclass
class Walk:
    """What the walk saw besides the samples (filled in as it goes)."""

    frames_read: int = 0
    cuts: list[float] = field(default_factory=list)
    ended_early: bool = False
    cancelled: bool = False
    hit_limit: bool = False
    first_frame: np.ndarray | None = None  # small RGB copy of frame 0 (thumbnails)


def plan_even(frame_count: int | None, fps: float, per_second: float,
              max_frames: int) -> tuple[list[int], int]:
    """(frame indices of the even samples, budget left for scene-cut frames)."""
    per_second = max(per_second, 1e-3)
    if not frame_count:  # length unknown: a fixed stride, stopped at the cap
        step = max(1, int(round(fps / per_second)))
        return list(range(step // 2, step * max_frames, step))[:max_frames], max_frames // 6
    wanted = max(1, int(round(frame_count / fps * per_second)))
    n = wanted if wanted <= max_frames - max_frames // 6 else max_frames - max_frames // 6
    n = max(1, min(n, frame_count))
    idx = sorted({min(frame_count - 1, int((k + 0.5) * frame_count / n)) for k in range(n)})
    return idx, max(0, max_frames - len(idx))


def walk(info: VideoInfo, *, per_second: float = 2.0, max_frames: int = 120,
         cancel: Cancel = None, state: Walk | None = None,
         on_position: Callable[[int], None] | None = None) -> Iterator[Sample]:
    """Yield the even samples and the first frame after each scene cut, in order. `state`
    collects cuts, early end and cancellation; `on_position(frame)` is called about 8 times
    per second of video (the caller turns it into progress and ETA)."""
    import cv2

    state = state if state is not None else Walk()
    cancelled = as_cancel_check(cancel)
    even, cut_budget = plan_even(info.frame_count, info.fps, per_second, max_frames)
    even_set = set(even)
    last_even = even[-1] if even else -1
    probe_step = max(1, int(round(info.fps / CUT_PROBES_PER_S)))
    limit = int(MAX_DURATION_S * info.fps)
    if info.frame_count:
        limit = min(limit, int(info.frame_count * 1.25) + 100)  # headers may under-count a bit
    prev_hist, last_cut, last_sample_t = None, -1e9, -1e9
    idx = -1
    cap = _open(info.path)
    try:
        while True:
            if cancelled():
                state.cancelled = True
                return
            if not cap.grab():
                break
            idx += 1
            state.frames_read = idx + 1
            if idx >= limit:
                state.hit_limit = True
                break
            t = idx / info.fps
            is_probe = idx % probe_step == 0
            if idx not in even_set and not is_probe:
                continue
            ok, bgr = cap.retrieve()
            if not ok or bgr is None:
                continue  # a frame that does not decode: skip it, keep walking
            if is_probe:
                on_position and on_position(idx)
                hist = _histogram(bgr)
                if idx == 0:
                    state.first_frame = _small_rgb(bgr, 320)
                is_cut = (prev_hist is not None and t - last_cut >= MIN_CUT_GAP_S
                          and _distance(prev_hist, hist) > CUT_THRESHOLD)
                prev_hist = hist
                if is_cut:
                    last_cut = t
                    if len(state.cuts) < MAX_CUTS_KEPT:
                        state.cuts.append(round(t, 3))
                    if cut_budget > 0 and idx not in even_set and t - last_sample_t > 0.1:
                        cut_budget -= 1
                        last_sample_t = t
                        yield Sample(idx, t, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), "cut",
                                     len(state.cuts))
                        continue
            if idx in even_set:
                last_sample_t = t
                yield Sample(idx, t, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), "even",
                             len(state.cuts))
            if not info.frame_count and idx >= last_even and cut_budget <= 0:
                break
        if info.frame_count and state.frames_read < info.frame_count - max(2, info.fps / 2):
            state.ended_early = True
    finally:
        cap.release()


def _histogram(bgr: np.ndarray) -> np.ndarray:
    import cv2

    small = cv2.resize(bgr, (64, 36), interpolation=cv2.INTER_AREA)
    hist = cv2.calcHist([small], [0, 1, 2], None, [8, 8, 8], [0, 256, 0, 256, 0, 256]).ravel()
    return hist / max(float(hist.sum()), 1.0)


def _distance(a: np.ndarray, b: np.ndarray) -> float:
    """Total-variation distance in [0, 1]: the share of pixels whose colour bin changed."""
    return 0.5 * float(np.abs(a - b).sum())


def _small_rgb(bgr: np.ndarray, side: int) -> np.ndarray:
    import cv2

    scale = side / max(bgr.shape[:2])
    if scale < 1:
        bgr = cv2.resize(bgr, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def read_frame(path: str | os.PathLike, index: int) -> np.ndarray:
    """One frame (RGB) by number: seek, and check the decoder landed where asked (some files
    seek only to key frames); the GUI and report call this for on-demand GradCAM."""
    import cv2

    path = os.fspath(path)
    check_video_file(path)
    cap = _open(path)
    try:
        cap.set(cv2.CAP_PROP_POS_FRAMES, max(0, int(index)))
        pos = int(cap.get(cv2.CAP_PROP_POS_FRAMES))
        if pos != index:  # inexact seek: walk there from the start (bounded by the index)
            cap.release()
            cap = _open(path)
            for _ in range(int(index)):
                if not cap.grab():
                    break
        ok, bgr = cap.read()
    finally:
        cap.release()
    if not ok or bgr is None:
        raise VideoLoadError(f"Frame {index} could not be decoded (damaged or beyond the end).")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


_END = object()


def prefetched(walker: Callable[[Callable[[], bool]], Iterator[Sample]], depth: int = 2
               ) -> Iterator[Sample]:
    """Run a walk in its own thread, `depth` samples ahead: decoding the next frames (OpenCV
    releases the GIL) overlaps scoring this one, on a second core. `walker(stop)` must check
    `stop()` between frames; the thread is stopped and joined when the consumer finishes or
    stops early, so at most `depth` frames are ever held."""
    import queue

    q: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for sample in walker(stop.is_set):
                if not put(sample):
                    return
        except BaseException as exc:  # handed to the consumer, raised there
            put(_Failure(exc))
            return
        put(_END)

    thread = threading.Thread(target=produce, name="dfi-video-decode", daemon=True)
    thread.start()
    try:
        while True:
            item = q.get()
            if item is _END:
                return
            if isinstance(item, _Failure):
                raise item.exc
            yield item
    finally:
        stop.set()
        thread.join(timeout=10)


@dataclass
class _Failure:
    exc: BaseException
