"""User preferences: a small JSON file in the data dir (QSettings holds only window geometry)."""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from app.core.paths import user_data_dir

log = logging.getLogger(__name__)
PREFS_NAME = "prefs.json"


@dataclass
class Prefs:
    keep_history: bool = True
    show_overlay: bool = True
    overlay_opacity: float = 0.45
    path: Path | None = None

    @classmethod
    def load(cls, path: Path | None = None) -> Prefs:
        """Read prefs; a missing or damaged file gives the defaults (and a log line)."""
        path = path or user_data_dir() / PREFS_NAME
        prefs = cls(path=path)
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return prefs
        except (OSError, ValueError) as exc:
            log.warning("Ignoring unreadable preferences %s: %s", path, exc)
            return prefs
        for f in fields(cls):
            value = raw.get(f.name) if isinstance(raw, dict) else None
            if f.name == "path" or value is None:
                continue
            if isinstance(f.default, bool):
                if isinstance(value, bool):
                    setattr(prefs, f.name, value)
            elif isinstance(value, int | float) and not isinstance(value, bool):
                setattr(prefs, f.name, float(value))
        prefs.overlay_opacity = min(max(float(prefs.overlay_opacity), 0.0), 1.0)
        return prefs

    def save(self) -> None:
        path = self.path or user_data_dir() / PREFS_NAME
        data = {k: v for k, v in asdict(self).items() if k != "path"}
        try:
            tmp = path.with_suffix(".tmp")
            tmp.write_text(json.dumps(data, indent=2), encoding="utf-8")
            tmp.replace(path)
        except OSError as exc:  # a full disk must not stop the app; the choice lasts this session
            log.warning("Could not save preferences to %s: %s", path, exc)
