"""Container metadata readers (MP4 atoms, Matroska Info) on hand-built and hostile files."""

from __future__ import annotations

import struct
import time
from datetime import datetime
from types import SimpleNamespace

from app.core.video_findings import container_findings
from app.core.video_meta import read_container_metadata


def box(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I4s", 8 + len(body), kind) + body


def mvhd(created: int, scale: int = 1000, duration: int = 12_500) -> bytes:
    return box(b"mvhd", b"\0\0\0\0" + struct.pack(">IIII", created, created, scale, duration)
               + b"\0" * 80)


def itunes(kind: bytes, text: str) -> bytes:
    return box(kind, box(b"data", b"\0\0\0\x01\0\0\0\0" + text.encode()))


def iphone_like() -> bytes:
    """ftyp 'qt  ', a movie header from 2024-03-05 10:20:30 UTC, Apple 'keys' make/model/
    software, a track handler name, then a large mdat after moov."""
    created = int((datetime(2024, 3, 5, 10, 20, 30) - datetime(1904, 1, 1)).total_seconds())
    keys = [b"com.apple.quicktime.make", b"com.apple.quicktime.model",
            b"com.apple.quicktime.software"]
    keys_box = box(b"keys", b"\0\0\0\0" + struct.pack(">I", len(keys)) + b"".join(
        struct.pack(">I4s", 8 + len(k), b"mdta") + k for k in keys))
    ilst = box(b"ilst", b"".join(
        box(struct.pack(">I", i + 1), box(b"data", b"\0\0\0\x01\0\0\0\0" + v))
        for i, v in enumerate([b"Apple", b"iPhone 15", b"17.3.1"])))
    meta = box(b"meta", box(b"hdlr", b"\0" * 8 + b"mdta" + b"\0" * 13) + keys_box + ilst)
    hdlr = box(b"hdlr", b"\0" * 8 + b"vide" + b"\0" * 12 + b"\x10Core Media Video")
    trak = box(b"trak", box(b"mdia", hdlr))
    moov = box(b"moov", mvhd(created) + trak + meta)
    return box(b"ftyp", b"qt  \0\0\0\0qt  ") + moov + box(b"mdat", b"\0" * 5000)


def test_mp4_creation_time_device_and_handler(tmp_path):
    path = tmp_path / "phone.mov"
    path.write_bytes(iphone_like())
    meta = read_container_metadata(str(path))
    assert meta["creation_time"] == "2024-03-05T10:20:30+00:00"
    assert meta["make"] == "Apple" and meta["model"] == "iPhone 15"
    assert meta["software"] == "17.3.1"
    assert meta["handlers"] == "Core Media Video"
    assert meta["major_brand"] == "qt" and meta["container_duration_s"] == 12.5
    info = SimpleNamespace(width=1920, height=1080, fps=30.0, codec="hvc1", duration_s=12.5,
                           container=meta)
    found = {f.label: f for f in container_findings(info)}
    assert found["Recording device"].value == "Apple iPhone 15"
    assert found["Written by"].severity == "info"  # a phone's firmware, not FFmpeg


def test_ffmpeg_encoder_tag_is_notable(tmp_path):
    udta = box(b"udta", box(b"meta", b"\0\0\0\0" + box(b"hdlr", b"\0" * 8 + b"mdir" + b"\0" * 13)
                             + box(b"ilst", itunes(b"\xa9too", "Lavf60.16.100"))))
    path = tmp_path / "re.mp4"
    path.write_bytes(box(b"ftyp", b"isom\0\0\0\0isom") + box(b"moov", mvhd(0) + udta))
    meta = read_container_metadata(str(path))
    assert meta["encoder"] == "Lavf60.16.100" and "creation_time" not in meta
    info = SimpleNamespace(width=640, height=480, fps=25.0, codec="avc1", duration_s=None,
                           container=meta)
    found = {f.label: f for f in container_findings(info)}
    assert found["Written by"].severity == "notable" and "FFmpeg" in found["Written by"].meaning
    assert found["Created (container)"].value == "not recorded"


def test_matroska_info(tmp_path):
    def el(ident: int, body: bytes) -> bytes:
        n = (ident.bit_length() + 7) // 8
        return ident.to_bytes(n, "big") + bytes([0x80 | len(body)]) + body  # 1-byte sizes

    ns = 700_000_000 * 1_000_000_000  # 700 million seconds after 2001-01-01
    info = el(0x4D80, b"Lavf61.1.100") + el(0x5741, b"OBS Studio") + el(
        0x4461, struct.pack(">q", ns))
    header = el(0x1A45DFA3, el(0x4282, b"webm"))
    segment = bytes.fromhex("18538067") + b"\x01\xff\xff\xff\xff\xff\xff\xff" + el(
        0x1549A966, info)
    path = tmp_path / "a.webm"
    path.write_bytes(header + segment)
    meta = read_container_metadata(str(path))
    assert meta["doc_type"] == "webm" and meta["encoder"] == "OBS Studio"
    assert meta["muxing_app"] == "Lavf61.1.100"
    assert meta["creation_time"] == "2023-03-08T20:26:40+00:00"


def test_hostile_boxes_are_bounded(tmp_path):
    """Lying sizes, zero sizes, deep nesting and a huge box list: no exception, no hang."""
    cases = {
        "liar.mp4": box(b"ftyp", b"isom") + struct.pack(">I4s", 0xFFFFFFF0, b"moov") + b"x" * 64,
        "zero.mp4": box(b"ftyp", b"isom") + struct.pack(">I4s", 0, b"moov") + mvhd(5),
        "tiny.mp4": box(b"ftyp", b"isom") + struct.pack(">I4s", 3, b"moov") + b"\0" * 32,
        "many.mp4": box(b"ftyp", b"isom") + box(b"free", b"") * 200_000,
        "deep.mp4": box(b"ftyp", b"isom") + _nested(b"moov", 2000),
        "garbage.mkv": b"\x1a\x45\xdf\xa3" + b"\xff" * 5000,
    }
    for name, data in cases.items():
        path = tmp_path / name
        path.write_bytes(data)
        t0 = time.perf_counter()
        meta = read_container_metadata(str(path))
        assert isinstance(meta, dict)
        assert time.perf_counter() - t0 < 2, name
    assert read_container_metadata(str(tmp_path / "zero.mp4")).get("creation_time")


def _nested(kind: bytes, depth: int) -> bytes:
    data = mvhd(1)
    for _ in range(depth):
        data = box(kind if len(data) < 50 else b"udta", data)
    return data
