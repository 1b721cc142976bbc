"""`python -m app train`: fine-tune a detector on real faces + self-blended fakes, resumably.

    python -m app train --cache .cache/crops --out runs/faceres --steps 3000

Crops come from `python -m app.training.cache` (the engine's face code). The run directory holds
last.pt (resume point), best.safetensors (best validation score so far) and log.jsonl.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

from app.core.detector import ARCH_FACERES, ARCH_INCEPTION, build_model, normalize_batch
from app.training.data import BatchMaker, CropSet, eval_views, load_cache, sharpness_gap
from app.training.landmarks68 import sidecar
from app.training.metrics import roc_auc

NORMALIZATION = {ARCH_FACERES: "vggface2_bgr_mean", ARCH_INCEPTION: "fixed_standardization"}


def parse(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m app train", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cache", type=Path, default=Path(".cache/crops"))
    ap.add_argument("--real", nargs="*", default=["utkface"], help="cache names of real faces")
    ap.add_argument("--fake", nargs="*", default=["dev_gan_fake"],
                    help="cache names of real fakes (their 'train' split only)")
    ap.add_argument("--extra-real", nargs="*", default=["dev_gan_real"],
                    help="cache names of extra reals (their 'train' split only)")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--arch", choices=[ARCH_FACERES, ARCH_INCEPTION], default=ARCH_FACERES)
    ap.add_argument("--init", type=Path,
                    default=Path("weights/faceres_vggface2_backbone.safetensors"),
                    help="pretrained backbone (faceres) to start from; 'none' for scratch")
    ap.add_argument("--size", type=int, default=160)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--lr", type=float, default=3e-4)
    ap.add_argument("--wd", type=float, default=1e-4)
    ap.add_argument("--fake-share", type=float, default=0.2,
                    help="share of fakes taken from --fake sets (the rest are self-blended)")
    ap.add_argument("--extra-real-share", type=float, default=0.15,
                    help="weight of each --extra-real set relative to the --real sets")
    ap.add_argument("--init-full", type=Path, help="start from a whole detector (safetensors)")
    ap.add_argument("--deconfound", action=argparse.BooleanOptionalAction, default=True,
                    help="blur/sharpen real-fake sets so sharpness is no cue (data.sharpness_gap)")
    ap.add_argument("--landmarks68", action=argparse.BooleanOptionalAction, default=False,
                    help="blend masks from 68-point landmarks where the cache has them "
                         "(app.training.landmarks68)")
    ap.add_argument("--val-every", type=int, default=250)
    ap.add_argument("--ckpt-every", type=int, default=50)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--workers", type=int, default=1, help="data-loading processes")
    ap.add_argument("--bf16", action=argparse.BooleanOptionalAction, default=True)
    ap.add_argument("--max-minutes", type=float, help="stop (resumably) after this long")
    return ap.parse_args(argv)


def _model(args):
    import torch

    if args.init_full:
        from safetensors.torch import load_file

        model = build_model(args.arch)
        model.load_state_dict({k: v.float() for k, v in load_file(str(args.init_full)).items()})
        return model.to(memory_format=torch.channels_last)

    if args.arch == ARCH_FACERES and str(args.init) != "none":
        from app.core.models.faceres import FaceResDetector

        model = FaceResDetector.from_pretrained(args.init)
    else:
        model = build_model(args.arch)
    return model.to(memory_format=torch.channels_last)


def _val_sets(args) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Validation views: the 'cal' splits only (the 'eval' splits are for the final report)."""
    sets: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    c = args.cache
    pairs = {"ffpp": ("dev_ffpp_real", "dev_ffpp_Deepfakes"),
             "gan": ("dev_gan_real", "dev_gan_fake")}
    for key, (real, fake) in pairs.items():
        if (c / f"{real}.npz").exists() and (c / f"{fake}.npz").exists():
            r = load_cache(c / f"{real}.npz", real.removeprefix("dev_"), "cal")
            f = load_cache(c / f"{fake}.npz", fake.removeprefix("dev_"), "cal")
            if not len(r) or not len(f):
                continue
            x = np.concatenate([eval_views(r, args.size), eval_views(f, args.size)])
            y = np.concatenate([np.zeros(len(r)), np.ones(len(f))])
            sets[key] = (x, y)
    if (c / "utkface.npz").exists():
        u = load_cache(c / "utkface.npz", "utkface", "cal")
        if len(u):
            sets["utk_real"] = (eval_views(u, args.size), np.zeros(len(u)))
    return sets


def predict_logits(model, views: np.ndarray, norm: str, batch: int = 64) -> np.ndarray:
    import torch

    model.eval()
    out = []
    with torch.inference_mode():
        for i in range(0, len(views), batch):
            out.append(model(normalize_batch(views[i : i + batch], norm)).float().reshape(-1))
    model.train()
    return torch.cat(out).numpy()


def validate(model, sets, norm: str) -> dict[str, float]:
    res: dict[str, float] = {}
    for key, (x, y) in sets.items():
        logits = predict_logits(model, x, norm)
        if y.max() > 0:
            res[f"{key}_auc"] = roc_auc(y, logits)
        else:  # real-only set: how many would be called fake at p >= 0.5
            res[f"{key}_fpr@0.5"] = float((logits >= 0).mean())
    aucs = [v for k, v in res.items() if k.endswith("_auc")]
    res["score"] = float(np.mean(aucs)) if aucs else 0.0
    return res


