"""`python -m app evaluate`: run the full pipeline on folders of known real and fake images.

Reports ROC AUC, accuracy, precision, recall, F1, ECE and the confusion matrix at the threshold,
a per-folder breakdown, false-positive rates on real faces by age band, gender and ethnicity when
file names carry them (UTKFace), and, with --out, metrics.json, scores.csv, ROC and histogram PNGs.
"""

from __future__ import annotations

import csv
import json
import sys
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from app.training.metrics import classification_metrics, roc_curve
from app.training.splits import utk_groups


@dataclass
class Scored:
    path: str
    folder: str
    label: int  # 1 fake, 0 real
    p_fake: float | None  # None: no face or unreadable
    status: str


def score_files(analyzer, items: list[tuple[str, str, int]], progress: bool = True) -> list[Scored]:
    """items: (path, folder label, 0/1). The image score is the Analyzer's (max over faces)."""
    out = []
    t0 = time.time()
    for i, (path, folder, label) in enumerate(items, 1):
        r = analyzer.analyze(path, heatmaps=False)
        out.append(Scored(path, folder, label, r.p_fake, str(r.status)))
        if progress and (i % 50 == 0 or i == len(items)):
            rate = i / (time.time() - t0)
            print(f"[{i}/{len(items)}] {rate:.1f} img/s", file=sys.stderr, flush=True)
    return out


def summarize(scored: list[Scored], threshold: float) -> dict:
    ok = [s for s in scored if s.p_fake is not None]
    y = np.array([s.label for s in ok])
    p = np.array([s.p_fake for s in ok])
    report: dict = {
        "overall": classification_metrics(y, p, threshold) if len(ok) else {},
        "no_face_or_error": {
            "count": len(scored) - len(ok),
            "files": [s.path for s in scored if s.p_fake is None][:50],
        },
        "per_folder": {},
    }
    folders = sorted({s.folder for s in scored})
    for f in folders:
        fs = [s for s in ok if s.folder == f]
        if not fs:
            continue
        fp = np.array([s.p_fake for s in fs])
        lab = fs[0].label
        report["per_folder"][f] = {
            "label": "fake" if lab else "real", "n": len(fs),
            "flagged_fake": float((fp >= threshold).mean()), "mean_p_fake": float(fp.mean()),
        }
    groups = _group_fpr([s for s in ok if s.label == 0], threshold)
    if groups:
        report["real_fpr_by_group"] = groups
    return report


def _group_fpr(reals: list[Scored], threshold: float) -> dict:
    buckets: dict[str, dict[str, list[bool]]] = defaultdict(lambda: defaultdict(list))
    for s in reals:
        g = utk_groups(s.path)
        if g is None:
            continue
        for kind, value in g.items():
            buckets[kind][value].append(s.p_fake >= threshold)
    return {kind: {v: {"n": len(x), "fpr": float(np.mean(x))} for v, x in sorted(vals.items())}
            for kind, vals in buckets.items()}


def write_outputs(out: Path, report: dict, scored: list[Scored], threshold: float) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "metrics.json").write_text(json.dumps(report, indent=2))
    with (out / "scores.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["path", "folder", "label", "p_fake", "status"])
        for s in scored:
            w.writerow([s.path, s.folder, s.label, "" if s.p_fake is None else f"{s.p_fake:.5f}",
                        s.status])
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib not installed: no plots", file=sys.stderr)
        return
    ok = [s for s in scored if s.p_fake is not None]
    y = np.array([s.label for s in ok])
    p = np.array([s.p_fake for s in ok])
    if len(set(y)) == 2:
        fpr, tpr, _ = roc_curve(y, p)
        fig, ax = plt.subplots(figsize=(4.5, 4.5))
        ax.plot(fpr, tpr, lw=2, label=f"AUC {report['overall']['roc_auc']:.3f}")
        ax.plot([0, 1], [0, 1], "k--", lw=1)
        ax.set(xlabel="false-positive rate (real called fake)", ylabel="true-positive rate",
               title="ROC")
        ax.legend(loc="lower right")
        fig.tight_layout()
        fig.savefig(out / "roc.png", dpi=110)
        plt.close(fig)
    fig, ax = plt.subplots(figsize=(6, 3.5))
    bins = np.linspace(0, 1, 26)
    for lab, name, colour in [(0, "real", "tab:green"), (1, "fake", "tab:red")]:
        if (y == lab).any():
            ax.hist(p[y == lab], bins=bins, alpha=0.6, label=name, color=colour)
    ax.axvline(threshold, color="k", ls="--", lw=1)
    ax.set(xlabel="p(fake)", ylabel="images", title="Score histogram")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "histogram.png", dpi=110)
    plt.close(fig)


def collect(dirs: list[str], label: int, limit: int | None) -> list[tuple[str, str, int]]:
    from app.core.video_io import is_video_name, walk_media

    items = []
    for d in dirs:  # the clips are collected by evaluate_video: not "other files" here
        files = [f for f in walk_media([d]).files if not is_video_name(f)]
        items.extend((f, d, label) for f in files[:limit])
    return items


def run_cli(args) -> int:
    from app.core.errors import ModelError
    from app.core.factory import load_analyzer
    from app.training.evaluate_video import collect_videos, run_video_eval

    items = collect(args.real, 0, args.limit) + collect(args.fake, 1, args.limit)
    if not items and not collect_videos(args.real + args.fake, 0, 1):
        print("error: no images or videos in the given folders", file=sys.stderr)
        return 2
    try:
        analyzer = load_analyzer(args.weights, heatmaps=False)
    except ModelError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 3
    if run_video_eval(args, analyzer) is not None and not items:
        return 0  # folders of videos only: per-clip and per-frame figures printed
    threshold = args.threshold if args.threshold is not None else analyzer.detector.card.threshold
    scored = score_files(analyzer, items)
    report = summarize(scored, threshold)
    report["model"] = analyzer.model_id
    if args.out:
        write_outputs(Path(args.out), report, scored, threshold)
    print(format_report(report))
    return 0


def format_report(report: dict) -> str:
    o = report.get("overall") or {}
    if not o:
        return "no scored images"
    c = o["confusion"]
    lines = [
        f"model {report.get('model', '?')}: {o['n']} images scored, "
        f"{report['no_face_or_error']['count']} without a face or unreadable",
        f"ROC AUC {o['roc_auc']:.4f}   accuracy {o['accuracy']:.4f}   precision "
        f"{o['precision']:.4f}   recall {o['recall']:.4f}   F1 {o['f1']:.4f}   ECE {o['ece']:.4f}",
        f"at threshold {o['threshold']:.3f}:  TP {c['tp']}  FP {c['fp']}  TN {c['tn']}  "
        f"FN {c['fn']}",
        "per folder:",
    ]
    for f, m in report["per_folder"].items():
        lines.append(f"  {m['label']:<4} n={m['n']:<5} flagged fake {m['flagged_fake']:.3f}  {f}")
    for kind, vals in report.get("real_fpr_by_group", {}).items():
        parts = ", ".join(f"{k} {v['fpr']:.3f} (n={v['n']})" for k, v in vals.items())
        lines.append(f"false-positive rate by {kind}: {parts}")
    return "\n".join(lines)
