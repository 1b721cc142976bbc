"""The batch gallery's data: a list model with lazy thumbnails, a sort/filter proxy, a delegate."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import (
    QAbstractListModel,
    QModelIndex,
    QRectF,
    QSize,
    QSortFilterProxyModel,
    Qt,
)
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPen, QPixmap
from PySide6.QtWidgets import QStyle, QStyledItemDelegate

from app.core.plaintext import one_line
from app.core.quality import tile_note
from app.ui.plain import plain_tip
from app.ui.theme import (
    VERDICT_LABELS,
    cutoffs_for,
    percent,
    pixmap_from_jpeg,
    verdict_color,
    verdict_word,
)

RESULT_ROLE = Qt.ItemDataRole.UserRole + 1
VERDICT_ROLE = Qt.ItemDataRole.UserRole + 2
SCORE_ROLE = Qt.ItemDataRole.UserRole + 3
NAME_ROLE = Qt.ItemDataRole.UserRole + 4
ORDER_ROLE = Qt.ItemDataRole.UserRole + 5
ITEM_ROLE = Qt.ItemDataRole.UserRole + 6

THUMB_CACHE = 400  # decoded thumbnails kept; the rest decode again when scrolled into view



@dataclass
class GalleryItem:
    path: str
    result: object  # AnalysisResult
    thumbnail: bytes | None = None
    history_id: int | None = None
    order: int = 0

    @property
    def name(self) -> str:
        # A tile is one line: a newline or a direction override in a name must not hide the rest.
        return one_line(Path(self.path).name) if self.path else "(pasted image)"

    @property
    def verdict(self) -> str:
        return verdict_word(self.result)

    @property
    def score(self) -> float:
        """Sort key: p(fake), then no face, then errors last."""
        p = self.result.p_fake
        if p is not None:
            return float(p)
        return -2.0 if self.verdict == "error" else -1.0


def tile_speech(item: GalleryItem) -> str:
    """What a screen reader says for a tile: the painted badge, name and note in words."""
    r = item.result
    score = percent(r.p_fake, cutoffs_for(r))
    words = [item.name, VERDICT_LABELS[item.verdict].lower()]
    if score:
        words.append(f"{score} likely manipulated")
    note, _problem = tile_note(r)
    if note:
        words.append(note)
    return ", ".join(words)


class GalleryModel(QAbstractListModel):
    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.items: list[GalleryItem] = []
        self._pixmaps: OrderedDict[int, QPixmap] = OrderedDict()
        self.decoded = 0  # thumbnails decoded so far (tests check laziness)

    def rowCount(self, parent=QModelIndex()) -> int:  # noqa: N802, B008 - Qt override
        return 0 if parent.isValid() else len(self.items)

    def add(self, item: GalleryItem) -> None:
        item.order = len(self.items)
        n = len(self.items)
        self.beginInsertRows(QModelIndex(), n, n)
        self.items.append(item)
        self.endInsertRows()

    def extend(self, items: list[GalleryItem]) -> None:
        if not items:
            return
        n = len(self.items)
        self.beginInsertRows(QModelIndex(), n, n + len(items) - 1)
        for k, item in enumerate(items):
            item.order = n + k
            self.items.append(item)
        self.endInsertRows()

    def clear(self) -> None:
        self.beginResetModel()
        self.items.clear()
        self._pixmaps.clear()
        self.endResetModel()

    def thumbnail(self, row: int) -> QPixmap:
        pix = self._pixmaps.get(row)
        if pix is None:
            pix = pixmap_from_jpeg(self.items[row].thumbnail)
            self.decoded += 1
            self._pixmaps[row] = pix
            if len(self._pixmaps) > THUMB_CACHE:
                self._pixmaps.popitem(last=False)
        else:
            self._pixmaps.move_to_end(row)
        return pix

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or not 0 <= index.row() < len(self.items):
            return None
        item = self.items[index.row()]
        if role == Qt.ItemDataRole.DisplayRole or role == NAME_ROLE:
            return item.name if role == Qt.ItemDataRole.DisplayRole else item.name.lower()
        if role == Qt.ItemDataRole.DecorationRole:
            return self.thumbnail(index.row())
        if role == Qt.ItemDataRole.AccessibleTextRole:
            return tile_speech(item)
        if role == Qt.ItemDataRole.ToolTipRole:
            r = item.result
            score = percent(r.p_fake, cutoffs_for(r))
            lines = [item.path or item.name,
                     f"{VERDICT_LABELS[item.verdict]} {score} fake" if score else
                     VERDICT_LABELS[item.verdict]]
            if r.error:
                lines.append(r.error)
            lines += list(r.warnings)
            return plain_tip("\n".join(lines))  # names and errors come from files: never HTML
        if role == RESULT_ROLE:
            return item.result
        if role == VERDICT_ROLE:
            return item.verdict
        if role == SCORE_ROLE:
            return item.score
        if role == ORDER_ROLE:
            return item.order
        if role == ITEM_ROLE:
            return item
        return None


class GalleryProxy(QSortFilterProxyModel):
    """Sort by score (most suspicious first), name or time; show only some verdicts."""

    SORTS = {"score": (SCORE_ROLE, Qt.SortOrder.DescendingOrder),
             "name": (NAME_ROLE, Qt.SortOrder.AscendingOrder),
             "time": (ORDER_ROLE, Qt.SortOrder.AscendingOrder)}

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._verdict: str | None = None
        self.setDynamicSortFilter(True)
        self.set_sort("time")

    def set_sort(self, key: str) -> None:
        role, order = self.SORTS[key]
        self.sort_key = key
        self.setSortRole(role)
        self.sort(0, order)

    def set_verdict_filter(self, verdict: str | None) -> None:
        self._verdict = verdict or None
        self.invalidateFilter()

    def filterAcceptsRow(self, row: int, parent: QModelIndex) -> bool:  # noqa: N802
        if self._verdict is None:
            return True
        index = self.sourceModel().index(row, 0, parent)
        return index.data(VERDICT_ROLE) == self._verdict

    def lessThan(self, left: QModelIndex, right: QModelIndex) -> bool:  # noqa: N802
        a, b = left.data(self.sortRole()), right.data(self.sortRole())
        if a == b:  # stable, readable ties: by analysis order
            return left.data(ORDER_ROLE) < right.data(ORDER_ROLE)
        return a < b


class GalleryDelegate(QStyledItemDelegate):
    """A tile: thumbnail, verdict badge with the score, file name, and the error if any."""

    W, H, THUMB = 184, 214, 150

    def sizeHint(self, option, index) -> QSize:  # noqa: N802 - Qt override
        return QSize(self.W, self.H)

    def paint(self, painter: QPainter, option, index: QModelIndex) -> None:
        item: GalleryItem = index.data(ITEM_ROLE)
        if item is None:
            return
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        r = QRectF(option.rect).adjusted(4, 4, -4, -4)
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        painter.setPen(QPen(QColor("#1565c0"), 3) if selected else QPen(QColor("#d5d9de"), 1))
        painter.setBrush(QColor("#e8f0fe") if selected else QColor("white"))
        painter.drawRoundedRect(r, 8, 8)
        color = verdict_color(item.verdict)
        thumb = QRectF(r.x() + 8, r.y() + 8, r.width() - 16, self.THUMB)
        pix = index.data(Qt.ItemDataRole.DecorationRole)
        if isinstance(pix, QPixmap) and not pix.isNull():
            scaled = pix.size().scaled(thumb.size().toSize(), Qt.AspectRatioMode.KeepAspectRatio)
            target = QRectF(0, 0, scaled.width(), scaled.height())
            target.moveCenter(thumb.center())
            painter.drawPixmap(target.toRect(), pix)
        else:
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QColor("#eceff1"))
            painter.drawRoundedRect(thumb, 6, 6)
            painter.setPen(QColor("#546e7a"))
            painter.drawText(thumb, Qt.AlignmentFlag.AlignCenter,
                             "Unreadable file" if item.verdict == "error" else "No preview")
        font = QFont(option.font)
        font.setBold(True)
        painter.setFont(font)
        fm = QFontMetrics(font)
        badge_text = VERDICT_LABELS[item.verdict]
        if item.result.p_fake is not None:  # p(fake): the gallery's legend says so
            badge_text += f"  {percent(item.result.p_fake, cutoffs_for(item.result))}"
        bw = fm.horizontalAdvance(badge_text) + 16
        badge = QRectF(thumb.x() + 4, thumb.bottom() - fm.height() - 10, bw, fm.height() + 6)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(color)
        painter.drawRoundedRect(badge, 5, 5)
        painter.setPen(QColor("white"))
        painter.drawText(badge, Qt.AlignmentFlag.AlignCenter, badge_text)
        font.setBold(False)
        painter.setFont(font)
        fm = QFontMetrics(font)
        text_w = int(r.width() - 16)
        name_rect = QRectF(r.x() + 8, thumb.bottom() + 6, text_w, fm.height())
        painter.setPen(QColor("#263238"))
        painter.drawText(name_rect, Qt.AlignmentFlag.AlignLeft,
                         fm.elidedText(item.name, Qt.TextElideMode.ElideMiddle, text_w))
        sub, problem = tile_note(item.result)
        if sub:
            painter.setPen(QColor("#b71c1c" if item.result.error else
                                  "#a15c00" if problem else "#607d8b"))
            painter.drawText(name_rect.translated(0, fm.height() + 2), Qt.AlignmentFlag.AlignLeft,
                             fm.elidedText(sub, Qt.TextElideMode.ElideRight, text_w))
        painter.restore()
