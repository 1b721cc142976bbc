"""The Forensics tab: one filter at a time over the current picture, side by side with the
original, its parameter on a slider, its map over the picture at the chosen opacity, and its
"how to read this" beside it. Work runs in ForensicsWorker; results are cached per image."""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSlider,
    QSplitter,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from app.core.forensics import FILTERS
from app.ui.forensics_image import MapImageView, findings_html
from app.ui.forensics_worker import ForensicsDone, ForensicsJob, ForensicsWorker, Source
from app.ui.image_view import ImageView
from app.ui.theme import rgb_to_qimage

CACHE_SIZE = 10  # results kept: maps are at most 2048 px, so ~16 MB each at worst
SLIDER_DELAY_MS = 300  # a slider being dragged asks once it rests


class ForensicsView(QWidget):
    sig_status = Signal(str)  # for the window's status bar
    sig_report_filters = Signal(list)  # the filters ticked "in case report", in FILTERS order

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.worker = ForensicsWorker(self)
        self.source: Source | None = None
        self.stem = "image"
        self.result = None  # the ForensicResult on screen
        self._cache: OrderedDict[tuple, object] = OrderedDict()
        self._pending: int | None = None
        self._dirty = False
        self._timer = QTimer(self, singleShot=True, interval=SLIDER_DELAY_MS)
        self._timer.timeout.connect(self.compute)
        self._build()
        self.worker.sig_result.connect(self._on_result)
        self.worker.sig_error.connect(self._on_error)
        self.worker.sig_progress.connect(lambda p: self._set_busy(p[1]))
        self.worker.sig_finished.connect(self._on_finished)
        self._on_filter(0)

    # -- layout ----------------------------------------------------------------------------------

    def _build(self) -> None:
        self.filter_box = QComboBox()
        for spec in FILTERS.values():
            self.filter_box.addItem(spec.title, spec.name)
        self.filter_box.currentIndexChanged.connect(self._on_filter)
        self.param_label = QLabel()
        self.param_slider = QSlider(Qt.Orientation.Horizontal)
        self.param_slider.setMinimumWidth(140)
        self.param_slider.valueChanged.connect(self._on_param)
        self.param_value = QLabel()
        self.param_value.setMinimumWidth(32)
        self.overlay_check = QCheckBox("Show map")
        self.overlay_check.setChecked(True)
        self.overlay_check.toggled.connect(lambda on: self.map_view.set_overlay_visible(on))
        self.opacity_slider = QSlider(Qt.Orientation.Horizontal)
        self.opacity_slider.setRange(0, 100)
        self.opacity_slider.setValue(85)
        self.opacity_slider.setMaximumWidth(120)
        self.opacity_slider.valueChanged.connect(self._on_opacity)
        self.opacity_label = QLabel("85%")
        self.side_check = QCheckBox("Side by side")
        self.side_check.setChecked(True)
        self.side_check.toggled.connect(lambda on: self.original_view.setVisible(on))
        self.export_button = QPushButton("Export map...")
        self.export_button.clicked.connect(lambda: self.export())
        self.report_check = QCheckBox("In case report")
        self.report_check.setToolTip("Export Report adds this filter's map, findings and "
                                     "explanation to every image of the report")
        self.report_check.toggled.connect(self._on_report_check)
        self.report_filters: list[str] = []
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel)
        self.busy_label = QLabel()
        self.busy_label.setObjectName("hint")
        self.filter_box.setAccessibleName("Forensic filter")
        self.opacity_slider.setAccessibleName("Map opacity")

        # Two rows: what is computed, then how it is shown and kept. In one row the controls
        # needed 1,150 px and widened the window past a laptop's screen.
        top, second = QHBoxLayout(), QHBoxLayout()
        for w in (QLabel("Filter"), self.filter_box, self.param_label, self.param_slider,
                  self.param_value, self.cancel_button, self.busy_label):
            top.addWidget(w)
        top.addStretch(1)
        for w in (self.overlay_check, QLabel("Opacity"), self.opacity_slider, self.opacity_label,
                  self.side_check, self.export_button, self.report_check):
            second.addWidget(w)
        second.addStretch(1)
        bar = QVBoxLayout()
        bar.addLayout(top)
        bar.addLayout(second)

        self.original_view = ImageView()
        self.map_view = MapImageView()
        self.map_view.set_overlay_opacity(0.85)
        self.original_view.setAccessibleName("The picture")
        self.map_view.setAccessibleName("The filter's map")
        self._sync_views()
        self.text = QTextBrowser()
        self.text.setOpenExternalLinks(False)
        self.text.setAccessibleName("What the filter found")
        self.preview = QLabel()  # the EXIF thumbnail, beside its comparison
        self.preview.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.preview.setVisible(False)
        side = QWidget()
        side.setMinimumWidth(300)  # the explanation is long prose: not a 170 px column
        side_lay = QVBoxLayout(side)
        side_lay.setContentsMargins(0, 0, 0, 0)
        side_lay.addWidget(self.preview)
        side_lay.addWidget(self.text, 1)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self.original_view)
        split.addWidget(self.map_view)
        split.addWidget(side)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 3)
        split.setStretchFactor(2, 2)
        self.placeholder = QLabel("Open a picture: its forensic maps appear here.")
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        lay = QVBoxLayout(self)
        lay.addLayout(bar)
        lay.addWidget(self.placeholder)
        lay.addWidget(split, 1)
        self.split = split
        self.split.setVisible(False)
        self._set_busy("")

    def _sync_views(self) -> None:
        """Both views pan and zoom together, so a spot on the map is found on the original."""
        a, b = self.original_view, self.map_view
        for src, dst in ((a, b), (b, a)):
            src.horizontalScrollBar().valueChanged.connect(dst.horizontalScrollBar().setValue)
            src.verticalScrollBar().valueChanged.connect(dst.verticalScrollBar().setValue)
            src.sig_zoom_changed.connect(lambda _z, s=src, d=dst: self._copy_zoom(s, d))

    @staticmethod
    def _copy_zoom(src: ImageView, dst: ImageView) -> None:
        if abs(dst.zoom() - src.zoom()) > 1e-6:
            dst.setTransform(src.transform())
            dst._fit = src.is_fit()

    # -- input -----------------------------------------------------------------------------------

    def set_source(self, source: Source | None, image: QImage | None, name: str = "") -> None:
        """Show a new picture; its maps are computed when this view is on screen."""
        if source is not None and self.source is not None and source.key == self.source.key:
            return
        self.worker.cancel()
        self.source, self.result = source, None
        self.stem = Path(name).stem[:60] or "image"
        self.split.setVisible(source is not None)
        self.placeholder.setVisible(source is None)
        self.original_view.set_image(image, [])
        self.map_view.set_image(image, [])
        self.preview.setVisible(False)
        self._dirty = source is not None
        self._show_text()
        if self.isVisible():
            self.compute()

    def showEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().showEvent(event)
        if self._dirty:
            self.compute()

    def current_filter(self) -> str:
        return self.filter_box.currentData()

    def set_filter(self, name: str) -> None:
        self.filter_box.setCurrentIndex(self.filter_box.findData(name))

    def param(self) -> float | None:
        spec = FILTERS[self.current_filter()]
        if spec.param is None:
            return None
        return self.param_slider.value() * spec.param_scale

    def _on_filter(self, _index: int) -> None:
        spec = FILTERS[self.current_filter()]
        self.param_slider.blockSignals(True)
        has = spec.param is not None
        self.param_slider.setEnabled(has)
        self.param_label.setText(spec.param_label or "No setting")
        self.param_slider.setAccessibleName(spec.param_label or "No setting for this filter")
        if has:
            self.param_slider.setRange(*spec.param_range)
            default = spec.param_default if spec.param_default is not None else spec.param_range[1]
            self.param_slider.setValue(default)
        self.param_slider.blockSignals(False)
        self._param_text()
        self._auto_param = has and spec.param_default is None  # the filter picks (ghosts)
        self.report_check.blockSignals(True)
        self.report_check.setChecked(spec.name in self.report_filters)
        self.report_check.blockSignals(False)
        self.compute()

    def _on_report_check(self, on: bool) -> None:
        chosen = set(self.report_filters) - {self.current_filter()}
        if on:
            chosen.add(self.current_filter())
        self.report_filters = [n for n in FILTERS if n in chosen]
        self.sig_report_filters.emit(list(self.report_filters))

    def _on_param(self, _value: int) -> None:
        self._auto_param = False
        self._param_text()
        self._timer.start()

    def _param_text(self) -> None:
        p = self.param()
        self.param_value.setText("" if p is None else f"{p:g}")

    def _on_opacity(self, value: int) -> None:
        self.opacity_label.setText(f"{value}%")
        self.map_view.set_overlay_opacity(value / 100.0)

    # -- work ------------------------------------------------------------------------------------

    def _key(self) -> tuple:
        return (self.source.key, self.current_filter(), None if self._auto_param else self.param())

    def compute(self) -> None:
        """Show the current filter's result: from the cache, else ask the worker."""
        if self.source is None:
            return
        self._dirty = False
        self._show_text()
        cached = self._cache.get(self._key())
        if cached is not None:
            self._cache.move_to_end(self._key())
            self._show(cached)
            return
        job = ForensicsJob("filter", self.source, self.current_filter(),
                           None if self._auto_param else self.param())
        self._pending = self.worker.submit(job)
        self._set_busy("Computing...")

    def cancel(self) -> None:
        self.worker.cancel()
        self._set_busy("")
        self.sig_status.emit("Forensic filter cancelled.")

    def _on_result(self, done: ForensicsDone) -> None:
        if done.kind == "export":
            self.sig_status.emit(f"Saved {len(done.files)} files to {Path(done.files[0]).parent}"
                                 if done.files else "Nothing to export.")
            return
        if self.source is None or done.key != self.source.key:
            return  # a picture no longer on screen
        self._cache[(done.key, done.filter, done.param)] = done.result
        while len(self._cache) > CACHE_SIZE:
            self._cache.popitem(last=False)
        if done.filter == self.current_filter():
            self._show(done.result)

    def _on_error(self, err) -> None:
        self._set_busy("")
        self.text.setHtml(f"<p style='color:#c62828'>{err[1]}</p>")
        self.sig_status.emit(err[1])

    def _on_finished(self, done) -> None:
        if not self.worker.busy() or done[0] == self._pending:
            self._set_busy("")

    def _set_busy(self, text: str) -> None:
        self.busy_label.setText(text)
        self.cancel_button.setEnabled(bool(text))

    # -- output ----------------------------------------------------------------------------------

    def _show(self, result) -> None:
        self.result = result
        spec = FILTERS[result.filter]
        if spec.param and spec.param in result.params:  # e.g. the quality the ghosts chose
            self.param_slider.blockSignals(True)
            self.param_slider.setValue(round(result.params[spec.param] / spec.param_scale))
            self.param_slider.blockSignals(False)
            self._param_text()
        self.map_view.set_map(result.map_rgb(), result.map_scale)
        self.map_view.set_overlay_visible(self.overlay_check.isChecked())
        self.map_view.set_overlay_opacity(self.opacity_slider.value() / 100.0)
        thumb = result.extra.get("preview")
        self.preview.setVisible(thumb is not None)
        if thumb is not None:
            self.preview.setPixmap(QPixmap.fromImage(rgb_to_qimage(thumb)).scaled(
                240, 240, Qt.AspectRatioMode.KeepAspectRatio,
                Qt.TransformationMode.SmoothTransformation))
            self.preview.setToolTip("The EXIF preview stored in the file")
        self.export_button.setEnabled(True)
        self._show_text()

    def _show_text(self) -> None:
        spec = FILTERS[self.current_filter()]
        shown = self.result if self.result is not None and \
            self.result.filter == spec.name else None
        self.text.setHtml(findings_html(spec.title, spec.how_to_read, shown))
        self.export_button.setEnabled(shown is not None)

    def export(self, folder: str | None = None) -> int | None:
        """Write the map on screen (PNG) and its findings (JSON) to a folder, in the worker."""
        if self.result is None or self.source is None:
            return None
        if folder is None:
            folder = QFileDialog.getExistingDirectory(self, "Export the map to a folder")
            if not folder:
                return None
        job = ForensicsJob("export", self.source, self.result.filter, result=self.result,
                           folder=folder, stem=self.stem)
        return self.worker.submit(job)

    def shutdown(self) -> bool:
        self._timer.stop()
        return self.worker.shutdown()
