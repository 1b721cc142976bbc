"""Strings from files (EXIF, XMP, C2PA, file names) are text in the report, never markup, and a
right-to-left override cannot disguise them (issue 11). One test per source; the PDF is laid
out from the same HTML by Qt, so the Qt document's plain text is checked as well."""

from __future__ import annotations

import io
import shutil
import subprocess

import pytest
from PIL import Image

from app.core import metadata as md
from app.core.detector import ModelCard
from app.core.report import CaseReport
from tests.conftest import save_rgb

RLO = "\u202e"
EVIL = f"<script>alert(1)</script> <img src=x onerror=y> \"dq\" 'sq' line1\nline2 {RLO}gpj.exe"


def _assert_inert(html: str) -> None:
    """Nothing from EVIL survives as markup or as a hidden direction override."""
    assert "<script" not in html and "<img src=x" not in html and "onerror=y>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert RLO not in html and "[U+202E]gpj.exe" in html


def _qt_plain_text(html: str) -> str:
    """What Qt's rich-text engine (the PDF export's layout) makes of the HTML, as text."""
    from PySide6.QtGui import QTextDocument

    from app.render.report_pdf import ensure_gui_app

    ensure_gui_app()
    doc = QTextDocument()
    doc.setHtml(html)
    return doc.toPlainText()


def _report_html(result, card) -> str:
    report = CaseReport(card=card, notes="notes")
    report.add(result)
    return report.html()


@pytest.fixture(scope="module")
def card(untrained_card) -> ModelCard:
    return ModelCard.from_file(untrained_card)


def _jpeg_with_exif(rgb) -> bytes:
    exif = Image.Exif()
    exif[0x013B] = EVIL.encode("utf-8")  # Artist: raw UTF-8, as many programs write it
    exif[0x0131] = "Photoshop " + EVIL  # Software
    exif[0x010F] = "Canon"
    exif[0x0110] = EVIL  # Model
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "JPEG", exif=exif)
    return buf.getvalue()


def test_exif_strings_are_escaped_in_the_report(analyzer, astronaut, tmp_path, card, qapp):
    path = tmp_path / "exif.jpg"
    path.write_bytes(_jpeg_with_exif(astronaut))
    result = analyzer.analyze(path)
    values = " ".join(m["value"] for m in result.metadata)
    assert "<script>" in values and RLO not in values and "[U+202E]" in values
    html = _report_html(result, card)
    _assert_inert(html)
    text = _qt_plain_text(html)
    assert "<script>alert(1)</script>" in text and RLO not in text


def test_xmp_strings_are_escaped_in_the_report(analyzer, astronaut, tmp_path, card, qapp):
    from xml.sax.saxutils import escape

    xmp = ('<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
           'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description '
           'rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/" '
           'xmlns:xmp="http://ns.adobe.com/xap/1.0/">'
           f'<xmp:CreatorTool>{escape(EVIL)}</xmp:CreatorTool>'
           f'<dc:creator><rdf:Seq><rdf:li>{escape(EVIL)}</rdf:li></rdf:Seq></dc:creator>'
           '</rdf:Description></rdf:RDF></x:xmpmeta>')
    path = tmp_path / "xmp.jpg"
    Image.fromarray(astronaut).save(path, "JPEG", xmp=xmp.encode("utf-8"))
    result = analyzer.analyze(path)
    xmp_values = [m["value"] for m in result.metadata if "XMP" in m["label"]]
    assert any("<script>" in v for v in xmp_values), result.metadata
    html = _report_html(result, card)
    _assert_inert(html)
    assert "<script>alert(1)</script>" in _qt_plain_text(html)


def test_c2pa_strings_are_escaped_in_the_report(astronaut, card, qapp):
    c2pa = pytest.importorskip("c2pa")
    from tests.test_metadata import _test_signer, jpeg

    chain, private = _test_signer()
    manifest = {
        "claim_generator_info": [{"name": EVIL, "version": "1"}],
        "title": EVIL,
        "assertions": [{"label": "c2pa.actions", "data": {"actions": [{
            "action": "c2pa.created", "softwareAgent": {"name": EVIL},
            "digitalSourceType": "http://cv.iptc.org/newscodes/digitalsourcetype/digitalCapture",
        }]}}],
    }
    signer = c2pa.Signer.from_info(c2pa.C2paSignerInfo(b"es256", chain, private, None))
    out = io.BytesIO()
    with c2pa.Builder(manifest) as builder:
        builder.sign(signer, "image/jpeg", io.BytesIO(jpeg(astronaut)), out)
    findings = [f.to_dict() for f in md.extract(out.getvalue())]
    c2pa_values = [f["value"] for f in findings if f["category"] == md.C2PA]
    assert any("<script>" in v for v in c2pa_values), findings
    assert not any(RLO in v for v in c2pa_values)
    from app.core.results import AnalysisResult, Status

    result = AnalysisResult(path="signed.jpg", status=Status.NO_FACE, metadata=findings)
    html = _report_html(result, card)
    _assert_inert(html)


def test_file_names_are_escaped_in_the_report_and_pdf(analyzer, astronaut, tmp_path, card, qapp):
    name = EVIL.replace("/", "_") + ".jpg"  # quotes, <script>, a newline and U+202E in a name
    path = save_rgb(tmp_path / name, astronaut)
    result = analyzer.analyze(path)
    assert result.status == "ok"
    html = _report_html(result, card)
    assert "<script" not in html and "&lt;script&gt;" in html and "&quot;dq&quot;" in html
    assert RLO not in html and "[U+202E]gpj.exe.jpg" in html
    text = _qt_plain_text(html)
    assert "<script>alert(1)<_script>" in text and "[U+202E]" in text and RLO not in text
    from app.render.report_pdf import write_report_pdf

    report = CaseReport(card=card)
    report.add(result)
    pdf = tmp_path / "report.pdf"
    assert write_report_pdf(report, pdf) >= 1
    if shutil.which("pdftotext"):
        pdf_text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True,
                                  text=True, check=True).stdout
        assert "<script>alert(1)<_script>" in pdf_text and RLO not in pdf_text
