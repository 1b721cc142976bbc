"""Heads on cached frozen features: fit, calibrate, measure per dev set, write a candidate.

    python -m app.training.clip_head --feats .cache/feats --out runs/clip_head

Candidates (issue 10), all on one protocol:
  A  CLIP ViT-B/16 multi-layer features -> logistic regression
  B  FaceRes (the v3 detector's backbone, frozen) pooled features -> logistic regression
  C  a stacked combination: logistic regression on [logit A, logit B], fitted on 'cal'
Protocol: heads train on the 'train' split of DFDC, GAN and UTKFace (FF++ never, unless
`--with-ffpp`, which adds FF++'s train pairs and reports FF++ cross-validated by swap pair;
`--with-sbi` adds self-blended fakes made from training reals, `--with-sharp` training reals
made crisp like the crisp check);
C (regularisation) is chosen by 5-fold cross-validation grouped by source video / file on the
training data only; calibration (Platt), the threshold and the uncertainty band are fitted on
'cal'; every figure reported is on 'eval', per dev set, never pooled. The threshold keeps
false alarms at or under 5 % on EVERY cal real source (worst case, not pooled).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from app.training.metrics import bootstrap_auc, ece, fit_temperature, roc_auc

MAX_REAL_FPR = 0.05
MAX_FAKE_MISS = 0.10
REAL_SOURCES = ("dfdc", "ffpp", "gan", "utk")
FAKE_SOURCES = ("dfdc", "ffpp", "gan")
TRAIN_SOURCES = ("dfdc", "gan", "utk")
C_GRID = (0.0005, 0.002, 0.008, 0.03)
CV_SLACK = 0.002


@dataclass
class Feats:
    clip: np.ndarray  # (M, 12 x P, 768) float16: P poolings (`pools`) x 12 layers, layer-major
    faceres: np.ndarray  # (M, 1024) float16
    source: np.ndarray
    label: np.ndarray
    group: np.ndarray
    split: np.ndarray
    view: np.ndarray
    path: np.ndarray
    pools: tuple[str, ...] = ("cls", "mean")

    def take(self, m: np.ndarray) -> Feats:
        return Feats(*(getattr(self, k)[m] for k in self.__dataclass_fields__ if k != "pools"),
                     pools=self.pools)


def load_feats(folder: Path) -> Feats:
    clip, fr, meta, pools = [], [], [], set()
    for f in sorted(folder.glob("shard*.npz")):
        if f.name.endswith(".tmp.npz"):
            continue
        d = np.load(f)
        # Shards cached before the extra poolings hold [cls, mean] only.
        pools.add(tuple(str(v) for v in d["pools"]) if "pools" in d else ("cls", "mean"))
        clip.append(d["clip"])
        fr.append(d["faceres"])
        meta += json.loads(str(d["meta"]))
    if len(pools) > 1:
        raise ValueError(f"{folder}: shards cached with different poolings {sorted(pools)}")
    col = {k: np.array([m[k] for m in meta]) for k in meta[0]}
    if len({f.shape[1] for f in fr}) > 1:  # some shards were cached without FaceRes features
        fr = [f[:, :0] for f in fr]
    return Feats(np.concatenate(clip), np.concatenate(fr), col["source"], col["label"].astype(int),
                 col["group"], col["split"], col["view"].astype(int), col["path"],
                 pools=pools.pop())


MIRROR_VIEW = 10  # view numbers of mirrored faces (clip_features --mirror) start here
PAIR_SOURCE = "dfdc_pair"  # pair-centred copies of DFDC's training faces (--pair-center)


def pair_centered(f: Feats, source: str = "dfdc") -> Feats:
    """Copies of `source`'s rows minus their group's mean, plus the mean of all rows.

    A DFDC group is one source video: its real face and the fake made from it share the scene,
    the lighting and the actor's head. Subtracting the pair's mean leaves what the swap
    changed, so a head trained on these copies as well (in their groups, source PAIR_SOURCE,
    their own cells in `cell_weights`) learns more of the manipulation and less of the scene.
    Only groups with both a real and a fake are used; the copies are for training only.
    """
    rows = np.flatnonzero(f.source == source)
    _, inv = np.unique(f.group[rows], return_inverse=True)
    n_labels = np.zeros((inv.max() + 1, 2), int) if len(rows) else np.zeros((0, 2), int)
    np.add.at(n_labels, (inv, f.label[rows]), 1)
    keep = (n_labels[inv] > 0).all(1)
    rows, inv = rows[keep], inv[keep]
    sums = np.zeros((len(n_labels),) + f.clip.shape[1:], np.float32)
    np.add.at(sums, inv, f.clip[rows].astype(np.float32))
    overall = np.zeros(f.clip.shape[1:], np.float64)
    for i in range(0, len(f.clip), 1024):
        overall += f.clip[i:i + 1024].sum(0, dtype=np.float64)
    overall = (overall / max(len(f.clip), 1)).astype(np.float32)
    counts = n_labels.sum(1)[inv].astype(np.float32)
    out = f.take(rows)
    out.clip = (out.clip.astype(np.float32) - sums[inv] / counts[:, None, None]
                + overall).astype(np.float16)
    out.source = np.full(len(rows), PAIR_SOURCE)
    return out


def concat_feats(a: Feats, b: Feats) -> Feats:
    """Rows of `a` then `b` (the same poolings)."""
    if a.pools != b.pools:
        raise ValueError(f"different poolings: {a.pools} vs {b.pools}")
    keys = [k for k in a.__dataclass_fields__ if k != "pools"]
    return Feats(*(np.concatenate([getattr(a, k), getattr(b, k)]) for k in keys), pools=a.pools)


def clip_matrix(f: Feats, layers, pools=("cls", "mean")) -> np.ndarray:
    """The chosen layers x poolings, in the order `ClipDetector.features` computes them."""
    missing = set(pools) - set(f.pools)
    if missing:
        raise ValueError(f"poolings {sorted(missing)} are not in the cache ({f.pools})")
    k = len(f.pools)
    idx = [k * i + f.pools.index(p) for i in layers for p in pools]
    return f.clip[:, idx].reshape(len(f.clip), -1).astype(np.float32)


def cell_weights(source: np.ndarray, label: np.ndarray) -> np.ndarray:
    """Each (source, label) cell carries the same total weight: no set dominates by size."""
    w = np.zeros(len(label), np.float64)
    cells = {(s, y) for s, y in zip(source, label, strict=True)}
    for s, y in cells:
        m = (source == s) & (label == y)
        w[m] = 1.0 / m.sum()
    return w * len(w) / w.sum()


class LinearHead:
    """Standardise, then L2 logistic regression.

    The objective is scikit-learn's `LogisticRegression(C)` with sample weights
    (C x sum of weighted log-losses + |coef|^2 / 2, bias not penalised), minimised by PyTorch's
    L-BFGS in float32: scikit-learn's lbfgs copies the matrix to float64, which for 20,000 faces
    x 37,000 features costs 6 GB and four times the time. `tests/training/test_clip_head.py`
    checks the two solvers agree.
    """

    def __init__(self, c: float, max_iter: int = 300, tol: float = 1e-5) -> None:
        self.c = c
        self.max_iter = max_iter
        self.tol = tol  # on the gradient of the objective / (C x sum(w)); sklearn stops at 1e-4

    def fit(self, x: np.ndarray, y: np.ndarray, w: np.ndarray, copy: bool = True) -> LinearHead:
        """`copy=False` standardises a float32 `x` in place (saves a copy of a GB-sized matrix)."""
        import torch

        self.mean, self.std = column_stats(x)
        if copy or x.dtype != np.float32:
            x = x.astype(np.float32)
        x -= self.mean
        x /= self.std
        z = torch.from_numpy(x)
        sign = torch.from_numpy(np.where(np.asarray(y) > 0, 1.0, -1.0).astype(np.float32))
        wt = torch.from_numpy(np.asarray(w, np.float64) / np.sum(w)).float()
        lam = 1.0 / (self.c * float(np.sum(w)))  # the same minimiser, divided by C x sum(w)
        coef = torch.zeros(z.shape[1], requires_grad=True)
        bias = torch.zeros(1, requires_grad=True)
        opt = torch.optim.LBFGS([coef, bias], lr=1, max_iter=self.max_iter, history_size=20,
                                tolerance_grad=self.tol, tolerance_change=1e-12,
                                line_search_fn="strong_wolfe")

        def closure():
            opt.zero_grad()
            margin = sign * (z @ coef + bias)
            loss = (wt * torch.nn.functional.softplus(-margin)).sum() + 0.5 * lam * coef @ coef
            loss.backward()
            return loss

        opt.step(closure)
        self.coef = coef.detach().numpy().astype(np.float32)
        self.bias = float(bias.detach()[0])
        return self

    def logit(self, x: np.ndarray) -> np.ndarray:
        return ((x - self.mean) / self.std) @ self.coef + self.bias

    @classmethod
    def saved(cls, heads, name: str = "a") -> LinearHead:
        """A fitted head back from a run's heads.npz (`{name}_coef`, `_bias`, `_mean`, `_std`)."""
        head = cls(c=float("nan"))
        head.coef, head.bias = heads[f"{name}_coef"], float(heads[f"{name}_bias"])
        head.mean, head.std = heads[f"{name}_mean"], heads[f"{name}_std"]
        return head


