"""The Analyzer pipeline end to end, with an explicitly untrained model (scores are not judged)."""

from __future__ import annotations

import socket

import numpy as np
import pytest

from app.core.analysis import Analyzer
from app.core.errors import NoTrainedModelError
from app.core.results import Status, Verdict
from tests.conftest import save_rgb


def test_single_face_result(analyzer, astronaut, tmp_path):
    path = save_rgb(tmp_path / "a.png", astronaut)
    r = analyzer.analyze(path)
    assert r.status == Status.OK and len(r.faces) == 1
    face = r.faces[0]
    assert 0.0 <= face.p_fake <= 1.0
    assert r.p_fake == face.p_fake
    assert r.verdict in (Verdict.FAKE, Verdict.REAL, Verdict.UNCERTAIN)
    assert r.sha256 and len(r.sha256) == 64 and r.model == "untrained-test-model"
    assert any("UNTRAINED" in w for w in r.warnings)
    size = analyzer.detector.card.input_size
    assert face.heatmap.shape == (size, size) and face.heatmap.dtype == np.float32
    assert 0.0 <= face.heatmap.min() and face.heatmap.max() <= 1.0
    assert set(r.timings_ms) >= {"load", "faces", "classify", "total"}


def test_heatmap_pass_gives_the_same_score_as_plain_inference(analyzer, astronaut):
    with_map = analyzer.analyze(astronaut, heatmaps=True)
    without = analyzer.analyze(astronaut, heatmaps=False)
    assert without.faces[0].heatmap is None
    assert with_map.faces[0].p_fake == pytest.approx(without.faces[0].p_fake, abs=1e-4)


def test_three_faces_three_results_and_max_score(analyzer, three_faces):
    r = analyzer.analyze(three_faces)
    assert len(r.faces) == 3
    assert r.p_fake == max(f.p_fake for f in r.faces)
    assert r.most_suspicious.p_fake == r.p_fake


def test_no_face(analyzer, no_face):
    r = analyzer.analyze(no_face)
    assert r.status == Status.NO_FACE and r.verdict == Verdict.NO_FACE and r.p_fake is None
    assert r.to_dict()["verdict"] is None


def test_bad_file_is_an_error_result_not_an_exception(analyzer, tmp_path):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not an image")
    r = analyzer.analyze(bad)
    assert r.status == Status.ERROR and r.error_type == "UnsupportedFormatError"
    assert "not an image" in r.error


def test_small_face_is_uncertain_with_warning(analyzer, astronaut):
    import cv2

    small = cv2.resize(astronaut, (200, 200), interpolation=cv2.INTER_AREA)
    r = analyzer.analyze(small)
    assert len(r.faces) == 1
    assert r.faces[0].verdict == Verdict.UNCERTAIN
    assert any("unreliable" in w for w in r.warnings)


def test_no_socket_opened_during_analysis(untrained_card, astronaut, monkeypatch):
    opened = []

    class NoSocket(socket.socket):
        def __init__(self, *a, **k):
            opened.append((a, k))
            raise AssertionError("network access attempted")

    monkeypatch.setattr(socket, "socket", NoSocket)
    fresh = Analyzer(untrained_card, allow_untrained=True)  # model load inside the patch too
    r = fresh.analyze(astronaut)
    fresh.close()
    assert r.status == Status.OK and opened == []


def test_untrained_model_refused_by_default(untrained_card):
    with pytest.raises(NoTrainedModelError, match="untrained"):
        Analyzer(untrained_card).detector  # noqa: B018


def test_missing_model_says_so_plainly(tmp_path):
    with pytest.raises(NoTrainedModelError, match="No trained detector"):
        Analyzer(tmp_path / "detector.json").detector  # noqa: B018


def test_tampered_weights_refused(untrained_card, tmp_path):
    import json
    import shutil

    from app.core.errors import ModelError

    folder = tmp_path / "m"
    shutil.copytree(untrained_card.parent, folder)
    card = json.loads((folder / "untrained.json").read_text())
    card["weights_sha256"] = "0" * 64
    (folder / "untrained.json").write_text(json.dumps(card))
    with pytest.raises(ModelError, match="SHA-256"):
        Analyzer(folder / "untrained.json", allow_untrained=True).detector  # noqa: B018


def test_seed_checkpoint_format_loads(tmp_path, astronaut):
    """The seed paper's format: {'model_state_dict': ...}, 256 px faces, pixels / 255."""
    import torch

    from app.core.detector import build_model

    torch.manual_seed(1)
    model = build_model("inception_resnet_v1")
    ckpt = tmp_path / "seed.pth"
    torch.save({"model_state_dict": model.state_dict(), "epoch": 3}, ckpt)
    a = Analyzer(ckpt, heatmaps=False)
    assert a.detector.card.input_size == 256 and a.detector.card.normalization == "unit"
    r = a.analyze(astronaut)
    assert r.status == Status.OK and r.model == "seed-checkpoint:seed.pth"
    # The loaded network is the saved one: same logit as running it by hand.
    from app.core.faces import face_crop

    crop, _ = face_crop(astronaut, r.faces[0].box, 256, 1.0)
    x = torch.from_numpy(crop).permute(2, 0, 1)[None].float() / 255.0
    with torch.inference_mode():
        expected = model.eval()(x).item()
    assert r.faces[0].logit == pytest.approx(expected, abs=1e-3)


