"""Face crops cached once, from the engine's own face code, so training sees what inference sees.

Each image -> MTCNN (app.core.faces) -> the largest face -> `face_crop` at a wider scale than the
classifier uses (CACHE_SCALE), so training can zoom (augment the framing) without leaving the crop.
Output: one .npz per set with crops (N, S, S, 3) uint8, landmarks (N, 5, 2) and boxes (N, 4) in
crop pixels, and the source file names.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from app.core.faces import FaceFinder, face_crop
from app.core.images import is_image_path, load_image

CACHE_SCALE = 1.8  # crop side = 1.8 x face box side (the classifier uses 1.3)
CACHE_SIZE = 224


def cache_folder(
    folder: Path, out: Path, limit: int | None = None, every: int = 1, min_face: int = 32
) -> dict:
    files = sorted(p for p in folder.rglob("*") if p.is_file() and is_image_path(p))[::every]
    if limit:
        files = files[:limit]
    finder = FaceFinder(min_face_size=min_face)
    crops, lms, boxes, names, skipped = [], [], [], [], []
    t0 = time.time()
    for i, f in enumerate(files, 1):
        try:
            rgb = load_image(f).rgb
        except Exception as exc:  # a bad training file is skipped, not fatal
            skipped.append(f"{f.name}: {exc}")
            continue
        faces = finder.find(rgb)
        if not faces:
            skipped.append(f"{f.name}: no face")
            continue
        face = faces[0]
        crop, (x1, y1, x2, _) = face_crop(rgb, face.box, CACHE_SIZE, CACHE_SCALE)
        s = CACHE_SIZE / (x2 - x1)
        off = np.array([x1, y1], np.float32)
        crops.append(crop)
        lms.append((face.landmarks - off) * s)
        bx = np.array(face.box, np.float32).reshape(2, 2)
        boxes.append(((bx - off) * s).reshape(4))
        names.append(str(f.relative_to(folder)))
        if i % 500 == 0 or i == len(files):
            rate = i / (time.time() - t0)
            eta = (len(files) - i) / rate
            print(f"{folder.name}: {i}/{len(files)} {rate:.1f} img/s, ETA {eta:.0f} s, "
                  f"skipped {len(skipped)}", flush=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez(out, crops=np.stack(crops), landmarks=np.stack(lms).astype(np.float32),
             boxes=np.stack(boxes).astype(np.float32), names=np.array(names),
             scale=np.float32(CACHE_SCALE))
    return {"kept": len(names), "skipped": skipped}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("folder", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--limit", type=int)
    ap.add_argument("--every", type=int, default=1, help="take every n-th file")
    ap.add_argument("--min-face", type=int, default=32, help="smallest face to look for (px)")
    args = ap.parse_args(argv)
    info = cache_folder(args.folder, args.out, args.limit, args.every, args.min_face)
    print(f"kept {info['kept']}, skipped {len(info['skipped'])}")
    for s in info["skipped"][:20]:
        print("  skipped", s)
    return 0


if __name__ == "__main__":
    sys.exit(main())
