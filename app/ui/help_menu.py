"""The Help menu's dialogs: about the model, the log folder, about the app."""

from __future__ import annotations

from PySide6.QtCore import QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QMessageBox

from app import __version__
from app.core.paths import user_data_dir
from app.ui.errors import log_file


def show_model_info(win) -> None:
    """The model card of the loaded (or installed) detector, or why there is none."""
    from app.ui.model_info import ModelInfoDialog, load_installed_card

    card, error = (win.card, None) if win.card else load_installed_card()
    if card is None and win.model_error is not None:
        error = str(win.model_error)
    ModelInfoDialog(card, error, win).exec()


def show_log_folder() -> None:
    QDesktopServices.openUrl(QUrl.fromLocalFile(str(log_file().parent)))


def show_about(parent) -> None:
    QMessageBox.about(
        parent, "About Deepfake Inspector",
        f"<h3>Deepfake Inspector {__version__}</h3><p>Checks whether faces in a photo look "
        "real or deepfaked and shows why. Everything runs on this computer; nothing is "
        f"uploaded.</p><p>Data folder: {user_data_dir()}</p>")
