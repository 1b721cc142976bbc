"""Safe image loading: formats, orientation, colour modes, and typed errors for bad files."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from app.core import errors
from app.core.images import load_image


@pytest.mark.parametrize("fmt,ext", [("JPEG", "jpg"), ("PNG", "png"), ("WEBP", "webp"),
                                     ("BMP", "bmp"), ("TIFF", "tif"), ("GIF", "gif")])
def test_common_formats_load_as_rgb(tmp_path, astronaut, fmt, ext):
    path = tmp_path / f"a.{ext}"
    Image.fromarray(astronaut).save(path, format=fmt)
    img = load_image(path)
    assert img.rgb.shape == (512, 512, 3) and img.rgb.dtype == np.uint8
    assert img.format == fmt
    assert len(img.sha256) == 64
    # Lossy and palette formats differ a little; the picture must still be the astronaut.
    assert np.abs(img.rgb.astype(int) - astronaut.astype(int)).mean() < 12


def test_heic_loads(tmp_path, astronaut):
    pillow_heif = pytest.importorskip("pillow_heif")
    path = tmp_path / "phone.heic"
    try:
        pillow_heif.from_pillow(Image.fromarray(astronaut)).save(path, quality=90)
    except Exception as exc:  # encoder not built into this wheel
        pytest.skip(f"HEIF encoder unavailable: {exc}")
    img = load_image(path)
    assert img.rgb.shape == (512, 512, 3)
    assert np.abs(img.rgb.astype(int) - astronaut.astype(int)).mean() < 12


def test_gif_first_frame(tmp_path, astronaut):
    frames = [Image.fromarray(astronaut), Image.fromarray(255 - astronaut)]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100)
    img = load_image(path)
    assert np.abs(img.rgb.astype(int) - astronaut.astype(int)).mean() < 20


def test_exif_orientation_applied(tmp_path, astronaut):
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways; viewers rotate 90 degrees clockwise
    path = tmp_path / "rot.jpg"
    Image.fromarray(np.rot90(astronaut, k=1)).save(path, exif=exif, quality=95)
    img = load_image(path)
    assert img.exif_orientation == 6
    assert np.abs(img.rgb.astype(int) - astronaut.astype(int)).mean() < 6


def test_cmyk_palette_16bit_alpha(tmp_path, astronaut):
    base = Image.fromarray(astronaut)
    base.convert("CMYK").save(tmp_path / "cmyk.jpg", quality=95)
    base.convert("P", palette=Image.Palette.ADAPTIVE).save(tmp_path / "pal.png")
    gray16 = (np.asarray(base.convert("L"), np.uint16) * 257).astype(np.uint16)
    Image.fromarray(gray16).save(tmp_path / "g16.png")
    rgba = np.dstack([astronaut, np.full(astronaut.shape[:2], 255, np.uint8)])
    rgba[:50, :50, 3] = 0  # a transparent corner becomes white, not black
    Image.fromarray(rgba, "RGBA").save(tmp_path / "alpha.png")

    for name in ["cmyk.jpg", "pal.png", "g16.png", "alpha.png"]:
        img = load_image(tmp_path / name)
        assert img.rgb.shape == (512, 512, 3) and img.rgb.dtype == np.uint8, name
    assert np.abs(load_image(tmp_path / "cmyk.jpg").rgb.astype(int) - astronaut).mean() < 10
    g = load_image(tmp_path / "g16.png").rgb
    assert abs(int(g[..., 0].mean()) - int(np.asarray(base.convert("L")).mean())) <= 1
    a = load_image(tmp_path / "alpha.png").rgb
    assert (a[:50, :50] == 255).all() and (a[100:, 100:] == astronaut[100:, 100:]).all()


def test_zero_byte_file(tmp_path):
    path = tmp_path / "empty.jpg"
    path.write_bytes(b"")
    with pytest.raises(errors.EmptyFileError, match="empty"):
        load_image(path)


def test_missing_file(tmp_path):
    with pytest.raises(errors.FileMissingError, match="does not exist"):
        load_image(tmp_path / "nope.jpg")


def test_truncated_jpeg(tmp_path, astronaut):
    buf = io.BytesIO()
    Image.fromarray(astronaut).save(buf, format="JPEG")
    path = tmp_path / "cut.jpg"
    path.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    with pytest.raises(errors.CorruptImageError, match="damaged or incomplete"):
        load_image(path)


def test_not_an_image(tmp_path):
    path = tmp_path / "notes.jpg"
    path.write_text("this is a text file with a .jpg name")
    with pytest.raises(errors.UnsupportedFormatError, match="not an image"):
        load_image(path)


def _png_header_only(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + data))
        return struct.pack(">I", len(data)) + kind + data + crc

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64))


def test_decompression_bomb_refused(tmp_path):
    path = tmp_path / "bomb.png"
    path.write_bytes(_png_header_only(60000, 60000))  # 3.6 gigapixels declared in a tiny file
    with pytest.raises(errors.ImageTooLargeError, match="decompression bomb"):
        load_image(path)


def test_errors_are_inspector_errors():
    for cls in (errors.EmptyFileError, errors.CorruptImageError, errors.UnsupportedFormatError,
                errors.ImageTooLargeError, errors.FileMissingError):
        assert issubclass(cls, errors.ImageLoadError)
        assert issubclass(cls, errors.InspectorError)
