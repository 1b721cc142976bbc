"""What a file holds, from its first bytes: a video container, sound only, or neither.

File names lie (a clip saved as `.jpg`, a camcorder's `.MTS`, a phone's `.3gp`), so a file given
by name is routed by its content; folder walks still go by name (reading every file of a big
folder to find its kind would be slow). Only regular files are read, never blocking."""

from __future__ import annotations

import os
import stat

VIDEO, AUDIO = "video", "audio"
HEAD_BYTES = 1024
# ISO-BMFF brands of still images (HEIF/AVIF, JPEG in HEIF, Canon's CR3 raw): not the video path.
_IMAGE_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs", b"mif1",
                 b"mif2", b"msf1", b"avif", b"avis", b"avio", b"avci", b"miaf", b"jpeg", b"crx "}
# Still-image signatures: checked first, so no weaker video test (MPEG-TS sync bytes) can claim
# a picture whose bytes happen to fit it.
_IMAGE_MAGIC = (b"\xff\xd8\xff", b"\x89PNG", b"GIF8", b"BM", b"II*\x00", b"MM\x00*",
                b"\x00\x00\x01\x00")
TS_PACKETS = 5  # MPEG-TS: this many sync bytes in a row, 188 (or 192) bytes apart
_AUDIO_BRANDS = {b"M4A ", b"M4B ", b"M4P ", b"F4A ", b"F4B "}
_QUICKTIME_TOP = (b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot")
_ASF = bytes.fromhex("3026b2758e66cf11a6d900aa0062ce6c")  # WMV / WMA
AUDIO_EXTENSIONS = frozenset({".m4a", ".mp3", ".wav", ".aac", ".oga", ".opus", ".flac", ".amr",
                              ".wma", ".aif", ".aiff"})


def kind_of_head(head: bytes) -> str | None:
    """VIDEO, AUDIO or None (an image, or something else) for a file's first bytes."""
    if head.startswith(_IMAGE_MAGIC) or (head[:4] == b"RIFF" and head[8:12] == b"WEBP"):
        return None
    if len(head) >= 12 and head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in _IMAGE_BRANDS:
            return None
        return AUDIO if brand in _AUDIO_BRANDS else VIDEO  # MP4, MOV, 3GP, M4V ...
    if len(head) >= 8 and head[4:8] in _QUICKTIME_TOP:
        return VIDEO  # an old QuickTime file without 'ftyp'
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return VIDEO  # Matroska / WebM
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return VIDEO
    if head[:3] == b"FLV" or head[:16] == _ASF:
        return VIDEO
    if head[:4] in (b"\x00\x00\x01\xba", b"\x00\x00\x01\xb3"):
        return VIDEO  # MPEG program stream (.mpg, .vob) or an MPEG-1/2 video stream
    if _transport_stream(head, 0, 188) or _transport_stream(head, 4, 192):
        return VIDEO  # MPEG-TS (.ts), or AVCHD's .mts/.m2ts (4-byte time stamps)
    if head[:4] == b"OggS":
        return VIDEO if b"theora" in head else AUDIO
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return AUDIO
    if head[:3] == b"ID3" or head[:4] == b"fLaC" or head[:5] == b"#!AMR":
        return AUDIO
    if head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
        return AUDIO
    return None


def _transport_stream(head: bytes, first: int, step: int) -> bool:
    """TS_PACKETS packets' sync bytes (0x47) where MPEG-TS puts them."""
    last = first + (TS_PACKETS - 1) * step
    return len(head) > last and all(head[first + k * step] == 0x47 for k in range(TS_PACKETS))


def sniff(path: str | os.PathLike) -> str | None:
    """kind_of_head of a regular file's first bytes; None for anything unreadable or special."""
    from app.core.files import open_regular

    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            return None
        with open_regular(os.fspath(path)) as fh:
            return kind_of_head(fh.read(HEAD_BYTES))
    except Exception:  # noqa: BLE001 - a file we cannot read is simply not sniffed
        return None
