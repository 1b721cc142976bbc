"""Files as a journalist gets them: clips under odd names, sound files, animations, pictures
that lost their orientation, folders with other documents in them."""

from __future__ import annotations

import json
import os
import struct
import time

import numpy as np
import pytest
from PIL import Image

from app.core.sniff import AUDIO, VIDEO, kind_of_head, sniff
from app.core.video_io import is_video_path
from tests import video_clips as clips
from tests.conftest import save_rgb


def box(kind: bytes, payload: bytes = b"") -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def ftyp(brand: bytes) -> bytes:
    return box(b"ftyp", brand + b"\0\0\0\0" + brand)


@pytest.mark.parametrize("head, kind", [
    (ftyp(b"isom"), VIDEO), (ftyp(b"qt  "), VIDEO), (ftyp(b"3gp4"), VIDEO),
    (ftyp(b"M4A "), AUDIO), (ftyp(b"heic"), None), (ftyp(b"avif"), None),
    (box(b"moov"), VIDEO), (b"\x1a\x45\xdf\xa3" + b"\0" * 12, VIDEO),
    (b"RIFF\0\0\0\0AVI LIST", VIDEO), (b"RIFF\0\0\0\0WAVEfmt ", AUDIO),
    (b"\x00\x00\x01\xba" + b"\0" * 12, VIDEO), (b"ID3\x04" + b"\0" * 12, AUDIO),
    (b"fLaC" + b"\0" * 12, AUDIO), (b"OggS\0\x02" + b"\0" * 20 + b"\x80theora", VIDEO),
    (b"OggS\0\x02" + b"\0" * 20 + b"\x01vorbis", AUDIO),
    (b"\xff\xd8\xff\xe0" + b"\0" * 12, None), (b"\x89PNG\r\n\x1a\n" + b"\0" * 8, None),
    (b"GIF89a" + b"\0" * 10, None), (b"", None),
])
def test_kind_of_head(head, kind):
    assert kind_of_head(head) == kind


def test_transport_streams_by_their_sync_bytes():
    ts, m2ts = bytearray(1024), bytearray(1024)
    for k in range(5):
        ts[k * 188] = 0x47
        m2ts[4 + k * 192] = 0x47  # AVCHD .MTS: a 4-byte time stamp before each packet
    assert kind_of_head(bytes(ts)) == VIDEO and kind_of_head(bytes(m2ts)) == VIDEO
    assert kind_of_head(bytes(1024)) is None
    three = bytearray(1024)
    three[0] = three[188] = three[376] = 0x47  # three in a row happen by chance
    assert kind_of_head(bytes(three)) is None


def test_pictures_whose_bytes_fit_a_video_test_stay_pictures(tmp_path):
    """A reviewer's cases: a BMP whose size field puts 0x47 at byte 4 over a grey (0x47) picture,
    and a GIF ('G' = 0x47) with a grey palette, looked like MPEG transport streams."""
    bmp = tmp_path / "grey.bmp"
    Image.new("RGB", (1920, 810), (0x47, 0x47, 0x47)).save(bmp)
    gif = tmp_path / "grey.gif"
    Image.new("P", (64, 64)).save(gif, palette=[0x47] * 768)
    for path in (bmp, gif):
        assert not is_video_path(path), path.name


def test_a_clip_under_a_picture_name_goes_to_the_video_path(tmp_path):
    clip = clips.write_clip(tmp_path / "clip.mp4")
    for name in ("from_whatsapp.jpg", "VID_0001", "clip.3gp", "00001.MTS"):
        os.link(clip, tmp_path / name)
        assert is_video_path(tmp_path / name), name
    assert not is_video_path(save_rgb(tmp_path / "photo.mp4.png", np.zeros((8, 8, 3), np.uint8)))


def test_sniffing_never_blocks_on_a_pipe(tmp_path):
    fifo = tmp_path / "clip"
    os.mkfifo(fifo)
    t0 = time.monotonic()
    assert sniff(fifo) is None and not is_video_path(fifo)
    assert time.monotonic() - t0 < 2


def test_a_sound_only_mp4_is_named_as_such(tmp_path):
    from app.core.video_io import VideoLoadError, probe

    hdlr = box(b"hdlr", b"\0" * 8 + b"soun" + b"\0" * 12 + b"SoundHandler\0")
    path = tmp_path / "voice_memo.mp4"
    path.write_bytes(ftyp(b"isom") + box(b"moov", box(b"trak", box(b"mdia", hdlr)))
                     + box(b"mdat", b"\0" * 64))
    with pytest.raises(VideoLoadError, match="sound only"):
        probe(str(path))


