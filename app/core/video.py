"""Video clips: sampled frames -> faces (the same Analyzer as photos) -> tracks -> clip verdict.

`analyze_video` walks the file once (app.core.video_io), scores each sampled frame's faces
without heatmaps, links them into tracks (app.core.video_tracks), and returns a JSON-ready
VideoResult. GradCAM for any sampled frame is computed on demand (`explain_frame`).
"""

from __future__ import annotations

import copy
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime

import numpy as np

from app.core.errors import InspectorError
from app.core.results import AnalysisResult, FaceResult, MediaResult, Status, Verdict
from app.core.video_io import (  # noqa: F401 - re-exported for front ends
    VIDEO_EXTENSIONS,
    Cancel,
    VideoLoadError,
    Walk,
    as_cancel_check,
    is_video_path,
    prefetched,
    probe,
    read_frame,
    walk,
)
from app.core.video_tracks import Track, Tracker, deciding_track, score_tracks

DEFAULT_FPS = 2.0
DEFAULT_MAX_FRAMES = 120
KEY_FRAMES = 6  # most suspicious frames kept (small copies) for thumbnails and the report
KEY_FRAME_SIDE = 640
TIMELINE_LABEL = "Timeline (stored)"


@dataclass
class VideoProgress:
    fraction: float  # of the clip walked, 0..1
    elapsed_s: float
    frames_scored: int
    t: float  # position in the clip, seconds

    @property
    def eta_s(self) -> float | None:
        if self.fraction <= 0.02:
            return None
        return self.elapsed_s / self.fraction * (1.0 - self.fraction)


@dataclass
class FrameRecord:
    """One scored frame: when, why it was picked, and which tracks' faces it held."""

    frame: int
    t: float
    reason: str  # "even" or "cut"
    tracks: list[int] = field(default_factory=list)
    max_p: float | None = None

    def to_dict(self) -> dict:
        return {"frame": self.frame, "t": round(self.t, 3), "reason": self.reason,
                "tracks": list(self.tracks),
                "max_p": None if self.max_p is None else round(self.max_p, 4)}


@dataclass
class KeyFrame:
    """A small copy of a suspicious frame with its boxes (scaled to the copy). Not serialised."""

    frame: int
    t: float
    rgb: np.ndarray = field(repr=False)
    scale: float
    faces: list[tuple[int, tuple[float, float, float, float], float | None]]  # track, box, p
    max_p: float | None = None


