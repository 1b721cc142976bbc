"""68-point blending masks, the 5-from-68 reduction, and the FF++ split that keeps swap pairs
together. dlib itself is a training-time tool and is not needed here: the 68 points are built."""

from __future__ import annotations

import os

import cv2
import numpy as np
import pytest

from app.training.data import BatchMaker, CropSet, load_cache
from app.training.landmarks68 import agrees_with_mtcnn, five_from_68, sidecar
from app.training.sbi import blend_mask, face_hull68, self_blend
from app.training.splits import ffpp_group, split_of
from tests.conftest import SHARED_DATA


def template68(cx: float = 112.0, cy: float = 118.0, s: float = 1.0) -> np.ndarray:
    """A plausible frontal 68-point face in dlib's order, centred near (cx, cy)."""
    t = np.linspace(np.pi * 0.95, np.pi * 0.05, 17)
    jaw = np.stack([cx - 50 * np.cos(t), cy - 20 + 60 * np.sin(t)], 1)
    brow_l = np.stack([np.linspace(cx - 42, cx - 10, 5), np.full(5, cy - 40.0)], 1)
    brow_r = np.stack([np.linspace(cx + 10, cx + 42, 5), np.full(5, cy - 40.0)], 1)
    bridge = np.stack([np.full(4, cx), np.linspace(cy - 30, cy - 5, 4)], 1)
    nostrils = np.stack([np.linspace(cx - 10, cx + 10, 5), np.full(5, cy + 2.0)], 1)
    ring = np.linspace(0, 2 * np.pi, 6, endpoint=False)
    eye_l = np.stack([cx - 24 + 9 * np.cos(ring), cy - 25 + 4 * np.sin(ring)], 1)
    eye_r = np.stack([cx + 24 + 9 * np.cos(ring), cy - 25 + 4 * np.sin(ring)], 1)
    ring12 = np.linspace(np.pi, -np.pi, 12, endpoint=False)
    mouth_o = np.stack([cx + 18 * np.cos(ring12), cy + 28 + 7 * np.sin(ring12)], 1)
    ring8 = np.linspace(np.pi, -np.pi, 8, endpoint=False)
    mouth_i = np.stack([cx + 12 * np.cos(ring8), cy + 28 + 3 * np.sin(ring8)], 1)
    pts = np.concatenate([jaw, brow_l, brow_r, bridge, nostrils, eye_l, eye_r, mouth_o, mouth_i])
    c = np.array([cx, cy])
    return ((pts - c) * s + c).astype(np.float32)


def test_template_is_dlib_shaped():
    pts = template68()
    assert pts.shape == (68, 2)
    five = five_from_68(pts)
    assert five[0, 0] < five[1, 0] and five[3, 0] < five[4, 0]  # image-left before image-right
    assert five[0, 1] < five[2, 1] < five[3, 1]  # eyes above nose above mouth


def test_five_from_68_agreement():
    pts = template68()
    five = five_from_68(pts)
    assert agrees_with_mtcnn(pts, five)
    eye_d = float(np.linalg.norm(five[1] - five[0]))
    shifted = five + np.array([0.5 * eye_d, 0.0], np.float32)
    assert not agrees_with_mtcnn(pts, shifted)  # half an eye distance off: rejected
    assert agrees_with_mtcnn(pts, shifted, tol=0.6)  # the loose check for dlib's own boxes


def test_hull68_covers_the_inner_face_and_stays_in_the_face():
    pts = template68()
    rng = np.random.default_rng(0)
    for _ in range(30):
        hull = face_hull68(pts, rng).reshape(-1, 1, 2)
        for p in five_from_68(pts)[2:]:  # nose and mouth corners are in every variant
            assert cv2.pointPolygonTest(hull, (float(p[0]), float(p[1])), False) >= 0
        # Raised brows may reach a little past the jaw's width, never far.
        slack = 0.15 * float(np.ptp(pts[:, 0]))
        assert hull[..., 0].min() >= pts[:, 0].min() - slack
        assert hull[..., 0].max() <= pts[:, 0].max() + slack
        assert hull[..., 1].max() <= pts[:, 1].max() + 1  # never below the chin


