"""EXIF thumbnail vs the picture: a camera writes both at once; an editor often updates only one."""

from __future__ import annotations

import cv2
import numpy as np
from PIL import ExifTags, Image

from app.core.forensics.common import Finding, ForensicResult, gray, map_size, open_pil

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
    """The JPEG preview stored in EXIF IFD1, or None (bounds-checked: no read past the data)."""
    im = open_pil(raw)
    if im is None:
        return None
    try:
        exif_bytes = im.info.get("exif") or b""
        ifd1 = im.getexif().get_ifd(ExifTags.IFD.IFD1)
        offset, length = int(ifd1.get(0x0201, 0)), int(ifd1.get(0x0202, 0))
    except Exception:  # damaged EXIF: no preview rather than an error about the preview
        return None
    tiff = exif_bytes[6:] if exif_bytes.startswith(b"Exif\x00\x00") else exif_bytes
    if offset <= 0 or length <= 0 or length > MAX_THUMB_BYTES or offset + length > len(tiff):
        return None
    data = tiff[offset : offset + length]
    return data if data[:2] == b"\xff\xd8" else None


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


def run(rgb: np.ndarray, raw: bytes | None = None, orientation: int | None = None,
        **_) -> ForensicResult:
    """Preview found? Then where it differs from the picture, with a measured flag."""
    data = extract_thumbnail(raw)
    thumb = _decode(data, orientation) if data else None
    if thumb is None or min(thumb.shape[:2]) < 16:
        return ForensicResult("thumbnail", None, [Finding(
            "thumbnail", "The file has no EXIF preview to compare (common: most apps and "
            "websites remove it). This says nothing about the picture.")])
    diss, mean_ssim, changed = compare(rgb, thumb)
    h, w = rgb.shape[:2]
    ar_img, ar_thumb = w / h, thumb.shape[1] / thumb.shape[0]
    shape_differs = abs(np.log(ar_img / ar_thumb)) > 0.05
    data_ = {"thumbnail_size": [int(thumb.shape[1]), int(thumb.shape[0])],
             "mean_ssim": round(mean_ssim, 4), "changed_fraction": round(changed, 4),
             "aspect_image": round(ar_img, 3), "aspect_thumbnail": round(ar_thumb, 3)}
    if changed >= FLAG_AREA or shape_differs:
        conf = float(np.clip(0.5 + 0.5 * min(changed / (4 * FLAG_AREA), 1.0), 0.5, 0.99))
        what = "has a different shape (cropped?) and " if shape_differs else ""
        finding = Finding(
            "thumbnail_mismatch",
            f"The EXIF preview {what}does not match the picture: {changed:.0%} of it differs in "
            f"structure (mean SSIM {mean_ssim:.2f}). The picture was probably changed after the "
            f"camera made the file (confidence {conf:.0%}).",
            severity="warning", confidence=conf, edited=True, data=data_)
    else:
        finding = Finding(
            "thumbnail",
            f"The EXIF preview matches the picture (mean SSIM {mean_ssim:.2f}). This does not "
            "prove the picture is unedited: editors can rewrite the preview.", data=data_)
    mw, mh, scale = map_size(w, h)
    heat = cv2.resize(diss, (mw, mh), interpolation=cv2.INTER_LINEAR)
    return ForensicResult("thumbnail", heat, [finding], {}, map_scale=scale,
                          extra={"preview": np.ascontiguousarray(thumb)})
