"""Linking faces across sparse samples: a moving head stays one face, two people never swap."""

from __future__ import annotations

from app.core.results import FaceResult, Verdict
from app.core.video_tracks import Tracker


def face(x: float, y: float = 100.0, w: float = 100.0) -> FaceResult:
    return FaceResult(box=(x, y, x + w, y + w), det_score=0.99, p_fake=0.1, logit=-2.0,
                      verdict=Verdict.REAL)


def tier(_p: float) -> str:
    return "real"


def test_a_swaying_head_sampled_every_two_seconds_stays_one_face():
    """The head moves 1.2-1.6 face widths between samples, back and forth: no overlap at all
    between consecutive boxes, yet it is one person."""
    tracker = Tracker(sample_interval_s=2.0)
    xs = [100, 260, 120, 280, 130, 250, 110]
    for k, x in enumerate(xs):
        tracker.update(frame=k * 60, t=k * 2.0, faces=[face(x)], tier=tier)
    assert len(tracker.tracks) == 1 and len(tracker.tracks[0].points) == len(xs)


def test_two_people_close_together_are_never_swapped():
    """Two faces side by side, both moving half a width: each new box is as near to the other
    person's track as to its own, so neither is linked by distance; no track mixes them."""
    tracker = Tracker(sample_interval_s=2.0)
    tracker.update(frame=0, t=0.0, faces=[face(0), face(150)], tier=tier)
    tracker.update(frame=60, t=2.0, faces=[face(75), face(225)], tier=tier)
    for tr in tracker.tracks:
        xs = [p.box[0] for p in tr.points]
        assert xs in ([0.0], [150.0], [75.0], [225.0], [0.0, 75.0], [150.0, 225.0])


def test_a_far_or_different_sized_face_starts_a_new_track():
    tracker = Tracker(sample_interval_s=2.0)
    tracker.update(frame=0, t=0.0, faces=[face(0)], tier=tier)
    tracker.update(frame=60, t=2.0, faces=[face(600)], tier=tier)  # six widths away
    tracker.update(frame=120, t=4.0, faces=[face(650, w=250)], tier=tier)  # 2.5x the size
    assert len(tracker.tracks) == 3
