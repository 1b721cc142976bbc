"""Case report: one result or a batch as a self-contained HTML file (inline CSS, images as data
URIs), the journalist's record of what was checked, with what, and what it can and cannot say.

The same HTML feeds the PDF export (app.render.report_pdf), so it sticks to what Qt's rich-text
engine renders: tables, attributes for sizes, simple class selectors. Everything that comes from
a file (names, metadata, notes) is HTML-escaped.
"""

from __future__ import annotations

import base64
import html
import io
import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from app import __version__
from app.core.detector import judged_by, shown_cutoffs, shown_percent
from app.core.results import VERDICT_TEXT, AnalysisResult, Status, Verdict

OVERVIEW_MAX_SIDE = 720  # px of the embedded overview image
FACE_SIDE = 160  # px of each embedded face crop / heatmap
VERDICT_COLOR = {Verdict.FAKE: "#c62828", Verdict.REAL: "#2e7d32", Verdict.UNCERTAIN: "#a35f00"}
SEVERITY_COLOR = {"warning": "#c62828", "notable": "#ef6c00", "info": "#607d8b"}

CAN_AND_CANNOT = [
    "For each face it finds, the tool estimates how likely the face was swapped or synthesised "
    "by deepfake methods like those it was trained on. It looks at faces only.",
    "It cannot prove a picture is authentic: \u201cno sign of manipulation\u201d is not a "
    "certificate. New generation methods, heavy compression, small or blurred faces all make the "
    "score less reliable; such cases are marked \u201cuncertain\u201d.",
    "It does not examine the rest of the picture (background, objects, text) or its context "
    "(who, where, when).",
    "Heatmaps show which regions most influenced the model's decision, not where a "
    "manipulation is.",
    "Metadata can be stripped or forged; Content Credentials (C2PA) prove who signed a claim, "
    "not that the claim is true. Absent metadata proves nothing.",
    "Use this report as one input to verification, alongside sources, reverse image search and "
    "expert review.",
    "Methods it was not trained on (diffusion models, FaceSwap, Face2Face, reenactment, other "
    "tools) are not measured: a face made by them may score low. The last page explains the "
    "terms used here.",
]
# The report's terms in plain words (its last page): an editor has no app and no docs.
GLOSSARY = [
    ("Score, p(fake)", "The model's estimate, from 0 to 1 (shown also as a percent), that a face "
     "was swapped or synthesised. It is calibrated on development data, so it is not the odds for "
     "this picture. The verdict comes from fixed ranges of it, printed with the model details."),
    ("Verdict", "Fake: the score is in the range where the model calls faces fake. Uncertain: "
     "the model cannot tell reliably (a middling score, or a face too small, blurred or "
     "compressed to judge). No sign of manipulation found: a low score; never proof that the "
     "picture is authentic."),
    ("Heatmap", "Which parts of the face weighed most in the model's score (red and yellow most, "
     "blue least). It is not a map of where a manipulation is."),
    ("Track, face N (video)", "One person followed across the sampled frames of a clip, until a "
     "scene cut."),
    ("Mean logit (video)", "The average of the model's raw scores over a face's frames, before "
     "they are turned into a 0-1 score; averaging raw scores keeps one odd frame from deciding."),
    ("Spread, 10th-90th % (video)", "The range in which most of a face's per-frame scores lie: "
     "a wide spread means the frames disagree."),
    ("SHA-256", "A fingerprint of the file's bytes: the same file always gives the same value, "
     "and any change gives another. It ties this report to the exact file examined."),
    ("Content Credentials (C2PA)", "A signed record of a file's origin and edits, when a "
     "camera or program added one. A valid signature proves who signed, not that the claim is "
     "true."),
    ("Forensic filters (ELA, noise, JPEG history, copy-move, EXIF thumbnail)", "Whole-picture "
     "checks: error level and noise maps (for a trained eye), how the JPEG was saved, regions "
     "cloned within the picture, and whether the camera's small preview still matches. Only "
     "copy-move and the thumbnail check ever say \u201cedited\u201d; their confidence is a "
     "score, not a probability."),
]