def column_stats(x: np.ndarray, rows: int = 1024) -> tuple[np.ndarray, np.ndarray]:
    """Column mean and std (+1e-6) in float64, a block of rows at a time: numpy's std would
    make a float64 copy of the whole matrix (4 GB for 20,000 x 37,000)."""
    s = np.zeros(x.shape[1])
    for i in range(0, len(x), rows):
        s += x[i:i + rows].sum(0, dtype=np.float64)
    mean = s / len(x)
    ss = np.zeros(x.shape[1])
    for i in range(0, len(x), rows):
        ss += ((x[i:i + rows] - mean) ** 2).sum(0)
    std = np.sqrt(ss / len(x)) + 1e-6
    return mean.astype(np.float32), std.astype(np.float32)


def cv_folds(groups, folds: int = 5) -> np.ndarray:
    """Each row's fold: all rows of a group (video / file) in one, the same in every run (crc32,
    not hash(): str hashes change with every interpreter, and so would the CV figures)."""
    return np.array([zlib.crc32(str(g).encode()) % folds for g in groups])


def grouped_cv(x, y, w, groups, source, c: float, folds: int = 5) -> dict[str, float]:
    """Mean AUC per training source over folds split by group (video / file)."""
    key = cv_folds(groups, folds)
    scores = np.zeros(len(y))
    for k in range(folds):
        tr, te = key != k, key == k
        scores[te] = LinearHead(c).fit(x[tr], y[tr], w[tr], copy=False).logit(x[te])
    out = {}
    for s in np.unique(source):
        m = source == s
        if s != PAIR_SOURCE and len(set(y[m])) == 2:  # the copies are not faces to score
            out[s] = roc_auc(y[m], scores[m])
    return out


