"""Text read from files, shown as text: hidden direction overrides made visible.

A file name like "photo<U+202E>gpj.exe" displays as "photoexe.jpg": the right-to-left override
reorders what follows it. Wherever a name, path or metadata value from a file is shown (window,
report, messages), such controls are replaced by a visible "[U+202E]". Left-to-right and
right-to-left marks (U+200E, U+200F) stay: Arabic or Hebrew text needs them and they reorder
nothing by themselves.
"""

from __future__ import annotations

import re

_DIRECTION_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")


def reveal_bidi(text: str) -> str:
    """Direction embeddings, overrides and isolates replaced by a visible [U+XXXX]."""
    return _DIRECTION_CONTROLS.sub(lambda m: f"[U+{ord(m.group()):04X}]", text)


def one_line(text: str) -> str:
    """For a one-line place (a title, an error line): also newlines shown as \\n and \\r."""
    return reveal_bidi(text).replace("\n", "\\n").replace("\r", "\\r")
