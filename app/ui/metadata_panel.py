"""A panel listing one result's input-quality warnings and provenance/metadata findings, each with
what it means in plain words (shown below the list for the selected row and as a tooltip)."""

from __future__ import annotations

from PySide6.QtCore import QRect, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.ui.plain import plain_tip

SEVERITY_COLORS = {"warning": "#c62828", "notable": "#e69100", "info": "#607d8b"}
SEVERITY_ORDER = {"warning": 0, "notable": 1, "info": 2}
QUALITY, PROVENANCE = "quality", "provenance"
_ROLE = Qt.ItemDataRole.UserRole
DETAIL_HINT = "<span style='color:#78909c'>Select a finding to read what it means.</span>"


def _get(result, name: str, default=None):
    """Field of an AnalysisResult or of its to_dict() form (history, JSON)."""
    if isinstance(result, dict):
        return result.get(name, default)
    return getattr(result, name, default)


class MetadataPanel(QWidget):
    """Shows `result.quality` and `result.metadata` (lists of dicts) for one AnalysisResult.

    API: set_result(result | dict | None), clear(), rows() -> shown rows as dicts,
    headline() -> the one-line summary; signal sig_finding_selected(dict) on selection.
    """

    sig_finding_selected = Signal(dict)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._result = None
        self._headline = QLabel()
        self._headline.setWordWrap(True)
        self._show_info = QCheckBox("Show routine items")
        self._show_info.setChecked(True)
        self._show_info.setToolTip("Also list findings of severity 'info'.")
        self._show_info.toggled.connect(lambda _on: self._fill())
        self.tree = QTreeWidget()
        self.tree.setColumnCount(3)
        self.tree.setHeaderLabels(["", "Finding", "Value"])
        self.tree.setAccessibleName("Metadata findings")
        self.tree.setRootIsDecorated(True)
        self.tree.setUniformRowHeights(False)
        self.tree.setWordWrap(True)
        # The panel is narrow (a side panel): wrap long values instead of eliding or scrolling.
        self.tree.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.tree.setTextElideMode(Qt.TextElideMode.ElideNone)
        header = self.tree.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        # QTreeView does not grow rows for wrapped text by itself: size them when columns change.
        self._fit_timer = QTimer(self, singleShot=True, interval=0, timeout=self._fit_rows)
        header.sectionResized.connect(lambda *_: self._fit_timer.start())
        self.tree.currentItemChanged.connect(self._on_current)
        self._detail = QLabel()
        self._detail.setWordWrap(True)
        self._detail.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._detail.setAlignment(Qt.AlignmentFlag.AlignTop)
        top = QHBoxLayout()
        top.addWidget(self._headline, 1)
        top.addWidget(self._show_info)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addLayout(top)
        lay.addWidget(self.tree, 1)
        lay.addWidget(self._detail)
        self.clear()

    # -- API -------------------------------------------------------------------------------------

    def set_result(self, result) -> None:
        """Show one result (AnalysisResult or its dict); None clears the panel."""
        self._result = result
        self._fill()

    def clear(self) -> None:
        self.set_result(None)

    def rows(self) -> list[dict]:
        """What is listed now: {'kind', 'severity', 'label', 'value', 'meaning'} per row."""
        out = []
        for i in range(self.tree.topLevelItemCount()):
            group = self.tree.topLevelItem(i)
            out.extend(group.child(j).data(0, _ROLE) for j in range(group.childCount()))
        return out

    def headline(self) -> str:
        return self._headline.text()

    # -- filling ---------------------------------------------------------------------------------

    def _fill(self) -> None:
        self.tree.clear()
        self._detail.setText(DETAIL_HINT)
        result = self._result
        if result is None:
            self._headline.setText("No image selected.")
            return
        if str(_get(result, "status", "")) == "error":
            self._headline.setText("The image could not be analysed, so nothing was checked.")
            return
        quality = [dict(q) for q in _get(result, "quality", []) or []]
        findings = [dict(m) for m in _get(result, "metadata", []) or []]
        self._headline.setText(_headline(quality, findings))
        show_info = self._show_info.isChecked()
        q_rows = [{"kind": QUALITY, "severity": q.get("severity", "notable"),
                   "label": _quality_label(q), "value": _quality_value(q),
                   "meaning": q.get("message", "")} for q in quality]
        m_rows = [{"kind": PROVENANCE, "severity": m.get("severity", "info"),
                   "label": m.get("label", ""), "value": m.get("value", ""),
                   "meaning": m.get("meaning", "")} for m in findings]
        self._group("Input quality", q_rows, show_info,
                    empty="No input-quality problems found.")
        self._group("Provenance and metadata", m_rows, show_info,
                    empty="Not checked (no file, or metadata checks turned off).")
        self.tree.expandAll()
        self._fit_timer.start()

    def _group(self, title: str, rows: list[dict], show_info: bool, empty: str) -> None:
        group = QTreeWidgetItem([title])
        font = QFont(self.font())
        font.setBold(True)
        group.setFont(0, font)
        group.setFirstColumnSpanned(True)
        self.tree.addTopLevelItem(group)
        group.setFirstColumnSpanned(True)
        shown = [r for r in rows if show_info or r["severity"] != "info"]
        shown.sort(key=lambda r: SEVERITY_ORDER.get(r["severity"], 3))
        if not rows:
            placeholder = QTreeWidgetItem(["", empty])
            placeholder.setForeground(1, QBrush(QColor("#757575")))
            group.addChild(placeholder)
            placeholder.setData(0, _ROLE, {"kind": "", "severity": "info", "label": empty,
                                           "value": "", "meaning": ""})
            return
        for row in shown:
            item = QTreeWidgetItem([row["severity"].upper(), row["label"], row["value"]])
            item.setForeground(0, QBrush(QColor(SEVERITY_COLORS.get(row["severity"], "#607d8b"))))
            item.setFont(0, font)
            for col in range(3):
                item.setToolTip(col, plain_tip(row["meaning"]))  # may quote file contents
            item.setData(0, _ROLE, row)
            group.addChild(item)

    def _fit_rows(self) -> None:
        """Give each finding the height its wrapped label and value need."""
        fm = self.tree.fontMetrics()
        header = self.tree.header()
        for i in range(self.tree.topLevelItemCount()):
            group = self.tree.topLevelItem(i)
            for j in range(group.childCount()):
                item = group.child(j)
                lines = max(_wrapped_lines(fm, item.text(c), header.sectionSize(c) - 20)
                            for c in (1, 2))
                item.setSizeHint(1, QSize(header.sectionSize(1), lines * fm.lineSpacing() + 6))

    def _on_current(self, current: QTreeWidgetItem | None, _previous) -> None:
        row = current.data(0, _ROLE) if current is not None else None
        if not row or not row.get("kind"):
            self._detail.setText(DETAIL_HINT)
            return
        self._detail.setText(f"<b>{_esc(row['label'])}</b>: {_esc(row['meaning'])}")
        self.sig_finding_selected.emit(dict(row))


