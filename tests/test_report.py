"""Case report: self-contained HTML (escaped, images inline), PDF through Qt, the CLI command."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import unicodedata
from html.parser import HTMLParser
from pathlib import Path

import pytest

from app import __version__
from app.core.detector import ModelCard
from app.core.report import CaseReport, esc, render_html
from app.core.results import AnalysisResult, Status, Verdict
from tests.conftest import save_rgb

HOSTILE = "<script>alert('x')</script>"


class _Collect(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.imgs: list[dict] = []
        self.text: list[str] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag == "img":
            self.imgs.append(dict(attrs))

    def handle_data(self, data):
        self.text.append(data)


def parse(html: str) -> _Collect:
    p = _Collect()
    p.feed(html)
    p.close()
    return p


@pytest.fixture(scope="module")
def case(analyzer, astronaut, three_faces, no_face, tmp_path_factory):
    """Three analysed files: one face (odd name), three faces, no face."""
    folder = tmp_path_factory.mktemp("case")
    files = [save_rgb(folder / "astro <b>&'quote'.jpg", astronaut),
             save_rgb(folder / "three.png", three_faces),
             save_rgb(folder / "coffee.jpg", no_face)]
    return [analyzer.analyze(f) for f in files]


@pytest.fixture(scope="module")
def card(untrained_card) -> ModelCard:
    return ModelCard.from_file(untrained_card)


def test_html_report_contents(case, card):
    report = CaseReport(card=card, notes=f"Called the source. {HOSTILE}", tags=["urgent", HOSTILE])
    for result in case:
        report.add(result, notes="per-image " + HOSTILE, tags="a, b, a")
    html = report.html()
    parsed = parse(html)
    text = "".join(parsed.text)
    assert "<script" not in html and "&lt;script&gt;" in html  # everything from files escaped
    assert "astro &lt;b&gt;&amp;&#x27;quote&#x27;.jpg" in html
    assert "script" not in parsed.tags
    for result in case:
        assert result.sha256 in text  # every file's hash is listed
    assert card.weights_sha256 in text and card.id in text and __version__ in text
    assert "UNTRAINED TEST MODEL" in text  # visibly says the model is a test model
    assert "can and cannot tell" in text and "cannot prove a picture is authentic" in text
    # Per face: the crop and the heatmap overlay, inline PNG; the overview of each image too.
    n_faces = sum(len(r.faces) for r in case)
    assert n_faces >= 4
    heat = [i for i in parsed.imgs if i.get("alt", "").startswith("heatmap of face")]
    assert len(heat) == n_faces
    assert all(i["src"].startswith("data:image/png;base64,") for i in heat)
    crops = [i for i in parsed.imgs if re.fullmatch(r"face \d+", i.get("alt", ""))]
    assert len(crops) == n_faces
    assert all(i["src"].startswith("data:image/") for i in parsed.imgs)  # self-contained
    assert not re.search(r"""(src|href)=['"](?!data:)""", html)  # no external resources
    assert "Provenance and metadata" in text and "Input quality" in text
    assert "Summary" in text and "Tags:" in text


def test_single_result_and_error_entry(case, card, tmp_path):
    html = render_html(case[0], card=card, notes="one")
    assert "Summary" not in html and case[0].sha256 in html
    from app.core.results import AnalysisResult, Status

    broken = AnalysisResult(path=str(tmp_path / "x.jpg"), status=Status.ERROR,
                            error="The image data is damaged " + HOSTILE, error_type="X")
    html = render_html([broken])
    assert "Could not be analysed" in html and "&lt;script&gt;" in html and "<script" not in html


def test_report_notices_a_file_changed_since_analysis(analyzer, astronaut, tmp_path):
    path = save_rgb(tmp_path / "a.png", astronaut)
    result = analyzer.analyze(path, heatmaps=False)
    save_rgb(path, astronaut[::-1])  # replaced after the analysis
    html = render_html(result)
    assert "has changed since it was analysed" in html


def _pdf_pages(path: Path) -> int:
    if shutil.which("pdfinfo"):
        out = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True).stdout
        return int(re.search(r"Pages:\s+(\d+)", out).group(1))
    return len(re.findall(rb"/Type\s*/Page[^s]", path.read_bytes()))


def _page_text(path: Path, page: int) -> str:
    text = subprocess.run(["pdftotext", "-f", str(page), "-l", str(page), "-layout", str(path),
                           "-"], capture_output=True, text=True, check=True).stdout
    return unicodedata.normalize("NFKC", text)  # Qt's PDF uses ligatures: "ﬀ" -> "ff"


