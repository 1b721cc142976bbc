"""Forensic filters on synthetic cases derived from skimage pictures: each finds its edit and
stays quiet on the unedited picture."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from skimage import data

from app.core.forensics import FILTERS, copymove, ela, jpeg, noise, run_filter, thumbnail
from app.core.forensics.jpeg_tables import estimate_quality, read_tables
from app.core.images import load_image
from tests.forensics_synth import (
    add_noise,
    clone,
    dec,
    enc,
    paste,
    region_means,
    with_thumbnail,
)

BOX = (256, 96, 416, 256)  # x1, y1, x2, y2: on the JPEG grid, over the astronaut's background


def _loaded(raw: bytes):
    return load_image(raw, keep_bytes=True)


# -- ELA -----------------------------------------------------------------------------------------

def _ela_case(edited: bool) -> np.ndarray:
    """A camera JPEG (q75) re-saved at 75, with or without a patch from a q98 JPEG."""
    base = dec(enc(data.astronaut(), 75))
    if edited:
        patch = dec(enc(data.coffee(), 98))[100:260, 200:360]
        base = paste(base, patch, BOX[0], BOX[1])
    return dec(enc(base, 75))


def test_ela_pasted_region_lights_up_three_times_the_rest():
    r = ela.run(_ela_case(edited=True), quality=75)
    inside, outside = region_means(r.map, r.map_scale, BOX)
    assert inside > 3 * outside, (inside, outside)
    assert not r.edited  # a map to interpret: ELA never claims an edit by itself


def test_ela_unedited_picture_stays_quiet():
    r = ela.run(_ela_case(edited=False), quality=75)
    inside, outside = region_means(r.map, r.map_scale, BOX)
    assert inside < 1.5 * outside + 0.005, (inside, outside)
    assert r.findings[0].data["median"] < 1.0


# -- noise ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["noisier", "smoother"])
def test_noise_patch_with_another_noise_level_stands_out(kind):
    bg = data.astronaut()
    x1, y1, x2, y2 = BOX
    if kind == "noisier":
        patch = add_noise(data.coffee(), 6.0)[100:260, 200:360]
    else:
        patch = cv2.GaussianBlur(bg, (5, 5), 1.2)[y1:y2, x1:x2]
    r = noise.run(dec(enc(paste(bg, patch, x1, y1), 92)))
    inside, outside = region_means(r.map, r.map_scale, BOX)
    # The map is centred on 0.5 (typical noise); a stated margin of 0.15 = 0.6 octave.
    if kind == "noisier":
        assert inside > outside + 0.15, (inside, outside)
    else:
        assert inside < outside - 0.15, (inside, outside)


def test_noise_unedited_picture_has_no_island():
    r = noise.run(dec(enc(data.astronaut(), 92)))
    inside, outside = region_means(r.map, r.map_scale, BOX)
    assert abs(inside - outside) < 0.15, (inside, outside)


# -- JPEG history --------------------------------------------------------------------------------

@pytest.mark.parametrize("quality", [10, 25, 40, 50, 60, 70, 75, 80, 85, 90, 95, 98])
def test_quality_estimate_within_3_of_pillow_quality(quality):
    import io

    from PIL import Image

    rep = estimate_quality(read_tables(Image.open(io.BytesIO(enc(data.chelsea(), quality)))))
    assert abs(rep.quality - quality) <= 3
    assert rep.standard


def test_custom_tables_are_told_apart_from_libjpeg():
    tables = [[max(1, (i * 7) % 50 + 2) for i in range(64)], [max(1, 60 - i // 2)
                                                                for i in range(64)]]
    raw = enc(data.chelsea(), 90, qtables=tables)
    r = run_filter("jpeg", _loaded(raw))
    table = next(f for f in r.findings if f.kind == "jpeg_tables")
    assert table.data["standard"] is False
    assert "Custom" in table.message


@pytest.mark.parametrize(("q1", "q2"), [(60, 90), (75, 92), (80, 95)])
def test_double_compression_is_flagged_near_the_first_quality(q1, q2):
    raw = enc(dec(enc(data.astronaut(), q1)), q2)
    r = run_filter("jpeg", _loaded(raw))
    dc = next(f for f in r.findings if f.kind == "double_compression")
    assert dc.data["quality"] is not None and abs(dc.data["quality"] - q1) <= 3
    assert dc.severity == "notable" and not dc.edited
    assert r.params["quality"] == dc.data["quality"]  # the ghost map opens at the dip


@pytest.mark.parametrize("name", ["astronaut", "coffee", "chelsea", "camera"])
def test_single_compression_is_not_flagged(name):
    img = getattr(data, name)()
    img = np.stack([img] * 3, -1) if img.ndim == 2 else img
    for q in (75, 90):
        r = run_filter("jpeg", _loaded(enc(img, q)))
        dc = next(f for f in r.findings if f.kind == "double_compression")
        assert dc.data["quality"] is None, (name, q, dc.message)


def test_ghost_map_shows_region_from_a_lower_quality_jpeg():
    x1, y1, x2, y2 = BOX
    patch = dec(enc(data.coffee(), 60))[96:256, 200:360]
    raw = enc(paste(data.astronaut(), patch, x1, y1), 90)
    img = dec(raw)
    at60 = jpeg.run(img, quality=60, raw=raw)
    inside, outside = region_means(at60.map, at60.map_scale, BOX)
    assert inside > outside + 0.3, (inside, outside)
    clean = jpeg.run(dec(enc(data.astronaut(), 90)), quality=60)
    inside, outside = region_means(clean.map, clean.map_scale, BOX)
    assert abs(inside - outside) < 0.1, (inside, outside)


# -- copy-move -----------------------------------------------------------------------------------

def _overlaps(a, b, min_iou: float = 0.3) -> bool:
    ix = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union >= min_iou


@pytest.mark.parametrize(("angle", "scale"), [(0, 1.0), (25, 1.0), (-12, 1.2)])
def test_clone_pair_is_found(angle, scale):
    img, src, dst = clone(data.astronaut(), (150, 40), (330, 300), 150, angle, scale)
    r = run_filter("copymove", _loaded(enc(img, 92)))
    hits = [f for f in r.findings if f.edited]
    assert hits, [f.message for f in r.findings]
    boxes = hits[0].boxes
    assert {_overlaps(boxes[0], src) or _overlaps(boxes[1], src),
            _overlaps(boxes[0], dst) or _overlaps(boxes[1], dst)} == {True}, (boxes, src, dst)
    assert 0.5 <= hits[0].confidence <= 1.0
    assert r.map.ndim == 3 and r.map.dtype == np.uint8  # the matched pairs, drawn


@pytest.mark.parametrize("name", ["astronaut", "coffee", "chelsea", "camera", "rocket",
                                  "immunohistochemistry"])
def test_unedited_pictures_have_no_clone(name):
    img = getattr(data, name)()
    img = np.stack([img] * 3, -1) if img.ndim == 2 else img
    r = copymove.run(dec(enc(img, 90)))
    assert not r.edited, [f.message for f in r.findings]


# -- EXIF thumbnail ------------------------------------------------------------------------------

def _edited_astronaut() -> np.ndarray:
    return paste(data.astronaut(), data.coffee()[120:250, 220:350], 300, 300)


def test_thumbnail_mismatch_is_found():
    raw = with_thumbnail(_edited_astronaut(), data.astronaut())
    r = run_filter("thumbnail", _loaded(raw))
    f = r.findings[0]
    assert f.kind == "thumbnail_mismatch" and f.edited and f.confidence >= 0.5
    assert r.extra["preview"].shape[:2] == (160, 160)
    # The map is brightest where the cup was pasted.
    inside, outside = region_means(r.map, r.map_scale, (300, 300, 430, 430))
    assert inside > outside + 0.2


@pytest.mark.parametrize("name", ["astronaut", "coffee", "chelsea", "rocket"])
def test_matching_thumbnail_stays_quiet(name):
    img = getattr(data, name)()
    r = run_filter("thumbnail", _loaded(with_thumbnail(img, img)))
    assert not r.edited, r.findings[0].message


def test_thumbnail_follows_exif_orientation():
    img = data.chelsea()
    stored = np.ascontiguousarray(np.rot90(img, 1))  # as a sideways-held camera stores it
    r = run_filter("thumbnail", _loaded(with_thumbnail(stored, stored, orientation=6)))
    assert r.findings[0].kind == "thumbnail", r.findings[0].message


def test_no_thumbnail_is_said_plainly():
    r = run_filter("thumbnail", _loaded(enc(data.chelsea(), 90)))
    assert r.map is None and not r.edited and "no EXIF preview" in r.findings[0].message


# -- every filter --------------------------------------------------------------------------------

@pytest.mark.parametrize("name", list(FILTERS))
@pytest.mark.parametrize("size", [(8, 8), (37, 300), (300, 41)])
def test_every_filter_handles_small_and_odd_images(name, size):
    img = cv2.resize(data.chelsea(), size[::-1], interpolation=cv2.INTER_AREA)
    r = run_filter(name, _loaded(enc(img, 85)))
    assert json.loads(json.dumps(r.to_dict()))["filter"] == name  # findings are plain JSON
    assert r.findings
    if r.map is not None:
        assert r.map_rgb().dtype == np.uint8 and r.map_rgb().shape[2] == 3


@pytest.mark.parametrize("name", list(FILTERS))
def test_png_and_grey_input(name):
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(data.camera()).save(buf, "PNG")
    r = run_filter(name, _loaded(buf.getvalue()))
    assert not r.edited  # an unedited camera picture, never saved as JPEG
    assert json.loads(json.dumps(r.to_dict()))["filter"] == name


def test_every_filter_has_words_for_the_reader():
    for spec in FILTERS.values():
        assert len(spec.how_to_read) > 200 and spec.title
    with pytest.raises(ValueError, match="Unknown filter"):
        run_filter("nope", _loaded(enc(data.chelsea(), 90)))


def test_thumbnail_reader_survives_damaged_exif():
    raw = bytearray(with_thumbnail(data.chelsea(), data.chelsea()))
    i = raw.find(b"Exif")
    raw[i + 20 : i + 60] = b"\xff" * 40  # scramble the IFD entries
    found = thumbnail.extract_thumbnail(bytes(raw))
    assert found is None or found[:2] == b"\xff\xd8"  # nothing, or a JPEG: never garbage
    r = run_filter("thumbnail", _loaded(bytes(raw)))
    assert r.findings and not r.edited


def test_strips_give_the_same_maps_as_the_whole_picture():
    """ELA and the ghost map re-save tall pictures strip by strip (bounded memory)."""
    from app.core.forensics import ghosts
    from app.core.forensics.common import STRIP_ROWS, gray, jpeg_roundtrip

    tall = dec(enc(np.ascontiguousarray(np.tile(data.astronaut(), (3, 1, 1))), 85))
    assert tall.shape[0] > STRIP_ROWS
    whole = cv2.absdiff(tall, jpeg_roundtrip(tall, 90)).max(axis=2).astype(np.float32)
    strip = ela.error_level(tall, 90).astype(np.float32)
    assert np.abs(whole - strip).mean() < 0.02  # chroma upsampling at the seams only
    g = gray(tall)
    d = g.astype(np.float32) - jpeg_roundtrip(g, 70).astype(np.float32)
    heat, _ = ghosts.ghost_map(g, 70)
    blocks = (g.shape[1] // 16, g.shape[0] // 16)
    per_block = cv2.resize(d * d, blocks, interpolation=cv2.INTER_AREA)
    e = g.astype(np.float32) - jpeg_roundtrip(g, 60).astype(np.float32)
    ref = cv2.resize(e * e, blocks, interpolation=cv2.INTER_AREA)
    expect = np.clip(1 - (per_block + 0.5) / (ref + 0.5), 0, 1)
    expect = cv2.resize(expect, heat.shape[::-1], interpolation=cv2.INTER_NEAREST)
    assert np.allclose(heat, expect, atol=1e-4)
