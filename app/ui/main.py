"""Start the desktop app: window first, model later (loaded in the worker)."""

from __future__ import annotations

import argparse
import logging
import os
import sys

log = logging.getLogger(__name__)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="deepfake-inspector-gui",
                                description="Deepfake Inspector desktop app")
    p.add_argument("paths", nargs="*", help="photos or folders to open at start")
    p.add_argument("--weights", metavar="FILE", default=os.environ.get("DFI_WEIGHTS") or None,
                   help="model card (.json) or weights to use instead of the installed detector")
    p.add_argument("--smoke-test", action="store_true",
                   help="show the window, load the model, print one status line and exit 0 "
                        "(packaging checks; needs no display with QT_QPA_PLATFORM=offscreen)")
    p.add_argument("--allow-untrained", action="store_true",
                   default=os.environ.get("DFI_ALLOW_UNTRAINED") == "1",
                   help="accept an UNTRAINED test model (shown with a red banner); tests only")
    return p


def run(argv: list[str] | None = None) -> int:
    """Create the application and the main window; returns the exit code."""
    argv = list(sys.argv if argv is None else argv)
    args, qt_args = _parser().parse_known_args(argv[1:])

    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from app import __version__
    from app.ui.errors import ErrorReporter, setup_logging
    from app.ui.main_window import MainWindow, default_analyzer_factory
    from app.ui.theme import app_icon, stylesheet

    log_path = setup_logging()
    log.info("Deepfake Inspector %s starting; log at %s", __version__, log_path)
    app = QApplication.instance() or QApplication([argv[0], *qt_args])
    app.setApplicationName("Deepfake Inspector")
    app.setOrganizationName("DeepfakeInspector")
    app.setApplicationVersion(__version__)
    app.setWindowIcon(app_icon())
    app.setStyle("Fusion")  # the same readable look on every platform
    app.setStyleSheet(stylesheet())

    reporter = ErrorReporter()
    window = MainWindow(default_analyzer_factory(args.weights, args.allow_untrained),
                        start=False, reporter=reporter)
    reporter.parent_widget = window
    reporter.install()
    window.show()
    torch_before_window = "torch" in sys.modules
    if args.smoke_test:
        _arm_smoke_test(app, window, torch_before_window)
    # The window paints before torch is imported: the model loads in the worker thread.
    QTimer.singleShot(0, window.service.start)
    if args.paths:
        QTimer.singleShot(0, lambda: window.open_paths(args.paths))
    code = app.exec()
    window.shutdown()  # also when the event loop ended without closing the window
    return code


def _arm_smoke_test(app, window, torch_before_window: bool) -> None:
    """Print the start-up facts a packaging check needs, then quit once the model settled."""

    def report(_=None) -> None:
        state = window.model_label.text()
        print(f"smoke-test: window shown; torch imported before the window: "
              f"{torch_before_window}; model: {state}", flush=True)
        window.close()
        app.quit()

    window.service.sig_model_ready.connect(report)
    window.service.sig_model_error.connect(report)
