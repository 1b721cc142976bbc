"""`python -m app analyze` with videos: one JSON line per clip, photos unchanged, options."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.cli import main
from tests import video_clips as clips
from tests.conftest import save_rgb
from tests.test_cli import CONTRACT_KEYS


@pytest.fixture
def cli_analyzer(untrained_card, monkeypatch):
    import app.cli as cli
    from app.core.analysis import Analyzer

    # The shipped CLI refuses untrained weights; these tests opt in explicitly.
    monkeypatch.setattr(cli, "_load_analyzer", lambda weights, heatmaps: Analyzer(
        untrained_card, heatmaps=heatmaps, allow_untrained=True))


def test_videos_and_photos_in_input_order(cli_analyzer, tmp_path, astronaut, capsys):
    folder = tmp_path / "case"
    folder.mkdir()
    clips.write_clip(folder / "b_clip.mp4")
    save_rgb(folder / "a_photo.png", astronaut)
    save_rgb(folder / "c_photo.jpg", astronaut)
    (folder / "d_broken.mkv").write_bytes(b"\x1a\x45\xdf\xa3 not really")
    rc = main(["analyze", "--no-heatmap", str(folder)])
    assert rc == 0
    out = capsys.readouterr()
    lines = [json.loads(line) for line in out.out.strip().splitlines()]
    assert [Path(r["path"]).name for r in lines] == [
        "a_photo.png", "b_clip.mp4", "c_photo.jpg", "d_broken.mkv"]
    photo, video, _, broken = lines
    assert photo["kind"] == "image" and CONTRACT_KEYS <= set(photo)
    assert video["kind"] == "video" and CONTRACT_KEYS - {"faces"} <= set(video)
    assert video["status"] == "ok"
    assert video["duration_s"] == pytest.approx(len(clips.frames()) / clips.FPS, abs=0.1)
    assert video["frames_scored"] >= 10
    assert video["tracks"] and video["verdict"] in ("fake", "real", "uncertain")
    top = next(t for t in video["tracks"] if t["id"] == video["deciding_track"])
    assert video["p_fake"] == top["p_fake"]
    for tr in video["tracks"]:
        assert {"id", "p_fake", "verdict", "frames"} <= set(tr)
        for f in tr["frames"]:
            assert {"t", "box", "p_fake"} <= set(f) and len(f["box"]) == 4
    assert broken["kind"] == "video" and broken["status"] == "error" and broken["error"]
    assert "[video]" in out.err


def test_saved_heatmaps_are_numbered_across_clips_and_never_overwritten(
        cli_analyzer, tmp_path, astronaut, capsys):
    """Two photos with the same name in different folders, a clip between them: each photo
    gets its own PNG (numbered by its place in the whole input) and progress counts on."""
    for sub in ("a", "b"):
        (tmp_path / sub).mkdir()
        save_rgb(tmp_path / sub / "x.png", astronaut[20:276, 96:352])
    clip = clips.write_clip(tmp_path / "clip.mp4")
    heat = tmp_path / "heat"
    assert main(["analyze", "--save-heatmaps", str(heat), "--max-frames", "4",
                 str(tmp_path / "a" / "x.png"), str(clip), str(tmp_path / "b" / "x.png")]) == 0
    out = capsys.readouterr()
    first, video, second = (json.loads(line) for line in out.out.splitlines())
    assert video["kind"] == "video" and "heatmap_file" not in video
    files = [Path(first["heatmap_file"]), Path(second["heatmap_file"])]
    assert [f.name for f in files] == ["00001_x_heatmap.png", "00003_x_heatmap.png"]
    assert all(f.is_file() and f.stat().st_size > 0 for f in files)
    assert "[1/3]" in out.err and "[3/3]" in out.err
    assert main(["analyze", "--save-heatmaps", str(heat), "--no-heatmap", str(clip)]) == 2
    assert "--save-heatmaps needs the heatmaps" in capsys.readouterr().err


def test_sampling_options(cli_analyzer, tmp_path, capsys):
    path = clips.write_clip(tmp_path / "clip.mov")
    assert main(["analyze", "-q", "--frames-per-second", "0.5", "--max-frames", "3",
                 str(path)]) == 0
    (record,) = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert record["frames_scored"] <= 3
    assert record["settings"]["frames_per_second"] == 0.5
    assert record["settings"]["max_frames"] == 3 and "threshold" in record["settings"]


def test_table_format_lists_videos(cli_analyzer, tmp_path, capsys):
    path = clips.write_clip(tmp_path / "clip.avi", fourcc="MJPG")
    assert main(["analyze", "-q", "--format", "table", str(path)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split()[:2] == ["verdict", "p_fake"] and out[1].endswith("clip.avi")


@pytest.mark.parametrize("bad", [["--max-frames", "0"], ["--frames-per-second", "x"]])
def test_bad_option_values_are_usage_errors(bad, tmp_path):
    with pytest.raises(SystemExit) as exc:
        main(["analyze", *bad, str(tmp_path)])
    assert exc.value.code == 2
