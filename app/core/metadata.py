"""Provenance and metadata from a file's bytes: EXIF/XMP/IPTC, AI-generator traces, C2PA.

Every finding says in plain words what it means and what it does not prove: metadata is easy to
strip and easy to forge, so its absence proves nothing and its presence is a claim, not evidence.
Cheap by design: headers only, plus the small EXIF preview, compared with the picture the caller
already decoded (the Forensics thumbnail filter's check, ~15 ms of CPU on 12 MP); C2PA is read
only when its marker is present.
"""

from __future__ import annotations

import io
import re

import numpy as np
from PIL import Image

from app.core.metadata_read import parse_xmp, read_headers  # noqa: F401 - parse_xmp re-exported
from app.core.metadata_software import (  # noqa: F401 - the tables are re-exported
    EDITORS,
    FACE_APPS,
    GEN_CAVEAT,
    GENERATORS,
    classify_software,
)
from app.core.metadata_types import (  # noqa: F401 - re-exported: callers import them from here
    ABSENCE,
    AI_SOURCE_TYPES,
    AUTHOR,
    C2PA,
    CAMERA,
    EASY_FORGED,
    GENERAL,
    GENERATOR,
    LOCATION,
    MAX_TEXT,
    SOFTWARE,
    THUMBNAIL,
    TIME,
    Finding,
    Meta,
    clean,
)
from app.core.results import Severity

_A1111 = re.compile(r"Steps: \d+, Sampler: ", re.I)


def for_image(image, *, c2pa: bool = True) -> list[Finding]:
    """Findings for a LoadedImage: its kept bytes (load_image(keep_bytes=True)) or its file."""
    data = image.raw
    if data is None and image.path:
        from app.core.errors import ImageLoadError
        from app.core.files import read_capped

        try:  # regular files only, through the byte cap: never a pipe or a device
            data = read_capped(image.path)
        except ImageLoadError:
            return []
    if not data:
        return []
    try:
        return extract(data, rgb=image.rgb, c2pa=c2pa)
    except Exception as exc:  # hostile or odd bytes must never cost the user the analysis
        return [Finding(GENERAL, "Metadata", "could not be read",
                        f"The metadata is malformed ({type(exc).__name__}); nothing can be said "
                        "about it. Damaged metadata is common and proves nothing by itself.",
                        Severity.NOTABLE)]


def extract(data: bytes, rgb: np.ndarray | None = None, *, c2pa: bool = True) -> list[Finding]:
    """All findings for one file's bytes. `rgb` (orientation applied) speeds the thumbnail check."""
    meta = read_headers(data)
    out: list[Finding] = []
    _exif_findings(meta, out)
    _xmp_findings(meta, out)
    _iptc_findings(meta, out)
    _text_findings(meta, out)
    _thumbnail_findings(meta, data, rgb, out)
    if not out:
        out.append(Finding(GENERAL, "EXIF / XMP / IPTC metadata", "none found", "The file "
                           "carries no camera, software or author information. " + ABSENCE))
    if c2pa:
        from app.core.provenance_c2pa import c2pa_findings

        out.extend(c2pa_findings(data, meta))
    return _dedupe(out)


def _exif_findings(meta: Meta, out: list[Finding]) -> None:
    exif = meta.exif
    if not exif:
        return
    sub = _safe_ifd(exif, 0x8769)
    make, model = clean(exif.get(0x010F, "")), clean(exif.get(0x0110, ""))
    if make or model:
        camera = model if make and model.lower().startswith(make.lower().split()[0]) else \
            f"{make} {model}".strip()
        out.append(Finding(CAMERA, "Camera (claimed)", camera,
                           "The file says it was made with this camera or phone. Any software "
                           "can write this; it does not prove the picture is an unedited photo."))
    taken = clean(sub.get(0x9003, "") or sub.get(0x9004, ""))
    if taken:
        offset = clean(sub.get(0x9011, ""))
        out.append(Finding(TIME, "Taken (camera clock)", f"{taken} {offset}".strip(),
                           "The capture time as the device's clock had it; clocks can be wrong "
                           f"and the value is easy to change. {EASY_FORGED}"))
    modified = clean(exif.get(0x0132, ""))
    if modified:
        later = bool(taken) and modified[:16] != taken[:16]
        out.append(Finding(
            TIME, "Last saved (file metadata)", modified,
            ("Saved again after it was taken: normal for exported or edited photos, and says "
             "nothing about what changed." if later else "When the file was last written.")
            + " " + EASY_FORGED, Severity.NOTABLE if later else Severity.INFO))
    for tag, label in ((0x0131, "EXIF Software"), (0x000B, "EXIF ProcessingSoftware"),
                       (0x013C, "EXIF HostComputer")):
        if exif.get(tag):
            classify_software(clean(exif.get(tag)), label, out)
    for tag, label in ((0x013B, "Artist"), (0x8298, "Copyright")):
        if exif.get(tag):
            out.append(Finding(AUTHOR, f"{label} (claimed)", clean(exif.get(tag)),
                               "Who the file says made or owns it. " + EASY_FORGED))
    gps = _safe_ifd(exif, 0x8825)
    if any(k in gps for k in (1, 2, 3, 4)):
        out.append(Finding(LOCATION, "GPS location", "present (coordinates not shown here)",
                           "The file holds a location, which can help check where it was taken "
                           "and is private information. Locations can be added or edited "
                           "afterwards; treat it as a lead to verify.", Severity.NOTABLE))
    for text in (_user_comment(sub.get(0x9286)), clean(exif.get(0x010E, ""))):
        if text and _A1111.search(text):
            out.append(_sd_params("EXIF comment", text))


