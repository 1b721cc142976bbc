"""Types and small helpers shared by the forensic filters (no Qt)."""

from __future__ import annotations

import io
from dataclasses import dataclass, field

import cv2
import numpy as np
from PIL import Image

# Maps are shown and written at most this large: a 12 MP photo's map would cost 48 MB as float32
# and add nothing a screen can show.
MAP_MAX_SIDE = 2048


@dataclass
class Finding:
    """One statement a filter makes, with the figure behind it.

    `edited` is True only for the filters whose false-alarm rate was measured (copy-move and the
    EXIF thumbnail); the others describe what they see and leave the judgement to the reader.
    """

    kind: str
    message: str
    severity: str = "info"  # "info" | "notable" | "warning", as elsewhere in the app
    confidence: float | None = None  # 0..1, only where it was measured
    edited: bool = False
    boxes: list[tuple[int, int, int, int]] = field(default_factory=list)  # x1, y1, x2, y2
    data: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "kind": self.kind,
            "message": self.message,
            "severity": self.severity,
            "confidence": None if self.confidence is None else round(float(self.confidence), 3),
            "edited": self.edited,
            "boxes": [[int(v) for v in b] for b in self.boxes],
            "data": self.data,
        }


@dataclass
class ForensicResult:
    """What one filter made of one image: a map to look at and findings to read."""

    filter: str
    map: np.ndarray | None = field(default=None, repr=False)  # float32 HxW in [0,1] or RGB uint8
    findings: list[Finding] = field(default_factory=list)
    params: dict = field(default_factory=dict)
    map_scale: float = 1.0  # map pixels per image pixel
    extra: dict[str, np.ndarray] = field(default_factory=dict, repr=False)  # e.g. "thumbnail"
    elapsed_ms: float = 0.0

    @property
    def edited(self) -> bool:
        return any(f.edited for f in self.findings)

    def map_rgb(self) -> np.ndarray | None:
        """The map as an RGB uint8 picture (greyscale maps through a perceptual colour scale)."""
        if self.map is None:
            return None
        if self.map.ndim == 3:
            return self.map
        return colorize(self.map)

    def to_dict(self) -> dict:
        return {
            "filter": self.filter,
            "params": self.params,
            "edited": self.edited,
            "findings": [f.to_dict() for f in self.findings],
            "map_size": None if self.map is None else [int(self.map.shape[1]),
                                                       int(self.map.shape[0])],
            "elapsed_ms": round(self.elapsed_ms, 1),
        }


def colorize(gray: np.ndarray) -> np.ndarray:
    """[0,1] float map -> RGB uint8 with the 'inferno' scale (dark = low, bright = high)."""
    u8 = np.clip(gray * 255.0 + 0.5, 0, 255).astype(np.uint8)
    bgr = cv2.applyColorMap(u8, cv2.COLORMAP_INFERNO)
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def map_size(width: int, height: int, max_side: int = MAP_MAX_SIDE) -> tuple[int, int, float]:
    """(w, h, scale) of a map no larger than max_side on its long side."""
    scale = min(1.0, max_side / max(width, height, 1))
    return max(1, round(width * scale)), max(1, round(height * scale)), scale


def shrink(arr: np.ndarray, max_side: int = MAP_MAX_SIDE) -> tuple[np.ndarray, float]:
    """Area-average down to max_side (maps are averages of local evidence, so area is right)."""
    h, w = arr.shape[:2]
    nw, nh, scale = map_size(w, h, max_side)
    if scale >= 1.0:
        return arr, 1.0
    return cv2.resize(arr, (nw, nh), interpolation=cv2.INTER_AREA), scale


def gray(rgb: np.ndarray) -> np.ndarray:
    """Luma as uint8 (the channel JPEG quantises with the luminance table)."""
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)


STRIP_ROWS = 1024  # a multiple of 16 (the JPEG MCU with 4:2:0 chroma): strips keep the grid


def strips(height: int, rows: int = STRIP_ROWS):
    """(top, bottom) row ranges: re-saving a picture strip by strip gives the same blocks as
    re-saving it whole, with memory bounded by the strip, not the picture."""
    for top in range(0, height, rows):
        yield top, min(height, top + rows)


def jpeg_roundtrip(arr: np.ndarray, quality: int) -> np.ndarray:
    """Encode and decode with libjpeg's standard tables at `quality` (grey or RGB, 4:2:0)."""
    flag = [int(cv2.IMWRITE_JPEG_QUALITY), int(quality)]
    if arr.ndim == 2:
        ok, buf = cv2.imencode(".jpg", arr, flag)
        return cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE)
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(arr, cv2.COLOR_RGB2BGR), flag)
    return cv2.cvtColor(cv2.imdecode(buf, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def open_pil(raw: bytes | None) -> Image.Image | None:
    """The file's bytes as a lazily decoded Pillow image (headers only), or None."""
    if not raw:
        return None
    try:
        return Image.open(io.BytesIO(raw))
    except Exception:  # not decodable here: the loader already told the user why
        return None
