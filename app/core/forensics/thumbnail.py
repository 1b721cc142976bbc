"""EXIF thumbnail vs the picture: a camera writes both at once; an editor often updates only one."""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np
from PIL import ExifTags, Image

from app.core.forensics.common import Finding, ForensicResult, gray, map_size
from app.core.metadata_read import read_headers

TITLE = "EXIF thumbnail"
HOW_TO_READ = (
    "Cameras and phones store a small preview (thumbnail) inside the file's EXIF data, made from "
    "the same shot. Many editors change the picture but leave the old preview in place, so a "
    "preview that shows something else (an object missing or added, another crop) is a classic "
    "sign that the picture was changed after the camera wrote it. The map marks where the two "
    "differ in structure (bright = different); the preview itself is shown beside it. A matching "
    "preview proves nothing (good editors rewrite it), and most files have none: social networks "
    "and messaging apps strip it."
)
MAX_THUMB_BYTES = 256 * 1024  # the EXIF segment holds at most 64 KB; anything larger is damage
# Structural dissimilarity (1 - local SSIM) above which a part of the preview counts as changed,
# and the share of the preview that must change before the file is flagged: a preview of the same
# shot stays far below both on the clean benchmark set (docs/FORENSICS.md).
CHANGED_LEVEL = 0.5
FLAG_AREA = 0.01
_TRANSPOSE = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180,
              4: Image.Transpose.FLIP_TOP_BOTTOM, 5: Image.Transpose.TRANSPOSE,
              6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
              8: Image.Transpose.ROTATE_90}


def extract_thumbnail(raw: bytes | None) -> bytes | None:
    """The JPEG preview stored in EXIF IFD1, or None (bounds-checked: no read past the data).
    The headers are read as the metadata panel reads them (app.core.metadata_read), so both
    find the same preview, also in a PNG whose eXIf chunk follows the pixels."""
    if not raw:
        return None
    try:
        meta = read_headers(raw)
    except Exception:  # damaged headers: no preview rather than an error about the preview
        return None
    return preview_bytes(meta.exif, meta.tiff)


def preview_bytes(exif: Image.Exif | None, tiff: bytes | None) -> bytes | None:
    """The preview's bytes from parsed EXIF and its raw TIFF block, or None (bounds-checked).

    Shared with the metadata panel (app.core.metadata), which has both already parsed."""
    if exif is None or not tiff:  # (an Exif with an empty IFD0 is falsy yet may hold IFD1)
        return None
    try:
        ifd1 = exif.get_ifd(ExifTags.IFD.IFD1)
        offset, length = int(ifd1.get(0x0201, 0)), int(ifd1.get(0x0202, 0))
    except Exception:  # damaged EXIF: no preview rather than an error about the preview
        return None
    if offset <= 0 or length <= 0 or length > MAX_THUMB_BYTES or offset + length > len(tiff):
        return None
    data = tiff[offset : offset + length]
    return data if data[:2] == b"\xff\xd8" else None


def load_preview(data: bytes | None, orientation: int | None) -> np.ndarray | None:
    """The decoded preview, turned like the picture and bars trimmed; None when there is none
    or it is too small (< 16 px) to compare."""
    thumb = _decode(data, orientation) if data else None
    return None if thumb is None or min(thumb.shape[:2]) < 16 else thumb


def _decode(data: bytes, orientation: int | None) -> np.ndarray | None:
    from app.core.errors import ImageLoadError
    from app.core.images import load_image

    try:
        rgb = load_image(data).rgb
    except ImageLoadError:
        return None
    if orientation in _TRANSPOSE:  # the preview is stored as the sensor saw it, like the picture
        rgb = np.asarray(Image.fromarray(rgb).transpose(_TRANSPOSE[orientation]))
    return _trim_bars(rgb)


