"""JPEG ghosts (Farid 2009): re-save at many qualities; a past compression leaves a dip.

A block that was once quantised with the tables of quality q1 changes very little when it is
quantised at q1 again, even after a later save at another quality. Over the whole file that gives
a dip in the re-save error curve (double compression); per block it shows a pasted region that
came from a JPEG of another quality (the ghost map).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from app.core.forensics.common import jpeg_roundtrip, map_size, strips

SAMPLE_SIDE = 768  # px: the curve is measured on a central crop this large (bounded time)
CURVE_QUALITIES = tuple(range(30, 100, 2))
DIP_RATIO = 0.5  # a dip counts when it is below half of the error on both sides
MIN_SIDE_ERROR = 0.5  # grey levels^2
MIN_GREY_LEVELS = 32
GHOST_BLOCK = 16
_EPS = 0.5  # grey levels^2: keeps flat blocks (no error at any quality) out of the ghost map


@dataclass
class Dip:
    quality: int
    ratio: float  # error at the dip / the smaller of the errors on its two sides (lower = deeper)


def _central_crop(g: np.ndarray, side: int = SAMPLE_SIDE) -> np.ndarray:
    """A crop whose origin is a multiple of 16, so it keeps the file's 8 x 8 (and chroma) grid."""
    h, w = g.shape
    y = max(0, (h - side) // 2) // 16 * 16
    x = max(0, (w - side) // 2) // 16 * 16
    return g[y : y + side, x : x + side]


def error_curve(g: np.ndarray, qualities=CURVE_QUALITIES) -> dict[int, float]:
    """Mean squared re-save error of the grey image's central crop at each quality."""
    crop = _central_crop(g)
    ref = crop.astype(np.float32)
    out = {}
    for q in qualities:
        d = ref - jpeg_roundtrip(crop, q).astype(np.float32)
        out[int(q)] = float(np.mean(d * d))
    return out


def find_dips(g: np.ndarray, last_quality: int | None) -> tuple[list[Dip], dict[int, float]]:
    """Dips in the error curve below the file's last quality (refined to 1 quality step)."""
    top = 98 if last_quality is None else last_quality - 6
    if np.count_nonzero(np.bincount(_central_crop(g).ravel(), minlength=256)) < MIN_GREY_LEVELS:
        return [], {}  # clip art / two-tone scans: their curves have dips from rounding alone
    coarse = error_curve(g, [q for q in CURVE_QUALITIES if q <= top + 8])
    qs = sorted(coarse)
    candidates = [q for i, q in enumerate(qs[1:-1], 1)
                  if q <= top and coarse[q] < coarse[qs[i - 1]] and coarse[q] <= coarse[qs[i + 1]]]
    curve = dict(coarse)
    dips = []
    for q in candidates:
        curve.update(error_curve(g, [v for v in (q - 1, q + 1) if v not in curve and v <= 100]))
        best = min((v for v in (q - 1, q, q + 1) if v in curve), key=curve.get)
        if best > top:
            continue
        left = max((curve[v] for v in curve if best - 8 <= v < best - 2), default=None)
        right = max((curve[v] for v in curve if best + 2 < v <= best + 8), default=None)
        # A flat or two-tone picture barely changes at any quality: its "dips" are rounding.
        if left is None or right is None or min(left, right) < MIN_SIDE_ERROR:
            continue
        ratio = (curve[best] + 0.05) / (min(left, right) + 0.05)
        if ratio < DIP_RATIO:
            dips.append(Dip(best, float(ratio)))
    dips.sort(key=lambda d: d.ratio)
    return dips, dict(sorted(curve.items()))


def ghost_map(g: np.ndarray, quality: int, reference: int | None = None) -> tuple[np.ndarray,
                                                                                   float]:
    """Per block: 1 - error(quality) / error(reference), so blocks once saved at `quality` are
    bright and content (flat or busy) cancels out. Returns (map in [0,1], map scale)."""
    quality = int(np.clip(quality, 2, 100))
    reference = reference or max(1, quality - 10)
    h, w = (g.shape[0] // GHOST_BLOCK) * GHOST_BLOCK, (g.shape[1] // GHOST_BLOCK) * GHOST_BLOCK
    if h == 0 or w == 0:
        return np.zeros((1, 1), np.float32), 1.0
    g = g[:h, :w]
    err = [np.empty((h // GHOST_BLOCK, w // GHOST_BLOCK), np.float32) for _ in range(2)]
    for top, bottom in strips(h):  # strips are whole blocks: the same result, bounded memory
        part = np.ascontiguousarray(g[top:bottom])
        for out, q in zip(err, (quality, reference), strict=True):
            d = cv2.subtract(part, jpeg_roundtrip(part, q), dtype=cv2.CV_16S)
            sq = cv2.multiply(d, d, dtype=cv2.CV_32F)
            out[top // GHOST_BLOCK : bottom // GHOST_BLOCK] = cv2.resize(
                sq, (w // GHOST_BLOCK, (bottom - top) // GHOST_BLOCK),
                interpolation=cv2.INTER_AREA)
    ratio = (err[0] + _EPS) / (err[1] + _EPS)
    heat = np.clip(1.0 - ratio, 0.0, 1.0).astype(np.float32)
    mw, mh, scale = map_size(w, h)
    return cv2.resize(heat, (mw, mh), interpolation=cv2.INTER_NEAREST), scale
