"""Render resources/icon.svg into the installers' icon files (PNG sizes, .ico, .icns).

`python packaging/make_icons.py` (build.py runs it when an icon is missing). Uses rsvg-convert when
present, else Qt's SVG renderer; Pillow writes the .ico and .icns containers.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
SVG = ROOT / "resources" / "icon.svg"
OUT = ROOT / "packaging" / "icons"
NAME = "deepfake-inspector"
SIZES = (16, 32, 48, 64, 128, 256, 512)


def render(size: int) -> Image.Image:
    if shutil.which("rsvg-convert"):
        png = subprocess.run(["rsvg-convert", "-w", str(size), "-h", str(size), str(SVG)],
                             check=True, capture_output=True).stdout
        return Image.open(io.BytesIO(png)).convert("RGBA")
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QBuffer, QIODevice, Qt
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    _app = QGuiApplication.instance() or QGuiApplication([])  # noqa: F841 - Qt needs one
    img = QImage(size, size, QImage.Format.Format_ARGB32)
    img.fill(Qt.GlobalColor.transparent)
    painter = QPainter(img)
    QSvgRenderer(str(SVG)).render(painter)
    painter.end()
    buf = QBuffer()
    buf.open(QIODevice.OpenModeFlag.WriteOnly)
    img.save(buf, "PNG")
    return Image.open(io.BytesIO(bytes(buf.data()))).convert("RGBA")


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    images = {s: render(s) for s in SIZES}
    for s in (48, 128, 256, 512):
        images[s].save(OUT / f"{NAME}-{s}.png", optimize=True)
    images[256].save(OUT / f"{NAME}.png", optimize=True)
    images[256].save(OUT / f"{NAME}.ico", sizes=[(s, s) for s in (16, 32, 48, 64, 128, 256)])
    images[512].save(OUT / f"{NAME}.icns")
    print(f"icons written to {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
