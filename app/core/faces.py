"""Face finding (facenet-pytorch MTCNN: every face, box, score, 5 landmarks) and face crops.

`face_crop` is the one function that turns a face box into the classifier's input; inference and
training both call it, so the model is trained on exactly what it sees at run time.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import cv2
import numpy as np

# Detections below this MTCNN score are dropped (MTCNN's own stage thresholds come first).
MIN_DET_SCORE = 0.90
# Longest side the detector looks at; larger images are downscaled for speed, boxes scaled back.
# A large photo keeps a third of its side (at most DETECT_LARGE_SIDE), so MTCNN's 20 px still
# means a face of ~60 px in the photo, under the 64 px a score needs (quality.MIN_FACE_PX):
# at a flat 1024 px, half the 70 px faces of a 6000 x 4000 group photo were missed without a
# word; at 2000 px all were found, for ~0.4 s more on such a photo.
DETECT_MAX_SIDE = 1024
DETECT_LARGE_SIDE = 2048
# A face filling the frame has no context for MTCNN's pyramid: retry on a padded canvas.
PAD_FRACTION = 0.35
# First pass: the smallest face looked for, in original-image pixels. Half the size below which
# a score is unreliable (quality.MIN_FACE_PX = 64): MTCNN's P-net pyramid cost grows with
# (12 / min face)^2, so 32 px instead of 20 px costs ~40% less. Smaller faces are still found by
# the fallback pass (padded canvas, `min_face_size`) when the first pass finds nothing.
FIRST_PASS_MIN_FACE_PX = 32
# A picture with no upright face is looked at turned, on a copy this large (FaceFinder.turned_face).
TURN_CHECK_SIDE = 480
TURN_CHECK_MIN_FACE = 40  # px on that copy: the hint is for a portrait, not a crowd (4x cheaper)
# The classifier sees a square of this many face-box sides, centred on the box.
CROP_SCALE = 1.3


@dataclass
class Face:
    box: tuple[float, float, float, float]  # x1, y1, x2, y2
    score: float
    landmarks: np.ndarray  # (5, 2): left eye, right eye, nose, mouth left, mouth right

    @property
    def width(self) -> float:
        return self.box[2] - self.box[0]

    @property
    def height(self) -> float:
        return self.box[3] - self.box[1]


class FaceFinder:
    """MTCNN wrapper; the networks load on first use and are shared across calls (thread-safe)."""

    def __init__(self, min_face_size: int = 20, min_score: float = MIN_DET_SCORE) -> None:
        self.min_face_size = min_face_size
        self.min_score = min_score
        self._mtcnn = None
        self._lock = threading.Lock()

    def _model(self):
        if self._mtcnn is None:
            import torch
            from facenet_pytorch import MTCNN  # weights ship inside the wheel: no download

            # channels_last weights make PyTorch's CPU max-pool and conv kernels take their fast
            # NHWC paths (R-net/O-net ~2.5x faster); the outputs are the same to ~1e-6.
            self._mtcnn = MTCNN(
                keep_all=True,
                min_face_size=self.min_face_size,
                post_process=False,
                select_largest=False,
                device="cpu",
            ).to(memory_format=torch.channels_last)
        return self._mtcnn

    def find(self, rgb: np.ndarray, *, photo: bool = True) -> list[Face]:
        """Every face in an RGB uint8 image, largest first. `photo=False` (a video frame, many
        per clip) keeps the detection copy at DETECT_MAX_SIDE even for a 4K frame."""
        faces = self._detect_scaled(rgb, max(self.min_face_size, FIRST_PASS_MIN_FACE_PX),
                                    large=photo)
        if not faces:
            faces = self._detect_padded(rgb)
        faces.sort(key=lambda f: f.width * f.height, reverse=True)
        return faces

    def turned_face(self, rgb: np.ndarray) -> int | None:
        """For a picture with no upright face: the clockwise turn (90, 180, 270) under which a
        face appears, else None. A file that lost its orientation tag (many upload tools and
        messengers strip it) shows a sideways or upside-down face. Looked for on a small copy,
        first pass only: cheap, and only large faces matter for the hint."""
        h, w = rgb.shape[:2]
        scale = min(1.0, TURN_CHECK_SIDE / max(h, w))
        small = rgb if scale >= 1.0 else cv2.resize(
            rgb, (max(1, round(w * scale)), max(1, round(h * scale))),
            interpolation=cv2.INTER_AREA)
        turns = {90: cv2.ROTATE_90_CLOCKWISE, 180: cv2.ROTATE_180,
                 270: cv2.ROTATE_90_COUNTERCLOCKWISE}
        for angle, code in turns.items():
            if self._detect(np.ascontiguousarray(cv2.rotate(small, code)), TURN_CHECK_MIN_FACE):
                return angle
        return None

    def _detect_scaled(self, rgb: np.ndarray, min_face_px: float | None = None,
                       large: bool = True) -> list[Face]:
        """Detect on a copy whose long side is at most DETECT_MAX_SIDE (`large`: a third of a
        big photo's side, up to DETECT_LARGE_SIDE); `min_face_px` is the smallest face wanted
        in `rgb`'s pixels (never below `min_face_size` detector pixels)."""
        h, w = rgb.shape[:2]
        side = DETECT_MAX_SIDE
        if large:
            side = min(max(DETECT_MAX_SIDE, max(h, w) / 3), DETECT_LARGE_SIDE)
        scale = min(1.0, side / max(h, w))
        small = rgb
        if scale < 1.0:
            size = (round(w * scale), round(h * scale))
            small = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
        min_face = max(self.min_face_size, round((min_face_px or 0) * scale))
        faces = self._detect(small, min_face)
        if scale < 1.0:
            faces = [_rescale(f, 1.0 / scale, 0.0, 0.0) for f in faces]
        return [_clip(f, w, h) for f in faces]

    def _detect_padded(self, rgb: np.ndarray) -> list[Face]:
        h, w = rgb.shape[:2]
        pad = round(max(h, w) * PAD_FRACTION)
        fill = [int(v) for v in rgb.reshape(-1, 3).mean(axis=0)]
        canvas = cv2.copyMakeBorder(rgb, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=fill)
        faces = self._detect_scaled(canvas, large=False)
        return [_clip(_rescale(f, 1.0, -pad, -pad), w, h) for f in faces]

    def _detect(self, rgb: np.ndarray, min_face: int | None = None) -> list[Face]:
        min_face = min_face or self.min_face_size
        if min(rgb.shape[:2]) < min_face:
            return []  # MTCNN's pyramid would be empty (and facenet-pytorch would raise)
        with self._lock:
            import torch

            with torch.inference_mode():
                mtcnn = self._model()
                mtcnn.min_face_size = min_face  # read by every detect() call
                boxes, probs, points = mtcnn.detect(np.ascontiguousarray(rgb), landmarks=True)
        if boxes is None:
            return []
        out = []
        for box, prob, pts in zip(boxes, probs, points, strict=True):
            if prob is None or prob < self.min_score:
                continue
            out.append(Face(tuple(float(v) for v in box), float(prob), np.asarray(pts, np.float32)))
        return out


def _rescale(face: Face, s: float, dx: float, dy: float) -> Face:
    x1, y1, x2, y2 = face.box
    box = (x1 * s + dx, y1 * s + dy, x2 * s + dx, y2 * s + dy)
    return Face(box, face.score, face.landmarks * s + np.array([dx, dy], np.float32))


def _clip(face: Face, w: int, h: int) -> Face:
    x1, y1, x2, y2 = face.box
    box = (max(0.0, x1), max(0.0, y1), min(float(w), x2), min(float(h), y2))
    return Face(box, face.score, face.landmarks)


def crop_box(box: tuple[float, float, float, float], scale: float = CROP_SCALE) -> tuple:
    """The square region around a face box that the classifier sees (may extend past the image)."""
    x1, y1, x2, y2 = box
    cx, cy = (x1 + x2) / 2.0, (y1 + y2) / 2.0
    side = max(x2 - x1, y2 - y1) * scale
    return (cx - side / 2.0, cy - side / 2.0, cx + side / 2.0, cy + side / 2.0)


def face_crop(
    rgb: np.ndarray,
    box: tuple[float, float, float, float],
    size: int,
    scale: float = CROP_SCALE,
) -> tuple[np.ndarray, tuple[float, float, float, float]]:
    """Square crop around `box`, resized to size x size; outside the image is edge-replicated.

    Returns the crop (uint8 RGB) and the crop's region in image coordinates.
    """
    region = crop_box(box, scale)
    x1, y1, x2, y2 = region
    side = x2 - x1
    # One affine warp does crop + resize + border handling without an intermediate copy.
    s = size / side
    m = np.array([[s, 0.0, -x1 * s], [0.0, s, -y1 * s]], np.float32)
    interp = cv2.INTER_AREA if s < 1.0 else cv2.INTER_LINEAR
    if s < 0.5:
        # INTER_AREA is not supported by warpAffine: pre-shrink the region, then warp.
        ix1, iy1 = max(0, int(np.floor(x1))), max(0, int(np.floor(y1)))
        ix2, iy2 = min(rgb.shape[1], int(np.ceil(x2))), min(rgb.shape[0], int(np.ceil(y2)))
        sub = rgb[iy1:iy2, ix1:ix2]
        f = 2.0 * s  # shrink to twice the target resolution, the rest bilinear
        sub = cv2.resize(sub, (max(1, round(sub.shape[1] * f)), max(1, round(sub.shape[0] * f))),
                         interpolation=cv2.INTER_AREA)
        m = np.array([[0.5, 0.0, (ix1 - x1) * s], [0.0, 0.5, (iy1 - y1) * s]], np.float32)
        rgb, interp = sub, cv2.INTER_LINEAR
    crop = cv2.warpAffine(rgb, m, (size, size), flags=interp, borderMode=cv2.BORDER_REPLICATE)
    return crop, region
