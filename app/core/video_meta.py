"""Container metadata of a video (creation time, encoder, device) that OpenCV does not expose.

Two small, bounded readers: ISO-BMFF (mp4/mov/m4v: `mvhd` times, `udta`/`ilst` tags, Apple
`keys`, track handler names) and Matroska/WebM (Segment Info: date, muxing and writing app).
They seek from box to box and read only the small metadata boxes, never the media data, with
limits on depth, box count and bytes read, so a hostile file cannot make them loop or eat memory.
"""

from __future__ import annotations

import struct
from datetime import UTC, datetime, timedelta
from typing import BinaryIO

MAX_META_BOX = 4 * 1024 * 1024  # a moov/udta we read whole; real ones are kilobytes
MAX_BOXES = 4000
MAX_DEPTH = 8
MAX_VALUE_CHARS = 200

_MP4_EPOCH = datetime(1904, 1, 1, tzinfo=UTC)
_MKV_EPOCH = datetime(2001, 1, 1, tzinfo=UTC)
_CONTAINERS = {b"moov", b"trak", b"mdia", b"udta", b"ilst", b"minf"}
# iTunes-style / QuickTime user-data tags worth showing (the (c) sign is byte 0xA9).
_TAGS = {
    b"\xa9too": "encoder", b"\xa9swr": "software", b"\xa9enc": "encoder", b"\xa9day": "date",
    b"\xa9mak": "make", b"\xa9mod": "model", b"\xa9xyz": "location", b"\xa9nam": "title",
    b"\xa9cmt": "comment", b"\xa9des": "description",
}
_APPLE_KEYS = {
    "com.apple.quicktime.make": "make", "com.apple.quicktime.model": "model",
    "com.apple.quicktime.software": "software", "com.apple.quicktime.creationdate": "date",
    "com.apple.quicktime.location.iso6709": "location", "com.android.version": "android_version",
    "com.android.manufacturer": "make", "com.android.model": "model",
}


def read_container_metadata(path: str) -> dict:
    """{'container', 'creation_time', 'encoder', 'handlers', ...} as plain strings; {} when the
    container is neither ISO-BMFF nor Matroska, and never raises for a damaged file."""
    from app.core.errors import InspectorError
    from app.core.files import open_regular

    try:
        # open_regular: never blocks, even if the path became a pipe since it was checked
        with open_regular(path) as fh:
            head = fh.read(12)
            if len(head) >= 8 and head[4:8] in (b"ftyp", b"moov", b"mdat", b"wide", b"free"):
                return _Mp4Reader(fh).read()
            if head[:4] == b"\x1a\x45\xdf\xa3":
                return _read_matroska(fh)
    except (OSError, ValueError, struct.error, OverflowError, InspectorError):
        return {}
    return {}


def _clip(text: str) -> str:
    text = "".join(c for c in text if c.isprintable()).strip()
    return text[:MAX_VALUE_CHARS]