@pytest.mark.parametrize("ratio", [0.5, 1.0])
def test_mask68_inside_image_ratio_and_outline(ratio):
    pts = template68()
    rng = np.random.default_rng(3)
    for _ in range(10):
        mask = blend_mask((224, 224), five_from_68(pts), rng, ratio=ratio, landmarks68=pts,
                          p68=1.0)
        assert mask.max() == pytest.approx(ratio, abs=1e-5)
        assert mask[0].max() < 0.01 and mask[-1].max() < 0.01 and mask[:, 0].max() < 0.01
        assert mask[int(pts[33, 1]), int(pts[33, 0])] > 0.5 * ratio  # under the nose: inside


def test_nan_landmarks_fall_back_to_five_points():
    pts = template68()
    nan = np.full((68, 2), np.nan, np.float32)
    a = blend_mask((224, 224), five_from_68(pts), np.random.default_rng(5), landmarks68=nan)
    b = blend_mask((224, 224), five_from_68(pts), np.random.default_rng(5))
    np.testing.assert_array_equal(a, b)


def test_self_blend_with_68_points_changes_only_near_the_mask(astronaut):
    from app.core.faces import face_crop
    from tests.conftest import ASTRONAUT_FACE

    face = face_crop(astronaut, ASTRONAUT_FACE, 224, 1.8)[0]
    pts = template68()
    for seed in range(6):
        fake, mask = self_blend(face, five_from_68(pts), np.random.default_rng(seed),
                                landmarks68=pts)
        support = cv2.dilate((mask > 1e-3).astype(np.uint8), np.ones((9, 9), np.uint8)) > 0
        diff = np.abs(fake.astype(int) - face.astype(int)).max(axis=2)
        assert (diff[support] > 2).any()
        outside = diff[~support]
        # Outside the mask the image is either untouched or shifted as a whole (altered target).
        assert (outside <= 2).all() or (outside > 2).mean() > 0.3


def test_cache_sidecar_loads_and_batches_use_it(tmp_path, astronaut):
    from app.core.faces import face_crop
    from tests.conftest import ASTRONAUT_FACE

    crop = face_crop(astronaut, ASTRONAUT_FACE, 224, 1.8)[0]
    pts = template68()
    cache = tmp_path / "set.npz"
    np.savez(cache, crops=np.stack([crop, crop]), landmarks=np.stack([five_from_68(pts)] * 2),
             boxes=np.array([[62, 60, 162, 176]] * 2, np.float32), names=np.array(["a", "b"]))
    lm = np.stack([pts, np.full((68, 2), np.nan, np.float32)])
    np.save(sidecar(cache), lm)
    cs = load_cache(cache, landmarks68=True)
    assert cs.lm68.shape == (2, 68, 2) and np.isnan(cs.lm68[1]).all()
    assert cs.subset(np.array([0])).lm68.shape == (1, 68, 2)
    plain = load_cache(cache)
    assert plain.lm68 is None
    a = BatchMaker([cs], [], 64, 4, seed=1)[0]
    b = BatchMaker([cs], [], 64, 4, seed=1)[0]
    c = BatchMaker([plain], [], 64, 4, seed=1)[0]
    np.testing.assert_array_equal(a[0], b[0])  # deterministic per step
    assert a[0].shape == (4, 64, 64, 3) and list(a[1]) == [0, 1, 0, 1]
    assert not np.array_equal(a[0], c[0])  # the 68-point masks are used
    assert isinstance(cs, CropSet)


def test_ffpp_split_keeps_swap_pairs_together():
    assert ffpp_group("036_0030.png") == ffpp_group("035_036_0030.png") == "035_036"
    assert ffpp_group("036_035_0120.png") == ffpp_group("035_0000.png")
    assert ffpp_group("999_0001.png") == "999"  # unknown videos are their own group
    for a, b in [("035", "036"), ("811", "920"), ("263", "284")]:
        splits = {split_of("ffpp", f"{a}_0000.png"), split_of("ffpp", f"{b}_0000.png"),
                  split_of("ffpp", f"{a}_{b}_0000.png"), split_of("ffpp", f"{b}_{a}_0000.png")}
        assert len(splits) == 1


@pytest.mark.shared_data
@pytest.mark.skipif(not (SHARED_DATA / "dev" / "ffpp").exists(),
                    reason="../shared/data not present")
def test_no_person_in_two_ffpp_splits_of_the_dev_data():
    folder = SHARED_DATA / "dev" / "ffpp"
    where: dict[str, set[str]] = {}
    for sub in ("real", "Deepfakes"):
        for name in os.listdir(folder / sub):
            for vid in name.split("_")[:-1]:
                where.setdefault(vid, set()).add(split_of("ffpp", name))
    assert where and all(len(s) == 1 for s in where.values()), where
