"""Deterministic test photos for soak and crash runs, derived from skimage's shipped images.

Each photo is a random crop of one source (astronaut and camera show a face; coffee, chelsea and
rocket do not), scaled so its longest side is between 96 and 480 px (mostly small, which keeps a
10,000-photo run affordable), sometimes mirrored, with a brightness shift, saved as JPEG (various
qualities) or PNG. The same `seed` always gives the same bytes, and no two photos are identical,
so the history never merges two of them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

SOURCES = ("astronaut", "camera", "coffee", "chelsea", "rocket")
SIDES = (96, 128, 160, 224, 320, 480)
SIDE_WEIGHTS = (0.2, 0.25, 0.25, 0.15, 0.1, 0.05)  # mostly small: fast to analyse


def _sources() -> dict[str, np.ndarray]:
    from skimage import data

    out = {}
    for name in SOURCES:
        img = getattr(data, name)()
        out[name] = np.stack([img] * 3, axis=-1) if img.ndim == 2 else img[..., :3]
    return out


def make_photos(folder: str | Path, n: int, *, seed: int = 0, per_folder: int = 1000,
                start: int = 0) -> list[Path]:
    """Write photos `start`..`n - 1` under `folder` (sub-folders of `per_folder` each, as a real
    card dump would be) and return their paths in order. Existing files are kept, so a second
    call with a larger `n` only adds the missing ones."""
    from PIL import Image

    folder = Path(folder)
    sources = _sources()
    names = list(sources)
    paths = []
    for i in range(start, n):
        rng = np.random.default_rng([seed, i])  # photo i is the same whatever n is
        src = names[int(rng.integers(len(names)))]
        sub = folder / f"set{i // per_folder:03d}"
        ext = "png" if rng.random() < 0.2 else "jpg"
        path = sub / f"photo_{i:05d}_{src}.{ext}"
        paths.append(path)
        if path.exists():
            continue
        sub.mkdir(parents=True, exist_ok=True)
        img = sources[src]
        h, w = img.shape[:2]
        ch, cw = int(h * rng.uniform(0.6, 1.0)), int(w * rng.uniform(0.6, 1.0))
        y, x = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
        crop = img[y : y + ch, x : x + cw]
        if rng.random() < 0.5:
            crop = crop[:, ::-1]
        shift = int(rng.integers(-25, 26))
        crop = np.clip(crop.astype(np.int16) + shift, 0, 255).astype(np.uint8)
        side = int(rng.choice(SIDES, p=SIDE_WEIGHTS))
        scale = side / max(ch, cw)
        im = Image.fromarray(np.ascontiguousarray(crop))
        im = im.resize((max(1, round(cw * scale)), max(1, round(ch * scale))),
                       Image.Resampling.BILINEAR)
        if ext == "jpg":
            im.save(path, format="JPEG", quality=int(rng.integers(70, 96)))
        else:
            im.save(path, format="PNG")
    return paths
