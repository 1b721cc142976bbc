"""Detector round 2's training jobs resume: the feature cache skips finished shards, the head's
configuration search skips finished configurations; calibration holds on every real source."""

from __future__ import annotations

import json

import numpy as np
import pytest

from app.training import clip_head


def _fake_shards(folder, rng, n_per_cell=30):
    """Cached-feature shards with a weak real/fake signal in a few dimensions."""
    meta, clip, fr = [], [], []
    for split in ("train", "cal", "eval"):
        for source in ("dfdc", "gan", "utk", "ffpp"):
            for label in (0, 1):
                if source == "utk" and label == 1:
                    continue
                for i in range(n_per_cell):
                    meta.append({"path": f"{source}/{label}/{split}_{i}.jpg", "source": source,
                                 "label": label, "group": f"{source}:{split}:{i % 10}",
                                 "split": split, "views": 1, "view": 0})
                    c = rng.normal(size=(24, 768)).astype(np.float16)
                    c[:, :4] += np.float16(1.5 * label)
                    clip.append(c)
                    f = rng.normal(size=1024).astype(np.float16)
                    f[:4] += np.float16(label)
                    fr.append(f)
    half = len(meta) // 2
    for k, sl in enumerate((slice(0, half), slice(half, None))):
        np.savez(folder / f"shard{k:03d}.npz", clip=np.stack(clip[sl]), faceres=np.stack(fr[sl]),
                 meta=np.array(json.dumps(meta[sl])), skipped=np.array("[]"))


def test_head_search_resumes_and_thresholds_hold_per_source(tmp_path, monkeypatch):
    feats, out = tmp_path / "feats", tmp_path / "run"
    feats.mkdir()
    _fake_shards(feats, np.random.default_rng(0))
    calls = []
    real_cv = clip_head.grouped_cv

    def counting_cv(*a, **k):
        calls.append(1)
        return real_cv(*a, **k)

    monkeypatch.setattr(clip_head, "grouped_cv", counting_cv)
    monkeypatch.setattr(clip_head, "C_GRID", (0.01, 0.1))
    assert clip_head.main(["--feats", str(feats), "--out", str(out)]) == 0
    first = len(calls)
    assert first == 4  # 2 configurations of head A + 2 of head B
    report = json.loads((out / "report.json").read_text())
    assert report["A"]["eval"]["dfdc"]["roc_auc"] > 0.8  # the planted signal is found
    # The threshold keeps every cal real source at or under 5 % false alarms (worst case).
    cal = report["A"]["cal"]
    assert max(cal[s]["real_called_fake"] for s in ("dfdc", "gan", "utk", "ffpp")) <= 0.05
    # A rerun resumes: head A's finished configurations are not computed again.
    calls.clear()
    assert clip_head.main(["--feats", str(feats), "--out", str(out)]) == 0
    assert len(calls) == 2  # only head B's (cheap, not checkpointed)


@pytest.mark.slow
def test_feature_cache_resumes_after_finished_shards(tmp_path, monkeypatch, astronaut):
    import cv2

    from app.training import clip_features
    from tests.conftest import save_rgb

    files = [save_rgb(tmp_path / f"f{i}.png", cv2.resize(astronaut, (s, s)))
             for i, s in enumerate((300, 256, 220))]
    items = [clip_features.Item(str(f), "utk", 0, f"utk:{f.name}", "eval") for f in files]
    monkeypatch.setattr(clip_features, "build_items", lambda data, groups: items)
    monkeypatch.setattr(clip_features, "SHARD", 2)
    out = tmp_path / "feats"
    assert clip_features.main(["--out", str(out)]) == 0
    shards = sorted(out.glob("shard*.npz"))
    assert [s.name for s in shards] == ["shard000.npz", "shard001.npz"]
    d = np.load(shards[0])
    assert d["clip"].shape == (2, 24, 768) and d["faceres"].shape == (2, 0)  # no FaceRes card
    assert np.isfinite(d["clip"].astype(np.float32)).all()
    stamp = shards[0].stat().st_mtime_ns
    shards[1].unlink()  # as if the job died while writing the second shard
    assert clip_features.main(["--out", str(out)]) == 0
    assert shards[0].stat().st_mtime_ns == stamp  # finished work is not redone
    assert (out / "shard001.npz").exists()
