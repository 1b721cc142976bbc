"""Photo and clip results share one base: the same keys in JSON, the same fields carried over."""

from __future__ import annotations

import json

import pytest

from app.core.results import AnalysisResult, MediaResult, Status, Verdict
from app.core.video import VideoResult

SHARED = dict(path="/x/clip.mp4", status=Status.OK, p_fake=0.91234, verdict=Verdict.FAKE,
              sha256="ab" * 32, model="m1", warnings=["w"], timings_ms={"total": 12.34},
              analysed_at="2026-12-02T00:00:00+00:00", metadata=[{"label": "x"}])


@pytest.mark.parametrize("kind", [AnalysisResult, VideoResult])
def test_both_kinds_write_the_shared_keys(kind):
    d = json.loads(json.dumps(kind(**SHARED).to_dict()))
    shared = MediaResult(**SHARED).shared_dict()
    assert {k: d[k] for k in shared} == json.loads(json.dumps(shared))
    assert d["p_fake"] == 0.9123 and d["verdict"] == "fake" and d["timings_ms"] == {"total": 12.3}
    assert d["kind"] == ("video" if kind is VideoResult else "image")


def test_no_face_verdict_is_written_as_none():
    d = AnalysisResult(path=None, status=Status.NO_FACE, verdict=Verdict.NO_FACE).to_dict()
    assert d["verdict"] is None and d["status"] == "no_face"


def test_results_are_built_by_keyword_only():
    with pytest.raises(TypeError):
        AnalysisResult("/x/a.jpg", Status.OK)  # field order is not part of the contract


def test_clip_as_photo_record_keeps_the_shared_fields_without_aliasing():
    video = VideoResult(**SHARED, size=(640, 360))
    record = video.as_analysis_result()
    for name in ("path", "status", "p_fake", "verdict", "sha256", "model", "analysed_at",
                 "warnings", "timings_ms"):
        assert getattr(record, name) == getattr(video, name), name
    assert record.image_size == (640, 360)
    assert record.metadata[0] == {"label": "x"} and len(record.metadata) == 2  # + the timeline
    record.warnings.append("more")
    record.metadata[0]["label"] = "changed"
    assert video.warnings == ["w"] and video.metadata == [{"label": "x"}]


def test_a_trusted_fake_face_decides_over_a_higher_score_too_small_to_judge():
    """A group photo: a tiny background face scores 0.99 but is too small to judge, the main
    face 0.97 and judged fake. The picture is "fake" at 0.97, not "uncertain" at 0.99."""
    from types import SimpleNamespace

    from app.core.analysis import Analyzer
    from app.core.quality import FACE_TOO_SMALL, QualityWarning
    from app.core.results import FaceResult

    small = FaceResult(box=(0, 0, 12, 12), det_score=0.9, p_fake=0.99, verdict=Verdict.FAKE)
    main = FaceResult(box=(50, 50, 250, 250), det_score=0.99, p_fake=0.97, verdict=Verdict.FAKE)
    real = FaceResult(box=(300, 50, 500, 250), det_score=0.99, p_fake=0.05,
                      verdict=Verdict.REAL)
    r = AnalysisResult(path="/x/group.jpg", status=Status.OK, faces=[small, main, real],
                       quality=[QualityWarning(FACE_TOO_SMALL, "too small", face=0).to_dict()])
    Analyzer._summarise(r, SimpleNamespace(trained=True))
    assert small.verdict == Verdict.UNCERTAIN
    assert r.most_suspicious is main and (r.verdict, r.p_fake) == (Verdict.FAKE, 0.97)
    # Without a fake face, the unjudgeable one still decides: uncertain, not real.
    r2 = AnalysisResult(path="/x/pair.jpg", status=Status.OK, faces=[
        FaceResult(box=(0, 0, 12, 12), det_score=0.9, p_fake=0.99, verdict=Verdict.UNCERTAIN),
        FaceResult(box=(50, 50, 250, 250), det_score=0.99, p_fake=0.05, verdict=Verdict.REAL)])
    Analyzer._summarise(r2, SimpleNamespace(trained=True))
    assert (r2.verdict, r2.p_fake) == (Verdict.UNCERTAIN, 0.99)


def test_a_clips_fake_track_decides_over_an_uncertain_one_with_a_higher_score():
    from app.core.video_tracks import Track, TrackPoint, deciding_track

    def track(i, p, verdict):
        pts = [TrackPoint(frame=f, t=f / 25, box=(0, 0, 10, 10), p_fake=p, logit=0.0)
               for f in range(3)]
        return Track(id=i, points=pts, p_fake=p, verdict=verdict)

    tracks = [track(1, 0.99, Verdict.UNCERTAIN), track(2, 0.96, Verdict.FAKE),
              track(3, 0.10, Verdict.REAL)]
    assert deciding_track(tracks).id == 2
    assert deciding_track([tracks[0], tracks[2]]).id == 1