def _safe_ifd(exif: Image.Exif, tag: int) -> dict:
    try:
        return exif.get_ifd(tag) or {}
    except Exception:
        return {}


def _user_comment(raw) -> str:
    if not isinstance(raw, bytes):
        return clean(raw or "")
    head, body = raw[:8], raw[8:]
    if head.startswith(b"UNICODE"):
        enc = "utf-16-be" if body[:1] == b"\x00" else "utf-16-le"
        return clean(body.decode(enc, "replace"), 4000)
    return clean(body.decode("latin-1"), 4000)


def _xmp_findings(meta: Meta, out: list[Finding]) -> None:
    x = meta.xmp
    if not x:
        return
    for dst in x.get("digitalsourcetype", [])[:1]:
        kind = dst.rstrip("/").rsplit("/", 1)[-1]
        ai = kind.lower() in AI_SOURCE_TYPES
        out.append(Finding(
            GENERATOR, "Declared source type (IPTC DigitalSourceType)", kind,
            ("The file declares itself made or altered by an AI/algorithm (AI tools write this). "
             if ai else "How the file says it was made. ")
            + "Such labels are removed by most re-saves and can be added to any file: a label "
            "is a claim; a missing label proves nothing.",
            Severity.WARNING if ai else Severity.INFO))
    for tool in dict.fromkeys(x.get("creatortool", []) + x.get("softwareagent", [])):
        classify_software(clean(tool), "XMP CreatorTool/History", out)
    if not meta.exif or not meta.exif.get(0x0110):
        model = " ".join(x.get("make", [])[:1] + x.get("model", [])[:1])
        if model:
            out.append(Finding(CAMERA, "Camera (claimed, XMP)", clean(model),
                               "The file says it was made with this camera. " + EASY_FORGED))
    for key, label in (("datetimeoriginal", "Taken (XMP)"), ("createdate", "Created (XMP)"),
                       ("modifydate", "Modified (XMP)")):
        if x.get(key):
            out.append(Finding(TIME, label, clean(x[key][0]), EASY_FORGED))
    if x.get("creator"):
        out.append(Finding(AUTHOR, "Creator (claimed, XMP)", clean(", ".join(x["creator"][:3])),
                           "Who the file says made it. " + EASY_FORGED))


def _iptc_findings(meta: Meta, out: list[Finding]) -> None:
    iptc = meta.iptc
    if not iptc:
        return

    def get(key):
        v = iptc.get(key)
        return clean(b", ".join(v) if isinstance(v, list) else v) if v else ""

    if get((2, 65)):
        classify_software(f"{get((2, 65))} {get((2, 70))}".strip(), "IPTC OriginatingProgram", out)
    for key, label in (((2, 80), "By-line (claimed, IPTC)"), ((2, 110), "Credit (IPTC)"),
                       ((2, 115), "Source (IPTC)")):
        if get(key):
            out.append(Finding(AUTHOR, label, get(key), EASY_FORGED))
    if get((2, 55)):
        out.append(Finding(TIME, "Date created (IPTC)", get((2, 55)), EASY_FORGED))


