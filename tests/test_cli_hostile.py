"""The command line with hostile input (issue 11): special files, a tampered or pickled model,
file names starting with "-", and where an unexpected error's details went."""

from __future__ import annotations

import json
import os
import pickle
import shutil
import sys
from pathlib import Path

import pytest

import app.cli as cli
from app.cli import main
from tests.conftest import save_rgb
from tests.guards import no_hang, run_bounded


def _records(out: str) -> dict[str, dict]:
    return {Path(r["path"]).name: r for r in map(json.loads, out.strip().splitlines())}


def _use_untrained(monkeypatch, untrained_card):
    from app.core.analysis import Analyzer

    # The shipped CLI refuses untrained weights; these tests opt in explicitly.
    monkeypatch.setattr(cli, "_load_analyzer", lambda weights, heatmaps: Analyzer(
        untrained_card, heatmaps=heatmaps, allow_untrained=True))


def _marked_trained(untrained_card: Path, folder: Path) -> Path:
    """A copy of the test model whose card claims "trained" (what the CLI accepts)."""
    shutil.copytree(untrained_card.parent, folder)
    card = folder / untrained_card.name
    raw = json.loads(card.read_text())
    raw["trained"] = True
    card.write_text(json.dumps(raw))
    return card


def test_special_files_by_name_and_in_a_folder(tmp_path, astronaut, untrained_card, capsys,
                                               monkeypatch):
    _use_untrained(monkeypatch, untrained_card)
    folder = tmp_path / "in"
    folder.mkdir()
    save_rgb(folder / "a_good.jpg", astronaut)
    os.mkfifo(folder / "b_pipe.jpg")
    (folder / "c_loop.jpg").symlink_to(folder / "c_loop.jpg")
    (folder / "back").symlink_to(folder)  # a folder link loop: skipped, named on stderr
    save_rgb(folder / "d_good.png", astronaut)
    named_fifo = tmp_path / "named.jpg"
    os.mkfifo(named_fifo)
    dangling = tmp_path / "dangling.jpg"
    dangling.symlink_to(tmp_path / "gone.jpg")
    with no_hang(120, fifos=(folder / "b_pipe.jpg", named_fifo)):
        rc = main(["analyze", "--no-heatmap", "--workers", "2", str(named_fifo), str(dangling),
                   str(folder)])
    out = capsys.readouterr()
    assert rc == 0
    recs = _records(out.out)
    assert list(recs) == ["named.jpg", "dangling.jpg", "a_good.jpg", "b_pipe.jpg", "c_loop.jpg",
                          "d_good.png"]
    assert recs["a_good.jpg"]["status"] == "ok" and recs["d_good.png"]["status"] == "ok"
    for name, words in (("named.jpg", "named pipe"), ("b_pipe.jpg", "named pipe"),
                        ("dangling.jpg", "dangling link"), ("c_loop.jpg", "loop")):
        assert recs[name]["status"] == "error" and words in recs[name]["error"], recs[name]
        assert "\n" not in recs[name]["error"]
    assert "skipped" in out.err and "back" in out.err and "loop" in out.err


@pytest.mark.slow
def test_the_issue_reproduction_in_a_real_process(tmp_path, astronaut, untrained_card):
    """`python -m app analyze FOLDER` with a FIFO and links to /dev/zero and /dev/urandom among
    good photos, as filed: a child process with a heap limit and a time limit, so a regression
    fails here instead of hanging or eating the machine's memory."""
    card = _marked_trained(untrained_card, tmp_path / "model")
    folder = tmp_path / "photos"
    folder.mkdir()
    save_rgb(folder / "1_good.jpg", astronaut)
    os.mkfifo(folder / "2_fifo.jpg")
    (folder / "3_zero.jpg").symlink_to("/dev/zero")
    (folder / "4_random.jpg").symlink_to("/dev/urandom")
    save_rgb(folder / "5_good.png", astronaut)
    done = run_bounded([sys.executable, "-m", "app", "analyze", "--no-heatmap", "--workers", "2",
                        "--weights", str(card), str(folder), str(folder / "2_fifo.jpg")],
                       timeout=240, data_gb=8.0, env={"DFI_DATA_DIR": str(tmp_path / "data")})
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 6  # one line each: 5 in the folder, the FIFO named again
    recs = [json.loads(line) for line in lines]
    assert [r["status"] for r in recs] == ["ok", "error", "error", "error", "ok", "error"]
    assert "named pipe" in recs[1]["error"] and "named pipe" in recs[5]["error"]
    assert "a device" in recs[2]["error"] and "a device" in recs[3]["error"]


def test_an_unexpected_error_names_where_its_details_are(tmp_path, astronaut, untrained_card,
                                                         capsys, monkeypatch):
    from app.core.analysis import Analyzer
    from app.core.logs import log_file

    class Buggy(Analyzer):
        def analyze(self, source, **kwargs):
            raise ValueError("zip() argument 5 is longer than arguments 1-4")

    monkeypatch.setattr(cli, "_load_analyzer", lambda weights, heatmaps: Buggy(
        untrained_card, heatmaps=heatmaps, allow_untrained=True))
    img = save_rgb(tmp_path / "a.png", astronaut)
    assert main(["analyze", "--no-heatmap", "--workers", "1", str(img)]) == 0
    out = capsys.readouterr()
    rec = json.loads(out.out)
    log = log_file()
    assert rec["status"] == "error" and str(log) in rec["error"] and "--verbose" in rec["error"]
    assert "Traceback" in log.read_text(encoding="utf-8")  # the details really are there
    assert "Traceback" not in out.err  # without --verbose: one line on stderr
    assert main(["analyze", "--no-heatmap", "--workers", "1", "--verbose", str(img)]) == 0
    out = capsys.readouterr()
    rec = json.loads(out.out)
    assert "Traceback" in out.err and "zip() argument 5" in out.err
    assert str(log) in rec["error"] and "error output (stderr)" in rec["error"]


