"""Error level analysis: how much each part of the picture changes when it is saved again."""

from __future__ import annotations

import cv2
import numpy as np

from app.core.forensics.common import Finding, ForensicResult, jpeg_roundtrip, shrink, strips

TITLE = "Error level analysis (ELA)"
HOW_TO_READ = (
    "The picture is saved once more as a JPEG at the chosen quality and each pixel shows how much "
    "it changed (bright = large change). Parts that have been through JPEG at this quality before "
    "change little; parts added later (pasted, retouched, painted) often change more. Edges, fine "
    "texture and saturated colours are always bright, and smooth areas always dark, so compare "
    "like with like: a uniform wall that is brighter in one patch, or one object whose edges glow "
    "while similar edges elsewhere do not. ELA never proves an edit by itself; a re-saved or "
    "resized file makes the whole map even. It says nothing about PNG screenshots."
)
DEFAULT_QUALITY = 90
# Error (in grey levels, max over channels) that maps to full brightness. Fixed rather than
# stretched per image, so a file with nothing to show looks dark instead of amplified noise.
FULL_SCALE = 12.0


def error_level(rgb: np.ndarray, quality: int = DEFAULT_QUALITY) -> np.ndarray:
    """Per-pixel error level (uint8 HxW, grey levels): max over channels of |image - resaved|."""
    level = np.empty(rgb.shape[:2], np.uint8)  # one byte a pixel; the strips do the rest
    for top, bottom in strips(rgb.shape[0]):
        part = rgb[top:bottom]
        diff = cv2.absdiff(part, jpeg_roundtrip(np.ascontiguousarray(part), quality))
        # cv2.max per channel: numpy's max(axis=2) is ten times slower on a 12 MP picture.
        level[top:bottom] = cv2.max(cv2.max(diff[..., 0], diff[..., 1]), diff[..., 2])
    return level


def run(rgb: np.ndarray, quality: int = DEFAULT_QUALITY, **_) -> ForensicResult:
    """ELA map (1 = FULL_SCALE grey levels of change or more) and level statistics."""
    quality = int(np.clip(quality, 50, 100))
    level = error_level(rgb, quality).astype(np.float32)  # float: sub-grey-level averages
    small, scale = shrink(level)
    # Block averages of 8 x 8 (the JPEG block) give figures that single noisy pixels do not sway.
    blocks = cv2.resize(level, (max(1, level.shape[1] // 8), max(1, level.shape[0] // 8)),
                        interpolation=cv2.INTER_AREA)
    p50, p99 = (float(v) for v in np.percentile(blocks, [50, 99]))
    findings = [Finding(
        "error_level",
        f"Typical error level {p50:.1f} grey levels, brightest 1 % of the picture above {p99:.1f} "
        f"(re-saved at quality {quality}). A map to interpret, not a verdict.",
        data={"median": round(p50, 2), "p99": round(p99, 2),
              "mean": round(float(level.mean()), 2)},
    )]
    heat = np.clip(small / FULL_SCALE, 0.0, 1.0).astype(np.float32)
    return ForensicResult("ela", heat, findings, {"quality": quality}, map_scale=scale)
