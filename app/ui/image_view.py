"""The picture with a box per face and the GradCAM overlay; zoom to fit or 1:1.

The overlay is each face's heatmap, coloured once with `explain.colorize`, drawn over its crop
region at the chosen opacity. Qt's source-over with opacity a gives (1 - a) * image + a * heatmap,
the same blend as `explain.blend`, so moving the slider repaints without touching the model.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QImage, QPainter, QPen, QPixmap, QTransform
from PySide6.QtWidgets import (
    QFrame,
    QGraphicsItem,
    QGraphicsPixmapItem,
    QGraphicsRectItem,
    QGraphicsScene,
    QGraphicsSimpleTextItem,
    QGraphicsView,
)

from app.ui.theme import percent, verdict_color, verdict_word


class ImageView(QGraphicsView):
    """Shows one analysed image. Emits sig_face_clicked(index) when a face box is clicked."""

    sig_face_clicked = Signal(int)
    sig_zoom_changed = Signal(float)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._cutoffs = None
        self.setScene(QGraphicsScene(self))
        self.setRenderHints(QPainter.RenderHint.Antialiasing
                            | QPainter.RenderHint.SmoothPixmapTransform)
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setBackgroundBrush(QBrush(QColor("#eceff1")))
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setAcceptDrops(False)  # drops go to the main window
        self._image_item: QGraphicsPixmapItem | None = None
        self._heat_items: list[QGraphicsPixmapItem] = []
        self._box_items: list[QGraphicsRectItem] = []
        self._label_items: list[QGraphicsSimpleTextItem] = []
        self._faces: list = []
        self._selected = -1
        self._overlay = True
        self._opacity = 0.45
        self._fit = True
        self.setAccessibleName("The picture, with a box on each face found")
        # Tab skips it (it shows no focus, and its keys are the window's zoom shortcuts);
        # a click still gives it focus for scrolling with the arrow keys.
        self.setFocusPolicy(Qt.FocusPolicy.ClickFocus)

    # -- content ---------------------------------------------------------------------------------

    def set_image(self, image: QImage | None, faces: list, *, scale: float = 1.0,
                  cutoffs=None) -> None:
        """Show `image` (scaled by `scale` into image coordinates, e.g. a stored thumbnail);
        `cutoffs`: what the faces were judged by, for their labels (theme.percent)."""
        self._cutoffs = cutoffs
        self.scene().clear()
        self._heat_items, self._box_items, self._label_items = [], [], []
        self._faces = list(faces)
        self._selected = -1
        self.setAccessibleDescription(self.describe())
        self._image_item = None
        if image is None or image.isNull():
            self.scene().setSceneRect(QRectF())
            return
        item = QGraphicsPixmapItem(QPixmap.fromImage(image))
        item.setShapeMode(QGraphicsPixmapItem.ShapeMode.BoundingRectShape)
        item.setTransformationMode(Qt.TransformationMode.SmoothTransformation)
        # Heatmaps are children, clipped to the picture (a crop region can overhang an edge).
        item.setFlag(QGraphicsItem.GraphicsItemFlag.ItemClipsChildrenToShape, True)
        item.setScale(scale)
        self.scene().addItem(item)
        self._image_item = item
        for i, face in enumerate(self._faces):
            self._add_heatmap(face, scale)
            self._add_box(i, face)
        self.scene().setSceneRect(item.sceneBoundingRect())
        self._apply_overlay()
        self.select_face(0 if self._faces else -1)
        if self._fit:
            self.zoom_fit()

    def _add_heatmap(self, face, scale: float) -> None:
        from app.core.explain import colorize_rgba

        heat = None
        if face.heatmap is not None and face.crop_box is not None:
            hm = face.heatmap
            x1, y1, x2, y2 = face.crop_box
            rgba = np.ascontiguousarray(colorize_rgba(hm))
            qimg = QImage(rgba.data, rgba.shape[1], rgba.shape[0], 4 * rgba.shape[1],
                          QImage.Format.Format_RGBA8888).copy()
            heat = QGraphicsPixmapItem(QPixmap.fromImage(qimg), self._image_item)
            heat.setTransformationMode(Qt.TransformationMode.SmoothTransformation)
            # Child coordinates are image pixels / scale (the parent carries the scale).
            s = (x2 - x1) / hm.shape[1] / scale
            heat.setTransform(QTransform.fromScale(s, (y2 - y1) / hm.shape[0] / scale))
            heat.setPos(x1 / scale, y1 / scale)
        self._heat_items.append(heat)

    def _add_box(self, i: int, face) -> None:
        x1, y1, x2, y2 = face.box
        color = verdict_color(verdict_word(face))
        rect = QGraphicsRectItem(QRectF(x1, y1, x2 - x1, y2 - y1))
        rect.setZValue(2)
        self.scene().addItem(rect)
        label = QGraphicsSimpleTextItem(f" {i + 1}  {percent(face.p_fake, self._cutoffs)} fake ")
        label.setBrush(QBrush(QColor("white")))
        label.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations, True)
        label.setPos(QPointF(x1, y1))
        label.setZValue(3)
        bg = QGraphicsRectItem(label.boundingRect(), label)
        bg.setBrush(QBrush(color))
        bg.setPen(QPen(Qt.PenStyle.NoPen))
        bg.setFlag(QGraphicsItem.GraphicsItemFlag.ItemStacksBehindParent, True)
        self.scene().addItem(label)
        rect.setData(0, color)
        self._box_items.append(rect)
        self._label_items.append(label)

    def describe(self) -> str:
        """The boxes in words (screen readers): each face's score and verdict."""
        if not self._faces:
            return "No face is marked."
        return "; ".join(f"Face {i + 1}: {percent(f.p_fake, self._cutoffs) or 'no score'} fake, "
                         f"{verdict_word(f)}" for i, f in enumerate(self._faces)) + "."

    def select_face(self, index: int) -> None:
        """Highlight one face: thicker box; the others stay thin."""
        self._selected = index
        for i, rect in enumerate(self._box_items):
            pen = QPen(rect.data(0), 4 if i == index else 2)
            pen.setCosmetic(True)  # constant width on screen at any zoom
            if i != index and index >= 0:
                pen.setStyle(Qt.PenStyle.DashLine)
            rect.setPen(pen)
            self._label_items[i].setZValue(4 if i == index else 3)

    # -- overlay ---------------------------------------------------------------------------------

    def set_overlay_visible(self, on: bool) -> None:
        self._overlay = bool(on)
        self._apply_overlay()

    def set_overlay_opacity(self, opacity: float) -> None:
        self._opacity = min(max(float(opacity), 0.0), 1.0)
        self._apply_overlay()

    def has_heatmaps(self) -> bool:
        return any(h is not None for h in self._heat_items)

    def _apply_overlay(self) -> None:
        for heat in self._heat_items:
            if heat is not None:
                heat.setVisible(self._overlay)
                heat.setOpacity(self._opacity)

    # -- zoom ------------------------------------------------------------------------------------

    def zoom_fit(self) -> None:
        self._fit = True
        if self._image_item is not None:
            self.fitInView(self.scene().sceneRect(), Qt.AspectRatioMode.KeepAspectRatio)
        self.sig_zoom_changed.emit(self.zoom())

    def zoom_actual(self) -> None:
        """One image pixel per screen pixel."""
        self._fit = False
        self.setTransform(QTransform())
        self.sig_zoom_changed.emit(self.zoom())

    def zoom_by(self, factor: float) -> None:
        self._fit = False
        z = self.zoom() * factor
        if 0.02 <= z <= 32:
            self.scale(factor, factor)
        self.sig_zoom_changed.emit(self.zoom())

    def zoom(self) -> float:
        return float(self.transform().m11())

    def is_fit(self) -> bool:
        return self._fit

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(event)
        if self._fit:
            self.zoom_fit()

    def wheelEvent(self, event) -> None:  # noqa: N802 - Qt override
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            self.zoom_by(1.25 if event.angleDelta().y() > 0 else 0.8)
        else:
            super().wheelEvent(event)

    def mousePressEvent(self, event) -> None:  # noqa: N802 - Qt override
        if event.button() == Qt.MouseButton.LeftButton:
            pos = self.mapToScene(event.position().toPoint())
            hits = [i for i, r in enumerate(self._box_items) if r.rect().contains(pos)]
            if hits:  # the smallest box under the cursor: nested faces stay reachable
                best = min(hits, key=lambda i: self._box_items[i].rect().width())
                self.select_face(best)
                self.sig_face_clicked.emit(best)
        super().mousePressEvent(event)

    def scene_to_viewport(self, x: float, y: float) -> tuple[int, int]:
        """Where an image pixel is drawn in the viewport (tests compare painted pixels)."""
        p = self.mapFromScene(QPointF(x, y))
        return p.x(), p.y()
