"""A clip's timeline: p(fake) of each tracked face over time, painted with QPainter.

One line per face (track), the model's threshold as a dashed line, its "uncertain" band shaded,
scene cuts as thin vertical marks. Hovering a point names it; clicking one emits
sig_frame_clicked(frame, t, track) so the window can show that frame with its heatmap.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QToolTip, QWidget

from app.core.detector import shown_cutoffs
from app.ui.theme import percent

# Distinct, colour-blind-friendlier line colours (Okabe-Ito), one per face, reused cyclically.
TRACK_COLORS = ["#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#000000"]
MARGIN_L, MARGIN_R, MARGIN_T, MARGIN_B = 44, 12, 22, 26  # the legend sits above the plot
HIT_RADIUS = 8


def track_color(track_id: int) -> QColor:
    return QColor(TRACK_COLORS[(track_id - 1) % len(TRACK_COLORS)])


class TimelineWidget(QWidget):
    sig_frame_clicked = Signal(int, float, int)  # frame index, time (s), track id

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setMouseTracking(True)
        self.setMinimumHeight(170)
        self.setAccessibleName("Timeline: how likely each face is fake over time")
        self.video = None
        self.card = None  # the cutoffs the clip was judged by (a ModelCard or stored settings)
        self.threshold: float | None = None
        self.band: tuple[float, float] | None = None
        self.selected: tuple[int, int] | None = None  # (track id, frame)
        self._points: list[tuple[QPointF, int, float, int, float | None]] = []

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt override
        return QSize(700, 200)

    def set_video(self, video, card=None) -> None:
        """Show a VideoResult; `card` (ModelCard) supplies the threshold and uncertain band."""
        self.video = video
        self.card = card
        self.threshold = card.threshold if card is not None else None
        self.band = card.uncertain_band if card is not None else None
        self.selected = None
        self.setAccessibleDescription(self.summary())
        self.update()

    def summary(self) -> str:
        """The painted lines in words (screen readers): each face's span, score and peak."""
        if self.video is None or not self.video.tracks:
            return "No face was tracked in this clip."
        parts = []
        for tr in self.video.tracks:
            text = (f"Face {tr.id}, seen {_clock(tr.first_t)} to {_clock(tr.last_t)}: "
                    f"{percent(tr.p_fake, self.card) or 'no score'} fake")
            peak = tr.peak
            if peak is not None:
                text += f", highest {percent(peak.p_fake, self.card)} at {_clock(peak.t)}"
            parts.append(text)
        return "; ".join(parts) + "."

    def select(self, track: int, frame: int) -> None:
        self.selected = (track, frame)
        self.update()

    # -- geometry --------------------------------------------------------------------------------

    def _plot(self) -> QRectF:
        return QRectF(MARGIN_L, MARGIN_T, max(10, self.width() - MARGIN_L - MARGIN_R),
                      max(10, self.height() - MARGIN_T - MARGIN_B))

    def _duration(self) -> float:
        v = self.video
        last = max((p.t for tr in v.tracks for p in tr.points), default=0.0)
        return max(v.duration_s or 0.0, last, 1e-3)

    def to_xy(self, t: float, p: float) -> QPointF:
        r = self._plot()
        return QPointF(r.left() + r.width() * t / self._duration(),
                       r.bottom() - r.height() * max(0.0, min(1.0, p)))

    # -- painting --------------------------------------------------------------------------------

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt override
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.fillRect(self.rect(), QColor("white"))
        r = self._plot()
        small = QFont(self.font())
        small.setPointSizeF(max(7.0, small.pointSizeF() - 1))
        painter.setFont(small)
        if self.video is None:
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "No clip")
            return
        if self.band:
            top, bottom = self.to_xy(0, self.band[1]).y(), self.to_xy(0, self.band[0]).y()
            painter.fillRect(QRectF(r.left(), top, r.width(), bottom - top),
                             QColor(230, 145, 0, 45))
        painter.setPen(QPen(QColor("#b0bec5"), 1))
        painter.drawRect(r)
        for p in (0.0, 0.5, 1.0):
            y = self.to_xy(0, p).y()
            painter.setPen(QColor("#546e7a"))
            painter.drawText(QRectF(0, y - 8, MARGIN_L - 6, 16),
                             Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                             f"{p:.0%}")
        if self.threshold is not None:
            painter.setPen(QPen(QColor("#c62828"), 1, Qt.PenStyle.DashLine))
            y = self.to_xy(0, self.threshold).y()
            painter.drawLine(QPointF(r.left(), y), QPointF(r.right(), y))
        painter.setPen(QPen(QColor("#90a4ae"), 1, Qt.PenStyle.DotLine))
        for t in self.video.cuts:
            x = self.to_xy(t, 0).x()
            painter.drawLine(QPointF(x, r.top()), QPointF(x, r.bottom()))
        self._paint_time_axis(painter, r)
        self._paint_tracks(painter)
        self._paint_legend(painter, r)

    def _paint_legend(self, painter: QPainter, r: QRectF) -> None:
        """What the red line and the shading mean, above the plot's top right corner (inside
        the plot it hid the threshold line, which sits near the top)."""
        parts = []
        if self.card is not None:  # the whole percents every shown score respects
            lo, hi = shown_cutoffs(self.card)
            parts.append(f"- - red: fake from {hi}%")
            if lo is not None:
                parts.append(f"shaded: uncertain {lo}-{hi - 1}%")
        parts.append("dotted: scene cut")
        text = "   ".join(parts)
        box = QRectF(r.left(), 2, r.width(), MARGIN_T - 4)
        painter.setPen(QColor("#37474f"))
        text = painter.fontMetrics().elidedText(text, Qt.TextElideMode.ElideLeft,
                                                int(box.width()))
        painter.drawText(box, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, text)

    def _paint_time_axis(self, painter: QPainter, r: QRectF) -> None:
        dur = self._duration()
        step = next((s for s in (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1800, 3600)
                     if dur / s <= 10), 7200)
        painter.setPen(QColor("#546e7a"))
        t = 0.0
        while t <= dur + 1e-6:
            x = self.to_xy(t, 0).x()
            painter.drawLine(QPointF(x, r.bottom()), QPointF(x, r.bottom() + 3))
            painter.drawText(QRectF(x - 30, r.bottom() + 4, 60, 16),
                             Qt.AlignmentFlag.AlignHCenter, _clock(t))
            t += step

    def _paint_tracks(self, painter: QPainter) -> None:
        self._points = []
        for tr in self.video.tracks:
            color = track_color(tr.id)
            pts = [(self.to_xy(p.t, p.p_fake), p) for p in tr.points if p.p_fake is not None]
            if len(pts) > 1:
                path = QPainterPath(pts[0][0])
                for xy, _ in pts[1:]:
                    path.lineTo(xy)
                painter.setPen(QPen(color, 2))
                painter.setBrush(Qt.BrushStyle.NoBrush)
                painter.drawPath(path)
            for xy, p in pts:
                chosen = self.selected == (tr.id, p.frame)
                painter.setPen(QPen(QColor("black") if chosen else color, 2 if chosen else 1))
                painter.setBrush(color)
                painter.drawEllipse(xy, 5.5 if chosen else 3.5, 5.5 if chosen else 3.5)
                self._points.append((xy, p.frame, p.t, tr.id, p.p_fake))
            if pts:  # the face's number at its first point
                painter.setPen(color)
                painter.drawText(pts[0][0] + QPointF(4, -6), f"Face {tr.id}")

    # -- mouse -----------------------------------------------------------------------------------

    def point_at(self, pos: QPointF):
        """(frame, t, track, p) of the plotted point nearest `pos` within a few pixels."""
        best, best_d = None, HIT_RADIUS**2
        for xy, frame, t, track, p in self._points:
            d = (xy.x() - pos.x()) ** 2 + (xy.y() - pos.y()) ** 2
            if d <= best_d:
                best, best_d = (frame, t, track, p), d
        return best

    def mouseMoveEvent(self, event) -> None:  # noqa: N802 - Qt override
        hit = self.point_at(event.position())
        if hit is None:
            QToolTip.hideText()
            self.setCursor(Qt.CursorShape.ArrowCursor)
            return
        frame, t, track, p = hit
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        QToolTip.showText(event.globalPosition().toPoint(),
                          f"Face {track} at {_clock(t)} (frame {frame}): "
                          f"{percent(p, self.card)} fake\n"
                          "Click to see this frame and its heatmap.", self)

    def mousePressEvent(self, event) -> None:  # noqa: N802 - Qt override
        hit = self.point_at(event.position())
        if hit is not None and event.button() == Qt.MouseButton.LeftButton:
            frame, t, track, _ = hit
            self.select(track, frame)
            self.sig_frame_clicked.emit(frame, t, track)


def _clock(t: float) -> str:
    """Seconds as m:ss (or h:mm:ss)."""
    t = max(0.0, t)
    h, rest = divmod(int(t), 3600)
    m, s = divmod(rest, 60)
    if h:
        return f"{h}:{m:02d}:{s:02d}"
    return f"{m}:{s:02d}"
