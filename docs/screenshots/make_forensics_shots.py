"""Screenshots of the Forensics tab from the real window (run under Xvfb):

    xvfb-run -s '-screen 0 1400x900x24' .venv/bin/python docs/screenshots/make_forensics_shots.py

The picture is skimage's astronaut with a region cloned (rotated) and its original EXIF preview
kept, written to a temporary folder; the user data folder is a throw-away one.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
OUT = ROOT / "docs" / "screenshots"


def main() -> int:
    work = Path(tempfile.mkdtemp())
    os.environ["DFI_DATA_DIR"] = str(work / "data")
    os.environ.setdefault("QT_QPA_PLATFORM", "xcb")
    from PySide6.QtWidgets import QApplication
    from skimage import data

    from app.ui.main_window import MainWindow
    from tests.forensics_synth import clone, with_thumbnail

    img, _, _ = clone(data.astronaut(), (20, 330), (330, 330), 150, angle=15)
    path = work / "press-photo.jpg"
    path.write_bytes(with_thumbnail(img, data.astronaut()))
    from app.ui.theme import stylesheet

    app = QApplication.instance() or QApplication([])
    app.setStyleSheet(stylesheet())  # as app.ui.main does: the window as users see it
    win = MainWindow()
    win.resize(1400, 860)
    win.move(0, 0)
    win.show()

    def pump(cond, timeout=120.0) -> None:
        end = time.time() + timeout
        while not cond() and time.time() < end:
            app.processEvents()
            time.sleep(0.02)

    pump(lambda: win.model_ready or win.model_error is not None)
    win.open_file(str(path))
    pump(lambda: win.forensics.view.source is not None)
    view = win.forensics.view
    win.tabs.setCurrentWidget(view)
    shots = [("copymove", "09-forensics-copy-move")] + (
        [("thumbnail", "10-forensics-thumbnail"), ("ela", "11-forensics-ela")]
        if "--all" in sys.argv else [])
    for name, shot in shots:
        view.set_filter(name)
        pump(lambda n=name: view.result is not None and view.result.filter == n)
        for _ in range(50):
            app.processEvents()
            time.sleep(0.02)
        subprocess.run(["import", "-window", "root", "-crop", "1400x860+0+0",
                        str(OUT / f"{shot}.png")], check=True)
    win.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
