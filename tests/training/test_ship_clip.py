"""Shipping a CLIP head: the card names the poolings the head was trained on (so the app builds
the matching model), the refusal rule compares with the shipped card's own dev figures, and
the no-FF++ figure of the same recipe lands in the card's limits."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from app.core.paths import weights_dir
from app.training import ship_clip


def _ev(dfdc, ffpp, gan, worst=0.0):
    return {"dfdc": {"roc_auc": dfdc, "real_called_fake": worst},
            "ffpp": {"roc_auc": ffpp, "real_called_fake": 0.0},
            "gan": {"roc_auc": gan, "real_called_fake": 0.0},
            "utk": {"real_called_fake": 0.0}, "utk_groups": {}}


def _run(folder, ev, pools=("cls", "std"), layers=(10, 11)):
    folder.mkdir()
    dim = 768 * len(pools) * len(layers)
    np.savez(folder / "heads.npz", layers=np.array(layers), pools=np.array(pools),
             a_coef=np.full(dim, 0.01, np.float32), a_bias=0.5,
             a_mean=np.zeros(dim, np.float32), a_std=np.ones(dim, np.float32))
    cal = {"temperature": 1.2, "bias": -0.1, "threshold": 0.9, "uncertain_band": [0.3, 0.9]}
    report = {"n_train": 10, "chosen": {"C_A": 0.003}, "train_counts": {"ffpp fake": 5},
              "A": {"calibration": cal, "eval": ev, "cal": ev}}
    (folder / "report.json").write_text(json.dumps(report))
    return folder


def test_refusal_compares_with_the_shipped_figures():
    shipped = _ev(0.90, 0.97, 1.0)
    assert ship_clip.refuse(_ev(0.95, 0.97, 1.0), shipped) is None
    assert "no better" in ship_clip.refuse(_ev(0.89, 0.97, 1.0), shipped)
    assert "dfdc" in ship_clip.refuse(_ev(0.99, 0.99, 1.0, worst=0.08), shipped)


@pytest.mark.slow
def test_shipped_card_builds_the_model_its_head_was_trained_for(tmp_path, monkeypatch):
    from app.core.detector import Detector

    wdir = tmp_path / "weights"
    wdir.mkdir()
    for name in ("clip_vit_b16_visual.int8.safetensors", "clip_vit_b16_visual.int8.json",
                 "detector.json"):
        shutil.copy(weights_dir() / name, wdir / name)
    monkeypatch.setenv("DFI_WEIGHTS_DIR", str(wdir))
    old = json.loads((wdir / "detector.json").read_text())
    better = {k: {**v, "roc_auc": min(1.0, v["roc_auc"] + 0.01)} if "roc_auc" in v else v
              for k, v in old["metrics"]["dev_eval"].items()}
    run = _run(tmp_path / "run", better)
    other = _run(tmp_path / "noffpp", _ev(0.95, 0.871, 1.0))
    assert ship_clip.main(["--run", str(run), "--id", "t-v1", "--cross-dataset", str(other)]) == 0
    card = json.loads((wdir / "detector.json").read_text())
    assert card["feature_pools"] == ["cls", "std"] and card["feature_layers"] == [10, 11]
    assert "AUC 0.871 on FF++ frames" in card["limits"][-1]
    det = Detector.load(wdir / "detector.json")
    assert det.model.pools == ("cls", "std")
    p = det.predict(np.zeros((1, 224, 224, 3), np.uint8))
    assert np.isfinite(np.asarray(p[0])).all()
    # The same run again is no better than what is now shipped: refused, nothing written.
    stamp = (wdir / "detector.safetensors").stat().st_mtime_ns
    assert ship_clip.main(["--run", str(run), "--id", "t-v2"]) == 1
    assert (wdir / "detector.safetensors").stat().st_mtime_ns == stamp
    # Forcing it needs a reason, and the card keeps the reason and what the rule said.
    assert ship_clip.main(["--run", str(run), "--id", "t-v2", "--force"]) == 2
    assert (wdir / "detector.safetensors").stat().st_mtime_ns == stamp
    assert ship_clip.main(["--run", str(run), "--id", "t-v2", "--force",
                           "--reason", "better calibrated"]) == 0
    card = json.loads((wdir / "detector.json").read_text())
    assert card["id"] == "t-v2"
    assert card["replaced"] == {"previous": "t-v1", "rule_said": "no better than the shipped "
                                "model on the same files", "reason": "better calibrated"}
