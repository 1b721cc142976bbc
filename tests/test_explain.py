"""Overlay maths: a real alpha blend that never saturates, placed only over the face."""

from __future__ import annotations

import numpy as np

from app.core.explain import blend, colorize, heatmap_in_image, overlay_faces
from app.core.results import FaceResult


def test_blend_endpoints_and_midpoint():
    img = np.full((4, 4, 3), 200, np.uint8)
    heat = np.full((4, 4, 3), 100, np.uint8)
    assert (blend(img, heat, 0.0) == 200).all()
    assert (blend(img, heat, 1.0) == 100).all()
    assert (blend(img, heat, 0.5) == 150).all()
    assert (blend(img, heat, 0.25) == 175).all()


def test_blend_does_not_saturate_like_addweighted():
    img = np.full((2, 2, 3), 250, np.uint8)
    heat = np.full((2, 2, 3), 250, np.uint8)
    # cv2.addWeighted(img, 1, heat, 0.5, 0) would clip to 255; a real blend stays at 250.
    assert (blend(img, heat, 0.5) == 250).all()


def test_blend_clamps_opacity():
    img = np.zeros((1, 1, 3), np.uint8)
    heat = np.full((1, 1, 3), 255, np.uint8)
    assert blend(img, heat, 3.0)[0, 0, 0] == 255 and blend(img, heat, -1)[0, 0, 0] == 0


def test_colorize_low_blue_high_red():
    c = colorize(np.array([[0.0, 1.0]], np.float32))
    assert c[0, 0, 2] > c[0, 0, 0]  # low: blue dominates
    assert c[0, 1, 0] > c[0, 1, 2]  # high: red dominates


def test_heatmap_placed_in_crop_region_only():
    heat = np.ones((10, 10), np.float32)
    warped, cover = heatmap_in_image(heat, (20, 30, 40, 50), 100, 80)
    assert warped.shape == (80, 100)
    assert cover[35:45, 25:35].min() == 1.0 and cover[:20].max() == 0 and cover[:, 50:].max() == 0


def test_overlay_changes_face_region_only():
    img = np.full((60, 60, 3), 128, np.uint8)
    face = FaceResult(box=(10, 10, 30, 30), det_score=1.0, heatmap=np.ones((8, 8), np.float32),
                      crop_box=(10, 10, 30, 30))
    out = overlay_faces(img, [face], 0.5)
    assert (out[45:, 45:] == 128).all()
    assert (out[15:25, 15:25] != 128).any()
    stronger = overlay_faces(img, [face], 0.9)
    diff_weak = np.abs(out[20, 20].astype(int) - 128).sum()
    diff_strong = np.abs(stronger[20, 20].astype(int) - 128).sum()
    assert diff_strong > diff_weak


def test_overlay_alpha_follows_heat():
    """Cold regions of the crop stay nearly clear; hot ones take the colour."""
    from app.core.explain import colorize_rgba

    rgba = colorize_rgba(np.array([[0.0, 1.0]], np.float32))
    assert rgba.shape == (1, 2, 4) and rgba[0, 0, 3] < rgba[0, 1, 3] == 255
    img = np.full((40, 40, 3), 128, np.uint8)
    heat = np.zeros((8, 8), np.float32)
    heat[4:, :] = 1.0  # bottom half hot
    face = FaceResult(box=(0, 0, 40, 40), det_score=1.0, heatmap=heat, crop_box=(0, 0, 40, 40))
    out = overlay_faces(img, [face], 0.8).astype(int)
    cold_change = np.abs(out[5, 20] - 128).sum()
    hot_change = np.abs(out[35, 20] - 128).sum()
    assert hot_change > 3 * cold_change
