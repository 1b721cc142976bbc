"""Writing a filter's pictures and findings to disk (CLI, window export, benchmarks)."""

from __future__ import annotations

import json
from pathlib import Path

from PIL import Image

from app.core.forensics.common import ForensicResult


def write_maps(result: ForensicResult, folder: Path, stem: str, *,
               with_json: bool = False) -> list[str]:
    """<stem>.<filter>.png for the map, <stem>.<filter>-<name>.png for extras (the EXIF
    preview), and <stem>.<filter>.json for the findings when asked. Returns the paths."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    rgb = result.map_rgb()
    if rgb is not None:
        p = folder / f"{stem}.{result.filter}.png"
        Image.fromarray(rgb).save(p)
        written.append(str(p))
    for name, arr in result.extra.items():
        p = folder / f"{stem}.{result.filter}-{name}.png"
        Image.fromarray(arr).save(p)
        written.append(str(p))
    if with_json:
        p = folder / f"{stem}.{result.filter}.json"
        p.write_text(json.dumps(result.to_dict(), indent=2), encoding="utf-8")
        written.append(str(p))
    return written
