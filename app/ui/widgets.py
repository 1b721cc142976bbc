"""Small reusable widgets: confidence bars, verdict badge, message banner, drop hint."""

from __future__ import annotations

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPen
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QSizePolicy, QVBoxLayout, QWidget

from app.ui.theme import FAKE_COLOR, REAL_COLOR, VERDICT_COLORS


class ConfidenceBars(QWidget):
    """Two labelled bars: how fake and how real the model judges a face, in percent."""

    ROW = 30

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._p: float | None = None
        self._shown: int | None = None
        self.setMinimumHeight(2 * self.ROW + 6)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setAccessibleName("How sure the model is")
        self.setAccessibleDescription(self.text())

    def set_p_fake(self, p: float | None, cutoffs=None) -> None:
        """`cutoffs`: what the face was judged by, so the printed percent agrees with its
        verdict (detector.shown_percent); the two printed values add up to 100."""
        from app.core.detector import shown_percent

        self._p = None if p is None else min(max(float(p), 0.0), 1.0)
        self._shown = None if self._p is None else shown_percent(self._p, cutoffs)
        self.setToolTip(self.text())
        self.setAccessibleDescription(self.text())  # painted, so screen readers need the words
        self.update()

    def rows(self) -> list[tuple[str, float | None, str]]:
        p = self._p
        return [("Fake", p, FAKE_COLOR), ("Real", None if p is None else 1.0 - p, REAL_COLOR)]

    def _labels(self) -> list[str]:
        if self._shown is None:
            return ["-", "-"]
        return [f"{self._shown}%", f"{100 - self._shown}%"]

    def text(self) -> str:
        """The bars in words (tests and screen readers)."""
        return ", ".join(f"{name} {label}" for (name, _, _), label in zip(self.rows(),
                                                                       self._labels(), strict=True))

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt override
        return QSize(260, 2 * self.ROW + 6)

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt override
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        font = QFont(self.font())
        font.setBold(True)
        painter.setFont(font)
        label_w, pct_w = 44, 48
        bar_w = max(20, self.width() - label_w - pct_w - 8)
        for row, ((name, value, color), txt) in enumerate(zip(self.rows(), self._labels(),
                                                               strict=True)):
            y = row * (self.ROW + 4)
            painter.setPen(QPen(QColor("#263238")))
            painter.drawText(QRectF(0, y, label_w, self.ROW), Qt.AlignmentFlag.AlignVCenter, name)
            track = QRectF(label_w, y + 6, bar_w, self.ROW - 12)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QColor("#e3e6ea"))
            painter.drawRoundedRect(track, 5, 5)
            if value is not None and value > 0:
                fill = QRectF(track.x(), track.y(), max(track.width() * value, 6), track.height())
                painter.setBrush(QColor(color))
                painter.drawRoundedRect(fill, 5, 5)
            painter.setPen(QPen(QColor("#263238")))
            painter.drawText(QRectF(label_w + bar_w + 4, y, pct_w, self.ROW),
                             Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight, txt)
        painter.end()


class VerdictBadge(QLabel):
    """The verdict in plain words on its colour (white text, large)."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setWordWrap(True)
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setMinimumHeight(52)
        self.set_verdict(None, "")

    def set_verdict(self, word: str | None, text: str) -> None:
        self.word = word
        color = VERDICT_COLORS.get(word or "", "#b0bec5")
        self.setText(text)
        self.setAccessibleName(f"Verdict: {text}" if text else "Verdict")
        self.setStyleSheet(
            f"QLabel {{ background: {color}; color: white; border-radius: 8px; padding: 10px; "
            "font-size: 16px; font-weight: bold; }"
        )


class Banner(QFrame):
    """A full-width message strip (untrained model, no model installed, history off)."""

    STYLES = {
        "danger": ("#c62828", "white"),
        "warning": ("#fff3cd", "#5d4200"),
        "info": ("#e3f2fd", "#0d3c61"),
    }

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("banner")
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.label.setTextFormat(Qt.TextFormat.PlainText)  # messages may quote file names
        lay = QHBoxLayout(self)
        lay.setContentsMargins(12, 6, 12, 6)
        lay.addWidget(self.label)
        self.hide()

    def show_message(self, text: str, kind: str = "info") -> None:
        bg, fg = self.STYLES.get(kind, self.STYLES["info"])
        self.kind = kind
        self.setStyleSheet(f"QFrame#banner {{ background: {bg}; }} "
                           f"QLabel {{ color: {fg}; font-weight: bold; font-size: 13px; }}")
        self.label.setText(text)
        self.show()

    def text(self) -> str:
        return self.label.text() if self.isVisible() else ""


class DropHint(QFrame):
    """The empty state: a dashed box that says what to do."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("dropHint")
        title = QLabel("Drop photos or folders here")
        title.setObjectName("dropTitle")
        title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        body = QLabel(
            "The app looks for faces and says whether each one looks real or deepfaked, "
            "and shows which areas drove the decision.\n\n"
            "Open a photo: Ctrl+O    Open a folder: Ctrl+Shift+O    Paste a screenshot: Ctrl+V\n"
            "Everything stays on this computer."
        )
        body.setAlignment(Qt.AlignmentFlag.AlignCenter)
        body.setWordWrap(True)
        body.setObjectName("dropBody")
        lay = QVBoxLayout(self)
        lay.addStretch(1)
        lay.addWidget(title)
        lay.addWidget(body)
        lay.addStretch(1)