def _text_findings(meta: Meta, out: list[Finding]) -> None:
    texts = meta.texts or {}
    low = {k.lower(): v for k, v in texts.items()}
    if "parameters" in low:
        out.append(_sd_params("PNG text 'parameters'", low["parameters"]))
    comfy = [k for k in ("prompt", "workflow") if low.get(k, "").lstrip().startswith(("{", "["))]
    if comfy:
        out.append(Finding(GENERATOR, "ComfyUI workflow", clean(low[comfy[0]], 200),
                           "A ComfyUI node graph is embedded: the image was made or processed in "
                           "an AI image pipeline (not necessarily the whole picture). "
                           + GEN_CAVEAT, Severity.WARNING))
    for key, name in (("invokeai_metadata", "InvokeAI"), ("sd-metadata", "InvokeAI"),
                      ("dream", "InvokeAI"), ("fooocus_scheme", "Fooocus")):
        if key in low:
            out.append(Finding(GENERATOR, f"{name} generation record", clean(low[key], 200),
                               f"{name} (an AI image generator) stored its settings here. "
                               + GEN_CAVEAT, Severity.WARNING))
    if "job id:" in low.get("description", "").lower():
        out.append(Finding(GENERATOR, "Midjourney job record", clean(low["description"], 200),
                           "A prompt with a 'Job ID', as Midjourney writes into images it "
                           "generates. " + GEN_CAVEAT, Severity.WARNING))
    for key in ("software", "source", "comment", "description", "author", "title"):
        if key in low:
            classify_software(clean(low[key], 200), f"PNG text '{key}'", out, only_known=True)


def _sd_params(where: str, text: str) -> Finding:
    return Finding(GENERATOR, "Stable Diffusion generation parameters", clean(text),
                   f"Found in {where}: prompt and sampler settings that Stable Diffusion tools "
                   "(AUTOMATIC1111, Forge, Fooocus...) write into images they generate. "
                   + GEN_CAVEAT, Severity.WARNING)


# -- EXIF thumbnail ------------------------------------------------------------------------------

def _thumbnail_findings(meta: Meta, data: bytes, rgb, out: list[Finding]) -> None:
    """The EXIF preview against the picture: the forensic filter's comparison and decision
    (app.core.forensics.thumbnail, measured in docs/FORENSICS.md), so both say the same."""
    from app.core.forensics import thumbnail as thumb_check

    try:
        orientation = int(meta.exif.get(0x0112) or 1) if meta.exif else None
    except (TypeError, ValueError):  # a damaged tag: the preview as stored
        orientation = None
    thumb = thumb_check.load_preview(thumb_check.preview_bytes(meta.exif, meta.tiff),
                                     orientation)
    if thumb is None:  # none, damaged or too small to compare: nothing to say
        return
    if rgb is None:
        rgb = _reduced_rgb(data, 4 * max(thumb.shape[:2]))
        if rgb is None:
            return
    v = thumb_check.judge(rgb, thumb)
    if not v.flagged:
        out.append(Finding(THUMBNAIL, "EXIF thumbnail", f"matches the image ({v.figures()})",
                           "The small preview stored inside the file shows the same picture. "
                           "This does not prove the picture is unedited: editors can rewrite "
                           "the preview."))
    else:
        out.append(Finding(
            THUMBNAIL, "EXIF thumbnail", f"does NOT match the image ({v.figures()})",
            "The preview stored inside the file shows a different picture or framing: the image "
            "was probably changed (edited, cropped or replaced) after the preview was written, "
            "by software that left the old preview in place. A reason to look closer, not "
            "proof of manipulation: some apps write their own previews. The Forensics tab's "
            "EXIF thumbnail filter shows where the two differ.", Severity.WARNING))


def _reduced_rgb(data: bytes, side: int) -> np.ndarray | None:
    """The picture, orientation applied, decoded no larger than needed (JPEG: a reduced DCT
    decode at least `side` px each way; the comparison area-averages it down to the preview)."""
    from PIL import ImageOps

    try:
        im = Image.open(io.BytesIO(data))
        im.draft("RGB", (side, side))
        return np.asarray(ImageOps.exif_transpose(im.convert("RGB")))
    except Exception:
        return None


# -- helpers -------------------------------------------------------------------------------------

def _dedupe(findings: list[Finding]) -> list[Finding]:
    seen, out = set(), []
    for f in findings:
        key = (f.category, f.label, f.value)
        if key not in seen:
            seen.add(key)
            out.append(f)
    return out