def main(argv: list[str] | None = None) -> int:
    import torch
    from safetensors.torch import save_file

    args = parse(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    norm = NORMALIZATION[args.arch]

    reals: list[CropSet] = []
    weights: list[float] = []
    for name in args.real:
        cs = load_cache(args.cache / f"{name}.npz", name, "train", args.landmarks68)
        reals.append(cs)
        weights.append(len(cs))
    base = sum(weights)
    for name in args.extra_real:
        p = args.cache / f"{name}.npz"
        if p.exists():
            lm = args.landmarks68 and sidecar(p).exists()
            cs = load_cache(p, name.removeprefix("dev_"), "train", lm)
            reals.append(cs)
            weights.append(args.extra_real_share * base)  # a small share of every batch
    fakes = [load_cache(args.cache / f"{n}.npz", n.removeprefix("dev_"), "train")
             for n in args.fake if (args.cache / f"{n}.npz").exists()]
    print(f"reals: {[len(r) for r in reals]}, real fakes: {[len(f) for f in fakes]}", flush=True)
    # The i-th --fake set is compared with the i-th --extra-real set (same source).
    extra = reals[len(args.real):]
    adjust = [sharpness_gap(f, extra[i]) if args.deconfound and i < len(extra) else 0.0
              for i, f in enumerate(fakes)]
    print(f"sharpness de-confounding per fake set: {adjust}", flush=True)
    maker = BatchMaker(reals, fakes, args.size, args.batch, args.seed, weights, args.fake_share,
                       adjust)
    val_sets = _val_sets(args)
    print("validation:", {k: len(v[1]) for k, v in val_sets.items()}, flush=True)

    model = _model(args).train()
    head = [p for n, p in model.named_parameters() if n.startswith(("classifier", "logits"))]
    body = [p for n, p in model.named_parameters() if not n.startswith(("classifier", "logits"))]
    opt = torch.optim.AdamW([{"params": body, "lr": args.lr}, {"params": head, "lr": args.lr * 5}],
                            weight_decay=args.wd)
    warm = min(200, args.steps // 10)
    def lr_factor(s: int) -> float:  # linear warm-up, cosine decay; a plain float for torch.save
        return float(min(1.0, (s + 1) / max(1, warm))
                     * 0.5 * (1 + np.cos(np.pi * min(1.0, s / args.steps))))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_factor)
    step, best = 0, -1.0
    history: list[dict] = []
    ckpt = args.out / "last.pt"
    if ckpt.exists():
        # Early checkpoints stored numpy scalars in the LR scheduler's state: allow exactly those.
        allowed = [np._core.multiarray.scalar, np.dtype, type(np.dtype(np.float64))]
        with torch.serialization.safe_globals(allowed):
            state = torch.load(ckpt, map_location="cpu", weights_only=True)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        sched.load_state_dict(state["sched"])
        step, best = int(state["step"]), float(state["best"])
        history = json.loads(state["history"])
        print(f"resumed at step {step} (best {best:.4f})", flush=True)

    loader = torch.utils.data.DataLoader(
        _Steps(maker, step, args.steps), batch_size=None, num_workers=args.workers,
        prefetch_factor=4 if args.workers else None, persistent_workers=False)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    t0, seen, run_loss = time.time(), 0, []
    for x_np, y_np in loader:
        x = normalize_batch(x_np.numpy(), norm)
        y = y_np.float()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.bf16):
            logits = model(x).float().reshape(-1)
        loss = loss_fn(logits, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
        sched.step()
        step += 1
        seen += len(y)
        run_loss.append(float(loss.detach()))
        if step % 10 == 0:
            el = time.time() - t0
            rate = seen / el
            eta = (args.steps - step) * args.batch / rate
            acc = float(((logits > 0).float() == y).float().mean())
            print(f"step {step}/{args.steps} loss {np.mean(run_loss[-10:]):.4f} acc {acc:.2f} "
                  f"{rate:.1f} img/s ETA {eta / 60:.1f} min", flush=True)
        done = step >= args.steps
        out_of_time = args.max_minutes and (time.time() - t0) / 60 > args.max_minutes
        if step % args.val_every == 0 or done or out_of_time:
            res = validate(model, val_sets, norm)
            res.update(step=step, loss=float(np.mean(run_loss[-args.val_every:])))
            history.append(res)
            print("VAL", json.dumps(res), flush=True)
            (args.out / "log.jsonl").open("a").write(json.dumps(res) + "\n")
            if res["score"] > best:
                best = res["score"]
                save_file({k: v.detach().contiguous() for k, v in model.state_dict().items()},
                          str(args.out / "best.safetensors"))
                (args.out / "best.json").write_text(json.dumps(
                    {"step": step, "val": res, "args": {k: str(v) for k, v in vars(args).items()}},
                    indent=2))
        if step % args.ckpt_every == 0 or done or out_of_time:
            tmp = args.out / "last.pt.tmp"
            torch.save({"model": model.state_dict(), "opt": opt.state_dict(),
                        "sched": sched.state_dict(), "step": step, "best": best,
                        "history": json.dumps(history)}, tmp)
            tmp.replace(ckpt)  # atomic: a kill mid-write never corrupts the resume point
        if done or out_of_time:
            break
    print(f"stopped at step {step}; best validation score {best:.4f}", flush=True)
    return 0


class _Steps:
    """Batches step..steps-1 of a BatchMaker, as a map-style dataset for DataLoader workers."""

    def __init__(self, maker: BatchMaker, start: int, stop: int) -> None:
        self.maker, self.start, self.stop = maker, start, stop

    def __len__(self) -> int:
        return max(0, self.stop - self.start)

    def __getitem__(self, i: int):
        return self.maker[self.start + i]


if __name__ == "__main__":
    raise SystemExit(main())
