"""The Video tab: a clip's verdict, its timeline of p(fake) per face, the faces table, the most
suspicious frames, and one frame with boxes and heatmap (computed on demand when clicked)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QImage, QPainter, QPen, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.ui.image_view import ImageView
from app.ui.plain import plain_labels
from app.ui.result_view import verdict_text
from app.ui.theme import percent, rgb_to_qimage, verdict_color, verdict_word
from app.ui.video_timeline import TimelineWidget, _clock, track_color
from app.ui.widgets import VerdictBadge

THUMB_W = 150
THUMB_H = 112  # a portrait clip's frames are scaled to this height instead (not 267 px tall)


class VideoView(QWidget):
    """Shows one VideoResult. Emits sig_frame_wanted(frame) when the user picks a frame and
    sig_cancel when the running analysis should stop."""

    sig_frame_wanted = Signal(int)
    sig_cancel = Signal()
    sig_export = Signal()

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.video = None
        self.card = None
        self.title = QLabel("No clip open. Drop a video (mp4, mov, 3gp, webm, mkv, avi, ...) on "
                            "the window, or open it with File > Open Photo or Video (Ctrl+O).")
        self.title.setObjectName("fileTitle")
        self.title.setWordWrap(True)
        self.badge = VerdictBadge()
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.note = QLabel()
        self.note.setWordWrap(True)
        self.note.setStyleSheet("color: #1565c0;")
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress_text = QLabel()
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.sig_cancel)
        self.export_button = QPushButton("Export report...")
        self.export_button.clicked.connect(self.sig_export)
        self.timeline = TimelineWidget()
        self.timeline.sig_frame_clicked.connect(lambda f, _t, _tr: self._want(f))
        self.faces = QTableWidget(0, 5)
        self.faces.setHorizontalHeaderLabels(["Face", "Seen", "p(fake)", "Spread", "Verdict"])
        self.faces.verticalHeader().hide()
        self.faces.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.faces.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.faces.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.faces.setTabKeyNavigation(False)  # Tab moves on; arrows move between rows
        self.faces.cellClicked.connect(self._on_face_row)
        self.faces.cellActivated.connect(self._on_face_row)  # Enter, for keyboard users
        self.faces.setAccessibleName("Faces in the clip")
        self.faces.setAccessibleDescription("Enter shows a face's most suspicious frame")
        self.strip = QHBoxLayout()
        self.strip.setSpacing(6)
        self.frame_view = ImageView()
        self.frame_view.setAccessibleName("The selected frame")
        self.frame_caption = QLabel("Click a point of the timeline or a frame below to see it "
                                    "with its face boxes and heatmap.")
        self.frame_caption.setWordWrap(True)
        self.warnings = QLabel()
        self.warnings.setWordWrap(True)
        self.warnings.setStyleSheet("color: #8d4b00;")
        self.meta = QLabel()
        self.meta.setWordWrap(True)
        self.meta.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        plain_labels(self.title, self.summary, self.note, self.frame_caption, self.warnings,
                     self.meta)
        self._layout()
        self.show_idle()

    def _layout(self) -> None:
        head = QHBoxLayout()
        words = QVBoxLayout()
        words.addWidget(self.title)
        words.addWidget(self.summary)
        words.addWidget(self.note)
        words.addWidget(self.export_button, 0, Qt.AlignmentFlag.AlignLeft)
        head.addLayout(words, 3)
        head.addWidget(self.badge, 2)
        busy = QHBoxLayout()
        busy.addWidget(self.progress, 3)
        busy.addWidget(self.progress_text, 2)
        busy.addWidget(self.cancel_button)
        left = QWidget()
        lv = QVBoxLayout(left)
        lv.setContentsMargins(0, 0, 0, 0)
        lv.addWidget(QLabel("<b>Faces</b> (one per person tracked; the clip's verdict follows "
                            "the most suspicious)"))
        lv.addWidget(self.faces)
        lv.addWidget(QLabel("<b>Most suspicious frames</b>"))
        strip = QWidget()
        strip.setLayout(self.strip)
        lv.addWidget(strip)
        lv.addWidget(self.warnings)
        lv.addWidget(self.meta)
        lv.addStretch(1)
        right = QWidget()
        rv = QVBoxLayout(right)
        rv.setContentsMargins(0, 0, 0, 0)
        rv.addWidget(self.frame_view, 1)
        rv.addWidget(self.frame_caption)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(left)
        split.addWidget(right)
        split.setSizes([520, 600])
        # The page scrolls: on a laptop (768 px, less the taskbar) the timeline, the faces, the
        # frames and a frame view do not all fit, and without this the window grew past the
        # screen's bottom (a portrait clip's thumbnails made it 930 px tall).
        page = QWidget()
        page.setObjectName("videoPage")
        lay = QVBoxLayout(page)
        lay.addLayout(head)
        lay.addLayout(busy)
        lay.addWidget(self.timeline, 2)
        lay.addWidget(split, 3)
        page.setMinimumHeight(560)  # below this it scrolls rather than squeezing the parts
        scroll = QScrollArea()
        scroll.setObjectName("videoScroll")
        scroll.setWidget(page)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(scroll)

    # -- states ----------------------------------------------------------------------------------

    def set_card(self, card) -> None:
        self.card = card

    def show_idle(self) -> None:
        self._busy(False)
        self.export_button.setEnabled(False)

    def show_busy(self, path: str) -> None:
        """An analysis started: clear the old clip, show progress."""
        self.video = None
        self.title.setText(Path(path).name)
        self.summary.setText("Analysing: sampling frames, finding and scoring faces...")
        self.note.clear()
        self.badge.set_verdict(None, "...")
        self.timeline.set_video(None)
        self.faces.setRowCount(0)
        self._set_strip([])
        self.frame_view.set_image(None, [])
        self.warnings.clear()
        self.meta.clear()
        self.progress.setValue(0)
        self.progress_text.setText("starting...")
        self._busy(True)

    def _busy(self, on: bool) -> None:
        self.progress.setVisible(on)
        self.progress_text.setVisible(on)
        self.cancel_button.setVisible(on)
        self.export_button.setVisible(not on)

    def show_progress(self, p) -> None:
        self.progress.setValue(int(1000 * p.fraction))
        eta = "" if p.eta_s is None else f", about {p.eta_s:.0f} s left"
        self.progress_text.setText(f"{_clock(p.t)} reached, {p.frames_scored} frames "
                                   f"scored{eta}")

    def show_error(self, message: str) -> None:
        self._busy(False)
        self.badge.set_verdict("error", "Could not analyse")
        self.summary.setText(message)

    def show_video(self, video, note: str | None = None) -> None:
        """A finished (or cancelled, or stored) VideoResult."""
        self._busy(False)
        self.video = video
        self.export_button.setEnabled(video.status != "error")
        self.title.setText(Path(video.path).name if video.path else "(clip)")
        self.note.setText(note or "")
        word = verdict_word(video)
        head = verdict_text(word)
        cut = _cutoffs(video, self.card)
        if video.p_fake is not None:
            head += f"\n{percent(video.p_fake, cut)} fake (face {video.deciding_track})"
            top = next((t for t in video.tracks if t.id == video.deciding_track), None)
            if top is not None and top.mostly_unjudgeable:
                # a low score, yet "uncertain": say why, or it reads as a contradiction
                head += "\nmost of its frames too small or blurred to judge"
        self.badge.set_verdict(word, head)
        if video.status == "error":
            self.summary.setText(video.error or "")
        else:
            size = f"{video.size[0]}x{video.size[1]}" if video.size else "?"
            self.summary.setText(
                f"{_clock(video.duration_s or 0)} long, {size}, {video.fps or 0:.3g} fps, "
                f"codec {video.codec}; {video.frames_scored} frames scored, "
                f"{len(video.cuts)} scene cut(s), {len(video.tracks)} face(s) tracked. "
                f"Model {video.model}.")
        self.timeline.set_video(video, _cutoffs(video, self.card))
        self._fill_faces(video)
        self._set_strip(video.key_frames)
        self.warnings.setText("\n".join(f"\u26a0 {w}" for w in video.warnings))
        self.meta.setText("\n".join(f"{m.get('label')}: {m.get('value')}" for m in video.metadata
                                    if m.get("category") == "Video file" and "video" not in m))
        first = video.key_frames[0] if video.key_frames else None
        if first is not None:
            self._show_key(first)
        elif video.first_frame is not None:
            self.frame_view.set_image(rgb_to_qimage(video.first_frame), [])

    def _fill_faces(self, video) -> None:
        self.faces.setRowCount(len(video.tracks))
        rows = min(max(len(video.tracks), 1), 5)  # up to five rows without scrolling
        self.faces.setFixedHeight(self.faces.horizontalHeader().height() + 4
                                  + rows * self.faces.verticalHeader().defaultSectionSize())
        cut = _cutoffs(video, self.card)
        for row, tr in enumerate(video.tracks):
            lo, hi = tr.p_spread or (None, None)
            cells = [f"Face {tr.id}", f"{_clock(tr.first_t)}-{_clock(tr.last_t)}, "
                     f"{len(tr.points)} frames", percent(tr.p_fake, cut),
                     f"{percent(lo, cut)}-{percent(hi, cut)}" if lo is not None else "",
                     verdict_word(tr)]
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if col == 0:
                    item.setForeground(track_color(tr.id))
                if col == 4:
                    item.setForeground(verdict_color(text))
                self.faces.setItem(row, col, item)

    def _set_strip(self, key_frames: list) -> None:
        while self.strip.count():
            w = self.strip.takeAt(0).widget()
            if w is not None:
                w.deleteLater()
        cut = _cutoffs(self.video, self.card) if self.video else None
        for key in key_frames:
            label = _FrameThumb(key, cut, self)
            label.clicked.connect(self._want)
            self.strip.addWidget(label)
        self.strip.addStretch(1)

    def _show_key(self, key) -> None:
        """A kept frame with its boxes (no heatmap until clicked)."""
        from app.core.results import FaceResult, Verdict

        verdicts = {t.id: t.verdict for t in self.video.tracks} if self.video else {}
        faces = [FaceResult(box=box, det_score=0.0, p_fake=p, verdict=verdicts.get(track)
                            or Verdict.UNCERTAIN) for track, box, p in key.faces]
        self.frame_view.set_image(rgb_to_qimage(key.rgb), faces, scale=1.0)
        cut = _cutoffs(self.video, self.card) if self.video else None
        self.frame_caption.setText(f"Frame at {_clock(key.t)} (frame {key.frame}), most "
                                   f"suspicious face {percent(key.max_p, cut)} fake. Click it for "
                                   "its heatmap.")

    # -- interaction -----------------------------------------------------------------------------

    def _want(self, frame: int) -> None:
        self.frame_caption.setText(f"Frame {frame}: computing the heatmap...")
        self.sig_frame_wanted.emit(frame)

    def _on_face_row(self, row: int, _col: int) -> None:
        if self.video is None or row >= len(self.video.tracks):
            return
        tr = self.video.tracks[row]
        peak = tr.peak
        if peak is not None:
            self.timeline.select(tr.id, peak.frame)
            self._want(peak.frame)

    def show_frame(self, frame: int, image: QImage, result) -> None:
        """The frame's analysis with heatmaps (the worker's FrameDone)."""
        self.frame_view.set_image(image, result.faces)
        t = frame / (self.video.fps or 25.0) if self.video else 0.0
        cut = _cutoffs(self.video, self.card) if self.video else None
        faces = ", ".join(f"box {i + 1}{self._track_of(frame, f.box)}: "
                          f"{percent(f.p_fake, cut)} fake"
                          for i, f in enumerate(result.faces)) or "no face found in this frame"
        self.frame_caption.setText(f"Frame {frame} at {_clock(t)}: {faces}. Colours follow "
                                   "each box's verdict in this frame alone.")

    def _track_of(self, frame: int, box) -> str:
        """' (Face N)': the track whose box in this frame overlaps this one, if any."""
        from app.core.video_tracks import iou

        best, best_iou = None, 0.3
        for tr in self.video.tracks if self.video else []:
            for p in tr.points:
                if p.frame == frame and iou(p.box, box) > best_iou:
                    best, best_iou = tr.id, iou(p.box, box)
        return "" if best is None else f" (Face {best})"


def _cutoffs(video, card):
    """The threshold and band the clip was judged with (stored with it), else the card's."""
    return video.cutoffs() or card


