"""Training batches from the crop cache: real faces, self-blended fakes, optional real fakes.

Every batch is a pure function of (seed, step), so a resumed run sees exactly the batches the
interrupted one would have.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from app.core.faces import face_crop
from app.training.landmarks68 import five_from_68, sidecar
from app.training.sbi import degrade, self_blend
from app.training.splits import split_of


@dataclass
class CropSet:
    crops: np.ndarray  # (N, S, S, 3) uint8
    landmarks: np.ndarray  # (N, 5, 2)
    boxes: np.ndarray  # (N, 4)
    names: np.ndarray
    lm68: np.ndarray | None = None  # (N, 68, 2), NaN where no fit (app.training.landmarks68)

    def __len__(self) -> int:
        return len(self.names)

    def subset(self, idx: np.ndarray) -> CropSet:
        lm68 = None if self.lm68 is None else self.lm68[idx]
        return CropSet(self.crops[idx], self.landmarks[idx], self.boxes[idx], self.names[idx],
                       lm68)


def load_cache(path: Path, dataset: str | None = None, split: str | None = None,
               landmarks68: bool = False) -> CropSet:
    """A crop cache; with `landmarks68`, also its 68-point sidecar (it must exist)."""
    d = np.load(path)
    lm68 = np.load(sidecar(path)) if landmarks68 else None
    cs = CropSet(d["crops"], d["landmarks"], d["boxes"], d["names"], lm68)
    if split is not None:
        idx = np.array([i for i, n in enumerate(cs.names) if split_of(dataset, str(n)) == split],
                       dtype=np.int64)
        cs = cs.subset(idx)
    return cs


def view(crop: np.ndarray, box: np.ndarray, size: int, scale: float = 1.3,
         jitter: tuple[float, float] = (0.0, 0.0)) -> np.ndarray:
    """The classifier's view of a cached face: the engine's own `face_crop` on the cached crop."""
    x1, y1, x2, y2 = (float(v) for v in box)
    w = x2 - x1
    b = (x1 + jitter[0] * w, y1 + jitter[1] * w, x2 + jitter[0] * w, y2 + jitter[1] * w)
    return face_crop(crop, b, size, scale)[0]


class BatchMaker:
    """Half real, half fake; fakes are self-blended reals (and, if given, real fakes)."""

    def __init__(self, reals: list[CropSet], fakes: list[CropSet], size: int, batch: int,
                 seed: int, real_weights: list[float] | None = None, fake_share: float = 0.2,
                 fake_adjust: list[float] | None = None):
        self.reals, self.fakes = reals, fakes
        # Per fake set: > 0 blur that often, < 0 sharpen that often (see sharpness_gap).
        self.fake_adjust = fake_adjust or [0.0] * len(fakes)
        self.size, self.batch, self.seed = size, batch, seed
        w = np.asarray(real_weights or [len(r) for r in reals], np.float64)
        self.real_p = w / w.sum()
        self.fake_share = fake_share if fakes else 0.0

    def __len__(self) -> int:
        return 10**9

    def __getitem__(self, step: int) -> tuple[np.ndarray, np.ndarray]:
        rng = np.random.default_rng([self.seed, int(step)])
        xs, ys = [], []
        for i in range(self.batch):
            fake = i % 2 == 1
            if fake and rng.random() < self.fake_share:
                k = rng.integers(len(self.fakes))
                cs = self.fakes[k]
                j = rng.integers(len(cs))
                img = _deconfound(cs.crops[j], self.fake_adjust[k], rng)
            else:
                cs = self.reals[rng.choice(len(self.reals), p=self.real_p)]
                j = rng.integers(len(cs))
                img = cs.crops[j]
                if fake:
                    five, lm68 = cs.landmarks[j], None
                    if cs.lm68 is not None and np.isfinite(cs.lm68[j]).all():
                        # dlib's points are the better five too (MTCNN's drift on tight chips)
                        lm68 = cs.lm68[j]
                        five = five_from_68(lm68)
                    img, _ = self_blend(img, five, rng, landmarks68=lm68)
            x = self._augment(img, cs.boxes[j], rng)
            xs.append(x)
            ys.append(1.0 if fake else 0.0)
        return np.stack(xs), np.asarray(ys, np.float32)

    def _augment(self, img: np.ndarray, box: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        if rng.random() < 0.5:
            img = img[:, ::-1]
            w = img.shape[1]
            box = np.array([w - box[2], box[1], w - box[0], box[3]], np.float32)
        scale = rng.uniform(1.1, 1.6)  # the framing varies: tight chips vs wider web crops
        jitter = tuple(rng.uniform(-0.06, 0.06, 2))
        x = view(np.ascontiguousarray(img), box, self.size, scale, jitter)
        return degrade(x, rng)


def _deconfound(img: np.ndarray, adjust: float, rng: np.random.Generator) -> np.ndarray:
    """Blur (adjust > 0) or sharpen (adjust < 0) a fake with probability |adjust|."""
    if adjust == 0 or rng.random() >= abs(adjust):
        return img
    if adjust > 0:
        return cv2.GaussianBlur(img, (0, 0), rng.uniform(0.5, 1.3))
    blur = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.8, 1.6))
    amount = rng.uniform(0.4, 1.0)
    return cv2.addWeighted(img, 1.0 + amount, blur, -amount, 0)


def sharpness(cs: CropSet, size: int = 160) -> float:
    """Median variance of the Laplacian over the centre of the face views."""
    views = eval_views(cs, size)
    m = size // 4
    return float(np.median([cv2.Laplacian(cv2.cvtColor(v, cv2.COLOR_RGB2GRAY),
                                          cv2.CV_64F)[m:-m, m:-m].var() for v in views]))


def sharpness_gap(fake: CropSet, real: CropSet) -> float:
    """How often to blur (> 0) or sharpen (< 0) this fake set so that sharpness stops being a
    cue: GAN faces are crisper than the web photos they are compared with, FF++ deepfakes
    blurrier than their source videos, and a model that learns either learns the other backwards.
    """
    ratio = sharpness(fake) / max(sharpness(real), 1e-6)
    return float(np.clip((ratio - 1.0) if ratio >= 1 else -(1.0 / ratio - 1.0), -0.6, 0.6))


def eval_views(cs: CropSet, size: int, scale: float = 1.3) -> np.ndarray:
    """Centred views at the inference framing, no augmentation."""
    return np.stack([view(c, b, size, scale) for c, b in zip(cs.crops, cs.boxes, strict=True)])
