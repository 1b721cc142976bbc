"""One analysed image: the picture with faces and heatmap, and a side panel that explains it."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QIcon, QImage, QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QScrollArea,
    QSlider,
    QSplitter,
    QStackedWidget,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.core.detector import judged_by, shown_cutoffs
from app.core.plaintext import one_line
from app.core.results import VERDICT_TEXT, Verdict
from app.ui.case_file import CaseFilePane, warning_count
from app.ui.image_view import ImageView
from app.ui.plain import plain_labels, plain_tip
from app.ui.theme import percent, verdict_color, verdict_word
from app.ui.widgets import ConfidenceBars, DropHint, VerdictBadge

ERROR_TEXT = "Could not analyse this file"
NO_FACE_HELP = ("No face was found, so there is no score. Faces that are very small, turned away "
                "or covered can be missed.")


MODEL_ERRORS = ("NoTrainedModelError", "ModelError")
NO_MODEL_BADGE = "No score: no trained detector installed"


def verdict_text(word: str) -> str:
    if word == "error":
        return ERROR_TEXT
    return VERDICT_TEXT.get(Verdict(word), word) if word in set(Verdict) else word


def local_time(iso: str | None) -> str:
    if not iso:
        return ""
    try:
        return datetime.fromisoformat(iso).astimezone().strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return iso


def top_face_index(result) -> int:
    """Index of the most suspicious face (by identity: FaceResult holds arrays), -1 if none."""
    top = result.most_suspicious
    for i, face in enumerate(result.faces):
        if face is top:
            return i
    return 0 if result.faces else -1


def _caption(text: str) -> QLabel:
    label = QLabel(text)
    label.setObjectName("caption")
    return label


class ResultView(QWidget):
    """Pages: the drop hint, a 'working' page, and the result."""

    sig_overlay_toggled = Signal(bool)
    sig_opacity_changed = Signal(float)
    sig_step = Signal(int)  # -1 / +1: the previous / next photo of the batch

    PAGE_EMPTY, PAGE_BUSY, PAGE_RESULT = range(3)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.result = None
        self.image: QImage | None = None  # what is on screen (full picture, or a saved preview)
        self.image_scale = 1.0
        self.card = None
        self.stack = QStackedWidget()
        self.drop_hint = DropHint()
        self.busy_label = QLabel()
        self.busy_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.busy_label.setObjectName("busy")
        self.busy_label.setWordWrap(True)
        self.stack.addWidget(self.drop_hint)
        self.stack.addWidget(self.busy_label)
        self.stack.addWidget(self._build_result_page())
        # Names, errors and warnings come from files: shown literally, never as HTML.
        plain_labels(self.busy_label, self.title, self.note, self.error_label, self.summary,
                     self.warnings_label, self.footer)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self._build_nav())
        lay.addWidget(self.stack)

    # -- layout ----------------------------------------------------------------------------------

    def _build_nav(self) -> QWidget:
        """Previous / next photo of the batch, shown when the result was opened from the
        gallery: reviewing a batch photo by photo without going back to the tiles."""
        self.nav_prev = QPushButton("\u25c0 Previous")
        self.nav_next = QPushButton("Next \u25b6")
        self.nav_prev.setToolTip("The previous photo of the batch, in the gallery's order "
                                 "(Alt+Left)")
        self.nav_next.setToolTip("The next photo of the batch, in the gallery's order "
                                 "(Alt+Right)")
        self.nav_prev.clicked.connect(lambda: self.sig_step.emit(-1))
        self.nav_next.clicked.connect(lambda: self.sig_step.emit(1))
        self.nav_label = QLabel()
        self.nav_label.setObjectName("hint")
        self.nav_box = QWidget()
        self.nav_box.setObjectName("batchNav")
        row = QHBoxLayout(self.nav_box)
        row.setContentsMargins(10, 4, 10, 4)
        row.addWidget(self.nav_prev)
        row.addWidget(self.nav_next)
        row.addWidget(self.nav_label, 1)
        self.nav_box.hide()
        return self.nav_box

    def set_nav(self, position: int | None, total: int = 0) -> None:
        """`position` of the shown photo among the gallery's `total` visible photos (0-based);
        None hides the bar (the result did not come from the gallery)."""
        if position is None or total <= 1:
            self.nav_box.hide()
            return
        self.nav_label.setText(f"Photo {position + 1} of {total} in the batch (as sorted and "
                               "filtered there)")
        self.nav_prev.setEnabled(position > 0)
        self.nav_next.setEnabled(position < total - 1)
        self.nav_box.show()

    def _build_result_page(self) -> QWidget:
        self.image_view = ImageView()
        self.image_view.sig_face_clicked.connect(self._on_face_clicked)
        self.title = QLabel()
        self.title.setObjectName("fileTitle")
        self.title.setWordWrap(True)
        self.note = QLabel()
        self.note.setObjectName("note")
        self.note.setWordWrap(True)
        self.badge = VerdictBadge()
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.error_label = QLabel()
        self.error_label.setObjectName("errorText")
        self.error_label.setWordWrap(True)
        self.error_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.face_list = QListWidget()
        self.face_list.setObjectName("faceList")
        self.face_list.currentRowChanged.connect(self._on_face_row)
        self.face_caption = _caption("SELECTED FACE")
        self.face_verdict = QLabel()
        self.face_verdict.setWordWrap(True)
        self.face_verdict.setObjectName("faceVerdict")
        self.bars = ConfidenceBars()
        self.tiers = QLabel()
        self.tiers.setObjectName("hint")
        self.tiers.setWordWrap(True)
        self.overlay_check = QCheckBox("Show heatmap  (H)")
        self.overlay_check.setChecked(True)
        self.overlay_check.toggled.connect(self._on_overlay)
        self.opacity_slider = QSlider(Qt.Orientation.Horizontal)
        self.opacity_slider.setRange(0, 100)
        self.opacity_slider.setValue(45)
        self.opacity_slider.setSingleStep(5)
        self.opacity_slider.setPageStep(20)
        self.opacity_slider.valueChanged.connect(self._on_opacity)
        self.opacity_label = QLabel("45%")
        self.opacity_label.setMinimumWidth(36)
        self.face_list.setAccessibleName("Faces found")
        self.overlay_check.setAccessibleName("Show heatmap")
        self.opacity_slider.setAccessibleName("Heatmap opacity")
        self.opacity_slider.setAccessibleDescription("How strongly the heatmap covers the picture")
        self.legend = QLabel("Red and yellow: the areas that weighed most in the decision. "
                             "Blue: little influence.")
        self.legend.setObjectName("hint")
        self.legend.setWordWrap(True)
        self.warnings_label = QLabel()
        self.warnings_label.setObjectName("warnings")
        self.warnings_label.setWordWrap(True)
        self.footer = QLabel()
        self.footer.setObjectName("hint")
        self.footer.setWordWrap(True)
        self.footer.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        opacity_row = QHBoxLayout()
        opacity_name = QLabel("&Opacity")  # Alt+O: the slider, then the arrow keys
        opacity_name.setBuddy(self.opacity_slider)
        opacity_row.addWidget(opacity_name)
        opacity_row.addWidget(self.opacity_slider, 1)
        opacity_row.addWidget(self.opacity_label)
        self.explain_box = QWidget()
        ex = QVBoxLayout(self.explain_box)
        ex.setContentsMargins(0, 0, 0, 0)
        ex.addWidget(_caption("WHY: HEATMAP"))
        ex.addWidget(self.overlay_check)
        ex.addLayout(opacity_row)
        ex.addWidget(self.legend)
        self.faces_box = QWidget()
        fb = QVBoxLayout(self.faces_box)
        fb.setContentsMargins(0, 0, 0, 0)
        fb.addWidget(_caption("FACES (click one, or pick it here)"))
        fb.addWidget(self.face_list)
        # Always in view: the file and its verdict. Below, tabs: the analysis details, and the case
        # file (metadata + notes), which needs the panel's height to stay readable.
        header = QWidget()
        head = QVBoxLayout(header)
        head.setContentsMargins(14, 12, 14, 4)
        head.setSpacing(8)
        for w in (self.title, self.note, _caption("VERDICT FOR THIS IMAGE"), self.badge,
                  self.summary, self.error_label):
            head.addWidget(w)
        panel = QWidget()
        panel.setObjectName("sidePanel")
        col = QVBoxLayout(panel)
        col.setContentsMargins(14, 4, 14, 12)
        col.setSpacing(8)
        for w in (self.faces_box, self.face_caption, self.face_verdict, self.bars, self.tiers,
                  self.explain_box, self.warnings_label):
            col.addWidget(w)
        col.addStretch(1)
        scroll = QScrollArea()
        scroll.setObjectName("analysisScroll")
        scroll.setWidget(panel)
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # Tab goes to the controls inside
        self.case_pane = CaseFilePane()
        self.side_tabs = QTabWidget()
        self.side_tabs.setObjectName("sideTabs")
        self.side_tabs.setDocumentMode(True)
        self.side_tabs.addTab(scroll, "Analysis")
        self.side_tabs.addTab(self.case_pane, "Metadata && notes")
        self.footer.setContentsMargins(14, 4, 14, 8)
        side = QWidget()
        side.setObjectName("sidePanel")
        side.setMinimumWidth(360)
        sl = QVBoxLayout(side)
        sl.setContentsMargins(0, 0, 0, 0)
        sl.setSpacing(0)
        sl.addWidget(header)
        sl.addWidget(self.side_tabs, 1)
        sl.addWidget(self.footer)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.image_view)
        splitter.addWidget(side)
        splitter.setStretchFactor(0, 1)
        splitter.setStretchFactor(1, 0)
        splitter.setSizes([800, 480])
        splitter.setChildrenCollapsible(False)
        return splitter

    # -- states ----------------------------------------------------------------------------------

    def show_empty(self) -> None:
        self.stack.setCurrentIndex(self.PAGE_EMPTY)

    def show_busy(self, text: str) -> None:
        self.busy_label.setText(text)
        self.stack.setCurrentIndex(self.PAGE_BUSY)

    def set_card(self, card) -> None:
        """The model card's tiers, worded for the reader."""
        self.card = card
        if card is None:
            self.tiers.setText("")
            return
        lo, hi = shown_cutoffs(card)
        text = f"The model calls a face fake from {hi}% up"
        if lo is not None:
            text += f"; between {lo}% and {hi - 1}% it says it is uncertain"
        self.tiers.setText(text + ". A score is one clue, not proof: check the source and the "
                           "context too.")

    def cutoffs_for(self, result):
        """This view's card when it judged `result` (same model id), so shown percents agree
        with the verdicts; None (plain rounding) for a record made by another model."""
        return judged_by(self.card, result)

    def show_result(self, result, image: QImage | None, *, note: str | None = None,
                    image_scale: float = 1.0) -> None:
        """Show an AnalysisResult; `image` may be None (file unreadable or gone)."""
        self.result, self.image, self.image_scale = result, image, image_scale
        word = verdict_word(result)
        name = Path(result.path).name if result.path else "Pasted image"
        self.title.setText(one_line(name))
        self.title.setToolTip(plain_tip(result.path))
        self.note.setText(note or "")
        self.note.setVisible(bool(note))
        no_model = getattr(result, "error_type", None) in MODEL_ERRORS
        self.badge.set_verdict(word, NO_MODEL_BADGE if no_model else verdict_text(word))
        self.error_label.setText(result.error or "")
        self.error_label.setVisible(bool(result.error))
        faces = list(result.faces)
        cut = self.cutoffs_for(result)
        self.summary.setText(self._summary_text(result, word, cut))
        self.summary.setVisible(bool(self.summary.text()))
        self.face_list.blockSignals(True)
        self.face_list.clear()
        for i, face in enumerate(faces):
            fw = verdict_word(face)
            item = QListWidgetItem(_dot(verdict_color(fw)),
                                   f"Face {i + 1}:  {percent(face.p_fake, cut)} fake  ({fw})")
            self.face_list.addItem(item)
        self.face_list.blockSignals(False)
        row_h = max(self.face_list.sizeHintForRow(0), 18)
        self.face_list.setFixedHeight(min(6, max(1, len(faces))) * row_h
                                      + 2 * self.face_list.frameWidth() + 4)
        self.faces_box.setVisible(len(faces) > 1)
        for w in (self.face_caption, self.bars, self.tiers):
            w.setVisible(bool(faces))
        has_maps = any(f.heatmap is not None for f in faces)
        self.explain_box.setVisible(bool(faces))
        self.overlay_check.setEnabled(has_maps)
        self.opacity_slider.setEnabled(has_maps and self.overlay_check.isChecked())
        self.legend.setText(
            "Red and yellow: the areas that weighed most in the decision. Blue: little influence."
            if has_maps else "No heatmap for this record (the picture is not available).")
        self.image_view.set_image(image, faces, scale=image_scale, cutoffs=cut)
        self.image_view.set_overlay_visible(self.overlay_check.isChecked())
        self.image_view.set_overlay_opacity(self.opacity_slider.value() / 100.0)
        warnings = list(result.warnings)
        self.warnings_label.setText("\n".join(f"\u26a0 {w}" for w in warnings))
        self.warnings_label.setVisible(bool(warnings))
        parts = [f"Model: {result.model}" if result.model else "",
                 f"Analysed {local_time(result.analysed_at)}" if result.analysed_at else ""]
        if result.image_size:
            parts.append(f"{result.image_size[0]}\u00a0x\u00a0{result.image_size[1]}\u00a0px")
        self.footer.setText("  \u00b7  ".join(p for p in parts if p))
        self.case_pane.set_result(result)
        n = warning_count(result)
        self.side_tabs.setTabText(1, f"Metadata && notes  \u26a0 {n}" if n else "Metadata && notes")
        self.side_tabs.setTabToolTip(1, f"{n} metadata or input-quality finding(s) worth a look"
                                     if n else "What the file's metadata says; your notes and tags")
        self.select_face(top_face_index(result))
        self.stack.setCurrentIndex(self.PAGE_RESULT)

    @staticmethod
    def _summary_text(result, word: str, cut=None) -> str:
        if word == "error":
            return ""
        if word == "no face":
            return NO_FACE_HELP
        n = len(result.faces)
        gated = ""
        if word == "uncertain":
            from app.core.quality import tile_note

            note, why = tile_note(result)
            if why:  # a score that was not trusted: the verdict says so, not the number
                gated = f" {note}, so the verdict is \u201cuncertain\u201d whatever the score."
        if n == 1:
            return (f"The model rates the face {percent(result.p_fake, cut)} likely to be "
                    f"manipulated.{gated}")
        i = top_face_index(result) + 1
        return (f"{n} faces found. The image takes the verdict of its most suspicious face "
                f"(face {i}, {percent(result.p_fake, cut)} fake).{gated}")

    # -- faces -----------------------------------------------------------------------------------

    def selected_face(self) -> int:
        return self.face_list.currentRow()

    def select_face(self, index: int) -> None:
        faces = self.result.faces if self.result else []
        if not 0 <= index < len(faces):
            self.bars.set_p_fake(None)
            self.face_verdict.setText("")
            self.face_verdict.hide()
            return
        if self.face_list.currentRow() != index:
            self.face_list.blockSignals(True)
            self.face_list.setCurrentRow(index)
            self.face_list.blockSignals(False)
        face = faces[index]
        fw = verdict_word(face)
        several = len(faces) > 1
        # With one face its verdict is the image's (shown above): only the bars are new.
        self.face_caption.setText(f"FACE {index + 1} OF {len(faces)}" if several
                                  else "HOW SURE THE MODEL IS")
        self.face_verdict.setVisible(several)
        self.face_verdict.setText(verdict_text(fw))
        self.face_verdict.setStyleSheet(f"color: {verdict_color(fw).name()};")
        self.bars.set_p_fake(face.p_fake, self.cutoffs_for(self.result))
        self.image_view.select_face(index)

    def _on_face_row(self, row: int) -> None:
        if row >= 0:
            self.select_face(row)

    def _on_face_clicked(self, index: int) -> None:
        self.select_face(index)

    # -- overlay ---------------------------------------------------------------------------------

    def set_overlay(self, on: bool) -> None:
        self.overlay_check.setChecked(on)

    def set_opacity(self, opacity: float) -> None:
        self.opacity_slider.setValue(round(100 * opacity))

    def _on_overlay(self, on: bool) -> None:
        self.image_view.set_overlay_visible(on)
        self.opacity_slider.setEnabled(on and self.overlay_check.isEnabled())
        self.sig_overlay_toggled.emit(on)

    def _on_opacity(self, value: int) -> None:
        self.opacity_label.setText(f"{value}%")
        self.image_view.set_overlay_opacity(value / 100.0)
        self.sig_opacity_changed.emit(value / 100.0)


def _dot(color: QColor) -> QIcon:
    pix = QPixmap(14, 14)
    pix.fill(color)
    return QIcon(pix)
