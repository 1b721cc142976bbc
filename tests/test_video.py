"""Video core: probe, sampling with scene cuts, face tracks, truncated files, cancel, JSON."""

from __future__ import annotations

import json
import os
import threading
import time

import numpy as np
import pytest

from app.core.results import Status, Verdict
from app.core.video import VideoResult, analyze_video, explain_frame, probe, read_frame
from app.core.video_io import plan_even
from tests import video_clips as clips

CUT_T = clips.PAN_S  # the astronaut -> cameraman cut
EMPTY_T = clips.PAN_S + clips.CUT_S  # cameraman -> coffee cup (no face)


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return clips.write_clip(tmp_path_factory.mktemp("clips") / "pan_cut.mp4")


@pytest.fixture(scope="module")
def clip_result(analyzer, clip):
    return analyze_video(analyzer, clip)


def test_probe_reads_stream_and_container(clip):
    info = probe(clip)
    assert (info.width, info.height) == (clips.W, clips.H)
    assert info.fps == pytest.approx(clips.FPS)
    assert info.duration_s == pytest.approx(len(clips.frames()) / clips.FPS, abs=0.1)
    assert info.container["encoder"].startswith("Lavf")  # OpenCV writes through FFmpeg
    assert len(info.sha256) == 64


def test_tracks_link_the_panning_face_and_the_cut_is_found(clip_result):
    r = clip_result
    assert r.status == Status.OK and r.kind == "video"
    assert r.frames_scored == len(r.frames) <= 120
    # Both scene changes are found, each within two frames of where it is.
    assert any(abs(c - CUT_T) <= 2 / clips.FPS for c in r.cuts)
    assert any(abs(c - EMPTY_T) <= 2 / clips.FPS for c in r.cuts)
    assert len(r.cuts) == 2
    # The astronaut's face moves ~70 px across the pan's samples yet stays one track.
    pan_frames = [f for f in r.frames if f.t < CUT_T]
    astro = [t for t in r.tracks if t.first_t < CUT_T]
    assert len(astro) == 1 and len(astro[0].points) == len(pan_frames) >= 5
    xs = [p.box[0] for p in astro[0].points]
    assert xs[0] - xs[-1] > 60  # it really moved
    # No track crosses a cut, and the coffee-cup frames have no face.
    for tr in r.tracks:
        assert all(p.t < CUT_T for p in tr.points) or all(p.t >= CUT_T for p in tr.points)
    cup = [f for f in r.frames if f.t >= EMPTY_T + 1 / clips.FPS]
    assert cup and all(f.tracks == [] for f in cup)
    # The frame just after each cut is scored (reason "cut").
    assert sum(f.reason == "cut" for f in r.frames) == 2


def test_clip_score_is_its_most_suspicious_tracks_mean_logit(clip_result, analyzer):
    r, card = clip_result, analyzer.detector.card
    for tr in r.tracks:
        logits = [p.logit for p in tr.points]
        assert tr.logit_mean == pytest.approx(np.mean(logits))
        assert tr.p_fake == pytest.approx(float(card.calibrate(np.array([np.mean(logits)]))[0]))
        lo, hi = tr.p_spread
        assert lo <= hi
    top = max((t for t in r.tracks if len(t.points) >= 2), key=lambda t: t.p_fake)
    assert r.deciding_track == top.id and r.p_fake == top.p_fake
    assert r.verdict == top.verdict
    assert any("UNTRAINED" in w for w in r.warnings)


def test_result_is_json_and_round_trips(clip_result):
    d = clip_result.to_dict()
    text = json.dumps(d)  # no numpy types left
    back = VideoResult.from_dict(json.loads(text))
    assert back.to_dict() == d
    assert {"kind", "duration_s", "frames_scored", "tracks", "p_fake", "verdict"} <= set(d)
    for tr in d["tracks"]:
        assert {"id", "p_fake", "verdict", "frames"} <= set(tr)
        assert {"t", "box", "p_fake"} <= set(tr["frames"][0])
    photo_like = clip_result.as_analysis_result()
    assert len(photo_like.faces) == len(clip_result.tracks)
    assert photo_like.p_fake == pytest.approx(d["p_fake"], abs=1e-4)


