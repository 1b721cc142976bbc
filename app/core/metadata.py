"""Provenance and metadata from a file's bytes: EXIF/XMP/IPTC, AI-generator traces, C2PA.

Every finding says in plain words what it means and what it does not prove: metadata is easy to
strip and easy to forge, so its absence proves nothing and its presence is a claim, not evidence.
Cheap by design (headers only, no pixel decode); C2PA is read only when its marker is present.
"""

from __future__ import annotations

import io
import re
import struct
import zlib
from dataclasses import dataclass

import numpy as np
from PIL import ExifTags, Image, IptcImagePlugin

from app.core.results import Severity

CAMERA, TIME, SOFTWARE, LOCATION, THUMBNAIL = "camera", "time", "software", "location", "thumbnail"
C2PA, GENERATOR, AUTHOR, GENERAL = "c2pa", "generator", "author", "general"

MAX_TEXT = 400  # characters of any value shown (prompts can be pages long)
THUMB_MIN_CORRELATION = 0.6  # below this the EXIF thumbnail shows another picture
AI_SOURCE_TYPES = {"trainedalgorithmicmedia", "compositewithtrainedalgorithmicmedia",
                   "algorithmicmedia", "compositesynthetic"}
EASY_FORGED = "Metadata is easy to edit or strip, so this is a claim, not proof."
ABSENCE = "Absence proves nothing: most apps and websites strip metadata when saving or sharing."

# Names in metadata that point to an AI image generator (lower-case regex, display name).
GENERATORS = [
    (r"midjourney", "Midjourney"), (r"dall[\-·\s]e\b|\bdalle[\s-]?[23]\b", "DALL-E"),
    (r"openai|chatgpt", "OpenAI"), (r"adobe firefly", "Adobe Firefly"),
    (r"stable[\s_-]?diffusion|sdxl|stability\.?ai", "Stable Diffusion"),
    (r"dreamstudio", "DreamStudio"), (r"comfyui", "ComfyUI"), (r"automatic1111|\bforge\b", "A1111"),
    (r"novelai", "NovelAI"), (r"invokeai", "InvokeAI"), (r"leonardo\.?ai", "Leonardo.Ai"),
    (r"ideogram", "Ideogram"), (r"google imagen|\bimagen [234]\b|imagefx", "Google Imagen"),
    (r"nightcafe", "NightCafe"),
    (r"craiyon", "Craiyon"), (r"bing image creator|designer\.microsoft", "Microsoft Designer"),
    (r"\bflux(\.1)?\b.*(dev|schnell|pro)|black forest labs", "FLUX"), (r"fooocus", "Fooocus"),
    (r"runway\s?ml|\brunway gen", "Runway"), (r"playground\s?ai", "Playground AI"),
]
FACE_APPS = ["faceapp", "facetune", "meitu", "beautyplus", "remini", "lensa", "youcam", "reface",
             "b612", "perfect365", "airbrush"]
EDITORS = ["photoshop", "lightroom", "gimp", "snapseed", "picsart", "pixelmator", "affinity",
           "canva", "luminar", "paint.net", "krita", "photopea", "fotor", "photodirector",
           "capture one", "darktable", "rawtherapee", "photoscape", "vsco", "picasa"]
_GEN_RE = [(re.compile(p, re.I), name) for p, name in GENERATORS]
_A1111 = re.compile(r"Steps: \d+, Sampler: ", re.I)
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
class _Meta:
    fmt: str | None = None
    exif: Image.Exif | None = None
    tiff: bytes | None = None  # raw EXIF (TIFF structure), for the embedded thumbnail
    xmp: dict[str, list[str]] | None = None
    texts: dict[str, str] | None = None  # PNG text chunks
    iptc: dict | None = None
    c2pa_marker: bool = False


def for_image(image, *, c2pa: bool = True) -> list[Finding]:
    """Findings for a LoadedImage: its kept bytes (load_image(keep_bytes=True)) or its file."""
    data = image.raw
    if data is None and image.path:
        try:
            with open(image.path, "rb") as fh:
                data = fh.read()
        except OSError:
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
    meta = _read(data)
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


# -- reading -------------------------------------------------------------------------------------