CSS = """
body { font-family: 'DejaVu Sans', Arial, sans-serif; font-size: 10pt; color: #212121; }
h1 { font-size: 18pt; margin-bottom: 2px; }
h2 { font-size: 14pt; margin-top: 18px; border-bottom: 1px solid #999; }
h3 { font-size: 11pt; margin-top: 12px; margin-bottom: 4px; }
table { border-collapse: collapse; }
td, th { padding: 3px 6px; vertical-align: top; border: 1px solid #ccc; }
th { background-color: #eeeeee; text-align: left; }
.kv td.k { font-weight: bold; background-color: #f5f5f5; }
.mono { font-family: 'DejaVu Sans Mono', monospace; font-size: 8pt; }
.banner { background-color: #ffebee; color: #b71c1c; font-weight: bold; padding: 6px;
          border: 2px solid #b71c1c; }
.note { white-space: pre-wrap; background-color: #fffde7; padding: 6px; border: 1px solid #ddd; }
.muted { color: #757575; }
.sev { color: white; font-weight: bold; }
"""


def esc(value) -> str:
    """HTML-escape anything for text or attribute use; direction overrides made visible."""
    from app.core.plaintext import reveal_bidi

    return html.escape(reveal_bidi("" if value is None else str(value)), quote=True)


def data_uri(rgb: np.ndarray, fmt: str = "PNG") -> str:
    """An RGB uint8 array as a data: URI (PNG for crops/heatmaps, JPEG for photos)."""
    from PIL import Image

    buf = io.BytesIO()
    options = {"quality": 85} if fmt == "JPEG" else {}
    Image.fromarray(np.ascontiguousarray(rgb)).save(buf, fmt, **options)
    return f"data:image/{fmt.lower()};base64,{base64.b64encode(buf.getvalue()).decode('ascii')}"


def _tags(tags: str | Iterable[str] | None) -> list[str]:
    items = tags.split(",") if isinstance(tags, str) else list(tags or [])
    return list(dict.fromkeys(t.strip() for t in items if t and t.strip()))


@dataclass
class _Row:
    name: str
    verdict: str
    score: str
    faces: int
    signals: int
    flags: list[str]  # forensic findings that say "edited" (copy-move, thumbnail)


