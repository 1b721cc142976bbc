"""Batch runs: order, progress/ETA, per-file errors, cancellation, export."""

from __future__ import annotations

import csv
import json
import threading

import cv2
import numpy as np
import pytest

from app.core.batch import BatchProgress, run_batch, write_csv, write_json
from app.core.results import AnalysisResult, FaceResult, Status, Verdict
from tests.conftest import save_rgb


class FakeAnalyzer:
    """Quick stand-in: p(fake) from the file name; 'boom' in the name raises (a bug)."""

    def __init__(self):
        self.calls = []

    def analyze(self, source, heatmaps=None):
        path = getattr(source, "path", None) or str(source)
        self.calls.append(path)
        if "boom" in path:
            raise RuntimeError("kaboom")
        if not hasattr(source, "rgb"):  # the file did not load
            return AnalysisResult(path=path, status=Status.ERROR, error="unreadable")
        face = FaceResult(box=(0, 0, 10, 10), det_score=0.99, p_fake=0.8, verdict=Verdict.FAKE)
        return AnalysisResult(path=path, status=Status.OK, faces=[face], p_fake=0.8,
                              verdict=Verdict.FAKE, sha256=source.sha256)


@pytest.fixture
def folder(tmp_path, astronaut):
    d = tmp_path / "photos"
    (d / "sub").mkdir(parents=True)
    small = cv2.resize(astronaut, (64, 64))
    for name in ("a.png", "b.jpg", "sub/c.png", "boom.png"):
        save_rgb(d / name, small)
    (d / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    (d / "notes.txt").write_text("not an image")  # skipped inside folders
    return d


def test_runs_every_image_in_order_with_progress(folder):
    items, progress, started = [], [], []
    summary = run_batch(FakeAnalyzer(), [folder], on_result=items.append,
                        on_progress=progress.append, on_start=started.append)
    names = [i.path.split("/photos/")[1] for i in items]
    assert names == ["a.png", "b.jpg", "boom.png", "broken.jpg", "sub/c.png"]
    assert started == [5] and summary.total == summary.done == 5 and not summary.cancelled
    assert [p.done for p in progress] == [1, 2, 3, 4, 5]
    assert all(p.total == 5 for p in progress) and progress[-1].eta_s == 0
    assert [i.index for i in items] == list(range(5))
    assert all(i.image is None for i in items)  # the pixels are not kept after the callback


def test_one_bad_file_never_ends_the_batch(folder):
    items = []
    summary = run_batch(FakeAnalyzer(), [folder], on_result=items.append)
    by_name = {i.path.rsplit("/", 1)[1]: i.result for i in items}
    assert by_name["boom.png"].status == "error"
    assert by_name["boom.png"].error_type == "InternalError"
    assert "kaboom" in by_name["boom.png"].error
    assert by_name["broken.jpg"].status == "error"
    assert by_name["sub/c.png".split("/")[1]].status == "ok"
    assert summary.errors == 2 and summary.counts["fake"] == 3


def test_cancel_is_checked_between_images(folder):
    cancel = threading.Event()
    fake = FakeAnalyzer()
    items = []

    def on_result(item):
        items.append(item)
        if len(items) == 2:
            cancel.set()

    summary = run_batch(fake, [folder], cancel=cancel, on_result=on_result)
    assert summary.cancelled and summary.done == 2 and len(fake.calls) == 2


def test_eta_before_and_after_first_file():
    assert BatchProgress(0, 10, 0.0).eta_s is None
    assert BatchProgress(2, 10, 4.0).eta_s == pytest.approx(16.0)


def test_with_the_real_analyzer(tmp_path, analyzer, astronaut, no_face):
    face = save_rgb(tmp_path / "face.png", cv2.resize(astronaut, (256, 256)))
    cup = save_rgb(tmp_path / "cup.png", cv2.resize(no_face, (160, 106)))
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"")
    items = []
    summary = run_batch(analyzer, [face, bad, cup], on_result=items.append)
    assert [i.result.status for i in items] == ["ok", "error", "no_face"]
    assert items[0].result.faces and items[0].result.faces[0].heatmap is None  # triage: no maps
    assert items[0].result.p_fake == pytest.approx(analyzer.analyze(face).p_fake, abs=1e-6)
    assert "empty" in items[1].result.error
    assert summary.done == 3 and summary.errors == 1


def test_export_csv_and_json(tmp_path, folder):
    items = []
    run_batch(FakeAnalyzer(), [folder], on_result=items.append)
    results = [i.result for i in items]
    n = write_csv(results, tmp_path / "out.csv")
    with open(tmp_path / "out.csv", encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert n == len(rows) == 5
    assert rows[0]["verdict"] == "fake" and rows[0]["p_fake"] == "0.8000"
    assert rows[2]["verdict"] == "error" and "kaboom" in rows[2]["error"]
    assert write_json(results, tmp_path / "out.json") == 5
    data = json.loads((tmp_path / "out.json").read_text(encoding="utf-8"))
    assert data == [r.to_dict() for r in results]


def test_parallel_workers_keep_input_order_and_match_serial(analyzer, astronaut, no_face, tmp_path):
    """Two images at once (one torch thread each) give the same results, in input order."""
    paths = []
    for i in range(5):
        paths.append(save_rgb(tmp_path / f"{i}_face.png", np.roll(astronaut, 7 * i, axis=1)))
        paths.append(save_rgb(tmp_path / f"{i}_none.png", no_face))
    (tmp_path / "9_bad.jpg").write_bytes(b"junk")
    paths.append(tmp_path / "9_bad.jpg")
    serial, parallel = [], []
    run_batch(analyzer, paths, expand=False, on_result=lambda it: serial.append(it.result))
    run_batch(analyzer, paths, expand=False, workers=2,
              on_result=lambda it: parallel.append(it.result))
    assert [r.path for r in parallel] == [str(p) for p in paths]
    assert [r.status for r in serial] == [r.status for r in parallel]
    assert [r.status for r in parallel][-3:] == ["ok", "no_face", "error"]
    for a, b in zip(serial, parallel, strict=True):
        if a.p_fake is not None:
            assert a.p_fake == pytest.approx(b.p_fake, abs=1e-4)