@dataclass(kw_only=True)
class VideoResult(MediaResult):
    """A clip's result: the shared fields (`MediaResult`) plus its frames and face tracks.
    `metadata` holds the container's findings."""

    deciding_track: int | None = None
    duration_s: float | None = None
    fps: float | None = None
    frame_count: int | None = None
    size: tuple[int, int] | None = None  # width, height
    codec: str | None = None
    file_size: int | None = None
    frames_scored: int = 0
    frames: list[FrameRecord] = field(default_factory=list)
    cuts: list[float] = field(default_factory=list)
    tracks: list[Track] = field(default_factory=list)
    container: dict = field(default_factory=dict)
    settings: dict = field(default_factory=dict)  # frames_per_second, max_frames
    cancelled: bool = False
    # Pictures kept for the window and report; never serialised.
    first_frame: np.ndarray | None = field(default=None, repr=False)
    key_frames: list[KeyFrame] = field(default_factory=list, repr=False)

    kind = "video"

    def cutoffs(self):
        """The threshold and band this clip was judged with (stored in `settings`), for
        detector.shown_percent; None when not stored (an old record)."""
        s = self.settings or {}
        if s.get("threshold") is None:
            return None
        from types import SimpleNamespace

        band = s.get("uncertain_band")
        return SimpleNamespace(threshold=s["threshold"],
                               uncertain_band=tuple(band) if band else None)

    def to_dict(self) -> dict:
        return {
            "kind": "video", **self.shared_dict(), "deciding_track": self.deciding_track,
            "duration_s": None if self.duration_s is None else round(self.duration_s, 3),
            "fps": None if self.fps is None else round(self.fps, 3),
            "frame_count": self.frame_count,
            "size": list(self.size) if self.size else None, "codec": self.codec,
            "file_size": self.file_size, "frames_scored": self.frames_scored,
            "tracks": [t.to_dict() for t in self.tracks],
            "frames": [f.to_dict() for f in self.frames],
            "cuts": list(self.cuts), "container": dict(self.container),
            "settings": dict(self.settings), "cancelled": self.cancelled,
        }

    @classmethod
    def from_dict(cls, d: dict) -> VideoResult:
        """A stored record back (history reopen): everything but the kept pictures."""
        verdict = d.get("verdict")
        return cls(
            path=d.get("path"), status=Status(d.get("status", "ok")), error=d.get("error"),
            error_type=d.get("error_type"), p_fake=d.get("p_fake"),
            verdict=Verdict(verdict) if verdict else (
                Verdict.NO_FACE if d.get("status") == "no_face" else None),
            deciding_track=d.get("deciding_track"), duration_s=d.get("duration_s"),
            fps=d.get("fps"), frame_count=d.get("frame_count"),
            size=tuple(d["size"]) if d.get("size") else None, codec=d.get("codec"),
            file_size=d.get("file_size"), frames_scored=int(d.get("frames_scored", 0)),
            frames=[FrameRecord(f["frame"], f["t"], f.get("reason", "even"),
                                list(f.get("tracks", [])), f.get("max_p"))
                    for f in d.get("frames", [])],
            cuts=list(d.get("cuts", [])), tracks=[Track.from_dict(t) for t in d.get("tracks", [])],
            sha256=d.get("sha256"), model=d.get("model"), container=dict(d.get("container", {})),
            metadata=list(d.get("metadata", [])), warnings=list(d.get("warnings", [])),
            settings=dict(d.get("settings", {})), timings_ms=dict(d.get("timings_ms", {})),
            analysed_at=d.get("analysed_at"), cancelled=bool(d.get("cancelled", False)),
        )

    def as_analysis_result(self) -> AnalysisResult:
        """The clip as a photo-shaped record (one face per track, at its most suspicious
        frame), for the places that list results of both kinds: history, gallery, CSV."""
        faces = []
        for tr in self.tracks:
            peak = tr.peak or tr.points[0]
            faces.append(FaceResult(box=peak.box, det_score=peak.det_score, p_fake=tr.p_fake,
                                    logit=tr.logit_mean, verdict=tr.verdict,
                                    warnings=[f"Face {tr.id}: {len(tr.points)} frames, "
                                              f"{tr.first_t:.1f}-{tr.last_t:.1f} s"]))
        timeline = {
            "category": "Video file", "label": TIMELINE_LABEL, "severity": "info",
            "value": f"{len(self.tracks)} face(s) over {self.frames_scored} sampled frames",
            "meaning": "The clip's stored per-frame scores: reopening it from the history shows "
                       "this timeline without analysing it again.",
            "video": {k: v for k, v in self.to_dict().items() if k != "metadata"},
        }
        shared = {f.name: copy.copy(getattr(self, f.name)) for f in fields(MediaResult)}
        shared["metadata"] = [dict(m) for m in self.metadata] + [timeline]
        return AnalysisResult(**shared, faces=faces, image_size=self.size)


def stored_video(metadata: list[dict] | None) -> VideoResult | None:
    """The VideoResult kept in a photo-shaped record's metadata (history), or None."""
    for item in metadata or []:
        if isinstance(item, dict) and isinstance(item.get("video"), dict):
            video = VideoResult.from_dict(item["video"])
            video.metadata = [m for m in metadata if m is not item]
            return video
    return None