def _read(data: bytes) -> _Meta:
    meta = _Meta()
    try:
        im = Image.open(io.BytesIO(data))  # header only: no pixel decode
    except Exception:  # not an image the loader reads: nothing to say
        return meta
    meta.fmt = im.format
    xmp = im.info.get("xmp") or im.info.get("XML:com.adobe.xmp")
    raw = im.info.get("exif")
    if im.format == "PNG":  # Pillow's PNG getexif() decodes every pixel: walk the chunks instead
        meta.texts, meta.c2pa_marker, raw = _png_chunks(data)
        xmp = xmp or meta.texts.pop("XML:com.adobe.xmp", None)
    elif im.format == "JPEG":
        meta.c2pa_marker = any(n == "APP11" and b"c2pa" in p for n, p in im.applist)
    else:
        meta.c2pa_marker = b"jumd" in data and b"c2pa" in data
        if not xmp:
            xmp = _find_xmp(data)
    try:
        if isinstance(raw, bytes):
            meta.tiff = raw[6:] if raw.startswith(b"Exif\x00\x00") else raw
        meta.exif = im.getexif() if im.format != "PNG" else _exif_from(meta.tiff)
    except Exception:  # damaged EXIF: report what else there is
        meta.exif = None
    if isinstance(xmp, bytes):
        xmp = xmp.decode("utf-8", "replace")
    meta.xmp = parse_xmp(xmp) if xmp else None
    try:
        meta.iptc = IptcImagePlugin.getiptcinfo(im) or None
    except Exception:
        meta.iptc = None
    return meta


def _exif_from(tiff: bytes | None) -> Image.Exif | None:
    if not tiff:
        return None
    exif = Image.Exif()
    exif.load(b"Exif\x00\x00" + tiff)
    return exif


def _png_chunks(data: bytes) -> tuple[dict[str, str], bool, bytes | None]:
    """Text chunks (tEXt/zTXt/iTXt, anywhere in the file), whether a C2PA chunk exists, eXIf."""
    texts: dict[str, str] = {}
    c2pa_marker, pos, exif = False, 8, None
    while pos + 8 <= len(data):
        length, ctype = struct.unpack(">I4s", data[pos:pos + 8])
        start, pos = pos + 8, pos + 12 + length
        if ctype not in (b"tEXt", b"zTXt", b"iTXt", b"caBX", b"eXIf", b"IEND"):
            continue  # pixel data: skipped, not copied
        body = data[start:start + length]
        try:
            if ctype == b"tEXt":
                key, _, val = body.partition(b"\x00")
                texts[key.decode("latin-1")] = val.decode("latin-1")
            elif ctype == b"zTXt":
                key, _, val = body.partition(b"\x00")
                texts[key.decode("latin-1")] = _inflate(val[1:]).decode("latin-1")
            elif ctype == b"iTXt":
                key, _, rest = body.partition(b"\x00")
                compressed, rest = rest[0], rest[2:]
                _lang, _, rest = rest.partition(b"\x00")
                _tkey, _, val = rest.partition(b"\x00")
                texts[key.decode("latin-1")] = (_inflate(val) if compressed else val).decode(
                    "utf-8", "replace")
            elif ctype == b"caBX":
                c2pa_marker = True
            elif ctype == b"eXIf":
                exif = body
            elif ctype == b"IEND":
                break
        except (IndexError, zlib.error, ValueError):
            continue  # one damaged chunk must not hide the others
    return texts, c2pa_marker, exif


def _inflate(blob: bytes, limit: int = 4 << 20) -> bytes:
    d = zlib.decompressobj()
    return d.decompress(blob, limit)  # capped: a zip bomb in a text chunk stays small


def _find_xmp(data: bytes) -> str | None:
    start = data.find(b"<x:xmpmeta")
    end = data.find(b"</x:xmpmeta>", start)
    if start < 0 or end < 0:
        return None
    return data[start:end + 12].decode("utf-8", "replace")


