"""Colours, icons, stylesheet and QImage <-> numpy helpers shared by the views."""

from __future__ import annotations

from functools import cache

import numpy as np
from PySide6.QtCore import QByteArray
from PySide6.QtGui import QColor, QIcon, QImage, QPixmap

from app.core.paths import resources_dir

# Verdict word (history.verdict_key / batch.verdict_word) -> colour.
VERDICT_COLORS = {
    "fake": "#c62828",
    "real": "#2e7d32",
    # White text on each of these is at least 4.5:1 (WCAG AA); the former amber #e69100 and
    # grey #8a8f98 were 2.5:1 and 3.3:1, hard to read on the badges.
    "uncertain": "#a35f00",
    "no face": "#6b7079",
    "error": "#37474f",
}
VERDICT_LABELS = {
    "fake": "FAKE",
    "real": "REAL",
    "uncertain": "UNCERTAIN",
    "no face": "NO FACE",
    "error": "ERROR",
}
FAKE_COLOR = VERDICT_COLORS["fake"]
REAL_COLOR = VERDICT_COLORS["real"]


def verdict_color(word: str | None) -> QColor:
    return QColor(VERDICT_COLORS.get(word or "no face", VERDICT_COLORS["no face"]))


def verdict_word(result) -> str:
    """fake / real / uncertain / no face / error for an AnalysisResult or FaceResult."""
    status = getattr(result, "status", None)
    if status == "error":
        return "error"
    verdict = getattr(result, "verdict", None)
    return str(verdict) if verdict is not None else "no face"


_LIVE = {"card": None}  # the loaded detector's card (MainWindow sets it when the model is ready)


def set_live_card(card) -> None:
    _LIVE["card"] = card


def cutoffs_for(record):
    """detector.judged_by for the loaded detector's card."""
    from app.core.detector import judged_by

    return judged_by(_LIVE["card"], record)


def percent(p: float | None, cutoffs=None) -> str:
    """p(fake) in whole percent; with the cutoffs it was judged by (a ModelCard, or a clip's
    stored settings), never across a printed cutoff (detector.shown_percent)."""
    from app.core.detector import shown_percent

    return "" if p is None else f"{shown_percent(p, cutoffs)}%"


@cache
def icon(name: str) -> QIcon:
    """An icon from resources/icons/<name>.svg (empty icon when missing: never fatal)."""
    path = resources_dir() / "icons" / f"{name}.svg"
    return QIcon(str(path)) if path.exists() else QIcon()


def app_icon() -> QIcon:
    ico = QIcon()
    for name in ("icon.svg", "icon.png"):
        path = resources_dir() / name
        if path.exists():
            ico.addFile(str(path))
    return ico


def stylesheet() -> str:
    path = resources_dir() / "style.qss"
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        return ""


def rgb_to_qimage(rgb: np.ndarray) -> QImage:
    """An RGB uint8 array -> a QImage that owns its pixels (safe to pass between threads)."""
    rgb = np.ascontiguousarray(rgb[..., :3], dtype=np.uint8)
    h, w = rgb.shape[:2]
    return QImage(rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()


def qimage_to_rgb(image: QImage) -> np.ndarray:
    """A QImage (any format) -> an H x W x 3 uint8 RGB array (a copy)."""
    img = image.convertToFormat(QImage.Format.Format_RGB888)
    w, h, stride = img.width(), img.height(), img.bytesPerLine()
    buf = np.frombuffer(img.constBits(), np.uint8, count=stride * h).reshape(h, stride)
    return np.ascontiguousarray(buf[:, : 3 * w].reshape(h, w, 3))


def pixmap_from_jpeg(data: bytes | None) -> QPixmap:
    pix = QPixmap()
    if data:
        pix.loadFromData(QByteArray(data))
    return pix