def calibrate(z: np.ndarray, f: Feats) -> dict:
    """Platt scaling with every (source, label) cell weighted equally, then the worst-case
    threshold and band over sources (cal split)."""
    reps = cell_weights(f.source, f.label)
    reps = np.maximum(1, np.round(reps * 4)).astype(int)
    t, b = fit_temperature(np.repeat(z, reps), np.repeat(f.label, reps))

    def prob(v):
        return 1 / (1 + np.exp(-(v + b) / t))

    p = prob(z)
    # 'higher'/'lower' order statistics, so the share beyond the cut never exceeds the limit.
    thr = max(float(np.quantile(p[(f.source == s) & (f.label == 0)], 1 - MAX_REAL_FPR,
                                method="higher"))
              for s in REAL_SOURCES if ((f.source == s) & (f.label == 0)).any())
    thr = min(max(thr, 0.5) + 1e-4, 0.999)
    lo = min(float(np.quantile(p[(f.source == s) & (f.label == 1)], MAX_FAKE_MISS,
                               method="lower"))
             for s in FAKE_SOURCES if ((f.source == s) & (f.label == 1)).any())
    lo = min(lo, thr - 0.02)
    return {"temperature": t, "bias": b, "threshold": round(thr, 4),
            "uncertain_band": [round(max(lo, 0.001), 4), round(thr - 1e-4, 4)]}