def test_a_sound_file_given_as_a_picture_is_named_as_such(tmp_path):
    from app.core.errors import UnsupportedFormatError
    from app.core.images import load_image

    path = tmp_path / "interview.mp3"
    path.write_bytes(b"ID3\x04\0\0\0\0\0\x10" + bytes(200))
    with pytest.raises(UnsupportedFormatError, match="sound file"):
        load_image(path)


def test_an_animation_is_checked_on_a_frame_with_a_face_and_says_so(analyzer, tmp_path,
                                                                    astronaut):
    from app.core.quality import SEVERAL_FRAMES

    dark, grey = Image.new("RGB", (512, 512)), Image.new("RGB", (512, 512), (128, 128, 128))
    face = Image.fromarray(astronaut)
    path = tmp_path / "reaction.gif"
    dark.save(path, save_all=True, append_images=[grey, face], duration=200, loop=0)
    r = analyzer.analyze(str(path), heatmaps=False)
    assert r.status == "ok" and len(r.faces) == 1
    (q,) = [q for q in r.quality if q["code"] == SEVERAL_FRAMES]
    assert q["value"] == 3 and "only frame 3" in q["message"]
    assert any("holds 3 frames" in w for w in r.warnings)
    # What is shown with the boxes (window, gallery, reports, saved heatmaps) is that frame,
    # not the black first one.
    from app.core.batch import analyze_one

    item = analyze_one(analyzer, str(path), heatmaps=False)
    assert item.result.frame == 2 and item.image.frame == 2
    x1, y1, x2, y2 = (int(v) for v in item.result.faces[0].box)
    assert item.image.rgb[y1:y2, x1:x2].mean() > 50
    assert json.loads(json.dumps(r.to_dict()))["frame"] == 2
    # A still picture says nothing of frames.
    still = analyzer.analyze(str(save_rgb(tmp_path / "still.png", astronaut)), heatmaps=False)
    assert not [q for q in still.quality if q["code"] == SEVERAL_FRAMES]


def test_a_phone_jpeg_with_a_gain_map_is_one_picture(analyzer, tmp_path, astronaut):
    """Pillow opens a JPEG carrying extra pictures (Ultra-HDR gain map, depth map) as MPO
    with 2+ frames: those are not frames of the photo."""
    from app.core.quality import SEVERAL_FRAMES

    path = tmp_path / "PXL_0001.jpg"
    Image.fromarray(astronaut).save(path, "MPO", save_all=True,
                                    append_images=[Image.new("RGB", (128, 128), (90, 90, 90))])
    r = analyzer.analyze(str(path), heatmaps=False)
    assert r.status == "ok" and not [q for q in r.quality if q["code"] == SEVERAL_FRAMES]


@pytest.mark.parametrize("turn, words", [(Image.Transpose.ROTATE_90, "quarter clockwise"),
                                         (Image.Transpose.ROTATE_180, "upside down")])
def test_a_picture_that_lost_its_orientation_gets_a_hint(analyzer, tmp_path, astronaut, turn,
                                                         words):
    path = tmp_path / "turned.jpg"
    Image.fromarray(astronaut).transpose(turn).save(path, quality=92)
    r = analyzer.analyze(str(path), heatmaps=False)
    assert r.status == "no_face"
    assert any(words in w and "lost its orientation" in w for w in r.warnings)


def test_no_hint_for_a_picture_without_any_face(analyzer, no_face):
    r = analyzer.analyze(no_face, heatmaps=False)
    assert r.status == "no_face" and not any("orientation" in w for w in r.warnings)


def test_a_folder_walk_names_what_it_did_not_check(tmp_path, astronaut):
    from app.core.video_io import walk_media

    folder = tmp_path / "case"
    (folder / "sub").mkdir(parents=True)
    save_rgb(folder / "a.jpg", astronaut)
    for name in ("notes.docx", "sub/voice.m4a", ".DS_Store", "Thumbs.db"):
        (folder / name).write_bytes(b"x")
    walk = walk_media([folder])
    assert [os.path.basename(p) for p in walk.files] == ["a.jpg"]
    assert sorted(os.path.basename(p) for p in walk.ignored) == ["notes.docx", "voice.m4a"]
    line = walk.ignored_line()
    assert line.startswith("2 other files in the folders were not checked")
    assert "notes.docx" in line and "voice.m4a" in line