def analyze_video(
    analyzer, path: str | os.PathLike, *, frames_per_second: float = DEFAULT_FPS,
    max_frames: int = DEFAULT_MAX_FRAMES, cancel: Cancel = None,
    on_progress: Callable[[VideoProgress], None] | None = None, workers: int | None = None,
) -> VideoResult:
    """Score a clip's faces over time. User-caused failures come back as status 'error'; a
    cancelled run returns what it scored so far with `cancelled=True`. `workers`: frames scored
    at once (default: 2 on a multi-core machine; app.core.video_parallel)."""
    from app.core.video_findings import container_findings
    from app.core.video_parallel import scored

    t0 = time.perf_counter()
    path = os.fspath(path)
    now = datetime.now(UTC).isoformat(timespec="seconds")
    settings = {"frames_per_second": frames_per_second, "max_frames": max_frames}
    cancelled = as_cancel_check(cancel)
    try:
        info = probe(path, cancel=cancelled)
        card = analyzer.detector.card
    except InspectorError as exc:
        return VideoResult(path=path, status=Status.ERROR, error=str(exc),
                           error_type=type(exc).__name__, analysed_at=now, settings=settings,
                           model=analyzer._detector.card.id if analyzer._detector else None)
    # The card's cut-offs travel with the result: a stored timeline is drawn as it was judged.
    settings.update(threshold=card.threshold,
                    uncertain_band=list(card.uncertain_band) if card.uncertain_band else None)
    result = VideoResult(
        path=path, status=Status.OK, duration_s=info.duration_s, fps=info.fps,
        frame_count=info.frame_count, size=(info.width, info.height), codec=info.codec,
        file_size=info.file_size, sha256=info.sha256, model=card.id, container=info.container,
        metadata=[f.to_dict() for f in container_findings(info)], warnings=list(info.warnings),
        settings=settings, analysed_at=now)
    t1 = time.perf_counter()
    interval = 1.0 / max(frames_per_second, 1e-3)
    if info.duration_s and info.duration_s / interval > max_frames:
        interval = info.duration_s / max_frames
    tracker = Tracker(interval)
    state = Walk()
    total = max(1, info.frame_count or 1)

    def position(frame: int) -> None:
        if on_progress:
            on_progress(VideoProgress(min(1.0, frame / total), time.perf_counter() - t1,
                                      len(result.frames), frame / info.fps))

    face_ms = 0.0
    last_cut_seen = 0
    samples = prefetched(lambda stop: walk(
        info, per_second=frames_per_second, max_frames=max_frames,
        cancel=lambda: stop() or cancelled(), state=state, on_position=position))
    scoring = scored(analyzer, samples, cancelled, workers)
    for sample, frame_result, ms in scoring:
        if sample.cuts_before > last_cut_seen:
            tracker.cut()
            last_cut_seen = sample.cuts_before
        face_ms += ms
        ids = tracker.update(sample.index, sample.t, frame_result.faces, card.tier)
        record = FrameRecord(sample.index, sample.t, sample.reason, ids, frame_result.p_fake)
        result.frames.append(record)
        _keep_key_frame(result, sample, frame_result.faces, ids)
        if cancelled():
            state.cancelled = True
            break
    scoring.close()  # lets frames in flight finish and joins the scoring threads
    samples.close()  # stops and joins the decoding thread now, not at garbage collection
    result.first_frame = state.first_frame
    result.frames_scored = len(result.frames)
    result.cuts = state.cuts
    result.tracks = tracker.tracks
    score_tracks(result.tracks, card)
    _summarise(result, state, card)
    # Frames are scored two at a time, so their summed scoring time can exceed the total.
    result.timings_ms = {"probe": (t1 - t0) * 1000.0, "scoring_summed": face_ms,
                         "total": (time.perf_counter() - t0) * 1000.0}
    return result