class _Mp4Reader:
    def __init__(self, fh: BinaryIO) -> None:
        self.fh = fh
        self.boxes = 0
        self.out: dict = {"container": "ISO-BMFF (MP4/QuickTime)"}
        self.handlers: list[str] = []
        self.track_types: list[str] = []  # 'vide', 'soun', ...: what each track holds
        self.keys: list[str] = []

    def read(self) -> dict:
        fh = self.fh
        fh.seek(0, 2)
        end = fh.tell()
        pos = 0
        while pos + 8 <= end and self.boxes < MAX_BOXES:
            fh.seek(pos)
            kind, size, header = self._header(fh.read(16), end - pos)
            if size <= 0:
                break
            if kind == b"ftyp":
                fh.seek(pos + header)
                self._ftyp(fh.read(min(size - header, 256)))
            elif kind == b"moov" and size <= MAX_META_BOX:
                fh.seek(pos + header)
                self._walk(fh.read(size - header), 1)
            pos += size
        if self.handlers:
            self.out["handlers"] = ", ".join(dict.fromkeys(self.handlers))
        if self.track_types:
            self.out["track_types"] = ", ".join(dict.fromkeys(self.track_types))
        return {k: v for k, v in self.out.items() if v not in (None, "")}

    def _header(self, raw: bytes, room: int) -> tuple[bytes, int, int]:
        self.boxes += 1
        if len(raw) < 8:
            return b"", 0, 8
        size, kind = struct.unpack(">I4s", raw[:8])
        header = 8
        if size == 1 and len(raw) >= 16:
            size, header = struct.unpack(">Q", raw[8:16])[0], 16
        elif size == 0:
            size = room  # box runs to the end of the file
        if size < header or size > room:
            return kind, 0, header  # damaged: stop rather than guess
        return kind, size, header

    def _ftyp(self, body: bytes) -> None:
        if len(body) >= 8:
            self.out["major_brand"] = _clip(body[:4].decode("latin-1"))
            brands = [_clip(body[i:i + 4].decode("latin-1")) for i in range(8, len(body) - 3, 4)]
            self.out["compatible_brands"] = ", ".join(b for b in brands if b)

    def _walk(self, data: bytes, depth: int) -> None:
        pos = 0
        while pos + 8 <= len(data) and self.boxes < MAX_BOXES and depth <= MAX_DEPTH:
            kind, size, header = self._header(data[pos:pos + 16], len(data) - pos)
            if size <= 0:
                return
            body = data[pos + header:pos + size]
            if kind in _CONTAINERS:
                self._walk(body, depth + 1)
            elif kind == b"meta":
                # QuickTime 'meta' has no version/flags; ISO 'meta' (a full box) does.
                self._walk(body if body[4:8] == b"hdlr" else body[4:], depth + 1)
            elif kind == b"mvhd":
                self._mvhd(body)
            elif kind == b"hdlr":
                self._hdlr(body)
            elif kind == b"keys":
                self._keys(body)
            elif kind in _TAGS:
                self._tag(_TAGS[kind], body)
            elif len(kind) == 4 and kind[:1] == b"\0" and self.keys:
                # ilst entries after a 'keys' box are numbered 1..n (their 4 bytes = index).
                idx = struct.unpack(">I", kind)[0]
                if 1 <= idx <= len(self.keys) and self.keys[idx - 1] in _APPLE_KEYS:
                    self._tag(_APPLE_KEYS[self.keys[idx - 1]], body)
            pos += size

    def _mvhd(self, body: bytes) -> None:
        if not body:
            return
        if body[0] == 1 and len(body) >= 32:
            created, modified, scale, duration = struct.unpack(">QQIQ", body[4:32])
        elif len(body) >= 20:
            created, modified, scale, duration = struct.unpack(">IIII", body[4:20])
        else:
            return
        self.out["creation_time"] = _mp4_time(created)
        self.out["modification_time"] = _mp4_time(modified)
        if scale:
            self.out["container_duration_s"] = round(duration / scale, 3)

    def _hdlr(self, body: bytes) -> None:
        # version/flags(4) pre_defined(4) handler_type(4) reserved(12) name
        kind = body[8:12]
        if kind in (b"vide", b"soun"):
            self.track_types.append(kind.decode("ascii"))
        name = body[24:].split(b"\0", 1)[0]
        if name[:1] and name[0] == len(name) - 1:  # QuickTime: a Pascal string
            name = name[1:]
        text = _clip(name.decode("utf-8", "replace"))
        if text:
            self.handlers.append(text)

    def _keys(self, body: bytes) -> None:
        if len(body) < 8:
            return
        count = min(struct.unpack(">I", body[4:8])[0], 256)
        pos = 8
        for _ in range(count):
            if pos + 8 > len(body):
                break
            size = struct.unpack(">I", body[pos:pos + 4])[0]
            if size < 8:
                break
            self.keys.append(body[pos + 8:pos + size].decode("utf-8", "replace"))
            pos += size

    def _tag(self, name: str, body: bytes) -> None:
        value = None
        if body[4:8] == b"data" and len(body) >= 16:  # iTunes style: a 'data' child box
            size = struct.unpack(">I", body[:4])[0]
            value = body[16:max(16, min(size, len(body)))].decode("utf-8", "replace")
        elif len(body) >= 4:  # QuickTime style: 16-bit length, 16-bit language, text
            n = struct.unpack(">H", body[:2])[0]
            value = body[4:4 + n].decode("utf-8", "replace")
        if value and _clip(value):
            self.out.setdefault(name, _clip(value))


