"""Open any image safely: RGB uint8 array with EXIF orientation applied, or a typed error."""

from __future__ import annotations

import hashlib
import io
import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from app.core.errors import (
    CorruptImageError,
    EmptyFileError,
    ImageLoadError,
    ImageTooLargeError,
    UnsupportedFormatError,
)
from app.core.files import MAX_READ_BYTES, read_capped

# 80 megapixels covers every phone and DSLR; larger is refused as a likely decompression bomb.
MAX_PIXELS = 80_000_000
MAX_FILE_BYTES = MAX_READ_BYTES
# Formats whose extra frames are frames of the picture (an animation, pages); others, such as
# MPO (a phone JPEG with a gain map or depth map inside), are one picture.
FRAME_FORMATS = frozenset({"GIF", "WEBP", "PNG", "TIFF"})
IMAGE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".jpe", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif", ".heic", ".heif",
     ".avif"}
)

_heif_registered = False


def _register_heif() -> None:
    global _heif_registered
    if _heif_registered:
        return
    _heif_registered = True
    try:
        from pillow_heif import register_heif_opener

        register_heif_opener()
    except ImportError:  # pragma: no cover - optional at run time, required by pyproject
        pass


@dataclass
class LoadedImage:
    """An image ready for analysis."""

    rgb: np.ndarray  # H x W x 3 uint8, orientation applied
    path: str | None = None
    sha256: str | None = None
    format: str | None = None
    file_size: int | None = None
    original_mode: str | None = None
    exif_orientation: int | None = None
    frames: int = 1  # an animated GIF/WebP or a multi-page TIFF holds several
    frame: int = 0  # the one in `rgb`
    raw: bytes | None = field(default=None, repr=False)

    @property
    def width(self) -> int:
        return int(self.rgb.shape[1])

    @property
    def height(self) -> int:
        return int(self.rgb.shape[0])


def is_image_path(path: str | os.PathLike) -> bool:
    return Path(path).suffix.lower() in IMAGE_EXTENSIONS


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def load_image(source: str | os.PathLike | bytes, *, keep_bytes: bool = False) -> LoadedImage:
    """Read a file (or bytes) into an RGB array; raise an ImageLoadError subclass on failure."""
    path: str | None = None
    if isinstance(source, bytes | bytearray):
        data = bytes(source)
    else:
        path = os.fspath(source)
        data = _read_file(path)
    if not data:
        raise EmptyFileError("The file is empty (0 bytes); it holds no image.")
    img = decode_image(data)
    return LoadedImage(
        rgb=img.pop("rgb"),
        path=path,
        sha256=sha256_bytes(data),
        file_size=len(data),
        raw=data if keep_bytes or img["frames"] > 1 else None,  # other frames may be wanted
        **img,
    )


def other_frames(image: LoadedImage, frames: list[int]) -> Iterator[LoadedImage]:
    """The same file's frames (an animation or a multi-page TIFF), in ascending order, as
    LoadedImages; the file is decoded in one forward pass (decode_frames)."""
    from dataclasses import replace

    data = image.raw if image.raw is not None else _read_file(image.path)
    for img in decode_frames(data, frames):
        yield replace(image, rgb=img["rgb"], frame=img["frame"])


def other_frame(image: LoadedImage, frame: int) -> LoadedImage:
    """The same file's frame `frame`, as a LoadedImage."""
    return next(other_frames(image, [frame]))


def shown_frame(image: LoadedImage, result) -> LoadedImage:
    """`image` as the analysis saw it: the frame its boxes and heatmaps are on (an animation
    whose first frame had no face was analysed on a later one)."""
    frame = getattr(result, "frame", 0) or 0
    return image if frame == image.frame else other_frame(image, frame)


def _read_file(path: str) -> bytes:
    """Regular files only, through the byte cap (app.core.files): never a pipe or a device."""
    return read_capped(path, MAX_FILE_BYTES)


def decode_image(data: bytes, frame: int = 0) -> dict:
    """Decode bytes to {'rgb', 'format', 'original_mode', 'exif_orientation', 'frames',
    'frame'}; `frame` picks one of an animation's or multi-page file's frames."""
    return next(decode_frames(data, [frame]))