class CaseReport:
    """Collects results (rendered as they are added, so no pixels are kept) and writes the HTML.

    `card` (a detector ModelCard) gives the model's weights hash; `notes`/`tags` are case-level.
    """

    def __init__(self, *, card=None, title: str = "Case report", notes: str = "",
                 tags: str | Iterable[str] = (), generated_at: str | None = None,
                 forensics: Iterable[str] = ()) -> None:
        self.card = card
        self.forensics = list(forensics)  # filter names whose maps each image section shows
        self.title = title
        self.notes = notes or ""
        self.tags = _tags(tags)
        self.generated_at = generated_at or datetime.now(UTC).isoformat(timespec="seconds")
        self._sections: list[str] = []
        self._rows: list[_Row] = []
        self._untrained = card is not None and not getattr(card, "trained", True)

    def __len__(self) -> int:
        return len(self._sections)

    def add(self, result: AnalysisResult, rgb: np.ndarray | None = None, *, notes: str = "",
            tags: str | Iterable[str] = ()) -> None:
        """Render one result. Without `rgb`, the image is re-read from result.path (and checked
        against the analysed SHA-256)."""
        self._untrained |= any("UNTRAINED" in w for w in result.warnings)
        index = len(self._sections) + 1
        cut = judged_by(self.card, result)  # shown percents agree with the verdicts
        flags: list[str] = []
        self._sections.append(_section(result, rgb, index, notes, _tags(tags), self.forensics,
                                       cut, flags))
        name = Path(result.path).name if result.path else f"image {index}"
        signals = sum(1 for m in result.metadata if m.get("severity") in ("warning", "notable"))
        self._rows.append(_Row(name, _verdict_text(result) + _why_untrusted(result),
                               _score(result.p_fake, cut), len(result.faces), signals, flags))

    def html(self) -> str:
        parts = [f"<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
                 f"<title>{esc(self.title)}</title><style>{CSS}</style></head><body>",
                 f"<h1>Deepfake Inspector \u2014 {esc(self.title)}</h1>",
                 f"<p class='muted'>Generated {esc(self.generated_at)} (UTC) by Deepfake Inspector "
                 f"{esc(__version__)}, offline on this computer.</p>"]
        if self._untrained:
            parts.append("<p class='banner'>UNTRAINED TEST MODEL: this report was made with an "
                         "untrained model for testing. Its scores and verdicts mean nothing.</p>")
        parts.append(self._model_table())
        parts.append("<h3>What this tool can and cannot tell</h3><ul>"
                     + "".join(f"<li>{esc(s)}</li>" for s in CAN_AND_CANNOT) + "</ul>")
        if self.notes or self.tags:
            parts.append(_notes_html("Case notes", self.notes, self.tags))
        if len(self._rows) > 1:
            parts.append(self._summary_table())
        parts.extend(self._sections)
        if self.forensics:
            from app.core.forensics.report_html import reading_html

            parts.append(reading_html(self.forensics))
        parts.append("<h2 style='page-break-before: always'>Terms used in this report</h2>"
                     + _kv_table(GLOSSARY))
        parts.append("</body></html>\n")
        return "\n".join(parts)

    def write(self, path: str | os.PathLike) -> Path:
        path = Path(path)
        path.write_text(self.html(), encoding="utf-8")
        return path

    def _model_table(self) -> str:
        card = self.card
        rows = [("Application", f"Deepfake Inspector {__version__}")]
        if card is not None:
            rows += [("Model", card.id),
                     ("Model weights SHA-256", card.weights_sha256 or "not recorded in the card"),
                     ("Model status", "trained" if card.trained else "UNTRAINED (test only)")]
            if getattr(card, "threshold", None) is not None:
                lo, hi = shown_cutoffs(card)
                zones = (f"below {lo}%: real (no sign of manipulation found); {lo}-{hi - 1}%: "
                         "uncertain (the model cannot tell reliably); " if lo is not None
                         else f"below {hi}%: real (no sign of manipulation found); ")
                rows.append(("How scores are read", zones + f"from {hi}%: fake. A score is the "
                             "model's estimate, calibrated on development data: not odds for "
                             "this picture, and never proof either way."))
        from app.core.provenance_c2pa import c2pa_available

        ok, why = c2pa_available()
        rows.append(("C2PA checks", f"c2pa-python {why}, offline" if ok else f"unavailable: {why}"))
        return _kv_table(rows)

    def _summary_table(self) -> str:
        # A copy-move or thumbnail "edited" finding is strong evidence: on page 1, not only in
        # the item's forensic section pages later.
        forensic = bool(self.forensics)
        head = ("<h2>Summary</h2><table width='100%'><tr><th>#</th><th>File</th><th>Verdict</th>"
                "<th>Score</th><th>Faces</th><th>Metadata worth a look</th>"
                + ("<th>Forensic flags (edited?)</th>" if forensic else "") + "</tr>")
        body = "".join(
            f"<tr><td>{i}</td><td>{esc(r.name)}</td><td>{esc(r.verdict)}</td><td>{esc(r.score)}"
            f"</td><td>{r.faces}</td><td>{r.signals}</td>"
            + (f"<td>{esc('; '.join(r.flags) or 'none')}</td>" if forensic else "") + "</tr>"
            for i, r in enumerate(self._rows, 1))
        return head + body + "</table>"


def render_html(results: AnalysisResult | Iterable[AnalysisResult], *, card=None,
                notes: str = "", tags: str | Iterable[str] = (), title: str = "Case report") -> str:
    """HTML for one result or a batch (images re-read from each result's path)."""
    report = CaseReport(card=card, title=title, notes=notes, tags=tags)
    for r in [results] if isinstance(results, AnalysisResult) else results:
        report.add(r)
    return report.html()


# -- one result ----------------------------------------------------------------------------------