class _FrameThumb(QLabel):
    """A kept frame in the strip: click it, or Tab to it and press Enter or Space."""

    clicked = Signal(int)

    def __init__(self, key, cutoffs=None, parent=None) -> None:
        super().__init__(parent)
        self.frame = key.frame
        pix = QPixmap.fromImage(rgb_to_qimage(key.rgb))
        painter = QPainter(pix)
        for track, (x1, y1, x2, y2), _p in key.faces:
            painter.setPen(QPen(track_color(track), max(2, pix.width() // 160)))
            painter.drawRect(QRectF(x1, y1, x2 - x1, y2 - y1))
        painter.end()
        self.setPixmap(pix.scaled(THUMB_W, THUMB_H, Qt.AspectRatioMode.KeepAspectRatio,
                                  Qt.TransformationMode.SmoothTransformation))
        words = f"Frame at {_clock(key.t)}: {percent(key.max_p, cutoffs)} fake"
        self.setToolTip(f"{words}. Click for the heatmap.")
        self.setAccessibleName(words)
        self.setAccessibleDescription("Enter shows this frame with its heatmap")
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setStyleSheet("QLabel { border: 2px solid transparent; } "
                           "QLabel:focus { border: 2px solid #1565c0; }")

    def mousePressEvent(self, event) -> None:  # noqa: N802 - Qt override
        self.clicked.emit(self.frame)

    def keyPressEvent(self, event) -> None:  # noqa: N802 - Qt override
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Space):
            self.clicked.emit(self.frame)
        else:
            super().keyPressEvent(event)