def test_test_time_views_average_mirrored_and_rescaled_crops(tmp_path, astronaut, untrained_card):
    """A card with test-time views scores each face as the mean logit of its views; the
    heatmap path and the plain path agree, and the calibration applies to that mean."""
    import json

    from app.core.analysis import Analyzer
    from app.core.faces import face_crop

    card_path = untrained_card
    raw = json.loads(card_path.read_text())
    raw["test_time_views"] = {"scales": [0.92, 1.0, 1.08], "flip": True}
    folder = tmp_path / "tta"
    folder.mkdir()
    (folder / card_path.name).write_text(json.dumps(raw))
    weights = raw["weights_file"]
    (folder / weights).write_bytes((card_path.parent / weights).read_bytes())
    tta = Analyzer(folder / card_path.name, allow_untrained=True)
    try:
        card = tta.detector.card
        assert len(card.extra_views()) == 5  # 3 scales x 2 mirrors, minus the main view
        plain = tta.analyze(astronaut, heatmaps=False)
        mapped = tta.analyze(astronaut, heatmaps=True)
        face = plain.faces[0]
        views = [face_crop(astronaut, face.box, card.input_size, card.crop_scale)[0]]
        for scale, mirror in card.extra_views():
            v = face_crop(astronaut, face.box, card.input_size, scale)[0]
            views.append(np.ascontiguousarray(v[:, ::-1]) if mirror else v)
        logits, _ = tta.detector.predict(np.stack(views))
        assert face.logit == pytest.approx(float(logits.mean()), abs=1e-4)
        assert face.p_fake == pytest.approx(float(card.calibrate(np.array([face.logit]))[0]))
        assert mapped.faces[0].logit == pytest.approx(face.logit, abs=1e-3)
        assert mapped.faces[0].heatmap is not None
    finally:
        tta.close()


def test_tiers_leave_no_gap_between_the_band_and_the_threshold():
    from app.core.detector import ModelCard

    card = ModelCard(id="t", architecture="clip_vit_b16_multilayer", input_size=224,
                     normalization="clip", threshold=0.9572, uncertain_band=(0.3196, 0.9571))
    assert [card.tier(p) for p in (0.3195, 0.3196, 0.9571, 0.95715, 0.9572)] == [
        "real", "uncertain", "uncertain", "uncertain", "fake"]
    wide = ModelCard(id="t", architecture="x", input_size=1, normalization="unit",
                     threshold=0.8, uncertain_band=(0.3, 0.9))  # the band wins over 0.8
    assert [wide.tier(p) for p in (0.29, 0.85, 0.9, 0.91)] == ["real", "uncertain",
                                                               "uncertain", "fake"]


def test_shown_percents_never_contradict_the_verdict_they_come_with():
    """Whole percents next to the words "below 32 % real, 32-95 % uncertain, from 96 % up
    fake": rounding must not print a real face at 32 % (band from 31.96 %) or an uncertain one
    at 96 % (threshold 95.72 %); at most one point from plain rounding."""
    from app.core.detector import ModelCard, judged_by, shown_cutoffs, shown_percent

    card = ModelCard(id="m", architecture="clip_vit_b16_multilayer", input_size=224,
                     normalization="clip", threshold=0.9572, uncertain_band=(0.3196, 0.9571))
    assert shown_cutoffs(card) == (32, 96)
    assert [shown_percent(p, card) for p in (0.318, 0.3196, 0.50, 0.9569, 0.9572, 0.999)] == [
        31, 32, 50, 95, 96, 100]
    assert shown_percent(0.318) == 32  # without cutoffs: plain rounding
    lo, hi = shown_cutoffs(card)
    for p in np.linspace(0, 1, 20001):
        n, tier = shown_percent(p, card), card.tier(p)
        assert abs(n - 100 * p) <= 1.0 + 1e-9
        assert {"real": n < lo, "uncertain": lo <= n < hi, "fake": n >= hi}[tier], (p, n, tier)
    no_band = ModelCard(id="m", architecture="x", input_size=1, normalization="unit",
                        threshold=0.834)
    assert shown_cutoffs(no_band) == (None, 83)
    assert shown_percent(0.833, no_band) == 82 and shown_percent(0.834, no_band) == 83

    class Rec:
        model = "m"

    assert judged_by(card, Rec()) is card
    Rec.model = "older-model"
    assert judged_by(card, Rec()) is None  # another model's record: its own cutoffs unknown
