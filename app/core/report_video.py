"""A clip's section of the case report: facts, the timeline plot (drawn with PIL into a PNG, so
the HTML and Qt's PDF renderer show the same picture), the faces table and the most suspicious
frames with their boxes. app.core.report calls `video_section` for results that hold a clip."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from app.core.report import (
    _kv_table,
    _metadata_html,
    _notes_html,
    _score,
    _verdict_text,
    data_uri,
    esc,
)
from app.core.results import AnalysisResult, Status
from app.core.video import TIMELINE_LABEL, VideoResult, stored_video

PLOT_W, PLOT_H = 900, 260
TRACK_RGB = ["#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#000000"]
THUMB_W = 150  # four fit across a PDF page


def is_video_result(result: AnalysisResult) -> bool:
    return any(isinstance(m, dict) and isinstance(m.get("video"), dict)
               for m in result.metadata or [])


def video_section(result: AnalysisResult, index: int, notes: str, tags: list[str]) -> str:
    video = stored_video(result.metadata)
    name = Path(result.path).name if result.path else f"clip {index}"
    brk = " style='page-break-before: always'"  # every item on its own page
    parts = [f"<h2{brk}>{index}. {esc(name)} (video)</h2>"]
    size = f"{video.size[0]} x {video.size[1]} px" if video.size else "?"
    parts.append(_kv_table([
        ("File name", name), ("Path", os.path.abspath(result.path) if result.path else "?"),
        ("SHA-256", result.sha256 or "?"),
        ("File size", f"{video.file_size:,} bytes" if video.file_size else "?"),
        ("Clip", f"{video.duration_s or 0:.1f} s, {size}, {video.fps or 0:.3g} fps, "
                 f"codec {video.codec}"),
        ("Sampling", f"{video.frames_scored} frames scored ({_sampling(video)}), "
                     f"{len(video.cuts)} scene cut(s) found"),
        ("Analysed at (UTC)", result.analysed_at or "?"), ("Model", result.model or "?"),
        ("Verdict", _verdict_text(result) + _untrusted_why(video)),
        ("Score p(fake)", _score(result.p_fake, video.cutoffs()) + (
            f", decided by face {video.deciding_track}" if video.deciding_track else "")),
    ], mono=frozenset({"SHA-256"})))
    if result.status == Status.ERROR:
        parts.append(f"<p class='banner'>Could not be analysed: {esc(result.error)}</p>")
        return "\n".join(parts)
    if video.tracks:
        png = timeline_png(video)
        parts.append("<h3>Timeline</h3>"
                     f"<p><img src='{data_uri(png)}' width='{png.shape[1]}' "
                     f"height='{png.shape[0]}' alt='p(fake) of each face over time'></p>"
                     "<p class='muted'>One line per face tracked across frames. Dashed red: the "
                     "model's threshold; shaded: its \u201cuncertain\u201d band; dotted: scene "
                     "cuts (a face after a cut starts a new track).</p>")
        parts.append(_tracks_table(video))
    frames_html, frames_note = _key_frames_html(video, result)
    if frames_html or frames_note:
        parts.append("<h3>Most suspicious frames</h3>" + frames_html
                     + (f"<p class='muted'>{esc(frames_note)}</p>" if frames_note else ""))
    container = [m for m in result.metadata if m.get("label") != TIMELINE_LABEL]
    shown = AnalysisResult(path=result.path, status=result.status, metadata=container)
    parts.append(_metadata_html(shown))
    if result.warnings:
        parts.append("<h3>Warnings</h3><ul>"
                     + "".join(f"<li>{esc(w)}</li>" for w in result.warnings) + "</ul>")
    if notes or tags:
        parts.append(_notes_html("Notes", notes, tags))
    return "\n".join(parts)


def _untrusted_why(video: VideoResult) -> str:
    """Why a low-scoring clip is "uncertain" anyway: its deciding face was mostly unjudgeable."""
    top = next((t for t in video.tracks if t.id == video.deciding_track), None)
    if top is None or not top.mostly_unjudgeable:
        return ""
    return (f" (face {top.id} was too small or blurred to judge in {top.uncertain_frames} of "
            f"its {len(top.points)} frames, whatever its score)")


def _sampling(video: VideoResult) -> str:
    s = video.settings or {}
    fps, cap = s.get("frames_per_second"), s.get("max_frames")
    return f"about {fps:g} per second, at most {cap}" if fps and cap else "default sampling"


def _tracks_table(video: VideoResult) -> str:
    rows = ["<table><tr><th>Face</th><th>Seen</th><th>Frames</th><th>p(fake), mean logit</th>"
            "<th>Spread (10th-90th %)</th><th>Verdict</th></tr>"]
    for tr in video.tracks:
        lo, hi = tr.p_spread or (None, None)
        spread = f"{lo:.2f}-{hi:.2f}" if lo is not None else "?"
        rows.append(f"<tr><td><font color='{_color(tr.id)}'><b>Face {tr.id}</b></font></td>"
                    f"<td>{tr.first_t:.1f}-{tr.last_t:.1f} s</td><td>{len(tr.points)}</td>"
                    f"<td>{_score(tr.p_fake, video.cutoffs())}</td><td>{spread}</td>"
                    f"<td>{esc(tr.verdict or '?')}</td></tr>")
    return "".join(rows) + "</table>"


def _key_frames_html(video: VideoResult, result: AnalysisResult) -> tuple[str, str]:
    """The kept frames, or frames read back from the file when it is unchanged."""
    keys = video.key_frames
    note = ""
    if not keys and result.path and Path(result.path).is_file():
        from app.core.errors import InspectorError
        from app.core.video import key_frames_from_file
        from app.core.video_io import sha256_of_file

        if result.sha256 and sha256_of_file(result.path) != result.sha256:
            return "", "Frames not shown: the file has changed since it was analysed."
        try:
            keys = key_frames_from_file(video, 4)
        except InspectorError as exc:
            return "", f"Frames not shown: {exc}"
    elif not keys:
        note = "Frames not shown: the clip's file is not available."
    cells = []
    for k in keys[:4]:
        img = _boxed(k)
        h = round(img.shape[0] * THUMB_W / img.shape[1])
        cells.append(f"<td><img src='{data_uri(img, 'JPEG')}' width='{THUMB_W}' height='{h}' "
                     f"alt='frame {k.frame}'><br>{k.t:.1f} s (frame {k.frame}): "
                     f"{_score(k.max_p, video.cutoffs())}</td>")
    html = "<table><tr>" + "".join(cells) + "</tr></table>" if cells else ""
    return html, note


def _boxed(key) -> np.ndarray:
    import cv2

    img = key.rgb.copy()
    thick = max(2, round(max(img.shape[:2]) / 250))
    for track, (x1, y1, x2, y2), _p in key.faces:
        cv2.rectangle(img, (round(x1), round(y1)), (round(x2), round(y2)), _rgb(track), thick)
        cv2.putText(img, str(track), (round(x1) + 2, max(14, round(y1) - 4)),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.5 + thick * 0.15, _rgb(track), thick)
    return img


def _color(track: int) -> str:
    return TRACK_RGB[(track - 1) % len(TRACK_RGB)]


def _rgb(track: int) -> tuple[int, int, int]:
    c = _color(track)
    return tuple(int(c[i:i + 2], 16) for i in (1, 3, 5))


def timeline_png(video: VideoResult, width: int = PLOT_W, height: int = PLOT_H) -> np.ndarray:
    """The timeline as an RGB array: p(fake) per track over time, threshold, band, cuts."""
    from PIL import Image, ImageDraw

    im = Image.new("RGB", (width, height), "white")
    d = ImageDraw.Draw(im)
    left, right, top, bottom = 44, width - 10, 10, height - 24
    dur = max([video.duration_s or 0.0] + [p.t for t in video.tracks for p in t.points] + [1e-3])

    def xy(t: float, p: float) -> tuple[float, float]:
        return (left + (right - left) * t / dur,
                bottom - (bottom - top) * max(0.0, min(1.0, p)))

    s = video.settings or {}
    band = s.get("uncertain_band")
    if band:
        d.rectangle([left, xy(0, band[1])[1], right, xy(0, band[0])[1]], fill=(250, 232, 204))
    d.rectangle([left, top, right, bottom], outline=(176, 190, 197))
    for p in (0.0, 0.5, 1.0):
        d.text((4, xy(0, p)[1] - 6), f"{p:.0%}", fill=(84, 110, 122))
    if s.get("threshold") is not None:
        y = xy(0, s["threshold"])[1]
        for x in range(left, right, 10):
            d.line([x, y, min(x + 5, right), y], fill=(198, 40, 40), width=1)
    for t in video.cuts:
        x = xy(t, 0)[0]
        for y in range(top, bottom, 4):
            d.point((x, y), fill=(144, 164, 174))
    step = next((st for st in (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1800, 3600)
                 if dur / st <= 10), 7200)
    t = 0.0
    while t <= dur + 1e-6:
        x = xy(t, 0)[0]
        d.line([x, bottom, x, bottom + 3], fill=(84, 110, 122))
        d.text((x - 10, bottom + 6), f"{int(t) // 60}:{int(t) % 60:02d}", fill=(84, 110, 122))
        t += step
    for tr in video.tracks:
        pts = [xy(p.t, p.p_fake) for p in tr.points if p.p_fake is not None]
        if len(pts) > 1:
            d.line(pts, fill=_rgb(tr.id), width=2)
        for x, y in pts:
            d.ellipse([x - 3, y - 3, x + 3, y + 3], fill=_rgb(tr.id))
        if pts:
            d.text((pts[0][0] + 4, pts[0][1] - 14), f"Face {tr.id}", fill=_rgb(tr.id))
    return np.asarray(im)
