"""Forensic maps in the case report: chosen filters only, escaped, embedded, and a failing
filter costs its own paragraph, not the report. CLI `report --forensics` and the window's
"In case report" boxes reach the report."""

from __future__ import annotations

import dataclasses
from html.parser import HTMLParser

import pytest
from skimage import data

from app.core import forensics
from app.core.report import CaseReport
from tests.forensics_synth import clone, paste, with_thumbnail


class _Imgs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.alts: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            a = dict(attrs)
            if a.get("src", "").startswith("data:image/png;base64,"):
                self.alts.append(a.get("alt", ""))


@pytest.fixture(scope="module")
def edited_result(analyzer, tmp_path_factory):
    img, _, _ = clone(data.astronaut(), (150, 40), (330, 300), 150)
    img = paste(img, data.coffee()[120:200, 220:300], 20, 420)
    path = tmp_path_factory.mktemp("f") / "press <photo>.jpg"
    path.write_bytes(with_thumbnail(img, data.astronaut()))
    return analyzer.analyze(path)


def test_report_includes_only_the_chosen_maps(edited_result):
    report = CaseReport(title="t", forensics=["copymove", "thumbnail"])
    report.add(edited_result)
    html = report.html()
    parser = _Imgs()
    parser.feed(html)
    assert "Copy-move (cloned regions) map" in parser.alts
    assert "EXIF thumbnail map" in parser.alts and "EXIF preview stored in the file" in parser.alts
    assert "Error level analysis" not in html
    assert html.count("EDITED? ") == 2  # the clone and the preview mismatch, nothing else
    assert forensics.FILTERS["copymove"].how_to_read[:60] in html.replace("&#x27;", "'")
    assert "<photo>" not in html  # names stay escaped around the new section


def test_report_without_forensics_is_unchanged(edited_result):
    plain = CaseReport(title="t", generated_at="x")
    plain.add(edited_result)
    assert "<h3>Forensic filters</h3>" not in plain.html()


def test_a_failing_filter_costs_only_its_paragraph(edited_result, monkeypatch):
    def broken(*_a, **_k):
        raise RuntimeError("injected <bug>")

    bad = dataclasses.replace(forensics.FILTERS["ela"], run=broken)
    monkeypatch.setitem(forensics.FILTERS, "ela", bad)
    report = CaseReport(title="t", forensics=["ela", "jpeg"])
    report.add(edited_result)
    html = report.html()
    assert "Could not be computed: RuntimeError: injected &lt;bug&gt;" in html
    assert "JPEG history" in html and "quality 92" in html


def test_cli_report_forensics_option(untrained_card, edited_result, tmp_path, monkeypatch,
                                     capsys):
    import app.cli as cli
    from app.core.analysis import Analyzer

    monkeypatch.setattr(cli, "_load_analyzer", lambda weights, heatmaps: Analyzer(
        untrained_card, heatmaps=heatmaps, allow_untrained=True))
    out = tmp_path / "r.html"
    rc = cli.main(["report", "--out", str(out), "-q", "--forensics", "copymove,noise",
                   edited_result.path])
    assert rc == 0
    html = out.read_text(encoding="utf-8")
    assert "Copy-move (cloned regions)" in html and "Noise level" in html
    assert "<h4>EXIF thumbnail" not in html  # (the metadata table has its own preview row)
    with pytest.raises(SystemExit):
        cli.main(["report", "--forensics", "nope", edited_result.path])
    assert "unknown filter nope" in capsys.readouterr().err
    args = cli._parser().parse_args(["report", "--forensics", "all", "x.jpg"])
    assert args.forensics == list(forensics.FILTERS)


def test_an_edited_finding_reaches_the_summary_on_page_one(edited_result):
    """An editor skimming page 1 saw only the face verdict, not the copy-move flag."""
    report = CaseReport(title="t", forensics=["copymove", "thumbnail"])
    report.add(edited_result)
    report.add(dataclasses.replace(edited_result, path=None, sha256=None))  # not re-readable
    html = report.html()
    # Each filter's "how to read this" once, at the end, not once per image.
    assert html.replace("&#x27;", "'").count(
        forensics.FILTERS["copymove"].how_to_read[:60]) == 1
    summary = html.split("<h2>Summary</h2>", 1)[1].split("</table>", 1)[0]
    assert "Forensic flags (edited?)" in summary
    first, second = summary.split("<tr>")[2:4]
    assert "Copy-move (cloned regions): " in first and "EXIF thumbnail: " in first
    assert "<td>none</td>" in second


def test_no_copy_move_map_when_nothing_was_cloned(analyzer, tmp_path):
    path = tmp_path / "plain.jpg"
    path.write_bytes(with_thumbnail(data.astronaut(), data.astronaut()))
    report = CaseReport(title="t", forensics=["copymove"])
    report.add(analyzer.analyze(path))
    html = report.html()
    parser = _Imgs()
    parser.feed(html)
    assert "No cloned region found" in html
    assert "Copy-move (cloned regions) map" not in parser.alts
