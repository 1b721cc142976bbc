"""GradCAM maps as float arrays, and blending them over an image as a pure function."""

from __future__ import annotations

import threading

import cv2
import numpy as np


class _DecisionTarget:
    """Explains the decision the model made: the fake logit if p>=0.5, else the real (-logit)."""

    def __call__(self, output):
        logit = output.reshape(-1)[0]
        return logit if float(logit.detach()) >= 0 else -logit


class Explainer:
    """GradCAM built once per detector and reused: one forward + one backward per batch of faces."""

    def __init__(self, detector) -> None:
        from pytorch_grad_cam import GradCAM

        self.detector = detector
        self._cam = GradCAM(model=detector.model, target_layers=[detector.target_layer()])
        self._lock = threading.Lock()

    def explain(self, crops: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(logits, calibrated p_fake, heatmaps (N, H, W) float32 in [0, 1]) from one pass."""
        import torch

        x = self.detector.preprocess(crops)
        with self._lock, torch.enable_grad():
            targets = [_DecisionTarget() for _ in range(len(x))]
            maps = self._cam(input_tensor=x, targets=targets)
            logits = self._cam.outputs.detach().reshape(-1).float().numpy()
            self._cam.activations_and_grads.clear()
        return logits, self.detector.card.calibrate(logits), maps.astype(np.float32)

    def close(self) -> None:
        self._cam.activations_and_grads.release()


def colorize(heatmap: np.ndarray) -> np.ndarray:
    """A [0, 1] float map -> RGB uint8 with the JET colormap (blue = low, red = high)."""
    u8 = np.clip(heatmap * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return cv2.cvtColor(cv2.applyColorMap(u8, cv2.COLORMAP_JET), cv2.COLOR_BGR2RGB)


def colorize_rgba(heatmap: np.ndarray, floor: float = 0.25) -> np.ndarray:
    """Like `colorize`, plus an alpha channel that follows the heat: regions that did not drive
    the decision stay nearly clear instead of tinting the whole crop blue."""
    alpha = np.clip(floor + (1.0 - floor) * heatmap, 0.0, 1.0)
    a8 = (alpha * 255.0 + 0.5).astype(np.uint8)
    return np.dstack([colorize(heatmap), a8])


def blend(image: np.ndarray, heatmap_rgb: np.ndarray, opacity: float) -> np.ndarray:
    """Alpha blend: (1 - a) * image + a * heatmap, never saturating. opacity in [0, 1]."""
    a = float(np.clip(opacity, 0.0, 1.0))
    out = image.astype(np.float32) * (1.0 - a) + heatmap_rgb.astype(np.float32) * a
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def heatmap_in_image(
    heatmap: np.ndarray, crop_region: tuple[float, float, float, float], width: int, height: int
) -> tuple[np.ndarray, np.ndarray]:
    """Place a crop's heatmap in image coordinates.

    Returns (map, coverage): the map (H, W float32) and where it applies (H, W float32 in {0, 1}).
    """
    x1, y1, x2, y2 = crop_region
    hs = heatmap.shape[0]
    s = (x2 - x1) / hs
    m = np.array([[s, 0.0, x1], [0.0, s, y1]], np.float32)
    warped = cv2.warpAffine(heatmap.astype(np.float32), m, (width, height), flags=cv2.INTER_LINEAR,
                            borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    cover = cv2.warpAffine(np.ones_like(heatmap, np.float32), m, (width, height),
                           flags=cv2.INTER_NEAREST, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    return warped, cover


def overlay_faces(
    image: np.ndarray, faces: list, opacity: float
) -> np.ndarray:
    """The image with each face's heatmap blended over its crop region; elsewhere untouched.
    Cold regions stay nearly clear (alpha follows the heat, `colorize_rgba`)."""
    h, w = image.shape[:2]
    out = image.copy()
    for face in faces:
        if face.heatmap is None or face.crop_box is None:
            continue
        warped, cover = heatmap_in_image(face.heatmap, face.crop_box, w, h)
        rgba = colorize_rgba(warped)
        # Per pixel: opacity x the heat's own alpha (what the window paints, see image_view).
        a = np.clip(opacity, 0.0, 1.0) * rgba[..., 3:4].astype(np.float32) / 255.0
        blended = out.astype(np.float32) * (1.0 - a) + rgba[..., :3].astype(np.float32) * a
        blended = np.clip(blended + 0.5, 0, 255).astype(np.uint8)
        mask = cover > 0.5
        out[mask] = blended[mask]
    return out
