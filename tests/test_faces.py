"""Face finding: every face, including one that fills the whole frame, in the right place."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from app.core.faces import FaceFinder, crop_box, face_crop
from app.core.images import load_image
from tests.conftest import ASTRONAUT_FACE


@pytest.fixture(scope="module")
def finder():
    return FaceFinder()


def _iou(a, b) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union


def test_astronaut_face_found_and_boxed(finder, astronaut):
    faces = finder.find(astronaut)
    assert len(faces) == 1
    face = faces[0]
    assert face.score > 0.99
    assert _iou(face.box, ASTRONAUT_FACE) > 0.8
    assert face.landmarks.shape == (5, 2)
    # Eyes above the nose, nose above the mouth: the landmarks are in the face, in order.
    (lx, ly), (rx, ry), (nx, ny), (mlx, mly), (mrx, mry) = face.landmarks
    assert lx < rx and max(ly, ry) < ny < min(mly, mry)


def test_three_faces_in_composite(finder, three_faces):
    faces = finder.find(three_faces)
    assert len(faces) == 3
    xs = sorted(f.box[0] for f in faces)
    assert xs[0] < 300 < xs[1] < 600 < xs[2]


def test_tight_crop_filling_frame_is_found(finder, face_crop_200):
    faces = finder.find(face_crop_200)
    assert len(faces) == 1
    x1, y1, x2, y2 = faces[0].box
    assert (x2 - x1) > 70 and 0 <= x1 and x2 <= 200


def test_very_tight_crop_found_via_padding(finder, astronaut):
    x1, y1, x2, y2 = (int(v) for v in ASTRONAUT_FACE)
    tight = np.ascontiguousarray(astronaut[y1 + 5 : y2 - 5, x1 + 5 : x2 - 5])  # chin and brow cut
    faces = finder.find(tight)
    assert len(faces) == 1


def test_exif_rotated_copy_gives_rotated_box(tmp_path, finder, astronaut):
    exif = Image.Exif()
    exif[0x0112] = 8  # viewers rotate the stored pixels 90 degrees counter-clockwise
    stored = np.rot90(astronaut, k=-1)  # so store them rotated clockwise
    path = tmp_path / "rotated.jpg"
    Image.fromarray(np.ascontiguousarray(stored)).save(path, exif=exif, quality=95)
    img = load_image(path)
    # Loaded upright, the face is where it is in the original image.
    faces = finder.find(img.rgb)
    assert len(faces) == 1 and _iou(faces[0].box, ASTRONAUT_FACE) > 0.8


def test_no_face_in_photo_without_people(finder, no_face):
    assert finder.find(no_face) == []


def test_cameraman_is_a_face(finder):
    from skimage import data

    faces = finder.find(np.stack([data.camera()] * 3, axis=-1))
    assert len(faces) == 1 and 190 < faces[0].box[0] < 210


def test_tiny_and_blank_images(finder):
    assert finder.find(np.zeros((8, 8, 3), np.uint8)) == []
    assert finder.find(np.full((300, 300, 3), 128, np.uint8)) == []


def test_face_crop_is_square_and_centred(astronaut):
    crop, region = face_crop(astronaut, ASTRONAUT_FACE, 160)
    assert crop.shape == (160, 160, 3)
    assert region == pytest.approx(crop_box(ASTRONAUT_FACE))
    x1, y1, x2, y2 = region
    assert x2 - x1 == pytest.approx(y2 - y1)
    # Shrinking a lot goes through the area-averaging path and matches a direct resize.
    big = np.kron(astronaut, np.ones((4, 4, 1), np.uint8))
    box4 = tuple(v * 4 for v in ASTRONAUT_FACE)
    small, _ = face_crop(big, box4, 160)
    assert np.abs(small.astype(int) - crop.astype(int)).mean() < 6


def test_face_crop_outside_image_replicates_edges():
    img = np.zeros((100, 100, 3), np.uint8)
    img[:, :50] = 200
    crop, region = face_crop(img, (0, 0, 100, 100), 64, scale=2.0)
    assert region[0] < 0 and crop.shape == (64, 64, 3)
    assert crop[32, 0, 0] == 200 and crop[32, 63, 0] == 0


def test_judgeable_faces_in_a_large_group_photo_are_all_found(finder, astronaut):
    """A 6000 x 4000 photo with eight faces ~70 px across (over the 64 px a score needs): a
    flat 1024 px detection copy found half of them; the copy now keeps a third of the side."""
    face = astronaut[20:276, 96:352]  # the face is ~90 of these 256 px
    side = round(256 * 70 / 90)
    tile = np.asarray(Image.fromarray(face).resize((side, side), Image.Resampling.LANCZOS))
    photo = np.random.default_rng(0).normal(120, 20, (4000, 6000, 3)).clip(0, 255)
    photo = photo.astype(np.uint8)
    spots = [(300, 300), (1500, 600), (2800, 400), (4200, 700), (5300, 300), (900, 2500),
             (2600, 2900), (4600, 3100)]
    for x, y in spots:
        photo[y : y + side, x : x + side] = tile
    faces = finder.find(photo)
    assert len(faces) == len(spots)
    assert all(60 <= f.width <= 80 for f in faces)