def _wrapped_lines(fm, text: str, width: int) -> int:
    """Lines `text` takes when wrapped at `width` px (words longer than a line break anywhere)."""
    if not text:
        return 1
    width = max(width, 24)
    rect = fm.boundingRect(QRect(0, 0, width, 100_000), Qt.TextFlag.TextWordWrap, text)
    lines = max(1, round(rect.height() / max(fm.lineSpacing(), 1)))
    for word in text.split():
        lines += max(0, -(-fm.horizontalAdvance(word) // width) - 1)
    return lines


def _headline(quality: list[dict], findings: list[dict]) -> str:
    untrusted = sum(1 for q in quality if q.get("makes_uncertain"))
    warn = sum(1 for m in findings if m.get("severity") == "warning")
    notable = sum(1 for m in findings if m.get("severity") == "notable")
    parts = []
    if untrusted:
        parts.append(f"{untrusted} quality problem(s) make the score untrustworthy")
    elif quality:
        parts.append(f"{len(quality)} input-quality note(s)")
    else:
        parts.append("Input quality OK")
    if findings:
        parts.append(f"metadata: {warn} warning(s), {notable} notable")
    return "; ".join(parts) + "."


def _quality_label(q: dict) -> str:
    who = "Image" if q.get("face") is None else f"Face {int(q['face']) + 1}"
    what = str(q.get("code", "")).replace("_", " ")
    return f"{who}: {what}"


def _quality_value(q: dict) -> str:
    return "score not trusted (uncertain)" if q.get("makes_uncertain") else ""


def _esc(text) -> str:
    import html

    from app.core.plaintext import reveal_bidi

    return html.escape(reveal_bidi(str(text or "")))
