"""Input-quality warnings: when the picture itself limits what the detector can tell.

Each warning is plain language; `makes_uncertain` marks the ones under which a face's score cannot
be trusted, so the pipeline turns that verdict into "uncertain" (see Analyzer._summarise).
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import cv2
import numpy as np

from app.core.results import FaceResult, Severity

# A face under this many pixels across carries too little detail for a reliable score.
MIN_FACE_PX = 64
# Variance of the Laplacian of the face box, rescaled to BLUR_SIDE px across (so the number does
# not depend on the face's size). A sharp portrait scores several hundred; Gaussian blur with
# sigma 1 px (at that scale) gives ~50, sigma 2 px ~13.
BLUR_SIDE = 128
BLURRY = 40.0
EXTREMELY_BLURRY = 12.0
# JPEG quality (IJG scale 1-100) estimated from the luminance quantisation table.
JPEG_HEAVY = 50
JPEG_VERY_HEAVY = 30
MANY_FACES = 12

FACE_TOO_SMALL = "face_too_small"
BLURRY_FACE = "blurry_face"
EXTREME_BLUR = "extreme_blur"
HEAVY_JPEG = "heavy_jpeg"
IMAGE_SMALL = "image_small"
IMAGE_TOO_SMALL = "image_too_small"
MANY_FACES_CODE = "many_faces"
SEVERAL_FRAMES = "several_frames"
TURNED_FACE = "turned_face"
_TURN_WORDS = {90: "turned a quarter clockwise", 180: "upside down",
               270: "turned a quarter anticlockwise"}
# Warnings under which the score cannot be trusted: the verdict becomes "uncertain".
UNCERTAIN_CODES = frozenset({FACE_TOO_SMALL, EXTREME_BLUR, IMAGE_TOO_SMALL})

# IJG (libjpeg) standard luminance table, quality 50.
_STD_LUMA = np.array([
    16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55,
    14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22, 29, 51, 87, 80, 62,
    18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
    49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99], np.float64)


@dataclass(frozen=True)
class QualityWarning:
    code: str
    message: str  # plain language, ready to show
    severity: Severity = Severity.NOTABLE
    face: int | None = None  # index into result.faces; None = the whole image
    value: float | None = None  # the measurement behind it (px, blur score, JPEG quality, count)

    @property
    def makes_uncertain(self) -> bool:
        return self.code in UNCERTAIN_CODES

    def to_dict(self) -> dict:
        return {"code": self.code, "message": self.message, "severity": str(self.severity),
                "face": self.face, "value": None if self.value is None else round(self.value, 1),
                "makes_uncertain": self.makes_uncertain}


def assess(image, faces: list[FaceResult], input_size: int,
           turned: int | None = None) -> list[QualityWarning]:
    """Quality warnings for one LoadedImage and its faces; `input_size` = the model's crop side;
    `turned`: the turn under which a face appears when none is upright (FaceFinder.turned_face).
    """
    out: list[QualityWarning] = []
    frames = getattr(image, "frames", 1)
    if frames > 1:
        frame = getattr(image, "frame", 0)
        if frame:
            which = f"only frame {frame + 1}, the first of those tried with a face, was checked"
        elif faces:
            which = "only the first was checked"
        else:
            which = (f"no face was found in the first nor in {min(7, frames - 1)} others spread "
                     "through it")
        out.append(QualityWarning(
            SEVERAL_FRAMES, f"This {image.format or 'file'} holds {frames} frames (an animation "
            f"or several pages); {which}. Check the others separately (saved as pictures, or "
            "an animation as a video).", Severity.WARNING, value=float(frames)))
    if turned is not None and not faces:
        out.append(QualityWarning(
            TURNED_FACE, f"No upright face was found, but one appears with the picture "
            f"{_TURN_WORDS.get(turned, f'turned {turned} degrees')}: the file has probably lost "
            "its orientation. Rotate it upright and check it again.", Severity.WARNING,
            value=float(turned)))
    h, w = image.height, image.width
    if min(h, w) < input_size / 2:
        out.append(QualityWarning(
            IMAGE_TOO_SMALL, f"The image is only {w}x{h} px, far below the {input_size} px the "
            "model looks at: faces are enlarged from too few pixels to judge.",
            Severity.WARNING, value=float(min(h, w))))
    elif min(h, w) < input_size:
        out.append(QualityWarning(
            IMAGE_SMALL, f"The image ({w}x{h} px) is smaller than the model's {input_size} px "
            "input, so fine detail is missing; treat the score with care.", value=float(min(h, w))))
    quality = jpeg_quality(image)
    if quality is not None and quality < JPEG_HEAVY:
        out.append(QualityWarning(
            HEAVY_JPEG, f"Heavy JPEG compression (estimated quality {quality} of 100): compression "
            "blurs and blocks fine detail, which can hide or mimic manipulation traces. It may "
            "have been re-compressed by a website or messenger.",
            Severity.WARNING if quality < JPEG_VERY_HEAVY else Severity.NOTABLE,
            value=float(quality)))
    for i, face in enumerate(faces):
        out.extend(_face_warnings(image.rgb, face, i))
    if len(faces) > MANY_FACES:
        out.append(QualityWarning(
            MANY_FACES_CODE, f"{len(faces)} faces found; small faces in crowds are hard to judge.",
            value=float(len(faces))))
    return out


def too_small_message(px: float) -> str:
    """The same words the pipeline uses for a small face (Analyzer._score writes them too)."""
    return (f"Face is only {px:.0f} px across; scores for faces under {MIN_FACE_PX} px "
            "are unreliable.")


def _face_warnings(rgb: np.ndarray, face: FaceResult, index: int) -> list[QualityWarning]:
    x1, y1, x2, y2 = face.box
    px = min(x2 - x1, y2 - y1)
    out = []
    if px < MIN_FACE_PX:
        out.append(QualityWarning(FACE_TOO_SMALL, too_small_message(px), Severity.WARNING,
                                  face=index, value=float(px)))
    score = blur_score(rgb, face.box)
    if score is None:
        return out
    if score < EXTREMELY_BLURRY:
        out.append(QualityWarning(
            EXTREME_BLUR, f"The face is extremely blurred (sharpness {score:.0f}; under "
            f"{EXTREMELY_BLURRY:.0f} is extreme): the detail the model needs is gone.",
            Severity.WARNING, face=index, value=score))
    elif score < BLURRY:
        out.append(QualityWarning(
            BLURRY_FACE, f"The face is blurred (sharpness {score:.0f}; under {BLURRY:.0f} is "
            "blurry): the score is less reliable. Blur can also hide manipulation.",
            face=index, value=score))
    return out


def blur_score(rgb: np.ndarray, box) -> float | None:
    """Variance of the Laplacian over the face box, rescaled to BLUR_SIDE px (higher = sharper)."""
    h, w = rgb.shape[:2]
    x1, y1 = max(0, int(box[0])), max(0, int(box[1]))
    x2, y2 = min(w, int(np.ceil(box[2]))), min(h, int(np.ceil(box[3])))
    if x2 - x1 < 4 or y2 - y1 < 4:
        return None
    gray = cv2.cvtColor(np.ascontiguousarray(rgb[y1:y2, x1:x2]), cv2.COLOR_RGB2GRAY)
    s = BLUR_SIDE / max(gray.shape)
    size = (max(4, round(gray.shape[1] * s)), max(4, round(gray.shape[0] * s)))
    gray = cv2.resize(gray, size, interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_CUBIC)
    return float(cv2.Laplacian(gray, cv2.CV_64F).var())


def jpeg_quality(image) -> int | None:
    """Estimated JPEG quality (1-100) of a LoadedImage's file, or None when not a JPEG."""
    from PIL import Image

    if image.format not in (None, "JPEG", "MPO"):
        return None
    try:
        if image.raw is not None:
            src = io.BytesIO(image.raw)
        elif image.path is not None:
            from app.core.files import open_regular

            src = open_regular(image.path)  # never a pipe or a device; raises otherwise
        else:
            return None
        with src, Image.open(src) as im:  # header only: the tables come before the pixels
            tables = getattr(im, "quantization", None)
    except Exception:
        return None
    if not tables or 0 not in tables:
        return None
    return estimate_quality(tables[0])


