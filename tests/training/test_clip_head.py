"""Detector round 2's training jobs resume: the feature cache skips finished shards, the head's
configuration search skips finished configurations; calibration holds on every real source."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from app.training import clip_head


def _fake_shards(folder, rng, n_per_cell=30, pools=None):
    """Cached-feature shards with a weak real/fake signal in a few dimensions (with `pools`,
    every layer holds those poolings, and the signal sits in the last one only)."""
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
                    if pools:
                        c = rng.normal(size=(12, len(pools), 768)).astype(np.float16)
                        c[:, -1, :4] += np.float16(1.5 * label)
                        c = c.reshape(12 * len(pools), 768)
                    else:
                        c = rng.normal(size=(24, 768)).astype(np.float16)
                        c[:, :4] += np.float16(1.5 * label)
                    clip.append(c)
                    f = rng.normal(size=1024).astype(np.float16)
                    f[:4] += np.float16(label)
                    fr.append(f)
    half = len(meta) // 2
    for k, sl in enumerate((slice(0, half), slice(half, None))):
        extra = {"pools": np.array(pools)} if pools else {}
        np.savez(folder / f"shard{k:03d}.npz", clip=np.stack(clip[sl]), faceres=np.stack(fr[sl]),
                 meta=np.array(json.dumps(meta[sl])), skipped=np.array("[]"), **extra)


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
    # Every pooling of every layer (layer-major), and no FaceRes features without a card.
    assert d["clip"].shape == (2, 12 * 4, 768) and d["faceres"].shape == (2, 0)
    assert list(d["pools"]) == ["cls", "mean", "center", "std"]
    assert np.isfinite(d["clip"].astype(np.float32)).all()
    stamp = shards[0].stat().st_mtime_ns
    shards[1].unlink()  # as if the job died while writing the second shard
    assert clip_features.main(["--out", str(out)]) == 0
    assert shards[0].stat().st_mtime_ns == stamp  # finished work is not redone
    assert (out / "shard001.npz").exists()


def test_pooling_search_picks_the_informative_pooling(tmp_path):
    """With several poolings cached, the search compares pooling sets by grouped CV, and the
    chosen set's columns are the ones `ClipDetector.features` computes, in its order."""
    pools = ("cls", "mean", "center", "std")
    feats, out = tmp_path / "feats", tmp_path / "run"
    feats.mkdir()
    _fake_shards(feats, np.random.default_rng(1), pools=pools)
    f = clip_head.load_feats(feats)
    assert f.pools == pools
    x = clip_head.clip_matrix(f, (2, 5), ("mean", "std"))
    assert x.shape == (len(f.label), 4 * 768)
    np.testing.assert_array_equal(x[:, 3 * 768:], f.clip[:, 4 * 5 + 3].astype(np.float32))
    with pytest.raises(ValueError, match="not in the cache"):
        clip_head.clip_matrix(clip_head.Feats(**{**f.__dict__, "pools": ("cls", "mean")}),
                              (0,), ("std",))
    assert clip_head.main(["--feats", str(feats), "--out", str(out), "--layers", "0,1",
                           "--pools", "cls,mean;std", "--c-grid", "0.05"]) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["chosen"]["pools"] == ["std"]  # the signal is planted in 'std' only
    assert report["A"]["eval"]["dfdc"]["roc_auc"] > 0.8
    assert list(np.load(out / "heads.npz")["pools"]) == ["std"]


def test_linear_head_solves_scikit_learns_objective():
    """The float32 L-BFGS head finds scikit-learn's weighted L2 logistic regression."""
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(3)
    x = rng.normal(size=(400, 30)).astype(np.float32)
    y = (x[:, :3].sum(1) + rng.normal(size=400) > 0).astype(int)
    w = rng.uniform(0.5, 2.0, size=400)
    for c in (0.01, 1.0):
        head = clip_head.LinearHead(c).fit(x, y, w)
        ref = LogisticRegression(C=c, max_iter=5000, tol=1e-8).fit(
            (x - head.mean) / head.std, y, sample_weight=w)
        np.testing.assert_allclose(head.coef, ref.coef_[0], rtol=2e-3, atol=2e-4)
        assert abs(head.bias - ref.intercept_[0]) < 2e-3