def parse_xmp(text: str) -> dict[str, list[str]]:
    """XMP as {local name (lower-case): [values]}; namespaces ignored, tolerant of bad XML."""
    import xml.etree.ElementTree as ET

    text = text[:2_000_000]
    out: dict[str, list[str]] = {}

    def add(name: str, value: str | None) -> None:
        if value and value.strip():
            out.setdefault(name.rsplit("}", 1)[-1].lower(), []).append(value.strip())

    start = text.find("<x:xmpmeta")
    try:
        root = ET.fromstring(text[start:] if start >= 0 else text)
    except ET.ParseError:
        for name, value in re.findall(r"\w+:(\w+)=\"([^\"]*)\"", text):
            add(name, value)
        for name, value in re.findall(r"<\w+:(\w+)>([^<]+)</", text):
            add(name, value)
        return out
    parents = {child: parent for parent in root.iter() for child in parent}
    for el in root.iter():
        for key, value in el.attrib.items():
            add(key, value)
        if len(el) == 0 and el.text:
            tag = el.tag
            if tag.endswith("}li"):  # rdf:Seq/Bag/Alt item: name it after the property
                p = parents.get(el)
                p = parents.get(p) if p is not None else None
                tag = p.tag if p is not None else tag
            add(tag, el.text)
    return out


# -- findings from each source -------------------------------------------------------------------

def _clean(value, limit: int = MAX_TEXT) -> str:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    text = _CTRL.sub("", str(value)).strip()
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _exif_findings(meta: _Meta, out: list[Finding]) -> None:
    exif = meta.exif
    if not exif:
        return
    sub = _safe_ifd(exif, 0x8769)
    make, model = _clean(exif.get(0x010F, "")), _clean(exif.get(0x0110, ""))
    if make or model:
        camera = model if make and model.lower().startswith(make.lower().split()[0]) else \
            f"{make} {model}".strip()
        out.append(Finding(CAMERA, "Camera (claimed)", camera,
                           "The file says it was made with this camera or phone. Any software "
                           "can write this; it does not prove the picture is an unedited photo."))
    taken = _clean(sub.get(0x9003, "") or sub.get(0x9004, ""))
    if taken:
        offset = _clean(sub.get(0x9011, ""))
        out.append(Finding(TIME, "Taken (camera clock)", f"{taken} {offset}".strip(),
                           "The capture time as the device's clock had it; clocks can be wrong "
                           f"and the value is easy to change. {EASY_FORGED}"))
    modified = _clean(exif.get(0x0132, ""))
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
            _software(_clean(exif.get(tag)), label, out)
    for tag, label in ((0x013B, "Artist"), (0x8298, "Copyright")):
        if exif.get(tag):
            out.append(Finding(AUTHOR, f"{label} (claimed)", _clean(exif.get(tag)),
                               "Who the file says made or owns it. " + EASY_FORGED))
    gps = _safe_ifd(exif, 0x8825)
    if any(k in gps for k in (1, 2, 3, 4)):
        out.append(Finding(LOCATION, "GPS location", "present (coordinates not shown here)",
                           "The file holds a location, which can help check where it was taken "
                           "and is private information. Locations can be added or edited "
                           "afterwards; treat it as a lead to verify.", Severity.NOTABLE))
    for text in (_user_comment(sub.get(0x9286)), _clean(exif.get(0x010E, ""))):
        if text and _A1111.search(text):
            out.append(_sd_params("EXIF comment", text))


def _safe_ifd(exif: Image.Exif, tag: int) -> dict:
    try:
        return exif.get_ifd(tag) or {}
    except Exception:
        return {}


def _user_comment(raw) -> str:
    if not isinstance(raw, bytes):
        return _clean(raw or "")
    head, body = raw[:8], raw[8:]
    if head.startswith(b"UNICODE"):
        enc = "utf-16-be" if body[:1] == b"\x00" else "utf-16-le"
        return _clean(body.decode(enc, "replace"), 4000)
    return _clean(body.decode("latin-1"), 4000)


def _xmp_findings(meta: _Meta, out: list[Finding]) -> None:
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
        _software(_clean(tool), "XMP CreatorTool/History", out)
    if not meta.exif or not meta.exif.get(0x0110):
        model = " ".join(x.get("make", [])[:1] + x.get("model", [])[:1])
        if model:
            out.append(Finding(CAMERA, "Camera (claimed, XMP)", _clean(model),
                               "The file says it was made with this camera. " + EASY_FORGED))
    for key, label in (("datetimeoriginal", "Taken (XMP)"), ("createdate", "Created (XMP)"),
                       ("modifydate", "Modified (XMP)")):
        if x.get(key):
            out.append(Finding(TIME, label, _clean(x[key][0]), EASY_FORGED))
    if x.get("creator"):
        out.append(Finding(AUTHOR, "Creator (claimed, XMP)", _clean(", ".join(x["creator"][:3])),
                           "Who the file says made it. " + EASY_FORGED))


