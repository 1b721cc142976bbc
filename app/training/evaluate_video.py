"""`python -m app evaluate` on folders of videos: per-clip and per-frame figures side by side.

Per clip: the clip's score (its most suspicious track's mean-logit p(fake)), as the app reports
it. Per frame: every sampled frame's score (its most suspicious face), labelled with its clip's
label; frames of one clip are not independent, so the per-frame AUC says how well single frames
rank, not how many clips there are.
"""

from __future__ import annotations

import csv
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from app.core.video_io import is_video_path, iter_media_files
from app.training.metrics import classification_metrics


@dataclass
class ClipScore:
    path: str
    folder: str
    label: int  # 1 fake, 0 real
    p_fake: float | None
    status: str
    frame_p: list[float] = field(default_factory=list)  # per sampled frame with a face
    tracks: int = 0
    seconds: float = 0.0


def collect_videos(dirs: list[str], label: int, limit: int | None) -> list[tuple[str, str, int]]:
    items = []
    for d in dirs:
        files = [f for f in iter_media_files([d]) if is_video_path(f)]
        items.extend((f, d, label) for f in files[:limit])
    return items


def score_clips(analyzer, items: list[tuple[str, str, int]], *, frames_per_second: float = 2.0,
                max_frames: int = 120, progress: bool = True) -> list[ClipScore]:
    from app.core.video import analyze_video

    out = []
    for i, (path, folder, label) in enumerate(items, 1):
        t0 = time.perf_counter()
        v = analyze_video(analyzer, path, frames_per_second=frames_per_second,
                          max_frames=max_frames)
        frame_p = [f.max_p for f in v.frames if f.max_p is not None]
        out.append(ClipScore(path, folder, label, v.p_fake, str(v.status), frame_p,
                             len(v.tracks), time.perf_counter() - t0))
        if progress:
            print(f"[{i}/{len(items)}] {Path(path).name}: p_fake "
                  f"{'-' if v.p_fake is None else f'{v.p_fake:.3f}'}, {len(frame_p)} frames, "
                  f"{out[-1].seconds:.1f} s", file=sys.stderr, flush=True)
    return out


def summarize_clips(clips: list[ClipScore], threshold: float) -> dict:
    ok = [c for c in clips if c.p_fake is not None]
    y = np.array([c.label for c in ok])
    p = np.array([c.p_fake for c in ok])
    fy = np.array([c.label for c in ok for _ in c.frame_p])
    fp = np.array([v for c in ok for v in c.frame_p])
    return {
        "per_clip": classification_metrics(y, p, threshold) if len(ok) else {},
        "per_frame": classification_metrics(fy, fp, threshold) if len(fp) else {},
        "clips": len(clips), "frames": int(len(fp)),
        "no_face_or_error": [c.path for c in clips if c.p_fake is None],
        "seconds_per_clip": float(np.mean([c.seconds for c in clips])) if clips else 0.0,
    }


def format_clip_report(report: dict) -> str:
    c, f = report.get("per_clip") or {}, report.get("per_frame") or {}
    if not c:
        return "no clip scored"
    lines = [f"model {report.get('model', '?')}: {report['clips']} clips, {report['frames']} "
             f"sampled frames with a face; {len(report['no_face_or_error'])} clips without a "
             "face or unreadable",
             f"{'':<10}{'ROC AUC':>9}{'accuracy':>10}{'recall':>8}{'FPR':>7}{'n':>6}"]
    for name, m in (("per clip", c), ("per frame", f)):
        if m:
            lines.append(f"{name:<10}{m['roc_auc']:>9.3f}{m['accuracy']:>10.3f}{m['recall']:>8.3f}"
                         f"{m['fpr']:>7.3f}{m['n']:>6}")
    lines.append(f"threshold {c['threshold']:.3f}; {report['seconds_per_clip']:.1f} s per clip")
    return "\n".join(lines)


def write_clip_outputs(out: Path, report: dict, clips: list[ClipScore]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "video_metrics.json").write_text(json.dumps(report, indent=2))
    with (out / "video_scores.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["path", "folder", "label", "p_fake", "status", "frames", "tracks",
                    "frame_p_mean", "seconds"])
        for c in clips:
            w.writerow([c.path, c.folder, c.label, "" if c.p_fake is None else f"{c.p_fake:.5f}",
                        c.status, len(c.frame_p), c.tracks,
                        f"{np.mean(c.frame_p):.5f}" if c.frame_p else "", f"{c.seconds:.2f}"])


def run_video_eval(args, analyzer) -> int | None:
    """The video part of `evaluate`; None when the folders hold no videos."""
    items = (collect_videos(args.real, 0, args.limit)
             + collect_videos(args.fake, 1, args.limit))
    if not items:
        return None
    threshold = args.threshold if args.threshold is not None else analyzer.detector.card.threshold
    clips = score_clips(analyzer, items,
                        frames_per_second=getattr(args, "frames_per_second", 2.0),
                        max_frames=getattr(args, "max_frames", 120))
    report = summarize_clips(clips, threshold)
    report["model"] = analyzer.model_id
    if args.out:
        write_clip_outputs(Path(args.out), report, clips)
    print(format_clip_report(report))
    return 0
