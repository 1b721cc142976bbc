"""Inputs for the README screenshots, all derived from scikit-image's bundled public-domain
images (never from ../shared): a portrait, copies of it, a group composite, a cut-short file.

    python docs/screenshots/make_inputs.py OUT_DIR
"""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np
from PIL import Image
from skimage import data


def main(out: Path) -> None:
    batch = out / "batch"
    batch.mkdir(parents=True, exist_ok=True)
    a = data.astronaut()
    Image.fromarray(a).save(out / "astronaut.jpg", quality=92)
    Image.fromarray(a).save(batch / "press_photo_astronaut.jpg", quality=90)
    Image.fromarray(np.ascontiguousarray(a[:, ::-1])).save(batch / "mirrored_copy.jpg", quality=90)
    Image.fromarray(np.ascontiguousarray(a[20:276, 96:352])).save(batch / "profile_picture.png")
    Image.fromarray(data.coffee()).save(batch / "coffee_cup.jpg", quality=90)
    Image.fromarray(data.camera()).save(batch / "cameraman_1970s.png")
    Image.fromarray(data.chelsea()).save(batch / "cat.jpg", quality=90)
    canvas = cv2.resize(data.coffee(), (900, 450))
    x1, y1, x2, y2 = 181, 62, 268, 172  # the astronaut's face
    face = a[y1 - 30:y2 + 30, x1 - 30:x2 + 30]
    for (x, y), s in zip([(40, 60), (340, 100), (640, 40)], [1.0, 1.3, 1.6], strict=True):
        f = cv2.resize(face, None, fx=s, fy=s)
        canvas[y:y + f.shape[0], x:x + f.shape[1]] = f
    Image.fromarray(canvas).save(batch / "group_of_three.jpg", quality=90)
    (batch / "download_cut_short.jpg").write_bytes((batch / "cat.jpg").read_bytes()[:3000])
    Image.fromarray(cv2.resize(a, (128, 128))).save(batch / "tiny_thumbnail.png")
    Image.fromarray(self_blended(a)).save(out / "self_blended_fake.png")


def self_blended(a: np.ndarray) -> np.ndarray:
    """A manipulated copy of the portrait (a self-blended image, Shiohara & Yamasaki 2022: the
    face blended with a colour- and sharpness-shifted, slightly warped copy of itself)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from app.core.faces import FaceFinder
    from app.training.sbi import self_blend

    face = FaceFinder().find(a)[0]
    return self_blend(a, face.landmarks, np.random.default_rng(8))[0]


if __name__ == "__main__":
    main(Path(sys.argv[1]))