def test_pdf_report(case, card, tmp_path, qapp):
    from app.render.report_pdf import write_report_pdf

    report = CaseReport(card=card, notes="Checked with the agency.")
    for result in case:
        report.add(result)
    out = tmp_path / "case.pdf"
    pages = write_report_pdf(report, out)
    assert out.read_bytes().startswith(b"%PDF")
    assert _pdf_pages(out) == pages >= len(case)  # each image starts on a new page
    if not shutil.which("pdftotext"):
        pytest.skip("pdftotext (poppler-utils) not installed: text checks skipped")
    texts = [_page_text(out, i) for i in range(1, pages + 1)]
    assert "UNTRAINED TEST MODEL" in texts[0] and "Case report" in texts[0]
    starts = []
    for i, result in enumerate(case, 1):
        name = Path(result.path).name.split(" ")[0]
        starts.append(next(n for n, t in enumerate(texts) if re.search(
            rf"^\s*{i}\.\s+{re.escape(name)}", t, re.M)))
    assert starts == sorted(set(starts))  # distinct pages, in order
    joined = "".join(texts).replace("\n", " ")
    for result in case:
        assert result.sha256 in "".join(texts).replace("\n", "").replace(" ", "")
    assert "Heatmap" in joined


def test_cli_report_html_and_pdf(untrained_card, astronaut, tmp_path, monkeypatch, capsys, qapp):
    import app.cli as cli
    from app.core.analysis import Analyzer

    img = save_rgb(tmp_path / "face.jpg", astronaut)
    monkeypatch.setattr(cli, "_load_analyzer", lambda weights, heatmaps: Analyzer(
        untrained_card, heatmaps=heatmaps, allow_untrained=True))
    out = tmp_path / "r.html"
    rc = cli.main(["report", "--out", str(out), "--notes", "n1", "--tag", "t1", "-q", str(img)])
    assert rc == 0 and out.exists() and capsys.readouterr().out.strip() == str(out)
    html = out.read_text(encoding="utf-8")
    assert "data:image/png;base64," in html and "t1" in html and "UNTRAINED" in html
    pdf = tmp_path / "r.pdf"
    assert cli.main(["report", "--out", str(pdf), "-q", str(img)]) == 0  # format from suffix
    assert pdf.read_bytes().startswith(b"%PDF") and _pdf_pages(pdf) >= 1
    empty = tmp_path / "empty"
    empty.mkdir()
    assert cli.main(["report", str(empty)]) == cli.EXIT_USAGE


def test_an_editor_can_read_the_scores_without_the_app(tmp_path, astronaut):
    """A review as an editor: '64 % likely manipulated' read as odds of fakery when 'fake'
    starts at 94 %; jargon without a key; the typed path instead of the file's full one."""
    from types import SimpleNamespace

    from app.core.report import _score

    card = SimpleNamespace(id="m", threshold=0.944, uncertain_band=(0.29, 0.944),
                           weights_sha256="ab" * 32, trained=True)
    assert _score(0.636, card) == "0.636 (64%; \u201cuncertain\u201d range 29-93%)"
    assert _score(0.97, card) == "0.970 (97%; \u201cfake\u201d from 94%)"
    assert _score(0.10, card) == "0.100 (10%; \u201cno sign found\u201d below 29%)"
    path = save_rgb(tmp_path / "portrait.png", astronaut)
    report = CaseReport(card=card, title="t")
    report.add(AnalysisResult(path=os.path.relpath(path), status=Status.NO_FACE,
                              verdict=Verdict.NO_FACE, model="m"))
    html = report.html()
    assert "How scores are read" in html and "from 94%: fake" in html
    assert "Terms used in this report" in html and "Mean logit" in html
    assert esc(str(path)) in html  # the full path, whatever was typed


def test_an_uncertain_verdict_from_an_untrusted_score_says_why():
    from app.core.quality import FACE_TOO_SMALL, QualityWarning
    from app.core.report import _why_untrusted
    from app.core.results import FaceResult

    face = FaceResult(box=(0, 0, 30, 30), det_score=0.99, p_fake=0.02, verdict=Verdict.UNCERTAIN)
    small = AnalysisResult(path="/x/a.jpg", status=Status.OK, faces=[face], p_fake=0.02,
                           verdict=Verdict.UNCERTAIN,
                           quality=[QualityWarning(FACE_TOO_SMALL, "small", face=0).to_dict()])
    assert _why_untrusted(small) == " (face too small to judge)"
    report = CaseReport(title="t")
    report.add(small)
    report.add(AnalysisResult(path=None, status=Status.NO_FACE, verdict=Verdict.NO_FACE))
    assert "(face too small to judge)" in report.html().split("<h2>Summary</h2>", 1)[1]
