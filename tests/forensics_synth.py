"""Synthetic forensic cases built from skimage's shipped pictures (tests and benchmarks/)."""

from __future__ import annotations

import io

import cv2
import numpy as np
from PIL import Image


def enc(rgb: np.ndarray, quality: int, **kwargs) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "JPEG", quality=quality, **kwargs)
    return buf.getvalue()


def dec(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def rgb3(img: np.ndarray) -> np.ndarray:
    img = np.stack([img] * 3, axis=-1) if img.ndim == 2 else img[..., :3]
    return np.ascontiguousarray(img, dtype=np.uint8)


def paste(bg: np.ndarray, patch: np.ndarray, x: int, y: int) -> np.ndarray:
    out = bg.copy()
    out[y : y + patch.shape[0], x : x + patch.shape[1]] = patch
    return out


def region_means(heat: np.ndarray, scale: float, box) -> tuple[float, float]:
    """Mean of a map inside an image-pixel box and outside it."""
    x1, y1, x2, y2 = (int(round(v * scale)) for v in box)
    inside = heat[y1:y2, x1:x2]
    mask = np.ones(heat.shape[:2], bool)
    mask[y1:y2, x1:x2] = False
    return float(inside.mean()), float(heat[mask].mean())


def clone(img: np.ndarray, src: tuple[int, int], dst: tuple[int, int], size: int,
          angle: float = 0.0, scale: float = 1.0) -> tuple[np.ndarray, tuple, tuple]:
    """Copy a size x size square from src to dst (optionally rotated/scaled about its centre).

    Returns the picture and the source and target boxes (x1, y1, x2, y2)."""
    sx, sy = src
    patch = img[sy : sy + size, sx : sx + size]
    if angle or scale != 1.0:
        m = cv2.getRotationMatrix2D((size / 2, size / 2), angle, scale)
        patch = cv2.warpAffine(patch, m, (size, size), borderMode=cv2.BORDER_REFLECT)
        cut = int(size * 0.12)  # the corners a rotation fills with reflections
        patch = patch[cut : size - cut, cut : size - cut]
    dx, dy = dst
    n = patch.shape[0]
    return paste(img, patch, dx, dy), (sx, sy, sx + size, sy + size), (dx, dy, dx + n, dy + n)


def random_clone(img: np.ndarray, rng: np.random.Generator, *, rotate: bool = False,
                 rescale: bool = False, frac: float = 0.22):
    """A clone of a random textured square to a random place that does not overlap it."""
    h, w = img.shape[:2]
    size = int(min(h, w) * frac)
    g = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY).astype(np.float32)
    for _ in range(200):  # a textured source: a flat one is invisible to any keypoint method
        sx, sy = int(rng.integers(0, w - size)), int(rng.integers(0, h - size))
        if g[sy : sy + size, sx : sx + size].std() > 20:
            break
    for _ in range(200):
        dx, dy = int(rng.integers(0, w - size)), int(rng.integers(0, h - size))
        if abs(dx - sx) > size or abs(dy - sy) > size:
            break
    angle = float(rng.uniform(10, 60) * rng.choice([-1, 1])) if rotate else 0.0
    scale = float(rng.uniform(0.8, 1.25)) if rescale else 1.0
    return clone(img, (sx, sy), (dx, dy), size, angle, scale)


def with_thumbnail(rgb: np.ndarray, thumb_source: np.ndarray, quality: int = 92,
                   orientation: int | None = None) -> bytes:
    """A JPEG whose EXIF preview (160 px, like a camera's) is made from `thumb_source`."""
    import piexif

    t = Image.fromarray(thumb_source)
    t.thumbnail((160, 160))
    tb = io.BytesIO()
    t.save(tb, "JPEG", quality=80)
    zeroth = {piexif.ImageIFD.Make: b"Synthetic"}
    if orientation:
        zeroth[piexif.ImageIFD.Orientation] = orientation
    exif = piexif.dump({"0th": zeroth, "Exif": {}, "1st": {piexif.ImageIFD.Compression: 6},
                        "thumbnail": tb.getvalue()})
    return enc(rgb, quality, exif=exif)


def add_noise(rgb: np.ndarray, sigma: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.clip(rgb + rng.normal(0, sigma, rgb.shape), 0, 255).astype(np.uint8)
