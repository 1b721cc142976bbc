"""Issue 10's second candidate and the combination, on the CLIP head's protocol.

    python -m app.training.faceres_candidate score --weights runs/faceres_dfdc/best.safetensors \
        --out runs/faceres_dfdc/scores.npz
    python -m app.training.faceres_candidate compare --scores runs/faceres_dfdc/scores.npz \
        --clip-run runs/a2 --out runs/faceres_dfdc/compare.json

The candidate is FaceRes (round 1's backbone) fine-tuned end to end with DFDC added to its
recipe (`python -m app train`, commands in docs/DETECTOR.md). `score` runs it through the app's
own code path (`load_image` -> MTCNN -> the largest face -> `face_crop` at 1.3 x, 160 px) on
exactly the faces the CLIP head is measured on (`clip_features.build_items`: the cal and eval
splits, the crisp checks, and all of FF++ when FF++ is the unseen set). `compare` takes the CLIP
head of a `clip_head` run on the cached features, fits a stack (logistic regression on the two
logits, every (source, label) cell weighted equally) on the cal split, calibrates each of
A (CLIP), B (FaceRes) and C (the stack) with `clip_head.calibrate`, and reports
`clip_head.measure` per eval source: every set on its own, never pooled.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np


def _wanted(item, with_ffpp_train: bool) -> bool:
    if item.views > 1 and item.split == "train":
        return False
    if item.split in ("cal", "eval"):
        return True
    return with_ffpp_train and item.source == "ffpp"


def score(weights: Path, out: Path, data: Path, limit: int | None = None) -> dict:
    """FaceRes logits for every measured face (NaN where no face is found)."""
    import torch
    from safetensors.torch import load_file

    from app.core.detector import normalize_batch
    from app.core.faces import FaceFinder, face_crop
    from app.core.images import load_image
    from app.core.models.faceres import FaceResDetector
    from app.training.clip_features import (
        FACERES_CROP_SCALE,
        FACERES_SIZE,
        build_items,
        crisp_version,
    )

    model = FaceResDetector()
    model.load_state_dict({k: v.float() for k, v in load_file(str(weights)).items()})
    model.eval()
    items = [it for it in build_items(data) if _wanted(it, True)][:limit]
    finder = FaceFinder()
    logits = np.full(len(items), np.nan, np.float32)
    t0 = time.time()
    for i, it in enumerate(items):
        try:
            rgb = load_image(it.path).rgb
        except Exception:  # counted as no face: the CLIP cache skipped it too
            continue
        if it.source.startswith("crisp:"):
            rgb = crisp_version(rgb)
        faces = finder.find(rgb)
        if not faces:
            continue
        crop = face_crop(rgb, faces[0].box, FACERES_SIZE, FACERES_CROP_SCALE)[0]
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
            z = model(normalize_batch(crop[None], "vggface2_bgr_mean"))
        logits[i] = float(z.float().reshape(-1)[0])
        if (i + 1) % 500 == 0:
            el = time.time() - t0
            print(f"{i + 1}/{len(items)} faces, {el / 60:.1f} min, "
                  f"ETA {el / (i + 1) * (len(items) - i - 1) / 60:.1f} min", flush=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez(out, logit=logits, path=np.array([it.path for it in items]),
             source=np.array([it.source for it in items]),
             label=np.array([it.label for it in items]), split=np.array([it.split for it in items]))
    return {"n": len(items), "no_face": int(np.isnan(logits).sum())}


def compare(scores: Path, clip_run: Path, feats: Path, with_ffpp: bool) -> dict:
    from app.training.clip_head import (
        LinearHead,
        calibrate,
        cell_weights,
        clip_matrix,
        load_feats,
        measure,
    )

    s = np.load(scores)
    b_of = {(p, src): z for p, src, z in zip(s["path"], s["source"], s["logit"], strict=True)}
    heads = np.load(clip_run / "heads.npz")
    layers = [int(v) for v in heads["layers"]]
    pools = tuple(str(v) for v in heads["pools"])
    f = load_feats(feats)
    cal_m = (f.split == "cal") & (f.view == 0)
    ev = (f.split == "eval") & (f.view == 0)
    if not with_ffpp:  # as clip_head: FF++ unseen, all of it evaluated
        ev |= (f.source == "ffpp") & (f.view == 0) & (f.split == "train")
    zb_all = np.array([b_of.get((p, src), np.nan) for p, src in zip(f.path, f.source,
                                                                    strict=True)])
    keep = np.isfinite(zb_all)  # both candidates scored the face
    fcal, fev = f.take(cal_m & keep), f.take(ev & keep)

    head_a = LinearHead.saved(heads)
    zc = {"A": head_a.logit(clip_matrix(fcal, layers, pools)), "B": zb_all[cal_m & keep]}
    ze = {"A": head_a.logit(clip_matrix(fev, layers, pools)), "B": zb_all[ev & keep]}
    stack = LinearHead(1.0).fit(np.stack([zc["A"], zc["B"]], 1), fcal.label,
                                cell_weights(fcal.source, fcal.label))
    zc["C"] = stack.logit(np.stack([zc["A"], zc["B"]], 1))
    ze["C"] = stack.logit(np.stack([ze["A"], ze["B"]], 1))
    report: dict = {"clip_run": str(clip_run), "scores": str(scores),
                    "faces": {"cal": int(len(fcal.label)), "eval": int(len(fev.label)),
                              "dropped_no_face": int((~keep & (cal_m | ev)).sum())},
                    "stack": {"coef": stack.coef.tolist(), "bias": float(stack.bias),
                              "mean": stack.mean.tolist(), "std": stack.std.tolist()}}
    for name in zc:
        cal = calibrate(zc[name], fcal)
        report[name] = {"calibration": cal, "eval": measure(ze[name], fev, cal)}
    return report


def _table(report: dict) -> str:
    lines = []
    for name in ("A", "B", "C"):
        ev = report[name]["eval"]
        parts = []
        for s in sorted(ev):
            if s == "utk_groups":
                continue
            r = ev[s]
            auc = f"AUC {r['roc_auc']:.3f} " if "roc_auc" in r else ""
            fpr = r.get("real_called_fake")
            parts.append(f"{s}: {auc}FPR {fpr:.3f}" if fpr is not None else f"{s}: {auc}")
        lines.append(f"{name}: " + "; ".join(parts))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    from app.training.clip_features import DATA

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("score", help="FaceRes logits for every measured face")
    a.add_argument("--weights", type=Path, required=True)
    a.add_argument("--out", type=Path, required=True)
    a.add_argument("--data", type=Path, default=DATA)
    a.add_argument("--limit", type=int)
    a.add_argument("--threads", type=int, default=2)
    b = sub.add_parser("compare", help="A (CLIP), B (FaceRes), C (stack) on one protocol")
    b.add_argument("--scores", type=Path, required=True)
    b.add_argument("--clip-run", type=Path, required=True, help="a clip_head run (heads.npz)")
    b.add_argument("--feats", type=Path, default=Path(".cache/feats"))
    b.add_argument("--with-ffpp", action="store_true",
                   help="the CLIP run trained on FF++'s train pairs (evaluate its eval pairs)")
    b.add_argument("--out", type=Path, required=True)
    args = ap.parse_args(argv)
    if args.cmd == "score":
        import torch

        torch.set_num_threads(args.threads)
        print(score(args.weights, args.out, args.data, args.limit), flush=True)
        return 0
    report = compare(args.scores, args.clip_run, args.feats, args.with_ffpp)
    args.out.write_text(json.dumps(report, indent=1, default=float))
    print(_table(report))
    print("stack:", report["stack"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
