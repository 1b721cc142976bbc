"""Shipping rules: calibration, threshold and band follow the measured error rates; the card's
account of the data follows the run's own arguments."""

from __future__ import annotations

import numpy as np

from app.training.ship import MAX_FAKE_MISS, MAX_REAL_FPR, calibrate, known_limits, training_data


def _logits(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "ffpp_real": rng.normal(-0.5, 1.0, 40), "ffpp_fake": rng.normal(0.8, 1.0, 40),
        "gan_real": rng.normal(-1.5, 1.0, 140), "gan_fake": rng.normal(1.5, 1.0, 60),
        "utk_real": np.append(rng.normal(-2.5, 1.0, 400), np.nan),  # one image without a face
    }


def test_threshold_and_band_follow_the_error_rates():
    logits = _logits()
    t, b, threshold, (lo, hi) = calibrate(logits)
    assert t > 0 and 0.5 <= threshold < 1 and lo < hi < threshold
    prob = {k: 1 / (1 + np.exp(-(v[~np.isnan(v)] + b) / t)) for k, v in logits.items()}
    for real in ("ffpp_real", "gan_real", "utk_real"):
        assert (prob[real] >= threshold).mean() <= MAX_REAL_FPR + 1e-9
    for fake in ("ffpp_fake", "gan_fake"):
        assert (prob[fake] < lo).mean() <= MAX_FAKE_MISS + 1e-9
    # The hardest real set (FF++ frames here) sets the threshold: it sits at its 95th percentile.
    assert abs((prob["ffpp_real"] >= threshold).mean() - MAX_REAL_FPR) <= 1 / 40


def test_calibration_is_not_swamped_by_the_easy_reals():
    """UTKFace reals are many and easy; Platt fits on the four FF++/GAN groups only."""
    a = calibrate(_logits())
    more = _logits()
    more["utk_real"] = np.concatenate([more["utk_real"], np.full(5000, -6.0)])
    b = calibrate(more)
    assert a[0] == b[0] and a[1] == b[1]


def test_card_names_the_data_the_run_used():
    plain = training_data({"fake": "['dev_gan_fake']", "extra_real": "['dev_gan_real']"})
    assert "5-point" in plain["fake"] and "FakeFaces" in plain["fake"]
    assert "Deepfakes" not in plain["fake"] and "FaceForensics" not in plain["real"]
    full = training_data({"fake": "['dev_gan_fake', 'dev_ffpp_Deepfakes']",
                          "extra_real": "['dev_gan_real', 'dev_ffpp_real']",
                          "landmarks68": "True"})
    assert "68-point" in full["fake"] and "dev/ffpp/Deepfakes" in full["fake"]
    assert "dev/ffpp/real" in full["real"] and "swap pair" in full["splits"]


def test_limits_say_whether_face_swaps_were_seen():
    m = {"ffpp": {"roc_auc": 0.8, "fpr": 0.23}, "gan": {"roc_auc": 0.95, "fpr": 0.011},
         "utk_real_fpr": 0.0}
    unseen = known_limits(m, {"fake": "['dev_gan_fake']"})
    seen = known_limits(m, {"fake": "['dev_gan_fake', 'dev_ffpp_Deepfakes']"})
    assert "without any face-swap" in unseen[0]
    assert "Face2Face" in seen[0] and "not measured" in seen[0]
    assert any("0.80" in line and "0.95" in line for line in seen)
    assert any("FF++ video frames 23%" in line and "UTKFace portraits 0%" in line
               for line in seen)  # false alarms are stated per kind of real picture


def test_bootstrap_clusters_follow_the_pairs_and_drop_faceless_images():
    from app.training.metrics import bootstrap_auc
    from app.training.ship import _clusters, _pairs

    files = {"ffpp_real": ["r/035_0000.png", "r/036_0000.png"],
             "ffpp_fake": ["f/035_036_0000.png", "f/644_657_0000.png"],
             "gan_real": ["g/a.jpg", "g/b.jpg"], "gan_fake": ["g/c.jpg"], "utk_real": ["u/d.jpg"]}
    logits = {"ffpp_real": np.array([0.1, np.nan]), "ffpp_fake": np.array([2.0, 1.0]),
              "gan_real": np.array([-1.0, 0.5]), "gan_fake": np.array([1.0]),
              "utk_real": np.array([-2.0])}
    clusters, pairs = _clusters(files, logits), _pairs(logits)
    for k in ("ffpp", "gan", "all"):
        assert len(clusters[k]) == len(pairs[k][0])
    assert list(clusters["ffpp"]) == ["035_036", "035_036", "644_657"]
    y, z = pairs["gan"]
    lo, hi = bootstrap_auc(y, z, clusters["gan"], n=200)
    assert 0.0 <= lo <= hi <= 1.0


def test_replacement_needs_better_ranking_and_few_false_alarms():
    from app.training.ship import may_replace

    good = {"ffpp": {"fpr": 0.03}, "gan": {"fpr": 0.01}, "utk_real_fpr": 0.0}
    assert may_replace(0.85, 0.72, good)[0]
    assert not may_replace(0.70, 0.72, good)[0]
    alarming = {"ffpp": {"fpr": 0.23}, "gan": {"fpr": 0.011}, "utk_real_fpr": 0.0}
    ok, why = may_replace(0.84, 0.72, alarming)
    assert not ok and "FF++ real frames 23%" in why
