"""Clips in a batch (folder walk) and in the history: the stored record keeps the timeline."""

from __future__ import annotations

from pathlib import Path

from app.core.batch import run_batch
from app.core.history import HistoryStore, make_thumbnail
from app.core.video import TIMELINE_LABEL, stored_video
from tests import video_clips as clips
from tests.conftest import save_rgb


def test_batch_lists_clips_beside_photos_and_history_keeps_the_timeline(analyzer, tmp_path,
                                                                        astronaut):
    folder = tmp_path / "case"
    folder.mkdir()
    save_rgb(folder / "a.png", astronaut)
    clips.write_clip(folder / "b.mp4")
    (folder / "notes.txt").write_text("skipped")
    items = []
    summary = run_batch(analyzer, [folder], on_result=lambda it: items.append(
        (it, make_thumbnail(it.image.rgb) if it.image is not None else None)))
    assert summary.done == 2 and [Path(i.path).name for i, _ in items] == ["a.png", "b.mp4"]
    (video_item, thumb) = items[1]
    r = video_item.result
    assert r.status == "ok" and r.p_fake is not None and thumb  # first frame -> thumbnail
    assert len(r.faces) >= 2  # one per track: the astronaut, the cameraman
    with HistoryStore(tmp_path / "h.db") as store:
        hid = store.add(r, thumb)
        entry = store.get(hid)
    video = stored_video(entry.metadata)
    assert video is not None and video.sha256 == r.sha256
    assert [t.id for t in video.tracks] == list(range(1, len(r.faces) + 1))
    assert video.frames_scored >= 10 and len(video.cuts) == 2
    assert all(m.get("label") != TIMELINE_LABEL for m in video.metadata)
    assert stored_video(items[0][0].result.metadata) is None  # a photo has none