def decode_frames(data: bytes, frames: list[int]) -> Iterator[dict]:
    """decode_image's dict for each of `frames` (ascending, clipped to the file's frames).
    The file is opened once and Pillow steps forward from the frame it is on, so N frames of
    an animation cost one pass through it, not N. Only real animations and pages count as
    frames (FRAME_FORMATS): the extra pictures of a phone's JPEG (an MPO's gain map, depth map
    or preview) are not."""
    _register_heif()
    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    with _decode_errors(data):
        im = Image.open(io.BytesIO(data))
        fmt = im.format
        if im.width * im.height > MAX_PIXELS:
            raise ImageTooLargeError(_bomb_message(im.width, im.height))
        n = int(getattr(im, "n_frames", 1) or 1) if fmt in FRAME_FORMATS else 1
    for k in sorted({min(max(int(f), 0), n - 1) for f in frames}):
        with _decode_errors(data):
            if n > 1:
                im.seek(k)
            im.load()
            orientation = _exif_orientation(im)
            mode = im.mode
            shown = ImageOps.exif_transpose(im) if orientation not in (None, 1) else im
            rgb = _to_rgb(shown)
        yield {"rgb": rgb, "format": fmt, "original_mode": mode, "exif_orientation": orientation,
               "frames": n, "frame": k}


@contextmanager
def _decode_errors(data: bytes) -> Iterator[None]:
    """Pillow's failures as the app's plain ImageLoadErrors (a bomb, not an image, damaged)."""
    try:
        with warnings.catch_warnings():
            # Pillow warns between MAX_PIXELS and 2x MAX_PIXELS; treat that as a bomb too.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            yield
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageTooLargeError(
            "The image declares far more pixels than any real photo "
            "(a possible decompression bomb), so it was not opened."
        ) from exc
    except UnidentifiedImageError as exc:
        from app.core.sniff import AUDIO, VIDEO, kind_of_head

        kind = kind_of_head(data[:1024])
        if kind == AUDIO:
            raise UnsupportedFormatError(
                "This is a sound file, with no pictures: the app checks faces in photos and "
                "videos, not voices.") from exc
        if kind == VIDEO:
            raise UnsupportedFormatError(
                "This file holds a video, not a still image: open it as a video (drop it on "
                "the window, or give it to `analyze` by name).") from exc
        raise UnsupportedFormatError(
            "This file is not an image in a format the app reads "
            "(JPEG, PNG, WebP, BMP, TIFF, GIF, HEIC, AVIF), nor a video."
        ) from exc
    except ImageLoadError:
        raise
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise CorruptImageError(
            f"The image data is damaged or incomplete (truncated download?): {exc}"
        ) from exc


def _bomb_message(w: int, h: int) -> str:
    return (
        f"The image is {w}x{h} pixels ({w * h / 1e6:.0f} MP); images over "
        f"{MAX_PIXELS / 1e6:.0f} MP are refused as a possible decompression bomb."
    )


def _exif_orientation(im: Image.Image) -> int | None:
    try:
        value = im.getexif().get(0x0112)
    except Exception:  # damaged EXIF must not make a readable image unreadable
        return None
    return int(value) if value else None


def _to_rgb(im: Image.Image) -> np.ndarray:
    """Convert any Pillow mode to 8-bit RGB, compositing alpha on white."""
    mode = im.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        arr = np.asarray(im, dtype=np.float64)
        hi = 65535.0 if arr.max(initial=0) > 255 else 255.0
        arr = np.clip(arr / hi * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return np.ascontiguousarray(np.stack([arr] * 3, axis=-1))
    if mode == "F":
        arr = np.asarray(im, dtype=np.float64)
        lo, hi = float(arr.min(initial=0)), float(arr.max(initial=1))
        arr = ((arr - lo) / max(hi - lo, 1e-12) * 255.0 + 0.5).astype(np.uint8)
        return np.ascontiguousarray(np.stack([arr] * 3, axis=-1))
    if mode == "P":
        im = im.convert("RGBA") if "transparency" in im.info else im.convert("RGB")
        mode = im.mode
    if mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = im.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        im = Image.alpha_composite(background, rgba)
    if im.mode != "RGB":
        im = im.convert("RGB")  # CMYK, YCbCr, L, 1, LAB ... via Pillow's converters
    return np.ascontiguousarray(np.asarray(im, dtype=np.uint8))
