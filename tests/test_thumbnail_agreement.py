"""The EXIF preview check has one implementation (app.core.forensics.thumbnail): the metadata
panel's finding and the Forensics filter must reach the same decision with the same numbers."""

from __future__ import annotations

import re

import numpy as np
import pytest
from skimage import data

from app.core import metadata as md
from app.core.forensics import run_filter
from app.core.images import load_image
from app.core.results import Severity
from tests.forensics_synth import paste, rgb3, with_thumbnail

pytest.importorskip("piexif")


def _both(raw: bytes, *, decoded: bool = True):
    """(the metadata panel's thumbnail finding, the forensic filter's finding) for one file."""
    image = load_image(raw, keep_bytes=True)
    (meta,) = [f for f in md.extract(raw, image.rgb if decoded else None, c2pa=False)
               if f.category == md.THUMBNAIL]
    (forensic,) = run_filter("thumbnail", image).findings
    return meta, forensic


def _figures(text: str) -> str:
    """The numbers as worded: '12.3% of the preview differs in structure, mean SSIM 0.41'."""
    m = re.search(r"\d+\.\d% of the preview differs in structure, mean SSIM -?\d\.\d\d", text)
    assert m, text
    return m.group(0)


def _agree(meta, forensic) -> None:
    assert meta.value.startswith("does NOT match") == forensic.edited, (meta.value,
                                                                        forensic.message)
    assert (meta.severity == Severity.WARNING) == forensic.edited
    assert _figures(meta.value) == _figures(forensic.message)


ASTRONAUT = data.astronaut()
CAMERA = rgb3(data.camera())
# The case the old correlation check missed: a cup pasted over 6 % of the picture after the
# camera wrote its preview. The overall layout still correlates; the structure does not.
EDITED = paste(ASTRONAUT, data.coffee()[120:250, 220:350], 300, 300)


@pytest.mark.parametrize(("picture", "preview"), [
    (ASTRONAUT, CAMERA),  # a preview of another picture
    (CAMERA, ASTRONAUT),
    (EDITED, ASTRONAUT),  # a preview of the picture before the edit
], ids=["astronaut-preview-of-camera", "camera-preview-of-astronaut", "pasted-patch"])
@pytest.mark.parametrize("decoded", [True, False], ids=["rgb-given", "rgb-decoded-here"])
def test_a_different_preview_is_flagged_in_both_places(picture, preview, decoded):
    meta, forensic = _both(with_thumbnail(picture, preview), decoded=decoded)
    assert forensic.edited and forensic.kind == "thumbnail_mismatch"
    _agree(meta, forensic)


@pytest.mark.parametrize("picture", [ASTRONAUT, CAMERA], ids=["astronaut", "camera"])
@pytest.mark.parametrize("decoded", [True, False], ids=["rgb-given", "rgb-decoded-here"])
def test_a_matching_preview_is_quiet_in_both_places(picture, decoded):
    meta, forensic = _both(with_thumbnail(picture, picture), decoded=decoded)
    assert not forensic.edited and forensic.kind == "thumbnail"
    assert meta.value.startswith("matches the image")
    _agree(meta, forensic)


def test_orientation_is_applied_the_same_way_in_both_places():
    stored = np.ascontiguousarray(np.rot90(ASTRONAUT, 1))  # as a sideways-held camera stores it
    for decoded in (True, False):
        meta, forensic = _both(with_thumbnail(stored, stored, orientation=6), decoded=decoded)
        assert not forensic.edited
        _agree(meta, forensic)


def test_no_preview_no_metadata_finding():
    from tests.forensics_synth import enc

    raw = enc(ASTRONAUT, 90)
    assert not [f for f in md.extract(raw, ASTRONAUT, c2pa=False) if f.category == md.THUMBNAIL]
    assert not run_filter("thumbnail", load_image(raw, keep_bytes=True)).edited
