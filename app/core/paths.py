"""Where things live: bundled resources (source tree or PyInstaller bundle) and per-user data."""

from __future__ import annotations

import os
import sys
from pathlib import Path

APP_NAME = "DeepfakeInspector"
APP_AUTHOR = "DeepfakeInspector"


def resource_root() -> Path:
    """The folder holding weights/ and resources/: the bundle when frozen, else the repo root."""
    bundle = getattr(sys, "_MEIPASS", None)
    if bundle:
        return Path(bundle)
    return Path(__file__).resolve().parents[2]


def weights_dir() -> Path:
    override = os.environ.get("DFI_WEIGHTS_DIR")
    return Path(override) if override else resource_root() / "weights"


def resources_dir() -> Path:
    return resource_root() / "resources"


def default_model_card() -> Path:
    return weights_dir() / "detector.json"


def user_data_dir() -> Path:
    """Per-user data (history database, logs); DFI_DATA_DIR overrides it (tests, portable use)."""
    override = os.environ.get("DFI_DATA_DIR")
    if override:
        path = Path(override)
    else:
        from platformdirs import user_data_dir as _udd

        path = Path(_udd(APP_NAME, APP_AUTHOR))
    path.mkdir(parents=True, exist_ok=True)
    return path