def _keep_key_frame(result: VideoResult, sample, faces: list[FaceResult], ids: list[int]) -> None:
    """Keep a small copy of the frame if it is among the KEY_FRAMES most suspicious so far."""
    scores = [f.p_fake for f in faces if f.p_fake is not None]
    if not scores:
        return
    top = max(scores)
    kept = result.key_frames
    if len(kept) >= KEY_FRAMES and top <= min(k.max_p or 0.0 for k in kept):
        return
    import cv2

    rgb = sample.rgb
    scale = min(1.0, KEY_FRAME_SIDE / max(rgb.shape[:2]))
    small = cv2.resize(rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) \
        if scale < 1 else rgb.copy()
    boxes = [(tid, tuple(v * scale for v in f.box), f.p_fake)
             for tid, f in zip(ids, faces, strict=True)]
    kept.append(KeyFrame(sample.index, sample.t, small, scale, boxes, top))
    kept.sort(key=lambda k: -(k.max_p or 0.0))
    del kept[KEY_FRAMES:]


FEW_FRAMES = 3  # a clip's verdict from fewer sampled frames of its face says so


def _summarise(result: VideoResult, state: Walk, card) -> None:
    if not card.trained:
        result.warnings.append("UNTRAINED MODEL (test only): scores mean nothing.")
    if state.ended_early:
        at = state.frames_read / (result.fps or 25.0)
        result.warnings.append(
            f"The video stream ends at {at:.1f} s although the file declares "
            f"{result.duration_s or 0:.1f} s: the file is truncated or damaged. Only the "
            f"{result.frames_scored} frames that decoded were scored.")
        result.duration_s = min(result.duration_s or at, at)
    if state.hit_limit:
        result.warnings.append("The clip is longer than the app reads (12 hours, or far more "
                               "frames than its header declares); the rest was not checked.")
    if state.cancelled:
        result.cancelled = True
        result.warnings.append(f"Cancelled: only the first {result.frames_scored} sampled "
                               "frames were scored.")
    if result.frames_scored == 0 and not state.cancelled:
        result.status, result.error_type = Status.ERROR, "VideoLoadError"
        result.error = "No frame of this video could be decoded (damaged file or unknown codec)."
        return
    top = deciding_track(result.tracks)
    if top is None:
        result.status, result.verdict = Status.NO_FACE, Verdict.NO_FACE
        return
    result.p_fake, result.verdict, result.deciding_track = top.p_fake, top.verdict, top.id
    if len(top.points) < FEW_FRAMES:
        n = len(top.points)
        result.warnings.append(
            f"The verdict rests on {n} sampled frame{'s' if n > 1 else ''} of Face {top.id}: a "
            "clip this short, or a face seen this briefly, gives a less steady score than a "
            "longer look.")
    short = [t.id for t in result.tracks if len(t.points) < 2]
    if short and len(short) < len(result.tracks):
        result.warnings.append(
            "Face(s) " + ", ".join(map(str, short)) + " were seen in one sampled frame only "
            "and do not decide the clip's verdict.")


def explain_frame(analyzer, path: str | os.PathLike, frame: int) -> tuple[np.ndarray,
                                                                         AnalysisResult]:
    """One frame decoded again and analysed with GradCAM heatmaps (the window's click)."""
    rgb = read_frame(path, frame)
    return rgb, analyzer.analyze(rgb, heatmaps=True, metadata=False)


def key_frames_from_file(video: VideoResult, n: int = KEY_FRAMES) -> list[KeyFrame]:
    """KeyFrames for a stored timeline (pictures are not stored): its most suspicious sampled
    frames, read back from the file."""
    import cv2

    frames = sorted((f for f in video.frames if f.max_p is not None), key=lambda f: -f.max_p)[:n]
    out = []
    for f in frames:
        rgb = read_frame(video.path, f.frame)
        scale = min(1.0, KEY_FRAME_SIDE / max(rgb.shape[:2]))
        if scale < 1:
            rgb = cv2.resize(rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        faces = [(tr.id, tuple(v * scale for v in p.box), p.p_fake)
                 for tr in video.tracks for p in tr.points if p.frame == f.frame]
        out.append(KeyFrame(f.frame, f.t, rgb, scale, faces, f.max_p))
    return out