def _iptc_findings(meta: _Meta, out: list[Finding]) -> None:
    iptc = meta.iptc
    if not iptc:
        return

    def get(key):
        v = iptc.get(key)
        return _clean(b", ".join(v) if isinstance(v, list) else v) if v else ""

    if get((2, 65)):
        _software(f"{get((2, 65))} {get((2, 70))}".strip(), "IPTC OriginatingProgram", out)
    for key, label in (((2, 80), "By-line (claimed, IPTC)"), ((2, 110), "Credit (IPTC)"),
                       ((2, 115), "Source (IPTC)")):
        if get(key):
            out.append(Finding(AUTHOR, label, get(key), EASY_FORGED))
    if get((2, 55)):
        out.append(Finding(TIME, "Date created (IPTC)", get((2, 55)), EASY_FORGED))


def _text_findings(meta: _Meta, out: list[Finding]) -> None:
    texts = meta.texts or {}
    low = {k.lower(): v for k, v in texts.items()}
    if "parameters" in low:
        out.append(_sd_params("PNG text 'parameters'", low["parameters"]))
    comfy = [k for k in ("prompt", "workflow") if low.get(k, "").lstrip().startswith(("{", "["))]
    if comfy:
        out.append(Finding(GENERATOR, "ComfyUI workflow", _clean(low[comfy[0]], 200),
                           "A ComfyUI node graph is embedded: the image was made or processed in "
                           "an AI image pipeline (not necessarily the whole picture). "
                           + _GEN_CAVEAT, Severity.WARNING))
    for key, name in (("invokeai_metadata", "InvokeAI"), ("sd-metadata", "InvokeAI"),
                      ("dream", "InvokeAI"), ("fooocus_scheme", "Fooocus")):
        if key in low:
            out.append(Finding(GENERATOR, f"{name} generation record", _clean(low[key], 200),
                               f"{name} (an AI image generator) stored its settings here. "
                               + _GEN_CAVEAT, Severity.WARNING))
    if "job id:" in low.get("description", "").lower():
        out.append(Finding(GENERATOR, "Midjourney job record", _clean(low["description"], 200),
                           "A prompt with a 'Job ID', as Midjourney writes into images it "
                           "generates. " + _GEN_CAVEAT, Severity.WARNING))
    for key in ("software", "source", "comment", "description", "author", "title"):
        if key in low:
            _software(_clean(low[key], 200), f"PNG text '{key}'", out, only_known=True)


_GEN_CAVEAT = ("A strong sign of AI generation, but such text can be copied into any file and "
               "is lost on re-save, so its absence proves nothing.")


def _sd_params(where: str, text: str) -> Finding:
    return Finding(GENERATOR, "Stable Diffusion generation parameters", _clean(text),
                   f"Found in {where}: prompt and sampler settings that Stable Diffusion tools "
                   "(AUTOMATIC1111, Forge, Fooocus...) write into images they generate. "
                   + _GEN_CAVEAT, Severity.WARNING)


def _software(name: str, where: str, out: list[Finding], only_known: bool = False) -> None:
    """Classify one software name: AI generator, face-altering app, photo editor or other."""
    if not name:
        return
    low = name.lower()
    gens = [g for rx, g in _GEN_RE if rx.search(low)]
    if gens:
        out.append(Finding(GENERATOR, f"AI generator named ({where})", name,
                           f"Names {', '.join(gens)}, a tool that generates or alters images with "
                           "AI. " + _GEN_CAVEAT, Severity.WARNING))
    elif any(re.search(rf"\b{re.escape(a)}\b", low) for a in FACE_APPS):
        out.append(Finding(SOFTWARE, f"Face-editing app ({where})", name,
                           "Written by an app made to retouch or transform faces. It shows the "
                           "app saved the file, not what (if anything) it changed. " + EASY_FORGED,
                           Severity.WARNING))
    elif any(e in low for e in EDITORS):
        out.append(Finding(SOFTWARE, f"Photo editor ({where})", name,
                           "Saved by image-editing software. Editing (crop, colour, resize) is "
                           "normal for published photos; this says nothing about what changed. "
                           + EASY_FORGED, Severity.NOTABLE))
    elif not only_known:
        out.append(Finding(SOFTWARE, f"Software ({where})", name,
                           "The program or device firmware that wrote the file. " + EASY_FORGED))


