"""Calibrate a trained run on the dev 'cal' splits, measure it on the 'eval' splits through the
full pipeline, and write weights/detector.safetensors + detector.json (the model card).

    python -m app.training.ship --run runs/faceres160 --data ../shared/data [--force]

The shipped model is replaced only when the new one measures better on the dev eval splits.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from app.core.detector import ARCH_FACERES, DEFAULT_TARGET_LAYER, sha256_file
from app.training.evaluate import Scored, summarize
from app.training.metrics import classification_metrics, ece, fit_temperature, roc_auc
from app.training.splits import split_of

SUBSETS = {  # name -> (dataset key for splits, folder under data/, label)
    "ffpp_real": ("ffpp", "dev/ffpp/real", 0),
    "ffpp_fake": ("ffpp", "dev/ffpp/Deepfakes", 1),
    "gan_real": ("gan", "dev/gan/real", 0),
    "gan_fake": ("gan", "dev/gan/fake", 1),
    "utk_real": ("utkface", "train/real/utkface", 0),
}


def files_of(data: Path, split: str, every_utk: int = 1, limit: int | None = None
             ) -> dict[str, list[str]]:
    out = {}
    for name, (key, folder, _) in SUBSETS.items():
        files = sorted(p for p in (data / folder).iterdir() if p.is_file())
        if key == "utkface":
            # The half the crop cache holds; its 'cal'/'eval' splits were never trained on.
            files = files[::2][::every_utk]
        out[name] = [str(p) for p in files if split_of(key, p.name) == split][:limit]
    return out


def logits_for(analyzer, files: dict[str, list[str]]) -> dict[str, np.ndarray]:
    """Image logit = the most suspicious face's logit; NaN when no face was found."""
    res = {}
    for name, paths in files.items():
        vals = []
        for p in paths:
            r = analyzer.analyze(p, heatmaps=False)
            top = r.most_suspicious
            vals.append(np.nan if top is None else top.logit)
        res[name] = np.asarray(vals, np.float64)
        print(f"  {name}: {len(paths)} images, {np.isnan(res[name]).sum()} without a face",
              flush=True)
    return res


