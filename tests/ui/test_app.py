"""Start-up, model states (none installed / untrained), About the model, error reporting."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.core.detector import ModelCard
from app.ui.main_window import NO_MODEL_TEXT, default_analyzer_factory
from app.ui.model_info import ModelInfoDialog, card_html
from tests.ui.conftest import drop_urls, wait_result

ROOT = Path(__file__).resolve().parents[2]


def test_no_model_installed_says_so_and_does_not_crash(qtbot, make_window, monkeypatch, tmp_path,
                                                      face_file):
    empty = tmp_path / "no_weights"
    empty.mkdir()
    monkeypatch.setenv("DFI_WEIGHTS_DIR", str(empty))
    win = make_window(default_analyzer_factory())  # exactly what the shipped app uses
    assert win.model_error is not None and not win.model_ready
    assert NO_MODEL_TEXT in win.banner.text() and win.banner.kind == "warning"
    assert win.model_label.text() == NO_MODEL_TEXT
    assert drop_urls(win.result_view.drop_hint, [face_file])
    result = wait_result(qtbot, win)
    assert result.status == "error" and "No trained detector" in result.error
    assert win.result_view.error_label.text() == result.error
    assert win.result_view.badge.text() == "No score: no trained detector installed"
    assert win.history.count() == 0  # nothing was analysed, so nothing is kept
    assert not win.reporter.dialogs
    html = card_html(None, str(win.model_error))
    assert "No trained detector installed" in html and str(empty) in html


def test_untrained_model_is_labelled_in_red(make_window, untrained_card):
    win = make_window(default_analyzer_factory(str(untrained_card), allow_untrained=True))
    assert win.model_ready and not win.card.trained
    assert "UNTRAINED TEST MODEL" in win.banner.text() and win.banner.kind == "danger"
    assert "UNTRAINED" in win.model_label.text()
    assert "UNTRAINED TEST MODEL" in card_html(win.card)


def test_a_file_dropped_while_the_model_loads_waits_for_it(qtbot, make_window, analyzer,
                                                          face_file):
    def slow_factory():
        import time

        time.sleep(1.5)  # torch and the weights take a while on a real start
        return analyzer

    win = make_window(slow_factory, wait=False)
    assert win.model_label.text() == "Loading model..."
    assert drop_urls(win.result_view.drop_hint, [face_file])
    assert "waiting for the model" in win.result_view.busy_label.text()
    result = wait_result(qtbot, win)
    assert result.status == "ok" and win.model_ready


def test_a_damaged_history_is_reported_and_can_be_replaced(qtbot, make_window):
    from app.core.paths import user_data_dir

    (user_data_dir() / "history.db").write_bytes(b"garbage " * 500)
    win = make_window()
    hv = win.history_view
    assert win.history is None and "damaged" in hv.info.text()
    assert hv.reset_button.isVisible() or not hv.isVisible()
    hv.reset_button.click()
    assert win.history is not None and win.history.count() == 0
    assert win.service.shared.history is win.history
    assert list(user_data_dir().glob("history.db.unreadable-*"))
    assert "Showing 0 of 0" in hv.info.text()


def test_the_shipped_app_refuses_untrained_weights(make_window, untrained_card):
    win = make_window(default_analyzer_factory(str(untrained_card)))
    assert win.model_error is not None and "untrained" in str(win.model_error)


def test_about_the_model_in_plain_words(qtbot, tmp_path):
    card = ModelCard(
        id="dfi-v1", architecture="faceres_mobilenet_v1", input_size=160,
        normalization="vggface2_bgr_mean", threshold=0.5, uncertain_band=(0.35, 0.65),
        raw={"training_data": ["FaceForensics++ c23 (train split)", "self-blended fakes"],
             "metrics": {"ffpp_test": {"auc": 0.871, "accuracy": 0.8}},
             "limits": ["Not tested on GAN-generated faces", "Faces under 64 px are unreliable"],
             "license": "MIT"},
    )
    html = card_html(card)
    for text in ("dfi-v1", "FaceForensics++", "ffpp test / ROC AUC", "0.871", "80.0%",
                 "Not tested on GAN", "35%", "65%", "most suspicious face", "MIT"):
        assert text in html, text
    assert "UNTRAINED" not in html
    dlg = ModelInfoDialog(card)
    qtbot.addWidget(dlg)
    assert "Known limits" in dlg.browser.toPlainText()


def test_ui_modules_do_not_import_torch():
    code = ("import sys; import main; import app.ui.main, app.ui.main_window, app.ui.worker, "
            "app.ui.result_view, app.ui.gallery_view, app.ui.history_view, app.ui.model_info; "
            "heavy = ('torch', 'facenet_pytorch', 'pytorch_grad_cam'); "
            "bad = [m for m in heavy if m in sys.modules]; "
            "print(bad); sys.exit(1 if bad else 0)")
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr


def test_main_py_starts_the_window_before_the_model(tmp_path):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", DFI_DATA_DIR=str(tmp_path / "data"),
               DFI_WEIGHTS_DIR=str(tmp_path / "none"))
    r = subprocess.run([sys.executable, "main.py", "--smoke-test"], cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "torch imported before the window: False" in r.stdout
    assert NO_MODEL_TEXT in r.stdout
    assert (tmp_path / "data" / "logs" / "inspector.log").exists()


@pytest.fixture
def _logging_restored():
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for h in root.handlers[:]:
        if h not in handlers:
            root.removeHandler(h)
            h.close()
    root.setLevel(level)


def test_unexpected_exception_is_logged_and_shown(qtbot, _logging_restored):
    from app.ui.errors import ErrorReporter, log_file, setup_logging

    setup_logging()
    reporter = ErrorReporter()
    reporter.install()
    try:
        try:
            raise ValueError("something odd")
        except ValueError:
            sys.excepthook(*sys.exc_info())
        qtbot.waitUntil(lambda: bool(reporter.dialogs))
    finally:
        reporter.uninstall()
    box = reporter.dialogs[0]
    assert "something odd" in box.informativeText() and str(log_file()) in box.informativeText()
    assert "ValueError: something odd" in box.detailedText()
    for h in logging.getLogger().handlers:
        h.flush()
    assert "ValueError: something odd" in log_file().read_text(encoding="utf-8")
    box.close()


def test_no_reference_leak_in_qt_calls(qtbot):
    """PySide6 6.12.0 on Python 3.11 dropped a reference to None per void call and to True per
    emit, aborting the app after ~10,000 calls; pyproject pins a release without the bug."""
    from PySide6.QtCore import QObject, Signal
    from PySide6.QtWidgets import QLabel

    class Emitter(QObject):
        sig = Signal(int)

    label = QLabel()
    qtbot.addWidget(label)
    em = Emitter()
    em.sig.connect(lambda v: None)
    none0, true0 = sys.getrefcount(None), sys.getrefcount(True)
    for i in range(2000):
        label.setText("x")
        em.sig.emit(i)
    assert abs(sys.getrefcount(None) - none0) < 100
    assert abs(sys.getrefcount(True) - true0) < 100


def test_view_actions_wait_for_a_result(qtbot, make_window, face_file):
    """Heatmap, zoom and report are greyed out until there is a result to act on."""
    win = make_window()
    a = win.actions_
    view_actions = (a.overlay, a.fit, a.actual, a.zoom_in, a.zoom_out, a.export_report)
    assert not any(act.isEnabled() for act in view_actions)
    assert a.open.isEnabled() and a.open_folder.isEnabled()
    win.open_file(str(face_file))
    wait_result(qtbot, win)
    assert all(act.isEnabled() for act in view_actions)
    win.result_view.show_empty()
    assert not a.overlay.isEnabled() and not a.export_report.isEnabled()