def test_a_file_name_starting_with_a_dash(tmp_path, astronaut, untrained_card, capsys,
                                          monkeypatch):
    _use_untrained(monkeypatch, untrained_card)
    monkeypatch.chdir(tmp_path)
    save_rgb(tmp_path / "-x.jpg", astronaut)
    assert main(["analyze", "--no-heatmap", "--", "-x.jpg"]) == 0
    assert main(["analyze", "--no-heatmap", "./-x.jpg"]) == 0
    recs = [json.loads(line) for line in capsys.readouterr().out.strip().splitlines()]
    assert [r["status"] for r in recs] == ["ok", "ok"]
    assert recs[0]["path"] == "-x.jpg" and recs[1]["path"] == "./-x.jpg"


class _Plant:
    """Unpickling this creates a marker file: proof that code from the file ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_weights_are_never_unpickled(tmp_path, astronaut, capsys):
    import torch

    img = save_rgb(tmp_path / "a.png", astronaut)
    marker = tmp_path / "code-ran"
    plain = tmp_path / "evil.pt"
    with open(plain, "wb") as fh:
        pickle.dump({"model_state_dict": _Plant(marker)}, fh)
    zipped = tmp_path / "evil-zip.pth"
    torch.save({"model_state_dict": _Plant(marker)}, zipped)
    for weights in (plain, zipped):
        assert main(["analyze", "--no-heatmap", "--weights", str(weights), str(img)]) == 3
        err = capsys.readouterr().err
        assert f"error: {weights.name} holds Python objects besides weights" in err
        assert "weights_only" not in err  # torch's advice to run the file's code is not passed on
        assert not marker.exists(), f"{weights.name} ran code while loading"


def test_a_tampered_model_is_refused(tmp_path, astronaut, untrained_card, capsys):
    from app.core.detector import Detector
    from app.core.errors import ModelError

    card = _marked_trained(untrained_card, tmp_path / "model")
    weights = card.parent / json.loads(card.read_text())["weights_file"]
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF  # one bit pattern changed in the last tensor
    weights.write_bytes(bytes(data))
    with pytest.raises(ModelError, match="does not match its model card's SHA-256"):
        Detector.load(card)
    img = save_rgb(tmp_path / "a.png", astronaut)
    assert main(["analyze", "--weights", str(card), str(img)]) == 3
    err = capsys.readouterr().err
    assert "does not match its model card's SHA-256" in err and "Reinstall" in err


def test_a_pipe_given_as_weights_is_refused_without_blocking(tmp_path, astronaut, capsys):
    fifo = tmp_path / "detector.json"
    os.mkfifo(fifo)
    img = save_rgb(tmp_path / "a.png", astronaut)
    with no_hang(30, fifos=(fifo,)):
        assert main(["analyze", "--weights", str(fifo), str(img)]) == 3
    assert "named pipe" in capsys.readouterr().err


def test_a_pipe_as_the_report_file_is_refused(tmp_path, astronaut, untrained_card, capsys,
                                              monkeypatch, qapp):
    from app.core.report import CaseReport
    from app.render.report_pdf import write_report_pdf

    _use_untrained(monkeypatch, untrained_card)
    img = save_rgb(tmp_path / "a.png", astronaut)
    fifo = tmp_path / "case.html"
    os.mkfifo(fifo)
    with no_hang(30, fifos=(fifo,)):
        assert main(["report", "--out", str(fifo), str(img)]) == 2
        with pytest.raises(OSError, match="named pipe"):
            write_report_pdf(CaseReport(), fifo)
    err = capsys.readouterr().err
    assert "is a named pipe (FIFO), not a file; nothing was written there" in err


def test_a_report_into_a_missing_folder_is_refused_before_any_analysis(
        tmp_path, astronaut, untrained_card, capsys, monkeypatch, qapp):
    """The issue a reviewer found: the analysis ran, then the write failed with a traceback
    (HTML) or nothing was written while the CLI said "wrote ... (2 pages)" (PDF)."""
    from app.core.report import CaseReport
    from app.render.report_pdf import write_report_pdf

    _use_untrained(monkeypatch, untrained_card)
    img = save_rgb(tmp_path / "a.png", astronaut)
    for name in ("case.html", "case.pdf"):
        out = tmp_path / "no_such_folder" / name
        assert main(["report", "--out", str(out), str(img)]) == 2
        err = capsys.readouterr().err
        assert "no_such_folder does not exist; nothing was written" in err
        assert "[1/1]" not in err and "wrote" not in err and not out.exists()
    with pytest.raises(OSError, match="does not exist"):
        write_report_pdf(CaseReport(), tmp_path / "gone" / "case.pdf")


def test_a_pdf_that_qt_cannot_write_is_an_error_not_a_success(tmp_path, qapp):
    from app.render.report_pdf import html_to_pdf

    target = tmp_path / "locked.pdf"
    target.write_bytes(b"")
    target.chmod(0o444)
    if os.access(target, os.W_OK):  # root writes anyway: use a file no one can write
        target = Path("/proc/version")
    with pytest.raises(OSError):
        html_to_pdf("<p>report</p>", target)
    assert html_to_pdf("<p>report</p>", tmp_path / "ok.pdf") >= 1
    assert (tmp_path / "ok.pdf").read_bytes().startswith(b"%PDF")