def _section(result: AnalysisResult, rgb, index: int, notes: str, tags: list[str],
             forensics: list[str] | None = None, cutoffs=None, flags: list | None = None) -> str:
    from app.core.report_video import is_video_result, video_section

    if is_video_result(result):  # a clip: timeline and frames instead of one picture
        html_ = video_section(result, index, notes, tags)
        if forensics:
            html_ += ("<p class='muted'>The forensic filters are for still pictures: they were "
                      "not applied to this clip.</p>")
        return html_
    name = Path(result.path).name if result.path else f"image {index}"
    # Every item on its own page: page 1 holds the case, the model and the summary.
    parts = [f"<h2 style='page-break-before: always'>{index}. {esc(name)}</h2>"]
    rgb, image_note = _image_for(result, rgb)
    size = _file_size(result.path)
    w_h = f"{result.image_size[0]} x {result.image_size[1]} px" if result.image_size else "?"
    parts.append(_kv_table([
        ("File name", name), ("Path", _full_path(result.path)),
        ("SHA-256", result.sha256 or "?"),
        ("Size", f"{size:,} bytes, {w_h}" if size is not None else w_h),
        ("Analysed at (UTC)", result.analysed_at or "?"), ("Model", result.model or "?"),
        ("Verdict", _verdict_text(result) + _why_untrusted(result)),
        ("Score p(fake)", _score(result.p_fake, cutoffs)),
    ], mono=frozenset({"SHA-256"})))
    if result.status == Status.ERROR:
        parts.append(f"<p class='banner'>Could not be analysed: {esc(result.error)}</p>")
    if image_note:
        parts.append(f"<p class='muted'>{esc(image_note)}</p>")
    if rgb is not None:
        parts.append(_overview(rgb, result))
    if result.faces:
        parts.append(_faces_table(result, rgb, cutoffs))
    parts.append(_quality_html(result))
    parts.append(_metadata_html(result))
    if forensics and result.status != Status.ERROR:
        from app.core.forensics.report_html import forensics_html

        parts.append(forensics_html(result, rgb, forensics, flags))
    other = _other_warnings(result)
    if other:
        parts.append("<h3>Other warnings</h3><ul>"
                     + "".join(f"<li>{esc(w)}</li>" for w in other) + "</ul>")
    if notes or tags:
        parts.append(_notes_html("Notes", notes, tags))
    return "\n".join(parts)


def _image_for(result: AnalysisResult, rgb) -> tuple[np.ndarray | None, str]:
    if rgb is not None or not result.path:
        return rgb, "" if rgb is not None else "Image not embedded (no file)."
    from app.core.errors import InspectorError
    from app.core.images import load_image, shown_frame

    try:
        image = shown_frame(load_image(result.path), result)
    except InspectorError as exc:
        return None, f"Image not embedded: {exc}"
    if result.sha256 and image.sha256 != result.sha256:
        return image.rgb, ("WARNING: the file has changed since it was analysed (its SHA-256 "
                           f"is now {image.sha256}); the pictures below show the current file.")
    return image.rgb, ""


def _why_untrusted(result: AnalysisResult) -> str:
    """' (why)' when an "uncertain" verdict comes from a score that was not trusted (a face too
    small or blurred), so a low score beside "uncertain" does not read as a contradiction."""
    from app.core.report_video import _untrusted_why, is_video_result, stored_video

    if is_video_result(result):
        return _untrusted_why(stored_video(result.metadata))
    if result.verdict != Verdict.UNCERTAIN:
        return ""
    from app.core.quality import tile_note

    note, why = tile_note(result)
    return f" ({note.lower()})" if why and not result.error else ""


def _full_path(path: str | None) -> str:
    """The file's absolute path (what was typed may be relative to a folder no one recalls)."""
    return os.path.abspath(path) if path else "(not from a file)"


def _file_size(path: str | None) -> int | None:
    try:
        return os.path.getsize(path) if path else None
    except OSError:
        return None


