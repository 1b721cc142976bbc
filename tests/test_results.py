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
