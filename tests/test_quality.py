"""Input-quality warnings and how they turn a verdict into "uncertain"."""

from __future__ import annotations

import io
import json
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
from PIL import Image

from app.core import quality as q
from app.core.analysis import Analyzer
from app.core.images import LoadedImage, load_image
from app.core.results import AnalysisResult, FaceResult, Severity, Status, Verdict
from tests.conftest import ASTRONAUT_FACE


def loaded_jpeg(rgb, quality: int) -> LoadedImage:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "JPEG", quality=quality)
    return load_image(buf.getvalue(), keep_bytes=True)


def face(box, p=0.9) -> FaceResult:
    return FaceResult(box=box, det_score=0.99, p_fake=p, verdict=Verdict.FAKE)


def codes(warnings) -> list[str]:
    return [w.code for w in warnings]


@pytest.mark.parametrize("quality", [15, 35, 50, 75, 92])
def test_jpeg_quality_estimate_from_quantisation_tables(astronaut, quality):
    assert abs(q.jpeg_quality(loaded_jpeg(astronaut, quality)) - quality) <= 2


def test_jpeg_quality_of_other_formats_and_files(astronaut, tmp_path):
    buf = io.BytesIO()
    Image.fromarray(astronaut).save(buf, "PNG")
    assert q.jpeg_quality(load_image(buf.getvalue(), keep_bytes=True)) is None
    path = tmp_path / "a.jpg"
    Image.fromarray(astronaut).save(path, quality=40)
    assert q.jpeg_quality(load_image(path)) == 40  # no kept bytes: reads the file's header


def test_heavy_compression_warning(astronaut):
    heavy = q.assess(loaded_jpeg(astronaut, 20), [], 160)
    (w,) = heavy
    assert w.code == q.HEAVY_JPEG and w.severity == Severity.WARNING and w.value == 20
    assert "quality 20 of 100" in w.message and not w.makes_uncertain
    assert q.assess(loaded_jpeg(astronaut, 40), [], 160)[0].severity == Severity.NOTABLE
    assert q.assess(loaded_jpeg(astronaut, 90), [], 160) == []


def test_sharp_blurred_and_extremely_blurred_face(astronaut):
    box = ASTRONAUT_FACE
    sharp = q.blur_score(astronaut, box)
    assert sharp > 200
    assert q.assess(LoadedImage(rgb=astronaut), [face(box)], 160) == []
    blurred = cv2.GaussianBlur(astronaut, (0, 0), 1.3)
    (w,) = q.assess(LoadedImage(rgb=blurred), [face(box)], 160)
    assert w.code == q.BLURRY_FACE and not w.makes_uncertain and w.face == 0
    very = cv2.GaussianBlur(astronaut, (0, 0), 3)
    (w,) = q.assess(LoadedImage(rgb=very), [face(box)], 160)
    assert w.code == q.EXTREME_BLUR and w.makes_uncertain
    assert f"under {q.EXTREMELY_BLURRY:.0f}" in w.message  # the threshold is stated


def test_blur_score_does_not_depend_on_face_size(astronaut):
    big = cv2.resize(astronaut, None, fx=3, fy=3, interpolation=cv2.INTER_CUBIC)
    box3 = tuple(v * 3 for v in ASTRONAUT_FACE)
    assert q.blur_score(big, box3) > q.BLURRY  # an upscaled sharp face is still not "blurry"


def test_small_face_small_image_many_faces(astronaut):
    img = LoadedImage(rgb=astronaut)
    (w,) = [w for w in q.assess(img, [face((10, 10, 50, 60))], 160) if w.code != q.BLURRY_FACE
            and w.code != q.EXTREME_BLUR]
    assert w.code == q.FACE_TOO_SMALL and w.makes_uncertain and w.value == 40
    assert w.message == q.too_small_message(40)
    small = LoadedImage(rgb=np.zeros((120, 150, 3), np.uint8))
    assert codes(q.assess(small, [], 160)) == [q.IMAGE_SMALL]
    tiny = LoadedImage(rgb=np.zeros((60, 70, 3), np.uint8))
    (w,) = q.assess(tiny, [], 160)
    assert w.code == q.IMAGE_TOO_SMALL and w.makes_uncertain and "70x60" in w.message
    boxes = [face((x, y, x + 70, y + 70)) for x in range(0, 420, 90) for y in range(0, 270, 90)]
    assert q.MANY_FACES_CODE in codes(q.assess(img, boxes, 160))
    json.dumps([w.to_dict() for w in q.assess(tiny, boxes, 160)])


def test_uncertain_codes_are_exactly_the_untrustworthy_ones():
    assert q.UNCERTAIN_CODES == {q.FACE_TOO_SMALL, q.EXTREME_BLUR, q.IMAGE_TOO_SMALL}
    assert q.QualityWarning(q.HEAVY_JPEG, "x").to_dict()["makes_uncertain"] is False


def test_summarise_turns_untrustworthy_faces_uncertain():
    card = SimpleNamespace(trained=True)
    sure, small = face((0, 0, 200, 200), p=0.95), face((300, 0, 340, 40), p=0.97)
    result = AnalysisResult(path=None, status=Status.OK, faces=[sure, small], quality=[
        q.QualityWarning(q.FACE_TOO_SMALL, q.too_small_message(40), face=1).to_dict(),
        q.QualityWarning(q.HEAVY_JPEG, "Heavy JPEG compression.").to_dict(),
    ])
    Analyzer._summarise(result, card)
    assert small.verdict == Verdict.UNCERTAIN and sure.verdict == Verdict.FAKE
    # A face judged fake outranks a higher score that was too small to judge.
    assert result.verdict == Verdict.FAKE and result.p_fake == 0.95
    assert "Heavy JPEG compression." in result.warnings
    assert f"Face 2: {q.too_small_message(40)}" in result.warnings
    whole = AnalysisResult(path=None, status=Status.OK, faces=[face((0, 0, 200, 200))], quality=[
        q.QualityWarning(q.IMAGE_TOO_SMALL, "tiny").to_dict()])
    Analyzer._summarise(whole, card)
    assert whole.verdict == Verdict.UNCERTAIN  # a whole-image problem affects every face


def test_pipeline_blurred_face_is_uncertain(analyzer, astronaut):
    result = analyzer.analyze(cv2.GaussianBlur(astronaut, (0, 0), 3), heatmaps=False)
    assert result.status == Status.OK
    assert any(w["code"] == q.EXTREME_BLUR and w["face"] == 0 for w in result.quality)
    assert result.faces[0].verdict == Verdict.UNCERTAIN and result.verdict == Verdict.UNCERTAIN
    assert result.to_dict()["verdict"] == "uncertain"


def test_pipeline_small_face_warning_is_not_duplicated(analyzer, astronaut):
    small = cv2.resize(astronaut, (256, 256), interpolation=cv2.INTER_AREA)
    result = analyzer.analyze(small, heatmaps=False)
    assert result.verdict == Verdict.UNCERTAIN
    texts = [w for w in result.warnings if "px across" in w]
    assert len(texts) == 1 and "unreliable" in texts[0]
    assert len([w for w in result.faces[0].warnings if "px across" in w]) == 1
