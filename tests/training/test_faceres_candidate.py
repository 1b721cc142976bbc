"""The second candidate's protocol glue: which faces are scored, and the A/B/C comparison on
cached CLIP features matched face by face (synthetic shards; no dev data needed)."""

from __future__ import annotations

import json

import numpy as np

from app.training.clip_features import Item
from app.training.faceres_candidate import _wanted, compare
from app.training.splits import split_of


def test_train_dfdc_is_training_data_and_only_measured_faces_are_scored():
    assert split_of("dfdc_train_real", "real/abc.jpg") == "train"
    assert split_of("dfdc_train_fake", "fake/xyz.jpg") == "train"
    cal = Item("a.jpg", "dfdc", 1, "dfdc:g", "cal")
    ffpp_train = Item("035_0000.png", "ffpp", 0, "ffpp:035+036", "train")
    utk_train = Item("1_0_0_x.jpg", "utk", 0, "utk:1", "train", 2)
    assert _wanted(cal, False) and _wanted(Item("c", "crisp:utk", 0, "g", "eval"), False)
    assert _wanted(ffpp_train, True) and not _wanted(ffpp_train, False)
    assert not _wanted(utk_train, True)


def _shard(folder, rng, pools=("cls", "mean", "center", "std")):
    """Items: DFDC / FF++ / GAN fakes and reals in cal and eval, plus UTK reals; CLIP features
    carry the label in layer 11's mean pooling, so head A separates them."""
    meta, clip = [], []
    for split in ("cal", "eval"):
        for source in ("dfdc", "ffpp", "gan", "utk"):
            for label in ((0,) if source == "utk" else (0, 1)):
                for k in range(12):
                    meta.append({"path": f"/d/{source}/{split}/{label}/{k}.jpg", "source": source,
                                 "label": label, "group": f"{source}:{split}{k}",
                                 "split": split, "views": 1, "view": 0})
                    f = rng.normal(size=(12 * len(pools), 768)).astype(np.float16)
                    f[11 * len(pools) + 1, :8] += 1.5 * label
                    clip.append(f)
    np.savez(folder / "shard000.npz", clip=np.stack(clip), pools=np.array(pools),
             faceres=np.zeros((len(meta), 0), np.float16), meta=np.array(json.dumps(meta)),
             skipped=np.array("[]"))
    return meta, pools


def test_compare_matches_faces_and_reports_every_candidate(tmp_path):
    rng = np.random.default_rng(0)
    feats = tmp_path / "feats"
    feats.mkdir()
    meta, pools = _shard(feats, rng)
    layers = [11]
    dim = len(pools) * 768
    coef = np.zeros(dim, np.float32)
    coef[768:776] = 1.0  # layer 11's mean pooling, the informative columns
    run = tmp_path / "run"
    run.mkdir()
    np.savez(run / "heads.npz", layers=np.array(layers), pools=np.array(pools), a_coef=coef,
             a_bias=np.float32(0.0), a_mean=np.zeros(dim, np.float32),
             a_std=np.ones(dim, np.float32))
    # B: a weak, noisy score; one face it never found (NaN) is dropped from every candidate.
    labels = np.array([m["label"] for m in meta], np.float32)
    b = labels * 0.5 + rng.normal(size=len(meta)).astype(np.float32)
    b[0] = np.nan
    np.savez(tmp_path / "scores.npz", logit=b, path=np.array([m["path"] for m in meta]),
             source=np.array([m["source"] for m in meta]), label=labels.astype(int),
             split=np.array([m["split"] for m in meta]))
    report = compare(tmp_path / "scores.npz", run, feats, with_ffpp=True)
    assert report["faces"]["dropped_no_face"] == 1
    assert report["faces"]["cal"] + report["faces"]["eval"] == len(meta) - 1
    for name in ("A", "B", "C"):
        ev = report[name]["eval"]
        assert {"dfdc", "ffpp", "gan", "utk"} <= set(ev)
        assert 0.0 <= ev["dfdc"]["roc_auc"] <= 1.0
    assert report["A"]["eval"]["dfdc"]["roc_auc"] > 0.9  # A reads the planted signal
    assert len(report["stack"]["coef"]) == 2


def test_without_ffpp_training_all_ffpp_faces_are_evaluated(tmp_path):
    """No-FF++ protocol: FF++'s train-split faces are measured too (clip_head's rule)."""
    rng = np.random.default_rng(1)
    feats = tmp_path / "feats"
    feats.mkdir()
    meta, pools = _shard(feats, rng)
    d = np.load(feats / "shard000.npz")
    extra = [{**m, "split": "train", "path": m["path"].replace("/eval/", "/train/")}
             for m in meta if m["source"] == "ffpp" and m["split"] == "eval"]
    allm = meta + extra
    clip = np.concatenate([d["clip"], d["clip"][[i for i, m in enumerate(meta)
                                                 if m["source"] == "ffpp"
                                                 and m["split"] == "eval"]]])
    np.savez(feats / "shard000.npz", clip=clip, pools=d["pools"], faceres=np.zeros((len(allm), 0),
             np.float16), meta=np.array(json.dumps(allm)), skipped=np.array("[]"))
    dim = len(pools) * 768
    run = tmp_path / "run"
    run.mkdir()
    np.savez(run / "heads.npz", layers=np.array([11]), pools=np.array(pools),
             a_coef=np.ones(dim, np.float32) * 1e-3, a_bias=np.float32(0.0),
             a_mean=np.zeros(dim, np.float32), a_std=np.ones(dim, np.float32))
    np.savez(tmp_path / "scores.npz", logit=rng.normal(size=len(allm)).astype(np.float32),
             path=np.array([m["path"] for m in allm]), source=np.array([m["source"] for m in allm]),
             label=np.array([m["label"] for m in allm]), split=np.array([m["split"] for m in allm]))
    report = compare(tmp_path / "scores.npz", run, feats, with_ffpp=False)
    ev = report["A"]["eval"]["ffpp"]
    assert ev["n_real"] + ev["n_fake"] == 24 + len(extra)
