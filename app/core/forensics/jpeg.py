"""JPEG history: the file's quantization tables, its quality, and traces of earlier saves."""

from __future__ import annotations

import numpy as np

from app.core.forensics import ghosts
from app.core.forensics.common import Finding, ForensicResult, gray, open_pil
from app.core.forensics.jpeg_tables import estimate_quality, read_tables

TITLE = "JPEG history and ghosts"
HOW_TO_READ = (
    "A JPEG file carries the tables its encoder used. Tables that are exactly libjpeg's at some "
    "quality mean the last save was made by ordinary software (an editor, a messaging app, a web "
    "service, a converter); many cameras use tables of their own. The file is then re-saved at "
    "a range of qualities: a sharp dip in the error at a quality below the last one means the "
    "picture had already been saved as JPEG at about that quality (double compression), i.e. the "
    "file is not the first JPEG made of it. The map (JPEG ghosts) shows, at the quality on the "
    "slider, which blocks were saved at that quality before: a bright patch with straight edges "
    "on a dark picture is a region that came from another JPEG. None of this proves an edit: "
    "re-saving and sharing alone leave the same traces, and cropping or resizing erases them."
)
DEFAULT_GHOST_QUALITY = 70


def run(rgb: np.ndarray, quality: int | None = None, raw: bytes | None = None,
        **_) -> ForensicResult:
    """Table report and double-compression finding from the file; ghost map at `quality`."""
    findings: list[Finding] = []
    last_q = None
    tables = read_tables(open_pil(raw)) if raw else None
    if tables:
        rep = estimate_quality(tables)
        last_q = rep.quality
        if rep.standard:
            msg = (f"Last saved with libjpeg's standard tables at quality {rep.quality} "
                   "(typical of editors, converters and web services; few cameras).")
        else:
            msg = (f"Custom quantization tables, closest to libjpeg quality {rep.quality} "
                   "(typical of cameras and of some editors such as Photoshop).")
        findings.append(Finding("jpeg_tables", msg, data=rep.to_dict()))
    elif raw is not None:
        findings.append(Finding("jpeg_tables", "Not a JPEG file: no quantization tables. Earlier "
                                "JPEG saves can still show as a dip below."))
    g = gray(rgb)
    dips, curve = ghosts.find_dips(g, last_q)
    if dips:
        d = dips[0]
        findings.append(Finding(
            "double_compression",
            f"Saved as JPEG at least twice: an earlier save at about quality {d.quality} left a "
            f"dip in the re-save error ({d.ratio:.2f} of its surroundings). This shows the file "
            "is not the first JPEG of the picture; re-saving alone does this, editing may too.",
            severity="notable",
            data={"quality": d.quality, "ratio": round(d.ratio, 3),
                  "other_dips": [x.quality for x in dips[1:]]},
        ))
    elif curve:
        findings.append(Finding("double_compression",
                                "No trace of an earlier JPEG save at a lower quality found.",
                                data={"quality": None}))
    q = int(quality) if quality else (dips[0].quality if dips else DEFAULT_GHOST_QUALITY)
    heat, scale = ghosts.ghost_map(g, q)
    if curve:  # the figures behind the dip, for whoever wants to plot them
        findings[-1].data["curve"] = {str(k): round(v, 3) for k, v in curve.items()}
    return ForensicResult("jpeg", heat, findings, {"quality": q}, map_scale=scale)
