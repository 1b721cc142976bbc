"""Self-Blended Images (Shiohara & Yamasaki, CVPR 2022) from 5-point landmarks, and the
augmentations that keep size, blur and compression from becoming cues.

A self-blended fake is one real face blended into a slightly altered copy of itself inside a soft
face-shaped mask: it carries the blending boundary and colour/sharpness mismatch that face swaps
leave, with no identity change, so the detector learns the artefact rather than the person.
"""

from __future__ import annotations

import cv2
import numpy as np


def face_hull(landmarks: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A face-shaped polygon from 5 landmarks (eyes, nose, mouth corners), randomly varied.

    MTCNN's 5 points miss the face outline, so the outline is extrapolated from eye distance:
    forehead above the eyes, cheeks beside them, jaw and chin below the mouth.
    """
    le, re, nose, ml, mr = (np.asarray(p, np.float32) for p in landmarks)
    eye_c = (le + re) / 2.0
    mouth_c = (ml + mr) / 2.0
    across = re - le
    d = float(np.linalg.norm(across)) + 1e-6
    ux = across / d  # along the eyes
    uy = mouth_c - eye_c
    uy = uy / (np.linalg.norm(uy) + 1e-6)  # down the face
    w = rng.uniform(0.75, 1.05)  # half-width of the face in eye distances
    top = rng.uniform(0.6, 1.1)  # forehead height above the eyes
    chin = rng.uniform(0.55, 0.9)  # chin below the mouth
    pts = [
        eye_c - uy * top * d - ux * w * 0.7 * d,
        eye_c - uy * top * d + ux * w * 0.7 * d,
        eye_c - ux * w * d,
        eye_c + ux * w * d,
        nose - ux * w * 0.95 * d,
        nose + ux * w * 0.95 * d,
        mouth_c - ux * w * 0.75 * d + uy * 0.2 * d,
        mouth_c + ux * w * 0.75 * d + uy * 0.2 * d,
        mouth_c + uy * chin * d,
        le, re, nose, ml, mr,
    ]
    return cv2.convexHull(np.stack(pts).astype(np.float32)).reshape(-1, 2)


# Regions of dlib's 68-point scheme for the mask variants below.
_JAW, _BROWS, _NOSE = list(range(0, 17)), list(range(17, 27)), list(range(27, 36))
_EYES, _MOUTH = list(range(36, 48)), list(range(48, 68))


def face_hull68(pts: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A face-swap-shaped polygon from 68 landmarks: the whole outline (jaw + brows, as face
    swaps blend), sometimes only the inner face (brows, eyes, nose, mouth, as reenactment and
    partial swaps alter) or the lower face (nose to chin), with the brows sometimes raised.
    """
    pts = np.asarray(pts, np.float32).copy()
    kind = rng.choice(["full", "full", "full", "inner", "lower"])
    if kind == "inner":
        idx = _BROWS + _NOSE + _EYES + _MOUTH
    elif kind == "lower":
        idx = _JAW[2:15] + _NOSE
    else:
        idx = _JAW + _BROWS
        if rng.random() < 0.5:  # extend towards the forehead: each brow point moved straight
            eye_c = pts[_EYES].mean(0)  # up the face by part of its height above the eyes
            up = pts[_BROWS].mean(0) - eye_c
            up /= np.linalg.norm(up) + 1e-6
            height = (pts[_BROWS] - eye_c) @ up
            pts[_BROWS] += np.outer(np.clip(height, 0, None) * rng.uniform(0.2, 1.2), up)
    return cv2.convexHull(pts[idx]).reshape(-1, 2)


def _elastic(mask: np.ndarray, rng: np.random.Generator, strength: float) -> np.ndarray:
    """Smooth random displacement so the boundary is not a clean polygon."""
    h, w = mask.shape
    grid = 8
    dx = cv2.resize(rng.normal(0, strength, (grid, grid)).astype(np.float32), (w, h),
                    interpolation=cv2.INTER_CUBIC)
    dy = cv2.resize(rng.normal(0, strength, (grid, grid)).astype(np.float32), (w, h),
                    interpolation=cv2.INTER_CUBIC)
    xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return cv2.remap(mask, xs + dx, ys + dy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)


def blend_mask(shape: tuple[int, int], landmarks: np.ndarray, rng: np.random.Generator,
               ratio: float | None = None, landmarks68: np.ndarray | None = None,
               p68: float = 0.75) -> np.ndarray:
    """Soft mask in [0, 1]: hull -> elastic deformation -> blurred edge -> random blend ratio.

    The hull comes from the 68 points (when given and finite) with probability `p68`, else from
    the 5 points.
    """
    h, w = shape
    mask = np.zeros((h, w), np.float32)
    use68 = landmarks68 is not None and bool(np.isfinite(landmarks68).all()) and rng.random() < p68
    hull = face_hull68(landmarks68, rng) if use68 else face_hull(landmarks, rng)
    cv2.fillConvexPoly(mask, np.round(hull).astype(np.int32), 1.0)
    d = float(np.linalg.norm(np.asarray(landmarks[1]) - np.asarray(landmarks[0])))
    mask = _elastic(mask, rng, strength=rng.uniform(0.0, 0.08) * d)
    if rng.random() < 0.5:  # erode or dilate a little: the boundary moves in or out
        k = max(1, int(rng.uniform(0.02, 0.12) * d))
        kernel = np.ones((k, k), np.uint8)
        mask = cv2.erode(mask, kernel) if rng.random() < 0.5 else cv2.dilate(mask, kernel)
    sigma = rng.uniform(0.02, 0.2) * d + 0.5
    mask = cv2.GaussianBlur(mask, (0, 0), sigma)
    mask /= max(float(mask.max()), 1e-6)
    if ratio is None:
        ratio = float(rng.choice([0.25, 0.5, 0.75, 1.0, 1.0, 1.0]))
    return np.clip(mask * ratio, 0.0, 1.0)


def _colour_shift(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    out = img.astype(np.float32)
    out = out * rng.uniform(0.9, 1.1, 3) + rng.uniform(-12, 12, 3)  # per-channel gain/offset
    out = (out - out.mean()) * rng.uniform(0.9, 1.1) + out.mean()  # contrast
    if rng.random() < 0.3:  # hue/saturation shift
        hsv = cv2.cvtColor(np.clip(out, 0, 255).astype(np.uint8), cv2.COLOR_RGB2HSV)
        hsv = hsv.astype(np.int16)
        hsv[..., 0] = (hsv[..., 0] + rng.integers(-6, 7)) % 180
        hsv[..., 1] = np.clip(hsv[..., 1] * rng.uniform(0.85, 1.15), 0, 255)
        out = cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2RGB).astype(np.float32)
    return np.clip(out, 0, 255).astype(np.uint8)


def _sharpness_shift(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    if rng.random() < 0.5:
        return cv2.GaussianBlur(img, (0, 0), rng.uniform(0.4, 1.4))
    blur = cv2.GaussianBlur(img, (0, 0), 1.0)
    return cv2.addWeighted(img, 1.0 + rng.uniform(0.3, 1.0), blur, -rng.uniform(0.3, 1.0), 0)


def _small_warp(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Source misaligned by a few pixels and percent, as a swapped face never fits exactly."""
    h, w = img.shape[:2]
    s = rng.uniform(0.95, 1.05)
    sx, sy = s * rng.uniform(0.97, 1.03), s
    tx, ty = rng.uniform(-0.03, 0.03) * w, rng.uniform(-0.03, 0.03) * h
    cx, cy = w / 2.0, h / 2.0
    m = np.array([[sx, 0, cx - sx * cx + tx], [0, sy, cy - sy * cy + ty]], np.float32)
    return cv2.warpAffine(img, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


def self_blend(img: np.ndarray, landmarks: np.ndarray, rng: np.random.Generator,
               ratio: float | None = None, landmarks68: np.ndarray | None = None
               ) -> tuple[np.ndarray, np.ndarray]:
    """(fake, mask): `img` blended with an altered copy of itself inside a face mask."""
    source, target = img, img
    altered = _colour_shift(img, rng)
    if rng.random() < 0.7:
        altered = _sharpness_shift(altered, rng)
    if rng.random() < 0.5:
        source, target = altered, img
    else:
        source, target = img, altered
    source = _small_warp(source, rng)
    mask = blend_mask(img.shape[:2], landmarks, rng, ratio, landmarks68)
    return blend_into(source, target, mask), mask


def blend_into(source: np.ndarray, target: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """mask * source + (1 - mask) * target, rounded to uint8."""
    m = mask[..., None]
    fake = source.astype(np.float32) * m + target.astype(np.float32) * (1.0 - m)
    return np.clip(fake + 0.5, 0, 255).astype(np.uint8)


def jpeg(img: np.ndarray, quality: int) -> np.ndarray:
    ok, buf = cv2.imencode(".jpg", img[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    return cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1] if ok else img


def degrade(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The same random size/blur/noise/compression for real and fake alike: no shortcut cues."""
    h, w = img.shape[:2]
    if rng.random() < 0.5:  # seen at lower resolution, then upscaled to the model's input
        f = rng.uniform(0.3, 0.9)
        small = cv2.resize(img, (max(8, int(w * f)), max(8, int(h * f))),
                           interpolation=cv2.INTER_AREA)
        img = cv2.resize(small, (w, h), interpolation=rng.choice(
            [cv2.INTER_LINEAR, cv2.INTER_CUBIC, cv2.INTER_AREA]))
    r = rng.random()
    if r < 0.2:
        img = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.3, 1.5))
    elif r < 0.35:  # sharpened too, so that sharpness alone never says 'fake' (GAN faces are crisp)
        blur = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.8, 1.6))
        amount = rng.uniform(0.3, 1.2)
        img = cv2.addWeighted(img, 1.0 + amount, blur, -amount, 0)
    if rng.random() < 0.15:
        noise = rng.normal(0, rng.uniform(2, 8), img.shape).astype(np.float32)
        img = np.clip(img.astype(np.float32) + noise, 0, 255).astype(np.uint8)
    if rng.random() < 0.2:
        img = _colour_shift(img, rng)
    if rng.random() < 0.7:
        img = jpeg(img, int(rng.integers(35, 100)))
    return img