def estimate_quality(luma_table) -> int:
    """The IJG quality whose scaled standard table is closest to this one (order-independent)."""
    actual = np.sort(np.asarray(list(luma_table), np.float64))
    if actual.size != 64:
        return 100
    q = np.arange(1, 101, dtype=np.float64)
    scale = np.where(q < 50, 5000.0 / q, 200.0 - 2.0 * q)[:, None]
    tables = np.sort(np.clip(np.floor((_STD_LUMA * scale + 50.0) / 100.0), 1, 255), axis=1)
    errors = np.abs(tables - actual).sum(axis=1)
    return int(np.argmin(errors)) + 1  # first (lowest) quality among equally close ones


# Why a score was not trusted (quality codes that make a verdict "uncertain"), in tile words.
UNTRUSTED_WHY = {
    "image_too_small": "Image too small to judge",
    "face_too_small": "too small to judge",
    "extreme_blur": "too blurred to judge",
}


def tile_note(result) -> tuple[str, bool]:
    """The line under a tile's name and whether it is a problem: the error, else why the score
    was not trusted (so "UNCERTAIN 7%" on a small face is not read as a finding), else the
    number of faces."""
    if result.error:
        return result.error, True
    faces = len(result.faces)
    gates = [q for q in result.quality
             if q.get("makes_uncertain") and q.get("code") in UNTRUSTED_WHY]
    if any(q.get("face") is None for q in gates):  # the whole image
        return UNTRUSTED_WHY["image_too_small"], True
    if gates:
        why = " and ".join(dict.fromkeys(UNTRUSTED_WHY[q["code"]] for q in gates))
        if faces > 1:
            n = len({q["face"] for q in gates})
            return f"{n} of {faces} faces {why}", True
        return f"Face {why}", True
    return (f"{faces} faces" if faces > 1 else ""), False