def measure(z: np.ndarray, f: Feats, cal: dict) -> dict:
    """Per eval set: AUC (+ bootstrap CI over groups), false alarms, catches, uncertain, ECE."""
    p = 1 / (1 + np.exp(-(z + cal["bias"]) / cal["temperature"]))
    lo, thr = cal["uncertain_band"][0], cal["threshold"]
    out = {}
    for s in sorted(set(f.source)):
        m = f.source == s
        y, ps = f.label[m], p[m]
        r = {"n_real": int((y == 0).sum()), "n_fake": int((y == 1).sum()),
             "real_called_fake": float((ps[y == 0] >= thr).mean()) if (y == 0).any() else None,
             "uncertain": float(((ps >= lo) & (ps < thr)).mean())}
        if (y == 1).any():
            r["fakes_caught"] = float((ps[y == 1] >= thr).mean())
        if len(set(y)) == 2:
            r["roc_auc"] = roc_auc(y, ps)
            r["roc_auc_ci95"] = bootstrap_auc(y, ps, f.group[m], n=300)
            decided = (ps < lo) | (ps >= thr)
            r["accuracy_when_decided"] = float(((ps[decided] >= thr) == y[decided]).mean())
            r["ece"] = ece(y, ps)
        out[s] = r
    out["utk_groups"] = utk_groups(p, f, thr)
    return out


def utk_groups(p: np.ndarray, f: Feats, thr: float) -> dict:
    """False alarms on held-out UTKFace faces by age band, gender and ethnicity."""
    m = f.source == "utk"
    res: dict[str, dict] = {}
    for path, pv in zip(f.path[m], p[m], strict=True):
        try:
            age, gender, race = (int(v) for v in Path(path).name.split("_")[:3])
        except ValueError:
            continue
        band = "0-12" if age <= 12 else "13-29" if age <= 29 else "30-49" if age <= 49 else \
            "50-69" if age <= 69 else "70+"
        for key in (f"age {band}", ("gender male", "gender female")[gender],
                    f"ethnicity {('White', 'Black', 'Asian', 'Indian', 'Others')[race]}"):
            g = res.setdefault(key, {"n": 0, "fake": 0})
            g["n"] += 1
            g["fake"] += int(pv >= thr)
    return {k: {"n": v["n"], "fpr": v["fake"] / v["n"]} for k, v in sorted(res.items())}