def _mp4_time(seconds: int) -> str | None:
    if not seconds:
        return None  # 0 = not set (many encoders leave it so)
    try:
        return (_MP4_EPOCH + timedelta(seconds=int(seconds))).isoformat(timespec="seconds")
    except OverflowError:
        return None


# -- Matroska / WebM -------------------------------------------------------------------------------

_EBML_SEGMENT, _EBML_INFO = 0x18538067, 0x1549A966
_MKV_FIELDS = {0x4D80: "muxing_app", 0x5741: "encoder", 0x7BA9: "title"}
_MKV_DATE = 0x4461
_MKV_SCAN = 1 << 20  # Info sits near the start; look no further than this


def _read_matroska(fh: BinaryIO) -> dict:
    fh.seek(0)
    data = fh.read(_MKV_SCAN)
    out: dict = {"container": "Matroska/WebM"}
    pos, boxes = 0, 0
    doc = data.find(b"\x42\x82")  # DocType inside the EBML header
    if 0 <= doc < 64:
        size, n = _vint(data, doc + 2)
        if size is not None and size < 32:
            out["doc_type"] = _clip(data[doc + 2 + n:doc + 2 + n + size].decode("latin-1"))
    while pos < len(data) and boxes < MAX_BOXES:
        boxes += 1
        ident, n_id = _ebml_id(data, pos)
        size, n_size = _vint(data, pos + n_id)
        if ident is None or size is None:
            break
        body = pos + n_id + n_size
        if ident == _EBML_SEGMENT:
            pos = body  # descend: Segment is huge, its children come next
            continue
        if ident == _EBML_INFO:
            _mkv_info(data[body:body + size], out)
            break
        pos = body + size
    return {k: v for k, v in out.items() if v}


def _mkv_info(info: bytes, out: dict) -> None:
    pos = 0
    while pos < len(info):
        ident, n_id = _ebml_id(info, pos)
        size, n_size = _vint(info, pos + n_id)
        if ident is None or size is None:
            return
        value = info[pos + n_id + n_size:pos + n_id + n_size + size]
        if ident in _MKV_FIELDS:
            out[_MKV_FIELDS[ident]] = _clip(value.decode("utf-8", "replace"))
        elif ident == _MKV_DATE and size == 8:
            ns = struct.unpack(">q", value)[0]
            out["creation_time"] = (_MKV_EPOCH + timedelta(microseconds=ns // 1000)).isoformat(
                timespec="seconds")
        pos += n_id + n_size + size


def _ebml_id(data: bytes, pos: int) -> tuple[int | None, int]:
    if pos >= len(data):
        return None, 0
    first = data[pos]
    length = next((i + 1 for i in range(4) if first & (0x80 >> i)), 0)
    if not length or pos + length > len(data):
        return None, 0
    return int.from_bytes(data[pos:pos + length], "big"), length


def _vint(data: bytes, pos: int) -> tuple[int | None, int]:
    if pos >= len(data):
        return None, 0
    first = data[pos]
    length = next((i + 1 for i in range(8) if first & (0x80 >> i)), 0)
    if not length or pos + length > len(data):
        return None, 0
    value = first & (0xFF >> length)
    for b in data[pos + 1:pos + length]:
        value = (value << 8) | b
    if value == (1 << (7 * length)) - 1:  # "unknown size" (live streams): treat as to the end
        value = len(data)
    return value, length
