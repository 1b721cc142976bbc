"""Read a file's metadata headers (EXIF, XMP, IPTC, PNG text chunks, C2PA marker) from its bytes
without decoding pixels; tolerant of damaged data (a damaged part is left out, not fatal)."""

from __future__ import annotations

import io
import re
import struct
import zlib

from PIL import Image, IptcImagePlugin

from app.core.metadata_types import Meta


def read_headers(data: bytes) -> Meta:
    meta = Meta()
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

