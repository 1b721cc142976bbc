"""68-point landmarks for the crop cache, used only to draw better self-blending masks.

MTCNN's five points do not reach the jaw line, so the 5-point hull (`sbi.face_hull`) guesses the
face outline. A face swap blends inside the 68-point outline (jaw, brows), which dlib's shape
predictor finds. This runs once over a crop cache at training time; the app never loads dlib.

    pip install -e '.[train]'     # dlib-bin, face-recognition-models (CC0; holds the .dat)
    python -m app.training.landmarks68 .cache/crops/*.npz

Writes `<cache>.lm68.npy`: (N, 68, 2) float32 in crop pixels, NaN where no usable fit was found.
A fit is kept only when it roughly agrees with MTCNN's eyes, nose and mouth
(`agrees_with_mtcnn`), so a wrong fit falls back to the 5-point hull instead of teaching a
misplaced boundary. The agreement is loose for fits from dlib's own face box: on chips where the
face fills the frame (UTKFace), MTCNN's five points are spread out by up to half an eye distance
(measured, and visible when drawn), while dlib's fit lands on the features.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

# dlib's 68-point scheme: jaw 0-16, brows 17-26, nose 27-35, eyes 36-47, mouth 48-67.
EYE_L, EYE_R, NOSE_TIP, MOUTH_L, MOUTH_R = slice(36, 42), slice(42, 48), 30, 48, 54


def sidecar(cache: Path | str) -> Path:
    return Path(cache).with_suffix(".lm68.npy")


def five_from_68(pts: np.ndarray) -> np.ndarray:
    """The five MTCNN-style points (image-left eye, image-right eye, nose, mouth corners)."""
    return np.stack([pts[EYE_L].mean(0), pts[EYE_R].mean(0), pts[NOSE_TIP], pts[MOUTH_L],
                     pts[MOUTH_R]]).astype(np.float32)


def agrees_with_mtcnn(pts: np.ndarray, five: np.ndarray, tol: float = 0.25) -> bool:
    """Every derived point within `tol` eye distances of MTCNN's."""
    d = float(np.linalg.norm(five[1] - five[0])) + 1e-6
    return bool(np.all(np.linalg.norm(five_from_68(pts) - five, axis=1) <= tol * d))


def default_model() -> Path:
    import importlib.util

    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("face-recognition-models is not installed: pip install -e '.[train]' "
                         "or pass --model")
    folder = Path(next(iter(spec.submodule_search_locations)))
    return folder / "models" / "shape_predictor_68_face_landmarks.dat"


def fit_cache(cache: Path, model: Path) -> np.ndarray:
    import dlib  # training-time only

    predictor = dlib.shape_predictor(str(model))
    detector = dlib.get_frontal_face_detector()
    d = np.load(cache)
    crops, fives, boxes = d["crops"], d["landmarks"], d["boxes"]
    out = np.full((len(crops), 68, 2), np.nan, np.float32)
    t0, kept = time.time(), 0
    for i, (img, five, box) in enumerate(zip(crops, fives, boxes, strict=True)):
        img = np.ascontiguousarray(img)
        # dlib's own box where it finds one (the predictor was trained on those), else MTCNN's
        # box shrunk to dlib's framing (brows to chin), held to a stricter agreement.
        tries = [(r, 0.6) for r in detector(img, 0)]
        x1, y1, x2, y2 = (float(v) for v in box)
        tries.append((dlib.rectangle(int(x1 + 0.08 * (x2 - x1)), int(y1 + 0.18 * (y2 - y1)),
                                     int(x2 - 0.08 * (x2 - x1)), int(y2)), 0.25))
        for r, tol in tries:
            s = predictor(img, r)
            pts = np.array([[p.x, p.y] for p in s.parts()], np.float32)
            if agrees_with_mtcnn(pts, five, tol):
                out[i] = pts
                kept += 1
                break
        if (i + 1) % 1000 == 0 or i + 1 == len(crops):
            print(f"{cache.name}: {i + 1}/{len(crops)}, kept {kept}, "
                  f"{(i + 1) / (time.time() - t0):.0f} faces/s", flush=True)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("caches", type=Path, nargs="+")
    ap.add_argument("--model", type=Path,
                    help="dlib shape_predictor_68_face_landmarks.dat (default: the one in the "
                         "installed face-recognition-models package)")
    args = ap.parse_args(argv)
    if args.model is None:
        args.model = default_model()
    for cache in args.caches:
        np.save(sidecar(cache), fit_cache(cache, args.model))
    return 0


if __name__ == "__main__":
    sys.exit(main())
