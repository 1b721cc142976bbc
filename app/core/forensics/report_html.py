"""The case report's forensic section: the chosen filters' maps, findings and "how to read this".

Rendered with the report's own escaping and image embedding (app.core.report); everything that
comes from the file goes through `esc`.
"""

from __future__ import annotations

from collections.abc import Iterable

import cv2
import numpy as np

REPORT_MAP_SIDE = 480  # px: large enough to read a map, small enough for a PDF page
INTRO = (
    "Whole-picture filters, run when this report was made. Only copy-move and the EXIF thumbnail "
    "comparison state that a picture was edited, with a confidence measured on synthetic test "
    "sets; the other maps are evidence for a trained eye, not verdicts. How to read each map: "
    "\u201cReading the forensic filters\u201d, near the end of this report."
)


def forensics_html(result, rgb: np.ndarray | None, names: Iterable[str],
                   flags: list | None = None) -> str:
    """HTML for one result: each filter's findings, its map and the text that explains it;
    the findings that say "edited" are also appended to `flags` (for the report's summary)."""
    from app.core.forensics import FILTERS, run_filter
    from app.core.report import esc

    names = [n for n in dict.fromkeys(names) if n in FILTERS]
    if not names:
        return ""
    image, note = _image(result, rgb)
    parts = ["<h3>Forensic filters</h3>", f"<p class='muted'>{esc(INTRO)}</p>"]
    if note:
        parts.append(f"<p class='muted'>{esc(note)}</p>")
    if image is None:
        return "".join(parts)
    for name in names:
        spec = FILTERS[name]
        try:
            fr = run_filter(name, image)
        except Exception as exc:  # one filter's bug must not lose the whole report
            parts.append(f"<h4>{esc(spec.title)}</h4><p>Could not be computed: "
                         f"{esc(type(exc).__name__)}: {esc(exc)}</p>")
            continue
        parts.append(_filter_html(spec, fr))
        if flags is not None:
            flags.extend(f"{spec.title}: {f.confidence:.0%}" for f in fr.findings if f.edited)
    return "\n".join(parts)


def _filter_html(spec, fr) -> str:
    from app.core.report import data_uri, esc

    params = ", ".join(f"{k} {v:g}" if isinstance(v, int | float) else f"{k} {v}"
                       for k, v in fr.params.items())
    head = f"<h4>{esc(spec.title)}{esc(f' ({params})' if params else '')}</h4>"
    items = "".join(
        f"<li>{'<b>EDITED? </b>' if f.edited else ''}{esc(f.message)}</li>" for f in fr.findings)
    pics = []
    # A copy-move map with no clone is the picture dimmed: a page of nothing, left out.
    empty = spec.name == "copymove" and not any(f.edited for f in fr.findings)
    for rgb, alt in ((None if empty else fr.map_rgb(), f"{spec.title} map"),
                     (fr.extra.get("preview"), "EXIF preview stored in the file")):
        if rgb is not None:
            small = _fit(rgb, REPORT_MAP_SIDE if alt.endswith("map") else 200)
            pics.append(f"<td><img src='{data_uri(small)}' width='{small.shape[1]}' "
                        f"height='{small.shape[0]}' alt='{esc(alt)}'><br>"
                        f"<span class='muted'>{esc(alt)}</span></td>")
    table = f"<table><tr>{''.join(pics)}</tr></table>" if pics else ""
    # How to read it is printed once, at the end of the report (reading_html), not per image.
    return f"{head}<ul>{items}</ul>{table}"


def reading_html(names: Iterable[str]) -> str:
    """Each chosen filter's "how to read this", once for the whole report."""
    from app.core.forensics import FILTERS
    from app.core.report import esc

    specs = [FILTERS[n] for n in dict.fromkeys(names) if n in FILTERS]
    if not specs:
        return ""
    return ("<h2 style='page-break-before: always'>Reading the forensic filters</h2>"
            + "".join(f"<h4>{esc(s.title)}</h4><p>{esc(s.how_to_read)}</p>" for s in specs))


def _fit(rgb: np.ndarray, side: int) -> np.ndarray:
    h, w = rgb.shape[:2]
    s = min(1.0, side / max(h, w))
    if s >= 1.0:
        return np.ascontiguousarray(rgb)
    return cv2.resize(rgb, (max(1, round(w * s)), max(1, round(h * s))),
                      interpolation=cv2.INTER_AREA)


def _image(result, rgb):
    """The file (with its bytes, for the JPEG and EXIF readers) when it is still the analysed
    one; else the pixels the report shows, without file-level findings."""
    from app.core.errors import InspectorError
    from app.core.images import LoadedImage, load_image

    path = getattr(result, "path", None)
    if path:
        try:
            image = load_image(path, keep_bytes=True)
        except InspectorError as exc:
            return None, f"Forensic filters not run: {exc}"
        if result.sha256 and image.sha256 != result.sha256:
            return image, ("The file changed since it was analysed; the filters examined the "
                           "current file.")
        return image, ""
    if rgb is None:
        return None, "Forensic filters not run: no picture."
    return LoadedImage(rgb=np.ascontiguousarray(rgb[..., :3], dtype=np.uint8)), (
        "A picture without a file (pasted): JPEG history and EXIF preview cannot be checked.")
