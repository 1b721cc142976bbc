"""Shared metadata types: a Finding, the parsed headers of one file, category names, the
common caveats and the cleaning of values read from files.

Its own module so that app.core.metadata (EXIF/XMP/IPTC findings) and app.core.provenance_c2pa
(Content Credentials) share them without importing each other's private names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from PIL import Image

from app.core.plaintext import reveal_bidi
from app.core.results import Severity

CAMERA, TIME, SOFTWARE, LOCATION, THUMBNAIL = "camera", "time", "software", "location", "thumbnail"
C2PA, GENERATOR, AUTHOR, GENERAL = "c2pa", "generator", "author", "general"

MAX_TEXT = 400  # characters of any value shown (prompts can be pages long)
AI_SOURCE_TYPES = {"trainedalgorithmicmedia", "compositewithtrainedalgorithmicmedia",
                   "algorithmicmedia", "compositesynthetic"}
EASY_FORGED = "Metadata is easy to edit or strip, so this is a claim, not proof."
ABSENCE = "Absence proves nothing: most apps and websites strip metadata when saving or sharing."
_CTRL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@dataclass(frozen=True)
class Finding:
    """One thing the file's metadata says, with what it means and what it does not prove."""

    category: str
    label: str
    value: str
    meaning: str
    severity: Severity = Severity.INFO

    def to_dict(self) -> dict:
        return {"category": self.category, "label": self.label, "value": self.value,
                "meaning": self.meaning, "severity": str(self.severity)}


@dataclass
class Meta:
    """The metadata headers of one file, as read (app.core.metadata_read.read_headers)."""

    fmt: str | None = None
    exif: Image.Exif | None = None
    tiff: bytes | None = None  # raw EXIF (TIFF structure), for the embedded thumbnail
    xmp: dict[str, list[str]] | None = None
    texts: dict[str, str] | None = None  # PNG text chunks
    iptc: dict | None = None
    c2pa_marker: bool = False


def clean(value, limit: int = MAX_TEXT) -> str:
    """A value from a file, fit to show: text, control characters removed, direction overrides
    made visible, length capped."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    text = _utf8_read_as_latin1(str(value))
    text = reveal_bidi(_CTRL.sub("", text).strip())
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _utf8_read_as_latin1(text: str) -> str:
    """Pillow decodes EXIF text as Latin-1, but most programs write UTF-8 there: undo that
    when the bytes are valid UTF-8 ("MÃ¼ller" -> "Müller"; a real Latin-1 "Müller" stays)."""
    if text.isascii():
        return text
    try:
        return text.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return text
