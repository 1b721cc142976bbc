"""Cache frozen-backbone features of every training/dev face once (resumable, in shards).

    python -m app.training.clip_features --out .cache/feats            # all shards
    python -m app.training.clip_features --out .cache/feats --worker 0 --workers 2   # in parallel

Each image goes through the app's own code path: `load_image` -> MTCNN (`FaceFinder`) -> the
largest face -> `face_crop` at the detector's crop scale -> the model's preprocessing, so the
head is trained on exactly what the app computes. Per face it stores
- CLIP ViT-B/16: every pooling in `clip_vit.POOLS` (class token, mean patch token, central
  8 x 8 patch mean, patch std) of all 12 layers (12 x 4 x 768, float16, layer-major; the pool
  names are stored with each shard), computed under the same bfloat16 autocast the app uses
  (`app.core.models.clip_vit`);
- with `--faceres-card` (round 1's v3 detector): its 1024 pooled FaceRes features (float16),
  for the second candidate and the stacked combination.
UTKFace and GAN training images get a second, degraded view (`app.training.sbi.degrade`:
resize, blur/sharpen, noise, colour, JPEG 35-100, the same for real and fake) so quality is
no cue.
Shards are written atomically; a rerun skips finished shards.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from app.core.faces import FaceFinder, face_crop
from app.core.images import load_image
from app.training.splits import split_of

DATA = Path(os.environ.get("DFI_SHARED_DATA", Path(__file__).resolve().parents[3] / "shared"
                           / "data"))
CLIP_CROP_SCALE = 1.0  # the crop is MTCNN's box: tight sources (DFDC, UTKFace) need no padding
CLIP_SIZE = 224
FACERES_CROP_SCALE = 1.3
FACERES_SIZE = 160
SHARD = 400
DFDC_TRAIN_GROUPS = 7000  # all of them
UTK_TRAIN = 1200
UTK_HELDOUT = 600
CRISP_PER_SOURCE = 90
SBI_UTK = 1000  # self-blended fakes made from UTKFace training reals ...
SBI_DFDC = 1000  # ... and from DFDC training reals (same groups as their reals)
SHARP_DFDC, SHARP_UTK, SHARP_GAN = 600, 300, 200  # training reals made crisp (source 'sharp')
MIRRORED = ("dfdc", "utk", "gan", "ffpp")  # sources whose training faces `--mirror` caches


@dataclass(frozen=True)
class Item:
    path: str
    # dfdc | ffpp | gan | utk | crisp:<source> (eval) | sbi (self-blended, from a training
    # real) | sharp (a training real made crisp like the crisp check; never FF++)
    source: str
    label: int  # 1 fake, 0 real
    group: str  # split unit (video / pair / file)
    split: str  # train | cal | eval
    views: int = 1  # 2 = plain + degraded


def _h(s: str) -> float:
    return int(hashlib.sha256(s.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF


def _manifest(folder: Path) -> list[dict]:
    with open(folder / "manifest.csv", newline="") as fh:
        return list(csv.DictReader(fh))


def _cal_or_eval(key: str) -> str:
    return "cal" if _h("ce:" + key) < 0.4 else "eval"


def build_items(data: Path = DATA, dfdc_groups: int = DFDC_TRAIN_GROUPS) -> list[Item]:
    """The fixed, deterministic list of faces to cache (order = shard order)."""
    items: list[Item] = []
    # DFDC dev (other source videos): every real, one fake per group; split cal/eval by group.
    rows = _manifest(data / "dev/dfdc")
    seen = set()
    for r in sorted(rows, key=lambda r: _h(r["file"])):
        if r["label"] == "fake":
            if r["group"] in seen:
                continue
            seen.add(r["group"])
        items.append(Item(str(data / "dev/dfdc" / r["file"]), "dfdc", int(r["label"] == "fake"),
                          "dfdc:" + r["group"], _cal_or_eval(r["group"])))
    # FF++ dev: split by swap pair, never trained on while choosing the recipe.
    for sub, lab in (("real", 0), ("Deepfakes", 1)):
        for f in sorted((data / "dev/ffpp" / sub).iterdir()):
            name = f.name
            items.append(Item(str(f), "ffpp", lab, "ffpp:" + _ffpp_group(name),
                              split_of("ffpp", name)))
    # GAN dev: by file (the existing split: train 50 %, cal 20 %, eval 30 %).
    for sub, lab in (("real", 0), ("fake", 1)):
        for f in sorted((data / "dev/gan" / sub).iterdir()):
            sp = split_of("gan", f.name)
            items.append(Item(str(f), "gan", lab, "gan:" + f.name, sp, 2 if sp == "train" else 1))
    # UTKFace: held-out faces (the existing cal/eval split) and a training sample.
    utk = sorted((data / "train/real/utkface").iterdir(), key=lambda p: _h(p.name))
    held = [f for f in utk if split_of("utkface", f.name) != "train"][:UTK_HELDOUT]
    train = [f for f in utk if split_of("utkface", f.name) == "train"][:UTK_TRAIN]
    items += [Item(str(f), "utk", 0, "utk:" + f.name, split_of("utkface", f.name)) for f in held]
    # Crisp real photos (issue 10): held-out reals upscaled, sharpened, re-saved at JPEG 95.
    crisp_src = ([i for i in items if i.source == s and i.label == 0 and i.split == "eval"]
                 [:CRISP_PER_SOURCE] for s in ("utk", "gan", "dfdc", "ffpp"))
    items += [Item(i.path, "crisp:" + i.source, 0, i.group, "eval") for src in crisp_src
              for i in src]
    items += [Item(str(f), "utk", 0, "utk:" + f.name, "train", 2) for f in train]
    # DFDC train: one real and one fake per source video, a fixed sample of groups.
    rows = _manifest(data / "train/dfdc")
    by_group: dict[str, list[dict]] = {}
    for r in rows:
        by_group.setdefault(r["group"], []).append(r)
    order = sorted(by_group, key=lambda g: _h("g:" + g))

    def dfdc_real(g: str) -> str:  # the training real of source video `g`
        real = next(r for r in by_group[g] if r["label"] == "real")
        return str(data / "train/dfdc" / real["file"])

    # Self-blended fakes (app.training.sbi, 5-point masks): training reals blended with an
    # altered copy of themselves, in the same group as the real so no CV fold splits them.
    items += [Item(str(f), "sbi", 1, "utk:" + f.name, "train") for f in train[:SBI_UTK]]
    items += [Item(dfdc_real(g), "sbi", 1, "dfdc:" + g, "train") for g in order[:SBI_DFDC]]
    groups = order[:dfdc_groups]
    for g in groups:
        for r in sorted(by_group[g], key=lambda r: r["label"]):
            # One view: DFDC frames are already heavily compressed; CPU time goes to more groups.
            items.append(Item(str(data / "train/dfdc" / r["file"]), "dfdc",
                              int(r["label"] == "fake"), "dfdc:" + g, "train"))
    # Crisp training reals (appended last, so caching them kept the shards above): the crisp
    # check's processing applied to training reals of DFDC, UTKFace and GAN web photos, in
    # their own groups; never FF++ (kept out of recipe selection) and never an eval file.
    items += [Item(dfdc_real(g), "sharp", 0, "dfdc:" + g, "train") for g in order[:SHARP_DFDC]]
    items += [Item(str(f), "sharp", 0, "utk:" + f.name, "train") for f in train[-SHARP_UTK:]]
    gan_train = [i for i in items if i.source == "gan" and i.label == 0 and i.split == "train"]
    items += [Item(i.path, "sharp", 0, i.group, "train") for i in gan_train[:SHARP_GAN]]
    return items


def _ffpp_group(name: str) -> str:
    from app.training.splits import ffpp_group

    return ffpp_group(name)


def crisp_version(rgb: np.ndarray) -> np.ndarray:
    """A real face as a crisp studio-like photo: Lanczos upscale to 512 px, unsharp, JPEG 95."""
    from app.training.sbi import jpeg

    h, w = rgb.shape[:2]
    s = 512.0 / max(h, w)
    big = cv2.resize(rgb, (round(w * s), round(h * s)), interpolation=cv2.INTER_LANCZOS4)
    blur = cv2.GaussianBlur(big, (0, 0), 1.2)
    sharp = cv2.addWeighted(big, 1.6, blur, -0.6, 0)
    return jpeg(sharp, 95)


class FeatureExtractor:
    """Both backbones, as the app runs them."""

    def __init__(self, faceres_card: Path | None = None) -> None:
        import torch

        from app.core.detector import Detector
        from app.core.models.clip_vit import POOLS, ClipDetector

        self.pools = POOLS
        self.clip = ClipDetector(feature_layers=range(12), pools=POOLS).eval()
        self.clip.backbone.load_state_dict(clip_backbone_state())
        from app.core.detector import cast_for_autocast

        cast_for_autocast(self.clip)  # bit-identical under the bf16 autocast, ~35 % faster
        # Candidate B's features come from a FaceRes detector card (round 1's v3: `git show
        # 8ace5b3:weights/detector.json` and its safetensors); without one they are skipped.
        self.faceres = Detector.load(faceres_card) if faceres_card else None
        self.torch = torch

    def clip_features(self, crops: np.ndarray) -> np.ndarray:
        from app.core.detector import normalize_batch

        torch = self.torch
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
            f = self.clip.features(normalize_batch(crops, "clip"))
        return f.float().numpy().reshape(len(crops), 12 * len(self.pools), 768).astype(np.float16)

    def faceres_features(self, crops: np.ndarray) -> np.ndarray:
        if self.faceres is None:
            return np.zeros((len(crops), 0), np.float16)
        torch = self.torch
        m = self.faceres.model
        with torch.inference_mode():
            f = m.pool(m.backbone(self.faceres.preprocess(crops)))
        return f.float().numpy().astype(np.float16)


def clip_backbone_state():
    from safetensors.torch import load_file

    from app.core.models.clip_vit import load_backbone_state
    from app.core.paths import weights_dir

    path = weights_dir() / "clip_vit_b16_visual.int8.safetensors"
    return load_backbone_state(load_file(str(path)))


def _views(item: Item, rgb: np.ndarray, face, idx: int, mirror: bool = False
           ) -> list[tuple[np.ndarray, np.ndarray]]:
    from app.training.sbi import degrade

    c = face_crop(rgb, face.box, CLIP_SIZE, CLIP_CROP_SCALE)[0]
    f = face_crop(rgb, face.box, FACERES_SIZE, FACERES_CROP_SCALE)[0]
    if mirror:  # the same crop, left-right mirrored (training augmentation, `--mirror`)
        c, f = np.ascontiguousarray(c[:, ::-1]), np.ascontiguousarray(f[:, ::-1])
    out = [(c, f)]
    if item.views > 1:
        seed = int(_h("aug:" + item.path) * 1e9)
        out.append((degrade(c, np.random.default_rng(seed)),
                    degrade(f, np.random.default_rng(seed))))
    return out


def cache_shard(items: list[Item], ext: FeatureExtractor, finder: FaceFinder, out: Path,
                mirror: bool = False) -> dict:
    clip_crops, fr_crops, meta, skipped = [], [], [], []
    for i, it in enumerate(items):
        try:
            rgb = load_image(it.path).rgb
        except Exception as exc:  # a bad training file is skipped, not fatal
            skipped.append(f"{it.path}: {exc}")
            continue
        if it.source.startswith("crisp:") or it.source == "sharp":
            rgb = crisp_version(rgb)
        faces = finder.find(rgb)
        if not faces:
            skipped.append(f"{it.path}: no face")
            continue
        if it.source == "sbi":
            from app.training.sbi import self_blend

            rng = np.random.default_rng(int(_h("sbi:" + it.path) * 1e9))
            rgb = self_blend(rgb, faces[0].landmarks, rng)[0]
        for v, (c, f) in enumerate(_views(it, rgb, faces[0], i, mirror)):
            clip_crops.append(c)
            fr_crops.append(f)
            meta.append({**it.__dict__, "view": v})
    feats_c, feats_f = [], []
    for s in range(0, len(clip_crops), 16):
        feats_c.append(ext.clip_features(np.stack(clip_crops[s:s + 16])))
        feats_f.append(ext.faceres_features(np.stack(fr_crops[s:s + 16])))
    tmp = out.with_suffix(".tmp.npz")
    np.savez(tmp, clip=np.concatenate(feats_c) if feats_c else
             np.zeros((0, 12 * len(ext.pools), 768), np.float16), pools=np.array(ext.pools),
             faceres=np.concatenate(feats_f) if feats_f else np.zeros((0, 0), np.float16),
             meta=np.array(json.dumps(meta)), skipped=np.array(json.dumps(skipped)))
    os.replace(tmp, out)
    return {"n": len(meta), "skipped": len(skipped)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--out", type=Path, default=Path(".cache/feats"))
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--worker", type=int, default=0)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--dfdc-groups", type=int, default=DFDC_TRAIN_GROUPS,
                    help="DFDC train source videos to cache (a growing prefix of a fixed order)")
    ap.add_argument("--faceres-card", type=Path, help="a FaceRes detector card (candidate B)")
    ap.add_argument("--mirror", action="store_true",
                    help="mirrored views of the training faces only (DFDC, UTKFace, GAN, FF++; "
                         "not the self-blended or crisp-made ones), into their own --out folder "
                         "(clip_head --mirror-feats)")
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    items = build_items(args.data, args.dfdc_groups)
    if args.mirror:
        items = [it for it in items if it.split == "train" and it.source in MIRRORED]
    shards = [items[i:i + SHARD] for i in range(0, len(items), SHARD)]
    mine = [k for k in range(len(shards)) if k % args.workers == args.worker]
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "items.json").write_text(json.dumps({"n": len(items), "shards": len(shards)}))
    todo = [k for k in mine if not (args.out / f"shard{k:03d}.npz").exists()]
    print(f"{len(items)} faces in {len(shards)} shards; worker {args.worker}: {len(todo)} to do",
          flush=True)
    ext, finder = FeatureExtractor(args.faceres_card), FaceFinder()
    t0 = time.time()
    for n, k in enumerate(todo, 1):
        info = cache_shard(shards[k], ext, finder, args.out / f"shard{k:03d}.npz", args.mirror)
        el = time.time() - t0
        print(f"shard {k}: {info['n']} views, {info['skipped']} skipped; {n}/{len(todo)} done, "
              f"{el / 60:.1f} min, ETA {el / n * (len(todo) - n) / 60:.1f} min", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