# -- EXIF thumbnail ------------------------------------------------------------------------------

_TRANSPOSE = {2: [Image.Transpose.FLIP_LEFT_RIGHT], 3: [Image.Transpose.ROTATE_180],
              4: [Image.Transpose.FLIP_TOP_BOTTOM], 5: [Image.Transpose.TRANSPOSE],
              6: [Image.Transpose.ROTATE_270], 7: [Image.Transpose.TRANSVERSE],
              8: [Image.Transpose.ROTATE_90]}


def _thumbnail_findings(meta: _Meta, data: bytes, rgb, out: list[Finding]) -> None:
    thumb = _exif_thumbnail(meta)
    if thumb is None:
        return
    orientation = meta.exif.get(0x0112, 1) if meta.exif else 1
    for op in _TRANSPOSE.get(orientation, []):
        thumb = thumb.transpose(op)
    if rgb is None:
        try:
            im = Image.open(io.BytesIO(data))
            im.draft("RGB", (thumb.width * 2, thumb.height * 2))  # JPEG: cheap reduced decode
            from PIL import ImageOps

            rgb = np.asarray(ImageOps.exif_transpose(im.convert("RGB")))
        except Exception:
            return
    score = thumbnail_similarity(np.asarray(thumb.convert("L")), rgb)
    if score >= THUMB_MIN_CORRELATION:
        out.append(Finding(THUMBNAIL, "EXIF thumbnail", f"matches the image ({score:.2f})",
                           "The small preview stored inside the file shows the same picture."))
    else:
        out.append(Finding(
            THUMBNAIL, "EXIF thumbnail", f"does NOT match the image (similarity {score:.2f})",
            "The preview stored inside the file shows a different picture or framing: the image "
            "was probably changed (edited, cropped or replaced) after the preview was written, "
            "by software that left the old preview in place. A reason to look closer, not "
            "proof of manipulation: some apps write their own previews.", Severity.WARNING))


def _exif_thumbnail(meta: _Meta) -> Image.Image | None:
    if not meta.exif or not meta.tiff:
        return None
    ifd1 = _safe_ifd(meta.exif, ExifTags.IFD.IFD1)
    offset, length = ifd1.get(0x0201), ifd1.get(0x0202)
    if not offset or not length or offset + length > len(meta.tiff):
        return None
    try:
        thumb = Image.open(io.BytesIO(meta.tiff[offset:offset + length]))
        thumb.load()
        return thumb
    except Exception:
        return None


def thumbnail_similarity(thumb_gray: np.ndarray, rgb: np.ndarray) -> float:
    """Correlation (-1..1) of a thumbnail with the main image; letterbox bars trimmed."""
    import cv2

    t = thumb_gray.astype(np.float32)
    rows, cols = np.where(t.mean(1) > 8)[0], np.where(t.mean(0) > 8)[0]
    if len(rows) < 4 or len(cols) < 4:
        return 0.0
    t = t[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    h, w = rgb.shape[:2]
    step = max(1, min(h, w) // 256)  # cheap pre-shrink of large photos before the area resize
    rgb = rgb[::step, ::step]
    if abs((t.shape[1] / t.shape[0]) / (w / h) - 1.0) > 0.12:
        return 0.0  # another shape: the main image was cropped after the thumbnail was made
    size = (32, max(4, round(32 * t.shape[0] / t.shape[1])))
    a = cv2.resize(t, size, interpolation=cv2.INTER_AREA)
    b = cv2.resize(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), size, interpolation=cv2.INTER_AREA)
    b = b.astype(np.float32)
    if min(a.std(), b.std()) < 2.0:  # a flat picture has no pattern to correlate: compare tone
        return 1.0 if max(a.std(), b.std()) < 2.0 and abs(a.mean() - b.mean()) < 20 else 0.0
    a, b = a - a.mean(), b - b.mean()
    denom = float(np.sqrt((a * a).sum() * (b * b).sum()))
    return float((a * b).sum() / denom) if denom > 1e-6 else 0.0


# -- C2PA Content Credentials --------------------------------------------------------------------

def _dedupe(findings: list[Finding]) -> list[Finding]:
    seen, out = set(), []
    for f in findings:
        key = (f.category, f.label, f.value)
        if key not in seen:
            seen.add(key)
            out.append(f)
    return out