def _overview(rgb: np.ndarray, result: AnalysisResult) -> str:
    import cv2

    h, w = rgb.shape[:2]
    s = min(1.0, OVERVIEW_MAX_SIDE / max(h, w))
    img = cv2.resize(rgb, (max(1, round(w * s)), max(1, round(h * s))),
                     interpolation=cv2.INTER_AREA) if s < 1 else rgb.copy()
    thick = max(2, round(max(img.shape[:2]) / 300))
    for i, face in enumerate(result.faces, 1):
        x1, y1, x2, y2 = (round(v * s) for v in face.box)
        color = tuple(int(VERDICT_COLOR.get(face.verdict, "#1565c0")[k:k + 2], 16)
                      for k in (1, 3, 5))
        cv2.rectangle(img, (x1, y1), (x2, y2), color, thick)
        cv2.putText(img, str(i), (x1 + 2, max(12, y1 - 4)), cv2.FONT_HERSHEY_SIMPLEX,
                    0.4 + thick * 0.2, color, thick)
    return (f"<p><img src='{data_uri(img, 'JPEG')}' width='{img.shape[1]}' "
            f"height='{img.shape[0]}' alt='the image with numbered face boxes'></p>")


def _faces_table(result: AnalysisResult, rgb, cutoffs=None) -> str:
    from app.core.explain import blend, colorize
    from app.core.faces import crop_box

    rows = ["<h3>Faces</h3><table><tr><th>#</th><th>Face</th><th>Heatmap</th><th>Score</th>"
            "<th>Verdict</th><th>Notes</th></tr>"]
    for i, face in enumerate(result.faces, 1):
        crop = heat = "<span class='muted'>n/a</span>"
        if rgb is not None:
            region = face.crop_box or crop_box(face.box)
            c = _crop(rgb, region, FACE_SIDE)
            crop = _img(data_uri(c), f"face {i}")
            if face.heatmap is not None:
                import cv2

                hm = cv2.resize(face.heatmap.astype(np.float32), (FACE_SIDE, FACE_SIDE))
                heat = _img(data_uri(blend(c, colorize(hm), 0.45)), f"heatmap of face {i}")
            else:
                heat = "<span class='muted'>not computed</span>"
        verdict = VERDICT_TEXT.get(face.verdict, "?") if face.verdict else "?"
        color = VERDICT_COLOR.get(face.verdict, "#424242")
        notes = "<br>".join(esc(w) for w in face.warnings)
        rows.append(f"<tr><td>{i}</td><td>{crop}</td><td>{heat}</td>"
                    f"<td>{_score(face.p_fake, cutoffs)}"
                    f"<br><span class='muted'>detector {face.det_score:.2f}</span></td>"
                    f"<td><font color='{color}'><b>{esc(verdict)}</b></font></td>"
                    f"<td>{notes}</td></tr>")
    rows.append("</table><p class='muted'>Heatmap colours: " + _colour_scale()
                + " red = regions that most influenced the model's decision, blue = little "
                "(not necessarily where a manipulation is).</p>")
    return "".join(rows)


def _colour_scale() -> str:
    """The heatmap's colour scale as a small picture: little influence -> most influence."""
    from app.core.explain import colorize

    bar = colorize(np.tile(np.linspace(0.0, 1.0, 120, dtype=np.float32), (10, 1)))
    return (f"little <img src='{data_uri(bar)}' width='120' height='10' "
            "alt='colour scale from blue (little influence) to red (most)'> most;")


