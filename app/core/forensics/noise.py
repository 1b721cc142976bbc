"""Noise residual: the picture minus a denoised copy, as a map of the local noise level."""

from __future__ import annotations

import cv2
import numpy as np

from app.core.forensics.common import Finding, ForensicResult, gray, map_size

TITLE = "Noise level"
HOW_TO_READ = (
    "Every camera leaves a fine grain of sensor noise that is much the same all over one photo. "
    "The filter takes the picture minus a median-filtered copy and shows how strong that grain is "
    "in each small block, relative to the picture as a whole: crimson = typical, orange to "
    "pale yellow = noisier, dark purple to black = smoother than the rest. A patch pasted from "
    "another photo, or smoothed or painted over, often stands out as a bright or dark island "
    "with straight or sharp borders. Textured areas (hair, foliage, text) are always brighter and "
    "flat or overexposed ones darker, and strong JPEG compression or resizing flattens "
    "everything, so look for islands that do not follow the content. The strength slider "
    "stretches the contrast."
)
DEFAULT_STRENGTH = 1.0
BLOCK = 16  # px: one noise estimate per block, so a 12 MP photo gives ~47,000 numbers


def block_noise(rgb: np.ndarray, block: int = BLOCK) -> np.ndarray:
    """Root-mean-square median residual per block (float32, blocks tall x blocks wide)."""
    g = gray(rgb)
    h, w = (g.shape[0] // block) * block, (g.shape[1] // block) * block
    if h == 0 or w == 0:
        return np.zeros((1, 1), np.float32)
    res = cv2.subtract(g, cv2.medianBlur(g, 3), dtype=cv2.CV_16S)[:h, :w]
    sq = cv2.multiply(res, res, dtype=cv2.CV_32F)
    ms = cv2.resize(sq, (w // block, h // block), interpolation=cv2.INTER_AREA)
    return np.sqrt(ms, out=ms)


def run(rgb: np.ndarray, strength: float = DEFAULT_STRENGTH, **_) -> ForensicResult:
    """Map: log2(local / typical noise), centred on 0.5; findings: the typical level."""
    strength = float(np.clip(strength, 0.1, 8.0))
    level = block_noise(rgb)
    typical = float(np.median(level))
    # Neighbouring blocks agree on real noise and disagree on single edges: smooth a little.
    level = cv2.GaussianBlur(level, (3, 3), 0)
    ratio = np.log2((level + 0.25) / (typical + 0.25))
    heat = np.clip(0.5 + ratio * (0.25 * strength), 0.0, 1.0).astype(np.float32)
    mw, mh, scale = map_size(rgb.shape[1], rgb.shape[0])
    heat = cv2.resize(heat, (mw, mh), interpolation=cv2.INTER_LINEAR)
    far = float(np.mean(np.abs(ratio) > 1.0))
    findings = [Finding(
        "noise_level",
        f"Typical noise level {typical:.2f} grey levels; {far:.0%} of the picture is more than "
        "twice as noisy or twice as smooth as that. A map to interpret, not a verdict.",
        data={"typical": round(typical, 3), "far_fraction": round(far, 4)},
    )]
    return ForensicResult("noise", heat, findings, {"strength": strength}, map_scale=scale)
