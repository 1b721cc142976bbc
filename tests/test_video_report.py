"""A clip in the case report: timeline plot, faces table, most suspicious frames."""

from __future__ import annotations

import base64
import io
import re

import numpy as np
import pytest
from PIL import Image

from app.cli import main
from app.core.report import CaseReport
from app.core.report_video import timeline_png
from app.core.video import analyze_video
from tests import video_clips as clips


@pytest.fixture(scope="module")
def clip_and_result(analyzer, tmp_path_factory):
    path = clips.write_clip(tmp_path_factory.mktemp("report") / "clip.mp4")
    return path, analyze_video(analyzer, path)


def _images(html: str) -> list[np.ndarray]:
    return [np.asarray(Image.open(io.BytesIO(base64.b64decode(b))))
            for b in re.findall(r"data:image/\w+;base64,([A-Za-z0-9+/=]+)", html)]


def test_report_has_timeline_faces_and_frames(clip_and_result, analyzer):
    path, video = clip_and_result
    report = CaseReport(card=analyzer.detector.card, title="Clip check")
    report.add(video.as_analysis_result(), notes="from a source", tags="clip")
    html = report.html()
    assert "clip.mp4 (video)" in html and "<h3>Timeline</h3>" in html
    assert html.count("Face 1") >= 1 and "Most suspicious frames" in html
    assert "Timeline (stored)" not in html  # the stored JSON is not a finding to show
    assert "Written by" in html and "from a source" in html
    pictures = _images(html)
    assert pictures[0].shape[:2] == (260, 900)  # the plot, then the frames
    assert 1 <= len(pictures) - 1 <= 4
    assert video.frames_scored == int(re.search(r"(\d+) frames scored", html).group(1))


def test_timeline_png_draws_each_track_threshold_and_band(clip_and_result):
    _, video = clip_and_result
    video.settings.update(threshold=0.8, uncertain_band=[0.3, 0.6])
    img = timeline_png(video).astype(int)
    left, right, top, bottom = 44, 890, 10, 236
    y = lambda p: round(bottom - (bottom - top) * p)  # noqa: E731
    row = img[y(0.8), left + 1:right]
    red = (row[:, 0] > 150) & (row[:, 1] < 80)
    assert 0.3 < red.mean() < 0.7  # a dashed line
    band = img[y(0.45), left + 1:right]
    assert (np.abs(band - [250, 232, 204]).sum(1) == 0).mean() > 0.5
    above = img[y(0.95), left + 1:right]
    assert (above == 255).all(1).mean() > 0.9
    blue = (img[..., 2] > 150) & (img[..., 0] < 40)  # face 1's colour (#0072b2)
    assert blue.sum() > 50


def test_report_command_takes_videos(untrained_card, clip_and_result, tmp_path, monkeypatch,
                                     capsys):
    import app.cli as cli
    from app.core.analysis import Analyzer

    monkeypatch.setattr(cli, "_load_analyzer", lambda weights, heatmaps: Analyzer(
        untrained_card, heatmaps=heatmaps, allow_untrained=True))
    out = tmp_path / "r.html"
    assert main(["report", "-q", "--out", str(out), str(clip_and_result[0])]) == 0
    html = out.read_text()
    assert "<h3>Timeline</h3>" in html and "UNTRAINED" in html


def test_a_low_scoring_clip_left_uncertain_says_why():
    """'Uncertain, 8 %' contradicted the clip's own chart until the reason was printed."""
    from app.core.report_video import _untrusted_why
    from app.core.video import VideoResult
    from app.core.video_tracks import Track, TrackPoint

    points = [TrackPoint(frame=f, t=f / 2, box=(0, 0, 20, 20), p_fake=0.08, logit=-2.0)
              for f in range(4)]
    gated = Track(id=2, points=points, p_fake=0.08, uncertain_frames=3)
    video = VideoResult(path="/x/c.mp4", status="ok", tracks=[gated], deciding_track=2)
    assert _untrusted_why(video) == (" (face 2 was too small or blurred to judge in 3 of its 4 "
                                     "frames, whatever its score)")
    gated.uncertain_frames = 1
    assert _untrusted_why(video) == ""