def v3_baseline():
    """The FaceRes v3 detector's own classifier and calibration, if it is the shipped one."""
    from safetensors.numpy import load_file

    from app.core.detector import ARCH_FACERES, ModelCard
    from app.core.paths import default_model_card

    card = ModelCard.from_file(default_model_card())
    if card.architecture != ARCH_FACERES:
        return None
    st = load_file(str(card.path.parent / card.weights_file))
    cal = {"temperature": card.temperature, "bias": card.bias, "threshold": card.threshold,
           "uncertain_band": list(card.uncertain_band)}
    return st["classifier.weight"][0].astype(np.float32), float(st["classifier.bias"][0]), cal


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--feats", type=Path, default=Path(".cache/feats"))
    ap.add_argument("--out", type=Path, default=Path("runs/clip_head"))
    ap.add_argument("--layers", default="5,7,9,11",
                    help="CLIP layers; several sets separated by ';'; or 'search'")
    ap.add_argument("--pools", default="cls,mean",
                    help="poolings per layer (see clip_vit.POOLS); several sets to search, "
                         "separated by ';' (e.g. 'cls,mean;cls,mean,center')")
    ap.add_argument("--c-grid", default=",".join(str(c) for c in C_GRID),
                    help="regularisation values searched by grouped CV")
    ap.add_argument("--with-ffpp", action="store_true", help="add FF++ train pairs to training")
    ap.add_argument("--with-sbi", action="store_true",
                    help="add the cached self-blended fakes (source 'sbi') to training")
    ap.add_argument("--with-sharp", action="store_true",
                    help="add the cached crisp-made training reals (source 'sharp') to training")
    ap.add_argument("--mirror-feats", type=Path,
                    help="a clip_features --mirror cache: the training faces' mirrored views are "
                         "added to training (in their faces' CV groups)")
    ap.add_argument("--pair-center", type=float, default=0.0, metavar="WEIGHT",
                    help="also train on pair-centred copies of DFDC's training faces (each "
                         "minus its source video's real/fake mean; `pair_centered`), their "
                         "cells weighted WEIGHT x a source's (0: not used)")
    ap.add_argument("--select", choices=["max", "parsimony"], default="max",
                    help="configuration: best CV AUC, or the fewest features within 0.002 of it")
    args = ap.parse_args(argv)
    t0 = time.time()
    f = load_feats(args.feats)
    print(f"{len(f.label)} cached views", flush=True)
    sources = TRAIN_SOURCES + (("ffpp",) if args.with_ffpp else ()) + \
        (("sbi",) if args.with_sbi else ()) + (("sharp",) if args.with_sharp else ())
    tr = (f.split == "train") & np.isin(f.source, sources)
    cal_m = (f.split == "cal") & (f.view == 0)
    ev = (f.split == "eval") & (f.view == 0)
    if not args.with_ffpp:  # FF++ is the cross-dataset check: all of it is evaluated
        ev |= (f.source == "ffpp") & (f.view == 0) & (f.split == "train")
    ftr, fcal, fev = f.take(tr), f.take(cal_m), f.take(ev)
    if args.mirror_feats:
        m = load_feats(args.mirror_feats)
        m = m.take((m.split == "train") & np.isin(m.source, sources))
        m.view = m.view + MIRROR_VIEW
        ftr = concat_feats(ftr, m)
        print(f"+ {len(m.label)} mirrored training views", flush=True)
    if args.pair_center:
        pc = pair_centered(ftr)
        ftr = concat_feats(ftr, pc)
        print(f"+ {len(pc.label)} pair-centred DFDC training faces", flush=True)
    w = cell_weights(ftr.source, ftr.label)
    w[ftr.source == PAIR_SOURCE] *= args.pair_center
    layer_sets = ([(5, 7, 9, 11), (3, 5, 7, 9, 11), tuple(range(12)), (8, 9, 10, 11)]
                  if args.layers == "search" else
                  [tuple(int(v) for v in ls.split(",")) for ls in args.layers.split(";")])
    # The search is the slow part: each finished configuration is kept in cv.json, and a rerun
    # on the same training set resumes after the last one.
    args.out.mkdir(parents=True, exist_ok=True)
    ckpt = args.out / "cv.json"
    done = json.loads(ckpt.read_text()) if ckpt.exists() else {}
    if done.get("n_train") != len(ftr.label):
        done = {"n_train": len(ftr.label), "cv": {}}
    report: dict = {"n_train": len(ftr.label), "cv": done["cv"],
                    "mirrored": bool(args.mirror_feats),
                    "pair_centered": args.pair_center}  # the copies' weight (0: none)
    pool_sets = [tuple(v.strip() for v in ps.split(",")) for ps in args.pools.split(";")]
    c_grid = [float(v) for v in args.c_grid.split(",")]
    tried: list[tuple] = []
    for layers in layer_sets:
        for pools in pool_sets:
            x = None
            for c in c_grid:
                key = f"A layers={layers} C={c}"
                if pools != ("cls", "mean"):
                    key += f" pools={','.join(pools)}"
                if key not in report["cv"]:
                    x = clip_matrix(ftr, layers, pools) if x is None else x
                    report["cv"][key] = grouped_cv(x, ftr.label, w, ftr.group, ftr.source, c)
                    ckpt.write_text(json.dumps(report))
                cv = report["cv"][key]
                score = float(np.mean(list(cv.values())))
                print(f"{key}: CV AUC {cv} mean {score:.4f} ({time.time() - t0:.0f} s)",
                      flush=True)
                tried.append((score, len(layers) * len(pools), layers, pools, c))
    x = None  # the search's matrix (GBs) is not needed any more
    top = max(t[0] for t in tried)
    if args.select == "parsimony":  # the fewest features within CV_SLACK of the best CV AUC
        _, _, layers, pools, c_a = max((t for t in tried if t[0] >= top - CV_SLACK),
                                       key=lambda t: (-t[1], t[0]))
    else:  # the best CV AUC
        _, _, layers, pools, c_a = max(tried, key=lambda t: t[0])
    report["train_counts"] = {f"{s} {('real', 'fake')[y]}": int(((ftr.source == s) &
                              (ftr.label == y) & (ftr.view == 0)).sum())
                              for s in sources for y in (0, 1)}
    head_a = LinearHead(c_a).fit(clip_matrix(ftr, layers, pools), ftr.label, w, copy=False)
    zc = {"A": head_a.logit(clip_matrix(fcal, layers, pools))}
    ze = {"A": head_a.logit(clip_matrix(fev, layers, pools))}
    report["chosen"] = {"layers": list(layers), "pools": list(pools), "C_A": c_a}
    head_b = None
    if ftr.faceres.shape[1]:  # candidate B and the stack need cached FaceRes features
        xb = ftr.faceres.astype(np.float32)
        cv_b = {c: grouped_cv(xb, ftr.label, w, ftr.group, ftr.source, c) for c in C_GRID}
        c_b = max(cv_b, key=lambda c: np.mean(list(cv_b[c].values())))
        print(f"B CV {cv_b}", flush=True)
        head_b = LinearHead(c_b).fit(xb, ftr.label, w)
        zc["B"] = head_b.logit(fcal.faceres.astype(np.float32))
        ze["B"] = head_b.logit(fev.faceres.astype(np.float32))
        stack = LinearHead(1.0).fit(np.stack([zc["A"], zc["B"]], 1), fcal.label,
                                    cell_weights(fcal.source, fcal.label))
        zc["C"] = stack.logit(np.stack([zc["A"], zc["B"]], 1))
        ze["C"] = stack.logit(np.stack([ze["A"], ze["B"]], 1))
        report["chosen"].update(C_B=c_b, stack={"coef": stack.coef.tolist(), "bias": stack.bias,
                                                "mean": stack.mean.tolist(),
                                                "std": stack.std.tolist()})
    base = v3_baseline() if ftr.faceres.shape[1] else None
    if base is not None:  # the shipped FaceRes v3 on the same files (one view, its own card)
        w3, b3, cal3 = base
        z3 = fev.faceres.astype(np.float32) @ w3 + b3
        report["v3_one_view"] = {"calibration": cal3, "eval": measure(z3, fev, cal3)}
        print("v3 (shipped, one view):", {s: round(v.get("roc_auc", float("nan")), 3)
                                          for s, v in report["v3_one_view"]["eval"].items()
                                          if s != "utk_groups"}, flush=True)
    for name in zc:
        cal = calibrate(zc[name], fcal)
        report[name] = {"calibration": cal, "eval": measure(ze[name], fev, cal),
                        "cal": measure(zc[name], fcal, cal)}
        ev_ = report[name]["eval"]
        print(name, cal, flush=True)
        for s in sorted(ev_):
            if s != "utk_groups":
                print(f"  {s}: " + ", ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}"
                                            for k, v in ev_[s].items()), flush=True)
    heads = {"layers": np.array(layers), "pools": np.array(pools), "a_coef": head_a.coef,
             "a_bias": head_a.bias, "a_mean": head_a.mean, "a_std": head_a.std}
    if head_b is not None:
        heads.update(b_coef=head_b.coef, b_bias=head_b.bias, b_mean=head_b.mean, b_std=head_b.std)
    np.savez(args.out / "heads.npz", **heads)
    (args.out / "report.json").write_text(json.dumps(report, indent=1, default=float))
    print(f"wrote {args.out} in {time.time() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
