"""Detector metrics in plain numpy (no scikit-learn at run time)."""

from __future__ import annotations

import numpy as np


def roc_auc(y: np.ndarray, score: np.ndarray) -> float:
    """Area under the ROC curve = P(score of a random fake > a random real), ties count half."""
    y = np.asarray(y).astype(bool)
    s = np.asarray(score, np.float64)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    order = np.argsort(s, kind="mergesort")
    ranks = np.empty(len(s), np.float64)
    sorted_s = s[order]
    # Average ranks over ties.
    i = 0
    while i < len(s):
        j = i
        while j + 1 < len(s) and sorted_s[j + 1] == sorted_s[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2.0 + 1.0
        i = j + 1
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def roc_curve(y: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(fpr, tpr, thresholds), thresholds descending; starts at (0, 0)."""
    y = np.asarray(y).astype(bool)
    s = np.asarray(score, np.float64)
    order = np.argsort(-s, kind="mergesort")
    s, y = s[order], y[order]
    distinct = np.r_[np.where(np.diff(s))[0], len(s) - 1]
    tps = np.cumsum(y)[distinct]
    fps = (distinct + 1) - tps
    tpr = np.r_[0.0, tps / max(1, y.sum())]
    fpr = np.r_[0.0, fps / max(1, (~y).sum())]
    return fpr, tpr, np.r_[np.inf, s[distinct]]


def confusion(y: np.ndarray, p: np.ndarray, threshold: float) -> dict[str, int]:
    y = np.asarray(y).astype(bool)
    pred = np.asarray(p) >= threshold
    return {"tp": int((pred & y).sum()), "fp": int((pred & ~y).sum()),
            "tn": int((~pred & ~y).sum()), "fn": int((~pred & y).sum())}


def classification_metrics(y: np.ndarray, p: np.ndarray, threshold: float) -> dict:
    c = confusion(y, p, threshold)
    tp, fp, tn, fn = c["tp"], c["fp"], c["tn"], c["fn"]
    n = max(1, tp + fp + tn + fn)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "n": tp + fp + tn + fn, "threshold": threshold,
        "accuracy": (tp + tn) / n, "precision": precision, "recall": recall, "f1": f1,
        "fpr": fp / (fp + tn) if fp + tn else 0.0,
        "roc_auc": roc_auc(y, p), "ece": ece(y, p), "confusion": c,
    }


def ece(y: np.ndarray, p: np.ndarray, bins: int = 10) -> float:
    """Expected calibration error over equal-width bins of p(fake)."""
    y = np.asarray(y, np.float64)
    p = np.asarray(p, np.float64)
    if len(p) == 0:
        return float("nan")
    idx = np.minimum((p * bins).astype(int), bins - 1)
    total = 0.0
    for b in range(bins):
        m = idx == b
        if m.any():
            total += m.sum() * abs(p[m].mean() - y[m].mean())
    return float(total / len(p))


def fit_temperature(logits: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Platt-style fit of p = sigmoid((logit + b) / T) by minimising log loss (grid + refine)."""
    z = np.asarray(logits, np.float64)
    y = np.asarray(y, np.float64)

    def nll(t: float, b: float) -> float:
        q = np.clip(1 / (1 + np.exp(-(z + b) / t)), 1e-7, 1 - 1e-7)
        return float(-(y * np.log(q) + (1 - y) * np.log(1 - q)).mean())

    best = (1.0, 0.0, nll(1.0, 0.0))
    for t in np.exp(np.linspace(np.log(0.1), np.log(20), 60)):
        for b in np.linspace(-6, 6, 61):
            v = nll(t, b)
            if v < best[2]:
                best = (float(t), float(b), v)
    t0, b0, _ = best
    for t in np.linspace(t0 * 0.9, t0 * 1.1, 21):
        for b in np.linspace(b0 - 0.2, b0 + 0.2, 21):
            v = nll(t, b)
            if v < best[2]:
                best = (float(t), float(b), v)
    return best[0], best[1]


def bootstrap_auc(y: np.ndarray, p: np.ndarray, groups: np.ndarray, n: int = 500,
                  seed: int = 0) -> tuple[float, float]:
    """95% percentile interval of ROC AUC, resampling clusters (videos for FF++)."""
    rng = np.random.default_rng(seed)
    keys = np.unique(groups)
    members = {k: np.flatnonzero(groups == k) for k in keys}
    vals = []
    for _ in range(n):
        idx = np.concatenate([members[k] for k in rng.choice(keys, len(keys))])
        if len(set(y[idx])) == 2:
            vals.append(roc_auc(y[idx], p[idx]))
    lo, hi = np.percentile(vals, [2.5, 97.5])
    return float(lo), float(hi)
