"""Faces linked across sampled frames into tracks, and one robust score per track.

Linking is by box overlap with the box predicted from the track's own motion, with a gap
tolerance (a face missed in a frame or two keeps its track); a scene cut ends every track, since
overlap means nothing across a cut. A track's score is the mean of its frames' logits, calibrated
by the model card: a few odd frames (motion blur, a hand over the face) move it little.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from app.core.results import FaceResult, Verdict, suspicion

LINK_IOU = 0.25
MIN_GAP_S = 1.5  # at least this long a track survives without a matching face
# Second chance for a face that overlaps no track (sparse samples of a moving head): the nearest
# track, if its last box is within this many face widths, of a similar size, and the two are
# each other's only near candidate (so two people are never swapped).
LINK_REACH = 2.0
LINK_SIZE_RATIO = 1.6


@dataclass
class TrackPoint:
    frame: int
    t: float
    box: tuple[float, float, float, float]
    p_fake: float | None
    logit: float | None
    det_score: float = 0.0
    verdict: str | None = None  # this frame's verdict (quality problems can make it uncertain)
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"t": round(self.t, 3), "frame": self.frame,
                "box": [round(float(v), 1) for v in self.box],
                "p_fake": None if self.p_fake is None else round(float(self.p_fake), 4),
                "logit": None if self.logit is None else round(float(self.logit), 4),
                "det_score": round(float(self.det_score), 4), "verdict": self.verdict,
                "warnings": list(self.warnings)}

    @classmethod
    def from_dict(cls, d: dict) -> TrackPoint:
        return cls(frame=int(d.get("frame", 0)), t=float(d["t"]), box=tuple(d["box"]),
                   p_fake=d.get("p_fake"), logit=d.get("logit"), det_score=d.get("det_score", 0),
                   verdict=d.get("verdict"), warnings=list(d.get("warnings", [])))


@dataclass
class Track:
    id: int  # 1, 2, ...: "Face 1" in the window and the report
    points: list[TrackPoint] = field(default_factory=list)
    p_fake: float | None = None
    verdict: Verdict | None = None
    logit_mean: float | None = None
    logit_std: float | None = None
    p_spread: tuple[float, float] | None = None  # 10th and 90th percentile of the frames' p(fake)
    uncertain_frames: int = 0  # frames whose quality made them unjudgeable

    @property
    def mostly_unjudgeable(self) -> bool:
        """Most of its frames were too small or blurred to judge: "uncertain" whatever its
        score (score_tracks' rule; the window and the report say so beside the number)."""
        return self.uncertain_frames * 2 > len(self.points)

    @property
    def first_t(self) -> float:
        return self.points[0].t

    @property
    def last_t(self) -> float:
        return self.points[-1].t

    @property
    def peak(self) -> TrackPoint | None:
        """The frame where this face looked most suspicious."""
        scored = [p for p in self.points if p.p_fake is not None]
        return max(scored, key=lambda p: p.p_fake) if scored else None

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "p_fake": None if self.p_fake is None else round(float(self.p_fake), 4),
            "verdict": None if self.verdict is None else str(self.verdict),
            "n_frames": len(self.points),
            "first_t": round(self.first_t, 3), "last_t": round(self.last_t, 3),
            "logit_mean": None if self.logit_mean is None else round(self.logit_mean, 4),
            "logit_std": None if self.logit_std is None else round(self.logit_std, 4),
            "p_spread": None if self.p_spread is None else [round(v, 4) for v in self.p_spread],
            "uncertain_frames": self.uncertain_frames,
            "frames": [p.to_dict() for p in self.points],
        }

    @classmethod
    def from_dict(cls, d: dict) -> Track:
        return cls(id=int(d["id"]), points=[TrackPoint.from_dict(p) for p in d.get("frames", [])],
                   p_fake=d.get("p_fake"),
                   verdict=Verdict(d["verdict"]) if d.get("verdict") else None,
                   logit_mean=d.get("logit_mean"), logit_std=d.get("logit_std"),
                   p_spread=tuple(d["p_spread"]) if d.get("p_spread") else None,
                   uncertain_frames=int(d.get("uncertain_frames", 0)))


def iou(a, b) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


