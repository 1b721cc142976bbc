"""The CLI contract of ARCHITECTURE.md: JSONL per file in input order, errors never stop a run."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from app.cli import main
from tests.conftest import save_rgb

ROOT = Path(__file__).resolve().parents[1]
CONTRACT_KEYS = {"path", "status", "error", "p_fake", "verdict", "faces", "sha256", "model"}


def test_analyze_jsonl_schema_and_order(untrained_card, astronaut, no_face, tmp_path, capsys,
                                        monkeypatch):
    folder = tmp_path / "batch"
    folder.mkdir()
    save_rgb(folder / "b_face.jpg", astronaut)
    save_rgb(folder / "a_noface.png", no_face)
    (folder / "c_broken.jpg").write_bytes(b"\xff\xd8\xff garbage")
    (folder / "notes.txt").write_text("ignored: not an image extension")
    extra = save_rgb(tmp_path / "single.png", astronaut)
    import app.cli as cli
    from app.core.analysis import Analyzer

    # The shipped CLI refuses untrained weights; this test opts in explicitly.
    monkeypatch.setattr(cli, "_load_analyzer", lambda weights, heatmaps: Analyzer(
        untrained_card, heatmaps=heatmaps, allow_untrained=True))
    rc = main(["analyze", "--no-heatmap", str(extra), str(folder)])
    assert rc == 0
    out = capsys.readouterr()
    lines = [json.loads(line) for line in out.out.strip().splitlines()]
    assert [Path(r["path"]).name for r in lines] == [
        "single.png", "a_noface.png", "b_face.jpg", "c_broken.jpg"]
    for r in lines:
        assert CONTRACT_KEYS <= set(r)
        assert r["status"] in ("ok", "no_face", "error")
        assert r["verdict"] in ("fake", "real", "uncertain", None)
    single, noface, face, broken = lines
    assert single["status"] == "ok" and len(single["faces"]) == 1
    f = single["faces"][0]
    assert set(f) >= {"box", "det_score", "p_fake"} and len(f["box"]) == 4
    assert single["p_fake"] == f["p_fake"] and single["model"] == "untrained-test-model"
    assert noface["status"] == "no_face" and noface["p_fake"] is None and noface["verdict"] is None
    assert broken["status"] == "error" and broken["error"] and broken["p_fake"] is None
    assert len(face["sha256"]) == 64 and face["sha256"] != single["sha256"]  # JPEG vs PNG bytes
    assert "[4/4]" in out.err  # progress goes to stderr


def test_analyze_without_model_is_a_clear_error(tmp_path, astronaut, capsys):
    img = save_rgb(tmp_path / "a.png", astronaut)
    rc = main(["analyze", "--weights", str(tmp_path / "none.json"), str(img)])
    assert rc != 0
    assert "No trained detector" in capsys.readouterr().err


def test_usage_errors(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["analyze", str(empty)]) == 2
    assert main([]) == 2


def test_help_is_fast_and_imports_no_torch():
    code = ("import sys, time; t=time.time(); from app.cli import main; "
            "import contextlib, io\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            "    try: main(['--help'])\n"
            "    except SystemExit: pass\n"
            "print(time.time()-t, 'torch' in sys.modules, 'PySide6' in sys.modules)")
    t0 = time.time()
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         check=True).stdout.split()
    assert float(out[0]) < 1.0 and out[1] == "False" and out[2] == "False"
    assert time.time() - t0 < 10


def test_core_does_not_import_qt():
    code = ("import sys, app.core.analysis, app.core.detector, app.core.explain, app.core.faces, "
            "app.core.images, app.core.results; "
            "print([m for m in sys.modules if m.startswith(('PySide6', 'PyQt'))])")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "[]"
