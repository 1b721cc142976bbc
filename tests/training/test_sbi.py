"""Self-blended fakes: the mask stays in the face, the ratio holds, nothing changes outside it."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from app.training.sbi import blend_into, blend_mask, degrade, face_hull, self_blend

# 5 landmarks of a face centred in a 224 x 224 crop (eyes, nose, mouth corners).
LANDMARKS = np.array([[90, 95], [134, 95], [112, 122], [95, 148], [129, 148]], np.float32)


@pytest.fixture(scope="module")
def face(astronaut):
    from app.core.faces import face_crop
    from tests.conftest import ASTRONAUT_FACE

    return face_crop(astronaut, ASTRONAUT_FACE, 224, 1.8)[0]


def test_hull_contains_landmarks_and_stays_near_face():
    rng = np.random.default_rng(0)
    for _ in range(20):
        hull = face_hull(LANDMARKS, rng)
        for x, y in LANDMARKS:
            assert cv2.pointPolygonTest(hull.reshape(-1, 1, 2), (float(x), float(y)), False) >= 0
        assert hull[:, 0].min() > 30 and hull[:, 0].max() < 194  # about one face wide


@pytest.mark.parametrize("ratio", [0.25, 0.5, 1.0])
def test_mask_inside_image_and_ratio_respected(ratio):
    rng = np.random.default_rng(1)
    mask = blend_mask((224, 224), LANDMARKS, rng, ratio=ratio)
    assert mask.shape == (224, 224) and mask.dtype == np.float32
    assert mask.min() >= 0.0 and mask.max() == pytest.approx(ratio, abs=1e-5)
    assert mask[0].max() < 0.01 and mask[-1].max() < 0.01  # zero at the image border
    assert mask[122, 112] > 0.9 * ratio  # the nose is inside


def test_change_only_inside_dilated_mask(face):
    for seed in range(10):
        rng = np.random.default_rng(seed)
        fake, mask = self_blend(face, LANDMARKS, rng)
        changed = np.abs(fake.astype(int) - face.astype(int)).max(axis=2) > 2
        # The altered copy may be the target (whole image shifted) or the source (only the face);
        # either way the *difference between inside and outside* lives inside the mask support.
        support = cv2.dilate((mask > 1e-3).astype(np.uint8), np.ones((9, 9), np.uint8)) > 0
        outside = changed & ~support
        inside = changed & support
        if outside.any():
            # Target was altered: outside changes everywhere the same way (a global colour
            # shift), so the blend boundary still only exists inside the mask.
            assert outside.mean() > 0.5 * (~support).mean()
        assert inside.any()


def test_blend_changes_target_only_inside_dilated_mask(face):
    rng = np.random.default_rng(2)
    mask = blend_mask((224, 224), LANDMARKS, rng, ratio=0.75)
    source = 255 - face  # maximally different, so any leak would show
    out = blend_into(source, face, mask)
    support = cv2.dilate((mask > 0).astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    assert (out[~support] == face[~support]).all()
    inside = mask > 0.5
    expected = mask[..., None] * source + (1 - mask[..., None]) * face.astype(np.float32)
    assert np.abs(out[inside] - expected[inside]).max() <= 1.0


def test_self_blend_is_deterministic_per_seed(face):
    a, _ = self_blend(face, LANDMARKS, np.random.default_rng(5))
    b, _ = self_blend(face, LANDMARKS, np.random.default_rng(5))
    assert (a == b).all()


def test_degrade_keeps_shape_and_dtype(face):
    rng = np.random.default_rng(3)
    for _ in range(10):
        out = degrade(face, rng)
        assert out.shape == face.shape and out.dtype == np.uint8
