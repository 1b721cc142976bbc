"""`python -m app evaluate` on folders of clips: per-clip and per-frame figures side by side."""

from __future__ import annotations

import json

from app.cli import main
from tests import video_clips as clips


def test_evaluate_folders_of_videos(untrained_card, tmp_path, monkeypatch, capsys):
    import app.core.factory as factory
    from app.core.analysis import Analyzer

    monkeypatch.setattr(factory, "load_analyzer", lambda weights, heatmaps: Analyzer(
        untrained_card, heatmaps=heatmaps, allow_untrained=True))
    frames = [f for f, _ in clips.frames()]
    real, fake = tmp_path / "real", tmp_path / "fake"
    for folder, flip in ((real, False), (fake, True)):
        folder.mkdir()
        for i in range(2):
            items = [f[:, ::-1].copy() if flip else f for f in frames[i * 4:i * 4 + 24]]
            clips.write_clip(folder / f"c{i}.mp4", items)
    out = tmp_path / "eval"
    rc = main(["evaluate", "--real", str(real), "--fake", str(fake), "--out", str(out),
               "--max-frames", "4"])
    assert rc == 0
    text = capsys.readouterr().out
    assert "per clip" in text and "per frame" in text and "4 clips" in text
    report = json.loads((out / "video_metrics.json").read_text())
    assert report["per_clip"]["n"] == 4 and report["model"] == "untrained-test-model"
    assert 4 < report["frames"] <= 16 and 0.0 <= report["per_frame"]["roc_auc"] <= 1.0
    rows = (out / "video_scores.csv").read_text().splitlines()
    assert len(rows) == 5 and rows[0].startswith("path,folder,label,p_fake")
