"""JPEG quantization tables: read them, estimate the quality, tell libjpeg's from custom ones."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# The example tables of the JPEG standard (ITU T.81 Annex K), natural (row-major) order, which
# libjpeg scales by its quality setting. Pillow, OpenCV, GIMP, ImageMagick and most web services
# write exactly these, scaled; many cameras and Photoshop write their own.
STD_LUMA = np.array([
    16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55,
    14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22, 29, 51, 87, 80, 62,
    18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
    49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99,
], dtype=np.int32)
STD_CHROMA = np.array([
    17, 18, 24, 47, 99, 99, 99, 99, 18, 21, 26, 66, 99, 99, 99, 99,
    24, 26, 56, 99, 99, 99, 99, 99, 47, 66, 99, 99, 99, 99, 99, 99,
] + [99] * 32, dtype=np.int32)


def scaled_table(base: np.ndarray, quality: int) -> np.ndarray:
    """libjpeg's jpeg_quality_scaling + jpeg_add_quant_table with force_baseline."""
    q = int(np.clip(quality, 1, 100))
    scale = 5000 // q if q < 50 else 200 - 2 * q
    return np.clip((base * scale + 50) // 100, 1, 255)


_LUMA_BY_Q = np.stack([scaled_table(STD_LUMA, q) for q in range(1, 101)])
_CHROMA_BY_Q = np.stack([scaled_table(STD_CHROMA, q) for q in range(1, 101)])


@dataclass
class TableReport:
    quality: int  # libjpeg quality whose tables come closest
    standard: bool  # the tables are exactly libjpeg's at that quality
    error: float  # mean relative deviation from those tables (0 when standard)
    n_tables: int
    luma: list[int]
    chroma: list[int] | None

    def to_dict(self) -> dict:
        return {"quality": self.quality, "standard": self.standard,
                "error": round(self.error, 4), "n_tables": self.n_tables}


def read_tables(pil_image) -> dict[int, list[int]] | None:
    """The quantization tables of a Pillow JPEG image (natural order), or None for other files."""
    tables = getattr(pil_image, "quantization", None)
    if not tables:
        return None
    out = {}
    for k, v in tables.items():
        vals = [int(x) for x in v]
        if len(vals) != 64:  # malformed: better no answer than a wrong one
            return None
        out[int(k)] = vals
    return out or None


def estimate_quality(tables: dict[int, list[int]]) -> TableReport:
    """Nearest libjpeg quality (relative error over the coefficients), and whether it is exact."""
    ids = sorted(tables)
    luma = np.array(tables[ids[0]], dtype=np.float64)
    chroma = np.array(tables[ids[1]], dtype=np.float64) if len(ids) > 1 else None
    # Relative error, so the big high-frequency steps do not outweigh the ones that matter.
    err = np.abs(_LUMA_BY_Q - luma) / _LUMA_BY_Q
    total = err.mean(axis=1)
    if chroma is not None:
        total = 0.5 * total + 0.5 * (np.abs(_CHROMA_BY_Q - chroma) / _CHROMA_BY_Q).mean(axis=1)
    best = int(np.argmin(total))
    exact = bool(np.array_equal(_LUMA_BY_Q[best], luma)) and (
        chroma is None or bool(np.array_equal(_CHROMA_BY_Q[best], chroma)))
    exact = exact and len(ids) <= 2
    return TableReport(best + 1, exact, float(total[best]), len(ids),
                       [int(v) for v in luma], None if chroma is None else [int(v) for v in chroma])