def test_mirrored_views_join_training_in_their_faces_groups(tmp_path):
    """--mirror-feats adds a mirror cache's training rows (views marked MIRROR_VIEW + v) to
    the training set only; cal/eval and the training counts stay those of the main cache."""
    feats, mirror, out = tmp_path / "feats", tmp_path / "mirror", tmp_path / "run"
    feats.mkdir()
    mirror.mkdir()
    _fake_shards(feats, np.random.default_rng(2))
    _fake_shards(mirror, np.random.default_rng(3))  # its cal/eval rows must be ignored
    a, b = clip_head.load_feats(feats), clip_head.load_feats(mirror)
    both = clip_head.concat_feats(a, b)
    assert len(both.label) == len(a.label) + len(b.label) and both.pools == a.pools
    assert clip_head.main(["--feats", str(feats), "--out", str(out), "--layers", "0",
                           "--c-grid", "0.05", "--mirror-feats", str(mirror)]) == 0
    report = json.loads((out / "report.json").read_text())
    n_train = int(((a.split == "train") & np.isin(a.source, clip_head.TRAIN_SOURCES)).sum())
    assert report["n_train"] == 2 * n_train
    assert report["train_counts"]["dfdc real"] == 30  # mirrored views are not counted twice
    assert report["A"]["eval"]["dfdc"]["n_real"] == 30  # eval: the main cache's faces only


def test_cv_folds_keep_groups_together_and_do_not_change_between_runs():
    groups = ["vid_a", "vid_b", "vid_a", "utk/1.jpg", "vid_b"]
    folds = clip_head.cv_folds(groups)
    assert folds[0] == folds[2] and folds[1] == folds[4]
    code = ("from app.training.clip_head import cv_folds; "
            f"print(cv_folds({groups!r}).tolist())")
    runs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           check=True, env={**os.environ, "PYTHONHASHSEED": seed}).stdout
            for seed in ("1", "2")}
    assert runs == {f"{folds.tolist()}\n"}


def test_pair_centred_copies_keep_only_what_differs_within_a_source_video(tmp_path):
    """Each DFDC training face minus its group's real/fake mean, plus the overall mean:
    a feature shared by a video's real and fake (the scene) is gone, the swap's change stays;
    groups without both labels give no copies; --pair-center trains on them, CV and eval
    figures stay those of real faces."""
    rng = np.random.default_rng(4)
    n = 6
    clip = rng.normal(size=(2 * n + 1, 2, 4)).astype(np.float16)
    group = np.array([f"v{i // 2}" for i in range(2 * n)] + ["lonely"])
    label = np.array([i % 2 for i in range(2 * n)] + [0])
    scene = rng.normal(size=(n, 2, 4)).astype(np.float16) * 5
    clip[:2 * n] += np.repeat(scene, 2, axis=0)
    f = clip_head.Feats(clip, np.zeros((2 * n + 1, 0), np.float16), np.array(["dfdc"] * 13),
                        label, group, np.array(["train"] * 13), np.zeros(13, int),
                        np.array([f"p{i}" for i in range(13)]))
    pc = clip_head.pair_centered(f)
    assert len(pc.label) == 2 * n and "lonely" not in set(pc.group)
    assert set(pc.source) == {clip_head.PAIR_SOURCE}
    overall = clip.astype(np.float32).mean(0)
    x = clip[:2 * n].astype(np.float32)
    expected = x - (x[0::2] + x[1::2]).repeat(2, axis=0) / 2 + overall
    np.testing.assert_allclose(pc.clip.astype(np.float32), expected, atol=2e-2)
    # a real and its fake now differ only by what differed between them
    np.testing.assert_allclose(pc.clip[1::2].astype(np.float32) - pc.clip[0::2],
                               x[1::2] - x[0::2], atol=2e-2)

    feats, out = tmp_path / "feats", tmp_path / "run"
    feats.mkdir()
    _fake_shards(feats, np.random.default_rng(5))
    assert clip_head.main(["--feats", str(feats), "--out", str(out), "--layers", "0",
                           "--c-grid", "0.05", "--pair-center", "0.5"]) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["pair_centered"] == 0.5
    assert all(clip_head.PAIR_SOURCE not in cv for cv in report["cv"].values())
    assert report["A"]["eval"]["dfdc"]["n_real"] == 30 and report["train_counts"]["dfdc real"] == 30
