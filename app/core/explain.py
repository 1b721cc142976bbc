"""GradCAM maps as float arrays, and blending them over an image as a pure function."""

from __future__ import annotations

import threading

import cv2
import numpy as np


class Explainer:
    """GradCAM for one detector, safe under concurrent workers by construction.

    One permanent forward hook sits on the target layer, but it records an activation only for
    the thread that asked for it (thread-local state), so a scoring pass or a second heatmap pass
    running in another worker never mixes into this one; gradients come from
    `torch.autograd.grad` on this call's own graph, not from shared backward hooks. One forward
    + one backward per batch of faces; the score comes from the same forward pass.
    The map is GradCAM (Selvaraju et al.): channel weights = mean gradient over space,
    map = ReLU(sum of weighted activations), scaled per face with pytorch-grad-cam's
    `scale_cam_image`. For a ViT the patch tokens are reshaped to their grid first.
    A card with `heatmap_method: token_relevance` (the CLIP detector) takes its map from
    `ClipDetector.relevance` instead: one forward pass, no hook, no backward pass through the
    network; scaled the same way.
    """

    def __init__(self, detector) -> None:
        self.detector = detector
        self._local = threading.local()
        self._reshape = detector.reshape_transform()
        self._handle = detector.target_layer().register_forward_hook(self._record)

    def _record(self, _module, _inputs, output) -> None:
        if getattr(self._local, "capture", False):
            self._local.activation = output

    def explain(self, crops: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(logits, calibrated p_fake, heatmaps (N, H, W) float32 in [0, 1]) from one pass."""
        import torch
        from pytorch_grad_cam.utils.image import scale_cam_image

        from app.core.detector import HEATMAP_TOKEN_RELEVANCE

        det = self.detector
        x = det.preprocess(crops)
        size = crops.shape[1]
        if det.card.heatmap_method == HEATMAP_TOKEN_RELEVANCE:
            with det.autocast():
                out, rel = det.model.relevance(x)
            lg = out.float().numpy()
            return lg, det.card.calibrate(lg), scale_cam_image(rel.numpy(), (size, size)).astype(
                np.float32)
        self._local.capture, self._local.activation = True, None
        try:
            with torch.enable_grad(), det.autocast():
                out = det.model(x).reshape(-1)
            act = self._local.activation
        finally:
            self._local.capture, self._local.activation = False, None
        if act is None:
            raise RuntimeError("GradCAM's target layer was not reached in the forward pass.")
        logits = out.detach().float()
        # Explain the decision made: the fake logit where p >= 0.5, else the real one (-logit).
        target = torch.where(logits >= 0, out, -out).sum()
        (grad,) = torch.autograd.grad(target, act)
        a, g = act.detach().float(), grad.float()
        if self._reshape is not None:
            a, g = self._reshape(a), self._reshape(g)
        weights = g.mean(dim=(2, 3), keepdim=True)
        cam = torch.relu((weights * a).sum(dim=1)).numpy()
        maps = scale_cam_image(cam, (size, size)).astype(np.float32)
        lg = logits.numpy()
        return lg, det.card.calibrate(lg), maps

    def close(self) -> None:
        self._handle.remove()


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