class Tracker:
    """Greedy IoU linking. `max_gap_s` grows with the sampling interval: with one sample every
    30 s (a long clip), a face seen in two consecutive samples is still one track."""

    def __init__(self, sample_interval_s: float = 0.5, link_iou: float = LINK_IOU) -> None:
        self.max_gap_s = max(MIN_GAP_S, 2.5 * sample_interval_s)
        self.link_iou = link_iou
        self.tracks: list[Track] = []
        self._active: list[Track] = []

    def cut(self) -> None:
        """A scene cut: faces after it start new tracks."""
        self._active = []

    def update(self, frame: int, t: float, faces: list[FaceResult], tier) -> list[int]:
        """Add one sampled frame's faces; returns the track id of each face. `tier(p)` is the
        model card's verdict for a p(fake) (to tell quality-forced "uncertain" apart)."""
        self._active = [tr for tr in self._active if t - tr.last_t <= self.max_gap_s]
        pairs = sorted(
            ((iou(self._predict(tr, t), f.box), ti, fi)
             for ti, tr in enumerate(self._active) for fi, f in enumerate(faces)),
            reverse=True)
        owner: dict[int, Track] = {}
        used: set[int] = set()
        for overlap, ti, fi in pairs:
            if overlap < self.link_iou:
                break
            if ti in used or fi in owner:
                continue
            used.add(ti)
            owner[fi] = self._active[ti]
        self._link_by_distance(faces, owner, used)
        ids = []
        for fi, face in enumerate(faces):
            track = owner.get(fi)
            if track is None:
                track = Track(id=len(self.tracks) + 1)
                self.tracks.append(track)
                self._active.append(track)
            forced = (face.verdict == Verdict.UNCERTAIN and face.p_fake is not None
                      and tier(face.p_fake) != "uncertain")
            track.uncertain_frames += int(forced)
            track.points.append(TrackPoint(
                frame=frame, t=t, box=tuple(float(v) for v in face.box), p_fake=face.p_fake,
                logit=face.logit, det_score=face.det_score,
                verdict=None if face.verdict is None else str(face.verdict),
                warnings=list(face.warnings)))
            ids.append(track.id)
        return ids

    def _link_by_distance(self, faces: list[FaceResult], owner: dict, used: set) -> None:
        """Faces no track overlaps: linked to the nearest free track when it is near (LINK_REACH
        face widths), alike in size, and unambiguous: each is the other's only candidate within
        reach. At 1-2 s between samples a swaying head leaves no overlap; without this, one
        person became dozens of one-frame "faces"."""
        free_faces = [fi for fi in range(len(faces)) if fi not in owner]
        free_tracks = [ti for ti in range(len(self._active)) if ti not in used]
        if not free_faces or not free_tracks:
            return

        def near(ti: int, fi: int) -> bool:
            a, b = self._active[ti].points[-1].box, faces[fi].box
            wa, wb = a[2] - a[0], b[2] - b[0]
            if min(wa, wb) <= 0 or max(wa, wb) / min(wa, wb) > LINK_SIZE_RATIO:
                return False
            dx = (a[0] + a[2] - b[0] - b[2]) / 2
            dy = (a[1] + a[3] - b[1] - b[3]) / 2
            return (dx * dx + dy * dy) ** 0.5 <= LINK_REACH * (wa + wb) / 2

        reach = {(ti, fi) for ti in free_tracks for fi in free_faces if near(ti, fi)}
        per_track = Counter(ti for ti, _ in reach)
        per_face = Counter(fi for _, fi in reach)
        for ti, fi in sorted(reach):
            if per_track[ti] == 1 and per_face[fi] == 1:
                used.add(ti)
                owner[fi] = self._active[ti]

    @staticmethod
    def _predict(track: Track, t: float):
        """Where the face should be now, moving as it did between its last two frames."""
        last = track.points[-1].box
        if len(track.points) < 2:
            return last
        prev = track.points[-2]
        dt = track.points[-1].t - prev.t
        if dt <= 0:
            return last
        k = min((t - track.points[-1].t) / dt, 3.0)
        return tuple(lv + (lv - pv) * k for lv, pv in zip(last, prev.box, strict=True))


def score_tracks(tracks: list[Track], card) -> None:
    """Each track: mean logit -> calibrated p(fake) and tier; spread of the frames' scores.
    Mostly unjudgeable frames (blur, tiny face) make the track "uncertain"."""
    for tr in tracks:
        logits = np.array([p.logit for p in tr.points if p.logit is not None], np.float64)
        if not len(logits):
            continue
        tr.logit_mean = float(logits.mean())
        tr.logit_std = float(logits.std())
        tr.p_fake = float(card.calibrate(np.array([tr.logit_mean]))[0])
        probs = np.array([p.p_fake for p in tr.points if p.p_fake is not None], np.float64)
        tr.p_spread = (float(np.percentile(probs, 10)), float(np.percentile(probs, 90)))
        tr.verdict = Verdict(card.tier(tr.p_fake))
        if tr.mostly_unjudgeable:
            tr.verdict = Verdict.UNCERTAIN


def deciding_track(tracks: list[Track]) -> Track | None:
    """The clip's most suspicious track (fake before uncertain before real, then the highest
    score: results.suspicion). A face seen in a single frame (often a false detection) decides
    only when no face was seen twice."""
    scored = [t for t in tracks if t.p_fake is not None]
    steady = [t for t in scored if len(t.points) >= 2] or scored
    return max(steady, key=lambda t: suspicion(t.verdict, t.p_fake)) if steady else None
