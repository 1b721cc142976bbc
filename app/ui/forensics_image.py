"""Pieces of the Forensics view: the image view with a whole-picture map overlay, and the text
that explains a filter and lists its findings."""

from __future__ import annotations

import html

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage, QPixmap, QTransform
from PySide6.QtWidgets import QGraphicsPixmapItem

from app.ui.image_view import ImageView

SEVERITY_COLOR = {"warning": "#c62828", "notable": "#ef6c00", "info": "#546e7a"}


class MapImageView(ImageView):
    """The app's zoomable image view; its overlay is one map over the whole picture, drawn with
    the same visibility and opacity controls as the face heatmaps."""

    def set_map(self, rgb: np.ndarray | None, map_scale: float = 1.0) -> None:
        for item in self._heat_items:
            if item is not None and item.scene() is not None:
                self.scene().removeItem(item)
        self._heat_items = []
        if rgb is None or self._image_item is None:
            return
        rgb = np.ascontiguousarray(rgb[..., :3], dtype=np.uint8)
        h, w = rgb.shape[:2]
        qimg = QImage(rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()
        item = QGraphicsPixmapItem(QPixmap.fromImage(qimg), self._image_item)
        item.setTransformationMode(Qt.TransformationMode.SmoothTransformation)
        # Map pixels -> image pixels; the parent carries any display scale of its own.
        s = 1.0 / max(map_scale, 1e-6) / self._image_item.scale()
        item.setTransform(QTransform.fromScale(s, s))
        self._heat_items = [item]
        self._apply_overlay()

    def has_map(self) -> bool:
        return bool(self._heat_items)


def findings_html(title: str, how_to_read: str, result) -> str:
    """The filter's explanation, then its findings, as simple rich text (everything escaped)."""
    # Findings first: what the reader came for; the explanation stays right below.
    parts = [f"<h3>{html.escape(title)}</h3>"]
    if result is not None:
        parts.append("<p><b>Findings</b></p><ul>")
        for f in result.findings:
            color = SEVERITY_COLOR.get(f.severity, "#546e7a")
            tag = "EDITED? " if f.edited else ""
            parts.append(f"<li><span style='color:{color}; font-weight:bold'>{tag}</span>"
                         f"{html.escape(f.message)}</li>")
        parts.append("</ul>")
    parts.append(f"<p><b>How to read this.</b> {html.escape(how_to_read)}</p>")
    if result is not None:
        parts.append(f"<p style='color:#757575'>Computed in {result.elapsed_ms:.0f} ms.</p>")
    return "".join(parts)
