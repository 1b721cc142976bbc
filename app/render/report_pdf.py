"""PDF export of the case report: the report's HTML laid out by Qt's QTextDocument onto a
QPdfWriter. Works offscreen (no display) and never touches the network: the report's data: URI
images are handed to the document as resources instead of being loaded as URLs.
"""

from __future__ import annotations

import base64
import errno
import os
import re
from datetime import UTC, datetime
from pathlib import Path

from PySide6.QtCore import QMarginsF, QRectF, QSizeF, Qt, QUrl
from PySide6.QtGui import (
    QColor,
    QFont,
    QGuiApplication,
    QImage,
    QPageLayout,
    QPageSize,
    QPainter,
    QPdfWriter,
    QTextDocument,
)
from PySide6.QtWidgets import QApplication

_IMG = re.compile(r"<img\b[^>]*>", re.I)
_SRC = re.compile(r"src=(['\"])data:image/[a-z+]+;base64,([A-Za-z0-9+/=\s]+)\1", re.I)
_WIDTH = re.compile(r"\bwidth=(['\"])(\d+)\1", re.I)
_HEIGHT = re.compile(r"\bheight=(['\"])(\d+)\1", re.I)
MARGIN_MM = 15.0
FOOTER_PX = 22  # at 96 dpi: the strip under each page's text for "page x of y"
_app = None


def ensure_gui_app() -> QGuiApplication:
    """The Qt application (needed for fonts and images); offscreen when there is no display.

    A QApplication rather than a bare QGuiApplication, so widgets still work later in the same
    process (the GUI, tests)."""
    global _app
    app = QGuiApplication.instance()
    if app is None:
        if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")) and os.name != "nt":
            os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        app = _app = QApplication([])
    return app


def html_to_pdf(html: str, path: str | os.PathLike, *, title: str = "Deepfake Inspector report",
                page: QPageSize.PageSizeId = QPageSize.PageSizeId.A4) -> int:
    """Render report HTML to a PDF file; returns the number of pages written."""
    from app.core.files import check_output_file

    check_output_file(path)  # a pipe or a device as the target would block or swallow it
    # Qt reports a file it cannot open only as a console line and writes nothing. So: write a
    # side file, opened here first (a clear OSError), check that pages arrived, then put it in
    # place; an earlier report at `path` is kept if anything fails.
    part = Path(f"{os.fspath(path)}.part")
    with open(part, "wb"):
        pass
    try:
        pages = _print(html, part, title, page)
        if part.stat().st_size == 0:
            raise OSError(errno.EIO, f"The PDF could not be written to {Path(path).name}: "
                                     "nothing arrived in the file.")
        os.replace(part, path)
    finally:
        part.unlink(missing_ok=True)
    return pages


def _print(html: str, path: Path, title: str, page: QPageSize.PageSizeId) -> int:
    ensure_gui_app()
    writer = QPdfWriter(str(path))
    writer.setTitle(title)
    writer.setCreator("Deepfake Inspector")
    writer.setPageLayout(QPageLayout(QPageSize(page), QPageLayout.Orientation.Portrait,
                                     QMarginsF(MARGIN_MM, MARGIN_MM, MARGIN_MM, MARGIN_MM),
                                     QPageLayout.Unit.Millimeter))
    doc = QTextDocument()
    doc.setDocumentMargin(0)
    # Lay the document out at 96 dpi on the printable area, less a strip for the footer.
    rect = writer.pageLayout().paintRect(QPageLayout.Unit.Point)
    width, height = rect.width() * 96 / 72, rect.height() * 96 / 72 - FOOTER_PX
    doc.setPageSize(QSizeF(width, height))
    doc.setHtml(_with_resources(doc, html, max_width=int(width)))
    pages = doc.pageCount()
    # Each page drawn by hand (what print_() does) plus a footer: the title, when the PDF was
    # made, and "page x of y", so a page taken out or put in another report shows.
    made = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    scale = writer.resolution() / 96.0
    painter = QPainter(writer)
    try:
        font = QFont(painter.font())
        font.setPixelSize(10)  # in the 96-dpi units the painter is scaled to (7.5 pt)
        for page in range(pages):
            if page:
                writer.newPage()
            painter.save()
            painter.scale(scale, scale)
            painter.translate(0, -page * height)
            doc.drawContents(painter, QRectF(0, page * height, width, height))
            painter.restore()
            painter.save()
            painter.scale(scale, scale)
            painter.setFont(font)
            painter.setPen(QColor("#757575"))
            strip = QRectF(0, height + 4, width, FOOTER_PX - 4)
            painter.drawText(strip, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                             f"{title} \u00b7 made {made}")
            painter.drawText(strip, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                             f"page {page + 1} of {pages}")
            painter.restore()
    finally:
        painter.end()
    del writer  # finishes the file
    return pages


def _with_resources(doc: QTextDocument, html: str, max_width: int) -> str:
    """Move data: URI images into the document's resources and fit them to the page width."""
    counter = iter(range(1_000_000))

    def fix(match: re.Match) -> str:
        tag = match.group(0)
        src = _SRC.search(tag)
        if src:
            image = QImage.fromData(base64.b64decode(re.sub(r"\s", "", src.group(2))))
            name = f"report-image-{next(counter)}.png"
            doc.addResource(QTextDocument.ResourceType.ImageResource, QUrl(name), image)
            tag = tag[:src.start()] + f"src='{name}'" + tag[src.end():]
        w, h = _WIDTH.search(tag), _HEIGHT.search(tag)
        if w and h and int(w.group(2)) > max_width:
            scale = max_width / int(w.group(2))
            tag = _WIDTH.sub(f"width='{max_width}'", tag, count=1)
            tag = _HEIGHT.sub(f"height='{round(int(h.group(2)) * scale)}'", tag, count=1)
        return tag

    return _IMG.sub(fix, html)


def write_report_pdf(report, path: str | os.PathLike) -> int:
    """Write a CaseReport (app.core.report) as PDF; returns the page count."""
    return html_to_pdf(report.html(), path, title=f"Deepfake Inspector \u2014 {report.title}")