def test_key_frames_and_first_frame_are_small_copies(clip_result):
    r = clip_result
    assert r.first_frame is not None and max(r.first_frame.shape[:2]) <= 320
    assert 1 <= len(r.key_frames) <= 6
    ps = [k.max_p for k in r.key_frames]
    assert ps == sorted(ps, reverse=True)


def test_truncated_file_scores_what_decodes_and_warns(analyzer, tmp_path):
    path = clips.truncated_clip(tmp_path / "cut_off.avi", keep=0.5)
    r = analyze_video(analyzer, path)
    assert r.status == Status.OK
    assert any("truncated" in w for w in r.warnings)
    assert r.frames_scored >= 3  # the first half decodes (the astronaut's pan)
    assert r.tracks and all(p.t < CUT_T for t in r.tracks for p in t.points)
    assert r.duration_s < len(clips.frames()) / clips.FPS


def test_mp4_without_index_is_a_clear_error(analyzer, clip, tmp_path):
    cut = tmp_path / "no_index.mp4"
    cut.write_bytes(clip.read_bytes()[: clip.stat().st_size // 2])  # moov is at the end
    r = analyze_video(analyzer, cut)
    assert r.status == Status.ERROR and "could not be opened" in r.error


@pytest.mark.parametrize("kind", ["text", "empty", "fifo", "folder", "missing"])
def test_bad_inputs_are_refused_plainly(analyzer, tmp_path, kind):
    path = tmp_path / "bad.mp4"
    if kind == "text":
        path.write_text("not a video at all\n" * 20)
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "fifo":
        os.mkfifo(path)  # opening it for reading would block forever
    elif kind == "folder":
        path.mkdir()
    t0 = time.perf_counter()
    r = analyze_video(analyzer, path)
    assert time.perf_counter() - t0 < 10
    assert r.status == Status.ERROR and r.error and r.p_fake is None
    assert json.loads(json.dumps(r.to_dict()))["status"] == "error"
    # The type the CLI prints and the window shows ("ERROR VideoLoadError"), and plain words.
    expected = {"text": ("VideoLoadError", "could not be opened as a video"),
                "empty": ("VideoLoadError", "empty (0 bytes)"),
                "fifo": ("VideoLoadError", "named pipe (FIFO)"),
                "folder": ("VideoLoadError", "a folder, not a video file"),
                "missing": ("FileMissingError", "does not exist")}[kind]
    assert (r.error_type, expected[1] in r.error) == (expected[0], True), (r.error_type, r.error)
    assert "\n" not in r.error


def test_fifo_passed_as_a_video_fails_fast_with_a_clear_message(tmp_path):
    """A named pipe with a video name: refused by the shared regular-file check before OpenCV
    or the hash opens it (opening it would block until a writer came)."""
    from app.core.video_io import VideoLoadError, check_video_file
    from tests.guards import no_hang

    fifo = tmp_path / "clip\nfrom phone.mp4"  # a newline in the name must not break the line
    os.mkfifo(fifo)
    calls = {"check_video_file": lambda: check_video_file(str(fifo)), "probe": lambda: probe(fifo),
             "read_frame": lambda: read_frame(fifo, 0)}
    for name, call in calls.items():
        t0 = time.perf_counter()
        with no_hang(5, fifos=(fifo,)):
            with pytest.raises(VideoLoadError) as info:
                call()
        assert time.perf_counter() - t0 < 2, name
        message = str(info.value)
        assert "named pipe (FIFO)" in message and "it was not read" in message, message
        assert "clip\\nfrom phone.mp4" in message and "\n" not in message, message


def test_a_video_swapped_for_a_pipe_after_the_check_is_refused_not_read_forever(clip, tmp_path):
    """The check and the opening are separate steps: a name that becomes a FIFO in between must
    not block the hash, the container reader or OpenCV (each opens without blocking and checks
    what it opened; OpenCV gets the opened file's /proc/self/fd link on Linux)."""
    from app.core.video_io import VideoLoadError, _open, check_video_file, sha256_of_file
    from app.core.video_meta import read_container_metadata
    from tests.guards import no_hang

    path = tmp_path / "swapped.mp4"
    path.write_bytes(clip.read_bytes())
    check_video_file(str(path))
    path.unlink()
    os.mkfifo(path)
    with no_hang(5, fifos=(path,)):
        for call in (lambda: sha256_of_file(str(path)), lambda: _open(str(path))):
            with pytest.raises(VideoLoadError, match="named pipe"):
                call()
        assert read_container_metadata(str(path)) == {}


def test_opencv_reads_the_file_that_was_checked(clip, tmp_path, monkeypatch):
    """OpenCV is handed the opened file, not its name, where the OS allows (Linux /proc)."""
    import cv2

    from app.core import video_io

    names = []
    real = cv2.VideoCapture
    monkeypatch.setattr(cv2, "VideoCapture", lambda name, *a: names.append(name) or real(name, *a))
    cap = video_io._open(str(clip))
    try:
        assert cap.isOpened() and cap.read()[0]
    finally:
        cap.release()
    if os.path.isdir("/proc/self/fd"):
        assert names[0].startswith("/proc/self/fd/")


def test_other_non_files_passed_as_a_video(tmp_path):
    from app.core.errors import FileMissingError
    from app.core.video_io import VideoLoadError, check_video_file

    dangling = tmp_path / "gone.mp4"
    dangling.symlink_to(tmp_path / "deleted.mp4")
    with pytest.raises(VideoLoadError, match="dangling link"):
        check_video_file(str(dangling))
    with pytest.raises(FileMissingError, match="does not exist"):
        check_video_file(str(tmp_path / "never-was.mp4"))
    if os.path.exists("/dev/zero"):
        link = tmp_path / "zero.mp4"
        link.symlink_to("/dev/zero")
        with pytest.raises(VideoLoadError, match="a device"):
            check_video_file(str(link))
    ok = tmp_path / "tiny.mp4"
    ok.write_bytes(b"\0" * 10)
    assert check_video_file(str(ok)) == 10  # a regular file passes; OpenCV judges the content
    if hasattr(os, "geteuid") and os.geteuid() != 0:  # root reads anything
        ok.chmod(0)
        try:
            with pytest.raises(VideoLoadError, match="No permission"):
                check_video_file(str(ok))
        finally:
            ok.chmod(0o644)


def test_video_size_limit_is_the_videos_own(tmp_path, monkeypatch):
    from app.core import video_io
    from app.core.video_io import VideoLoadError, check_video_file

    path = tmp_path / "long.mp4"
    path.write_bytes(b"\0" * 2048)
    monkeypatch.setattr(video_io, "MAX_VIDEO_BYTES", 1024)
    with pytest.raises(VideoLoadError, match="are refused"):
        check_video_file(str(path))


def test_the_size_limit_message_names_the_real_limit(tmp_path):
    """16.5 GB (binary, as the limit is counted) is over the README's 16 GB, and says so."""
    from app.core.video_io import VideoLoadError, check_video_file

    path = tmp_path / "huge.mp4"
    with open(path, "wb") as f:  # sparse: no disk space used
        f.truncate(int(16.5 * 1024**3))
    with pytest.raises(VideoLoadError, match=r"The file is 16\.5 GB; videos over 16 GB are"):
        check_video_file(str(path))


def test_cancel_stops_between_frames(analyzer, clip):
    """No frame is analysed after the cancel is set, and the call returns promptly."""
    cancel = threading.Event()
    calls = []
    stamp = {}

    class Counting:  # the real analyzer, counting and cancelling after its second frame
        detector = analyzer.detector
        _detector = analyzer._detector

        def analyze(self, *a, **k):
            calls.append(time.perf_counter())
            out = analyzer.analyze(*a, **k)
            if len(calls) == 2:
                stamp["cancel"] = time.perf_counter()
                cancel.set()
            return out

    r = analyze_video(Counting(), clip, cancel=cancel)
    returned = time.perf_counter()
    assert len(calls) == 2 and r.frames_scored == 2
    assert r.cancelled and any("Cancelled" in w for w in r.warnings)
    assert returned - stamp["cancel"] < 1.0


def test_progress_reports_fraction_and_eta(analyzer, clip):
    seen = []
    analyze_video(analyzer, clip, frames_per_second=1.0, on_progress=seen.append)
    fractions = [p.fraction for p in seen]
    assert fractions == sorted(fractions) and fractions[-1] > 0.9
    assert any(p.eta_s is not None for p in seen)


def test_sampling_is_even_and_capped():
    idx, budget = plan_even(90_000, 25.0, 2.0, 120)  # one hour at 25 fps
    assert len(idx) + budget == 120 and len(idx) == 100
    gaps = np.diff(idx)
    assert gaps.min() >= 890 and gaps.max() <= 910
    idx, budget = plan_even(250, 25.0, 2.0, 120)  # 10 s: 2 per second
    assert len(idx) == 20 and budget == 100
    assert plan_even(250, 25.0, 2.0, 5)[0] == [25, 75, 125, 175, 225]


def test_frame_on_demand_with_heatmap(analyzer, clip):
    frames = clips.frames()
    i = 5  # astronaut
    rgb = read_frame(clip, i)
    assert rgb.shape == (clips.H, clips.W, 3)
    assert np.abs(rgb.astype(int) - frames[i][0].astype(int)).mean() < 12  # lossy codec
    cam = read_frame(clip, int(CUT_T * clips.FPS) + 3)
    assert np.abs(cam[..., 0].astype(int) - cam[..., 2].astype(int)).mean() < 4  # grey scene
    _, res = explain_frame(analyzer, clip, i)
    assert res.faces and res.faces[0].heatmap is not None
    assert res.verdict in (Verdict.FAKE, Verdict.REAL, Verdict.UNCERTAIN)


@pytest.mark.parametrize("name,fourcc,container", [
    ("a.webm", "VP80", "Matroska/WebM"), ("a.mkv", "mp4v", "Matroska/WebM"),
    ("a.m4v", "mp4v", "ISO-BMFF (MP4/QuickTime)"), ("a.mov", "mp4v", "ISO-BMFF (MP4/QuickTime)"),
    ("a.avi", "MJPG", None)])
def test_every_container_opens_with_its_metadata(tmp_path, name, fourcc, container):
    from app.core.video_io import Walk, walk

    path = clips.write_clip(tmp_path / name, [f for f, _ in clips.frames()][:24], fourcc=fourcc)
    info = probe(path, hash_file=False)
    assert info.container.get("container") == container
    assert info.duration_s == pytest.approx(2.0, abs=0.1) and info.frame_count == 24
    state = Walk()
    samples = list(walk(info, state=state))
    assert [s.index for s in samples] == [3, 9, 15, 21] and not state.ended_early


def test_two_frames_at_once_keep_order_and_stop_on_cancel(analyzer, clip, clip_result):
    """The parallel path (Analyzer + sibling): same result as one at a time; after cancel no
    new frame starts (frames already in flight finish)."""
    both = analyze_video(analyzer, clip, workers=2)
    assert [f.to_dict() for f in both.frames] == [f.to_dict() for f in clip_result.frames]
    assert [t.id for t in both.tracks] == [t.id for t in clip_result.tracks]
    cancel = threading.Event()
    starts: list[float] = []
    stamp = {}

    class Counting:
        def __init__(self, inner):
            self.inner, self.detector, self._detector = inner, inner.detector, inner._detector

        def sibling(self):
            return Counting(self.inner.sibling())

        def analyze(self, *a, **k):
            starts.append(time.perf_counter())
            out = self.inner.analyze(*a, **k)
            if len(starts) >= 3 and not cancel.is_set():
                stamp["cancel"] = time.perf_counter()
                cancel.set()
            return out

    r = analyze_video(Counting(analyzer), clip, cancel=cancel, workers=2)
    assert r.cancelled and 2 <= r.frames_scored <= len(starts) <= 4
    assert all(t <= stamp["cancel"] for t in starts)  # nothing started after the cancel


def test_a_verdict_from_very_few_frames_says_so(analyzer, tmp_path):
    """Half a second of video: one or two sampled frames decide, and the result says so."""
    path = clips.write_clip(tmp_path / "blink.mp4", [f for f, _ in clips.frames()[:6]])
    result = analyze_video(analyzer, path)
    assert result.status == "ok" and result.frames_scored < 3
    assert any("The verdict rests on" in w and "frame" in w for w in result.warnings)