def _crop(rgb: np.ndarray, region, side: int) -> np.ndarray:
    import cv2

    x1, y1, x2, y2 = region
    s = side / max(x2 - x1, 1e-6)
    m = np.array([[s, 0.0, -x1 * s], [0.0, s, -y1 * s]], np.float32)
    return cv2.warpAffine(rgb, m, (side, side), flags=cv2.INTER_AREA if s < 1 else
                          cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def _img(uri: str, alt: str) -> str:
    return f"<img src='{uri}' width='{FACE_SIDE}' height='{FACE_SIDE}' alt='{esc(alt)}'>"


def _quality_html(result: AnalysisResult) -> str:
    if result.status == Status.ERROR:
        return ""
    if not result.quality:
        return "<h3>Input quality</h3><p>No input-quality problems found.</p>"
    items = []
    for q in result.quality:
        who = "Image" if q.get("face") is None else f"Face {q['face'] + 1}"
        flag = " <b>(score not trusted: verdict set to uncertain)</b>" \
            if q.get("makes_uncertain") else ""
        items.append(f"<li>{_sev(q.get('severity'))} {esc(who)}: {esc(q.get('message'))}"
                     f"{flag}</li>")
    return "<h3>Input quality</h3><ul>" + "".join(items) + "</ul>"


def _metadata_html(result: AnalysisResult) -> str:
    if result.status == Status.ERROR:
        return ""
    if not result.metadata:
        return ("<h3>Provenance and metadata</h3><p class='muted'>Not checked for this image "
                "(no file bytes, or metadata checks were turned off).</p>")
    rows = ["<h3>Provenance and metadata</h3><table width='100%'><tr><th width='11%'></th>"
            "<th width='19%'>Finding</th><th width='29%'>Value</th>"
            "<th width='41%'>What it means (and does not prove)</th></tr>"]
    for m in result.metadata:
        rows.append(f"<tr><td>{_sev(m.get('severity'))}</td><td>{esc(m.get('label'))}</td>"
                    f"<td>{esc(m.get('value'))}</td><td>{esc(m.get('meaning'))}</td></tr>")
    return "".join(rows) + "</table>"


def _other_warnings(result: AnalysisResult) -> list[str]:
    covered = set()
    for q in result.quality:
        covered.add(q.get("message"))
        if q.get("face") is not None:
            covered.add(f"Face {q['face'] + 1}: {q.get('message')}")
    return [w for w in result.warnings if w not in covered]


def _notes_html(title: str, notes: str, tags: list[str]) -> str:
    out = f"<h3>{esc(title)}</h3>"
    if tags:
        out += "<p><b>Tags:</b> " + ", ".join(esc(t) for t in tags) + "</p>"
    if notes:
        out += f"<p class='note'>{esc(notes).replace(chr(10), '<br>')}</p>"
    return out


def _kv_table(rows: list[tuple[str, str]], mono: frozenset[str] = frozenset()) -> str:
    cells = []
    for k, v in rows:
        cls = " class='mono'" if k in mono else ""
        cells.append(f"<tr><td class='k'>{esc(k)}</td><td{cls}>{esc(v)}</td></tr>")
    return "<table class='kv'>" + "".join(cells) + "</table>"


SEVERITY_WORD = {"warning": "WARNING", "notable": "NOTE", "info": "INFO"}  # short: never wraps


def _sev(severity) -> str:
    s = str(severity or "info")
    word = SEVERITY_WORD.get(s, s.upper())
    return (f"<span class='sev' style='background-color:{SEVERITY_COLOR.get(s, '#607d8b')}'>"
            f"<font color='white'>&nbsp;{esc(word)}&nbsp;</font></span>")


def _score(p: float | None, cutoffs=None) -> str:
    """p(fake) to three decimals and in whole percent as the app shows it (never across a
    cutoff the verdict was judged by: detector.shown_percent), with the range it falls in, so
    "64 %" is not read as odds that it is fake when "fake" starts at 94 %."""
    if p is None:
        return "\u2014"
    pct = shown_percent(p, cutoffs)
    text = f"{p:.3f} ({pct}%"
    if cutoffs is not None:
        lo, hi = shown_cutoffs(cutoffs)
        if pct >= hi:
            text += f"; \u201cfake\u201d from {hi}%"
        elif lo is not None and pct >= lo:
            text += f"; \u201cuncertain\u201d range {lo}-{hi - 1}%"
        else:
            text += f"; \u201cno sign found\u201d below {lo if lo is not None else hi}%"
    return text + ")"


def _verdict_text(result: AnalysisResult) -> str:
    if result.status == Status.ERROR:
        return "Error: not analysed"
    return VERDICT_TEXT.get(result.verdict, "?") if result.verdict else "?"