def _trim_bars(rgb: np.ndarray) -> np.ndarray:
    """Cut the black bars some cameras add to fit a 4:3 preview (never more than a quarter)."""
    g = gray(rgb)
    h, w = g.shape
    rows = np.where(g.mean(axis=1) > 12)[0]
    cols = np.where(g.mean(axis=0) > 12)[0]
    if len(rows) < h * 0.5 or len(cols) < w * 0.5:
        return rgb
    return rgb[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


def ssim_map(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Local SSIM (Wang et al. 2004, Gaussian window sigma 1.5) of two grey images in 0..255."""
    a, b = a.astype(np.float32), b.astype(np.float32)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2

    def blur(x: np.ndarray) -> np.ndarray:
        return cv2.GaussianBlur(x, (7, 7), 1.5)

    ma, mb = blur(a), blur(b)
    va, vb, cov = blur(a * a) - ma * ma, blur(b * b) - mb * mb, blur(a * b) - ma * mb
    return ((2 * ma * mb + c1) * (2 * cov + c2)) / ((ma * ma + mb * mb + c1) * (va + vb + c2))


def compare(rgb: np.ndarray, thumb: np.ndarray) -> tuple[np.ndarray, float, float]:
    """(dissimilarity map at thumbnail size, mean SSIM, share of the preview that changed)."""
    th, tw = thumb.shape[:2]
    small = cv2.resize(gray(rgb), (tw, th), interpolation=cv2.INTER_AREA)
    # Both softened a little: the preview is a small, strongly compressed JPEG.
    a = cv2.GaussianBlur(small, (3, 3), 0.8)
    b = cv2.GaussianBlur(gray(thumb), (3, 3), 0.8)
    s = ssim_map(a, b)
    diss = np.clip(1.0 - s, 0.0, 1.0)
    diss = cv2.GaussianBlur(diss, (5, 5), 1.0)  # one odd pixel is not a change
    return diss.astype(np.float32), float(s.mean()), float(np.mean(diss > CHANGED_LEVEL))


@dataclass(frozen=True)
class Verdict:
    """The one decision on a preview, shared by this filter and the metadata panel."""

    diss: np.ndarray = field(repr=False)  # dissimilarity map at preview size
    mean_ssim: float
    changed: float  # share of the preview that differs in structure
    aspect_image: float
    aspect_thumbnail: float

    @property
    def shape_differs(self) -> bool:
        return bool(abs(np.log(self.aspect_image / self.aspect_thumbnail)) > 0.05)

    @property
    def flagged(self) -> bool:
        return self.changed >= FLAG_AREA or self.shape_differs

    @property
    def confidence(self) -> float:
        return float(np.clip(0.5 + 0.5 * min(self.changed / (4 * FLAG_AREA), 1.0), 0.5, 0.99))

    def figures(self) -> str:
        """The numbers, worded the same wherever the comparison is shown."""
        shape = (f"another shape, width/height {self.aspect_thumbnail:.2f} vs "
                 f"{self.aspect_image:.2f}; " if self.shape_differs else "")
        return (f"{shape}{self.changed:.1%} of the preview differs in structure, "
                f"mean SSIM {self.mean_ssim:.2f}")

    def data(self) -> dict:
        th, tw = self.diss.shape[:2]
        return {"thumbnail_size": [int(tw), int(th)], "mean_ssim": round(self.mean_ssim, 4),
                "changed_fraction": round(self.changed, 4),
                "aspect_image": round(self.aspect_image, 3),
                "aspect_thumbnail": round(self.aspect_thumbnail, 3)}


def judge(rgb: np.ndarray, thumb: np.ndarray) -> Verdict:
    """Compare a picture (orientation applied) with its decoded preview (load_preview)."""
    diss, mean_ssim, changed = compare(rgb, thumb)
    h, w = rgb.shape[:2]
    return Verdict(diss, mean_ssim, changed, w / h, thumb.shape[1] / thumb.shape[0])


def run(rgb: np.ndarray, raw: bytes | None = None, orientation: int | None = None,
        **_) -> ForensicResult:
    """Preview found? Then where it differs from the picture, with a measured flag."""
    thumb = load_preview(extract_thumbnail(raw), orientation)
    if thumb is None:
        return ForensicResult("thumbnail", None, [Finding(
            "thumbnail", "The file has no EXIF preview to compare (common: most apps and "
            "websites remove it). This says nothing about the picture.")])
    v = judge(rgb, thumb)
    if v.flagged:
        conf = v.confidence
        finding = Finding(
            "thumbnail_mismatch",
            f"The EXIF preview does not match the picture ({v.figures()}). The picture was "
            f"probably changed after the camera made the file (confidence {conf:.0%}).",
            severity="warning", confidence=conf, edited=True, data=v.data())
    else:
        finding = Finding(
            "thumbnail",
            f"The EXIF preview matches the picture ({v.figures()}). This does not prove the "
            "picture is unedited: editors can rewrite the preview.", data=v.data())
    h, w = rgb.shape[:2]
    mw, mh, scale = map_size(w, h)
    heat = cv2.resize(v.diss, (mw, mh), interpolation=cv2.INTER_LINEAR)
    return ForensicResult("thumbnail", heat, [finding], {}, map_scale=scale,
                          extra={"preview": np.ascontiguousarray(thumb)})