def _pairs(logits: dict[str, np.ndarray]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """(y, logit) per benchmark: ffpp, gan, and both pooled; NaN (no face) dropped."""
    def cat(names):
        ys = np.concatenate([np.full(len(logits[n]), SUBSETS[n][2]) for n in names])
        zs = np.concatenate([logits[n] for n in names])
        keep = ~np.isnan(zs)
        return ys[keep], zs[keep]

    return {"ffpp": cat(["ffpp_real", "ffpp_fake"]), "gan": cat(["gan_real", "gan_fake"]),
            "all": cat(list(SUBSETS))}


def choose_band(y: np.ndarray, p: np.ndarray, threshold: float, target_acc: float = 0.9
                ) -> list[float]:
    """Smallest symmetric band around the threshold outside which cal accuracy >= target."""
    for delta in np.linspace(0.0, 0.3, 31):
        outside = np.abs(p - threshold) > delta
        if outside.sum() < 0.3 * len(p):
            break
        acc = ((p[outside] >= threshold) == y[outside].astype(bool)).mean()
        if acc >= target_acc:
            return [round(threshold - delta, 3), round(threshold + delta, 3)]
    return [round(threshold - 0.3, 3), round(threshold + 0.3, 3)]


def main(argv: list[str] | None = None) -> int:
    import torch
    from safetensors.torch import load_file, save_file

    from app.core.analysis import Analyzer

    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--run", type=Path, required=True)
    ap.add_argument("--data", type=Path, default=Path("../shared/data"))
    ap.add_argument("--weights-dir", type=Path, default=Path("weights"))
    ap.add_argument("--id", default=None)
    ap.add_argument("--force", action="store_true", help="ship even if not better")
    ap.add_argument("--limit", type=int, help="at most N images per subset (smoke tests)")
    args = ap.parse_args(argv)

    info = json.loads((args.run / "best.json").read_text())
    size = int(info["args"]["size"])
    arch = info["args"].get("arch", ARCH_FACERES)
    state = {k: v.to(torch.float16) if v.is_floating_point() else v
             for k, v in load_file(str(args.run / "best.safetensors")).items()}
    model_id = args.id or f"dfi-{arch.split('_')[0]}-sbi-{datetime.now(UTC):%Y%m%d}"

    tmp = Path(tempfile.mkdtemp())
    wfile = tmp / "detector.safetensors"
    save_file(state, str(wfile))
    card = {
        "id": model_id, "trained": True, "architecture": arch, "input_size": size,
        "normalization": "vggface2_bgr_mean" if arch == ARCH_FACERES else "fixed_standardization",
        "crop_scale": 1.3, "gradcam_target_layer": DEFAULT_TARGET_LAYER[arch],
        "threshold": 0.5, "uncertain_band": None, "calibration": {"temperature": 1.0, "bias": 0.0},
        "weights_file": wfile.name, "weights_sha256": sha256_file(wfile),
    }
    (tmp / "detector.json").write_text(json.dumps(card))

    print("cal split (fits calibration, threshold, band):", flush=True)
    an = Analyzer(tmp / "detector.json", heatmaps=False)
    cal = _pairs(logits_for(an, files_of(args.data, "cal", limit=args.limit)))
    y, z = cal["all"]
    # Balance real and fake so calibration does not learn the dev sets' class ratio.
    w_real, w_fake = (y == 0).sum(), (y == 1).sum()
    reps = np.where(y == 1, max(1, round(w_real / max(1, w_fake))), 1)
    t, b = fit_temperature(np.repeat(z, reps), np.repeat(y, reps))
    p_cal = 1 / (1 + np.exp(-(z + b) / t))
    threshold = 0.5
    band = choose_band(y, p_cal, threshold)
    card.update(calibration={"method": "temperature+bias (Platt) on dev cal split",
                             "temperature": round(t, 4), "bias": round(b, 4)},
                threshold=threshold, uncertain_band=band)
    (tmp / "detector.json").write_text(json.dumps(card))
    cal_metrics = {k: {"roc_auc": roc_auc(yy, zz), "n": len(yy)} for k, (yy, zz) in cal.items()}
    cal_metrics["all"]["ece_after"] = ece(y, p_cal)

    print("eval split (reported only):", flush=True)
    an = Analyzer(tmp / "detector.json", heatmaps=False)
    eval_files = files_of(args.data, "eval", limit=args.limit)
    ev_logits = logits_for(an, eval_files)
    metrics = {}
    for name, (yy, zz) in _pairs(ev_logits).items():
        pp = 1 / (1 + np.exp(-(zz + b) / t))
        metrics[name] = classification_metrics(yy, pp, threshold)
        metrics[name]["uncertain_share"] = float(((pp >= band[0]) & (pp <= band[1])).mean())
    def prob(v: float) -> float | None:
        return None if np.isnan(v) else float(1 / (1 + np.exp(-(v + b) / t)))

    scored = [Scored(p, n, SUBSETS[n][2], prob(v), "")
              for n, paths in eval_files.items() for p, v in zip(paths, ev_logits[n], strict=True)]
    groups = summarize([s for s in scored if s.folder == "utk_real"], threshold)
    metrics["utk_real_fpr"] = groups["overall"].get("fpr") if groups["overall"] else None
    metrics["real_fpr_by_group"] = groups.get("real_fpr_by_group", {})
    for n in SUBSETS:
        metrics.setdefault("no_face", {})[n] = int(np.isnan(ev_logits[n]).sum())

    backbone = json.loads((args.weights_dir / "faceres_vggface2_backbone.json").read_text())
    card.update({
        "date": datetime.now(UTC).date().isoformat(),
        "recipe": {k: info["args"][k] for k in ("size", "batch", "steps", "lr", "wd", "fake_share",
                                                 "seed", "real", "fake", "extra_real")},
        "best_step": info["step"],
        "training_data": {
            "real": "UTKFace 200x200 aligned faces (every 2nd file, 90% of them), non-commercial "
                    "research licence; dev/gan/real 'train' half (web photos, web-scraped)",
            "fake": "self-blended images made on the fly from those real faces (Shiohara & "
                    "Yamasaki 2022, 5-point hull masks), plus dev/gan/fake 'train' half "
                    "(BaseMax/FakeFaces, GPL-3.0)",
            "not_used_for_training": "dev/ffpp (held out entirely: cal/eval split by video)",
        },
        "pretrained_from": {k: backbone.get(k) for k in ("model", "attribution", "license")},
        "metrics": {"dev_cal": cal_metrics, "dev_eval": metrics,
                    "note": "dev figures from the small dev sets (split by video / by file); "
                            "they are not test-set figures"},
    })
    new_score = np.nanmean([metrics["ffpp"]["roc_auc"], metrics["gan"]["roc_auc"]])
    old_card = args.weights_dir / "detector.json"
    if old_card.exists() and not args.force:
        old = json.loads(old_card.read_text())["metrics"]["dev_eval"]
        old_score = np.nanmean([old["ffpp"]["roc_auc"], old["gan"]["roc_auc"]])
        if new_score <= old_score:
            print(f"NOT shipped: mean dev AUC {new_score:.4f} <= shipped {old_score:.4f}")
            print(json.dumps(card["metrics"], indent=1))
            return 1
    card["limits"] = known_limits(metrics)
    shutil.copy(wfile, args.weights_dir / "detector.safetensors")
    (args.weights_dir / "detector.json").write_text(json.dumps(card, indent=2) + "\n")
    print(f"shipped {model_id}: mean dev-eval AUC {new_score:.4f}")
    print(json.dumps(card["metrics"]["dev_eval"], indent=1))
    return 0


def known_limits(m: dict) -> list[str]:
    return [
        "Trained without any real deepfakes: it looks for blending traces (self-blended "
        "images) and for GAN textures seen in a small GAN set. Methods that leave neither "
        "(full-image diffusion, relighting) may pass as real.",
        f"Dev figures: FF++ Deepfakes ROC AUC {m['ffpp']['roc_auc']:.2f}, GAN faces ROC AUC "
        f"{m['gan']['roc_auc']:.2f}; on held-out data they will differ.",
        "Scores on faces smaller than 64 px, heavily compressed or blurred images are "
        "unreliable and are shown as uncertain.",
        "A 'real' verdict is not proof of authenticity: it only means no sign of manipulation "
        "was found in the face.",
    ]


if __name__ == "__main__":
    raise SystemExit(main())
