"""Evaluator metrics on hand-made scores."""

from __future__ import annotations

import numpy as np
import pytest

from app.training.evaluate import Scored, summarize
from app.training.metrics import (
    classification_metrics,
    ece,
    fit_temperature,
    roc_auc,
    roc_curve,
)


def test_auc_perfect_inverse_and_ties():
    y = np.array([0, 0, 1, 1])
    assert roc_auc(y, [0.1, 0.2, 0.8, 0.9]) == 1.0
    assert roc_auc(y, [0.9, 0.8, 0.2, 0.1]) == 0.0
    assert roc_auc(y, [0.5, 0.5, 0.5, 0.5]) == 0.5
    # One of four real/fake pairs is ordered wrongly: 3/4.
    assert roc_auc(y, [0.1, 0.6, 0.5, 0.9]) == 0.75


def test_auc_matches_pairwise_definition():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200)
    s = np.round(rng.random(200), 1)  # many ties
    pos, neg = s[y == 1], s[y == 0]
    pairwise = ((pos[:, None] > neg[None]).sum() + 0.5 * (pos[:, None] == neg[None]).sum()) / (
        len(pos) * len(neg))
    assert roc_auc(y, s) == pytest.approx(pairwise)


def test_roc_curve_endpoints():
    fpr, tpr, thr = roc_curve(np.array([0, 1, 0, 1]), np.array([0.1, 0.9, 0.4, 0.6]))
    assert fpr[0] == 0 and tpr[0] == 0 and fpr[-1] == 1 and tpr[-1] == 1
    assert np.all(np.diff(fpr) >= 0) and np.all(np.diff(tpr) >= 0)


def test_classification_metrics_by_hand():
    y = np.array([1, 1, 1, 0, 0, 0, 0, 1])
    p = np.array([0.9, 0.8, 0.3, 0.7, 0.2, 0.1, 0.4, 0.6])
    m = classification_metrics(y, p, 0.5)
    assert m["confusion"] == {"tp": 3, "fp": 1, "tn": 3, "fn": 1}
    assert m["accuracy"] == 0.75 and m["precision"] == 0.75 and m["recall"] == 0.75
    assert m["f1"] == pytest.approx(0.75) and m["fpr"] == 0.25


def test_ece():
    assert ece(np.array([0, 1]), np.array([0.0, 1.0])) == 0.0
    # All predictions 0.8, half are fake: |0.8 - 0.5| = 0.3.
    assert ece(np.array([0, 1, 0, 1]), np.full(4, 0.8)) == pytest.approx(0.3)


def test_temperature_fit_recovers_known_scaling():
    rng = np.random.default_rng(1)
    true_logit = rng.normal(0, 2, 4000)
    y = (rng.random(4000) < 1 / (1 + np.exp(-true_logit))).astype(float)
    t, b = fit_temperature(true_logit * 3.0 - 1.5, y)  # over-confident and shifted by 1.5/3
    assert t == pytest.approx(3.0, rel=0.15) and b == pytest.approx(1.5, abs=0.4)


def test_summary_per_folder_and_groups():
    scored = [
        Scored("r/30_0_0_x.jpg", "real", 0, 0.1, "ok"),
        Scored("r/30_1_1_x.jpg", "real", 0, 0.7, "ok"),  # a false alarm on a Black woman
        Scored("r/70_1_2_x.jpg", "real", 0, 0.2, "ok"),
        Scored("f/a.jpg", "fake", 1, 0.9, "ok"),
        Scored("f/b.jpg", "fake", 1, None, "no_face"),
    ]
    rep = summarize(scored, 0.5)
    assert rep["no_face_or_error"]["count"] == 1
    assert rep["per_folder"]["real"]["flagged_fake"] == pytest.approx(1 / 3)
    g = rep["real_fpr_by_group"]
    assert g["gender"]["female"] == {"n": 2, "fpr": 0.5}
    assert g["ethnicity"]["Black"]["fpr"] == 1.0 and g["age"]["60+"]["fpr"] == 0.0
