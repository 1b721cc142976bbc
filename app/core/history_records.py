"""History records: the stored row as a dataclass, and the value conversions to and from SQLite
(times in UTC text that sorts by time, tags, JSON lists). No Qt, no connection here."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from app.core.results import AnalysisResult, FaceResult, Status, Verdict


@dataclass
class HistoryEntry:
    """One stored analysis (heatmaps are not stored; reopen recomputes them)."""

    id: int
    path: str | None
    file_name: str
    sha256: str | None
    analysed_at: str
    model: str | None
    status: str
    verdict: str | None
    p_fake: float | None
    error: str | None
    image_size: tuple[int, int] | None
    faces: list[dict] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    notes: str = ""
    tags: str = ""
    metadata: list[dict] = field(default_factory=list)
    quality: list[dict] = field(default_factory=list)
    thumbnail: bytes | None = field(default=None, repr=False)

    def to_result(self) -> AnalysisResult:
        """The stored record as an AnalysisResult (no heatmaps, no timings)."""
        faces = [
            FaceResult(
                box=tuple(f["box"]), det_score=f.get("det_score", 0.0),
                landmarks=[tuple(p) for p in f["landmarks"]] if f.get("landmarks") else None,
                p_fake=f.get("p_fake"), verdict=Verdict(f["verdict"]) if f.get("verdict") else None,
                warnings=list(f.get("warnings", [])),
            )
            for f in self.faces
        ]
        status = Status(self.status)
        verdict = Verdict(self.verdict) if self.verdict and self.verdict != "error" else None
        return AnalysisResult(
            path=self.path, status=status, error=self.error, p_fake=self.p_fake, verdict=verdict,
            faces=faces, sha256=self.sha256, model=self.model, image_size=self.image_size,
            warnings=list(self.warnings), analysed_at=self.analysed_at,
            metadata=[dict(m) for m in self.metadata], quality=[dict(q) for q in self.quality],
        )


def utc_iso(value: str | None) -> str:
    """Normalise to 'YYYY-MM-DDTHH:MM:SS+00:00' so text comparison orders by time."""
    dt = datetime.fromisoformat(value) if value else datetime.now(UTC)
    dt = dt if dt.tzinfo else dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC).isoformat(timespec="seconds")


def day_bound(day: date | datetime, end: bool) -> str:
    """A local calendar day's start (or the next day's start, for an inclusive end) in UTC."""
    if isinstance(day, datetime):
        dt = day if day.tzinfo else day.astimezone()
    else:
        dt = datetime.combine(day + timedelta(days=1) if end else day, time()).astimezone()
    return dt.astimezone(UTC).isoformat(timespec="seconds")


def norm_tags(tags: str | Iterable[str]) -> str:
    items = (t.strip() for t in (tags.split(",") if isinstance(tags, str) else tags))
    return ", ".join(dict.fromkeys(t for t in items if t))  # trimmed, de-duplicated, in order


def entry_from_row(row: sqlite3.Row) -> HistoryEntry:
    w, h = row["image_w"], row["image_h"]
    return HistoryEntry(
        id=int(row["id"]), path=row["path"], file_name=row["file_name"], sha256=row["sha256"],
        analysed_at=row["analysed_at"], model=row["model"], status=row["status"],
        verdict=row["verdict"], p_fake=row["p_fake"], error=row["error"],
        image_size=(int(w), int(h)) if w and h else None,
        faces=json.loads(row["faces"] or "[]"), warnings=json.loads(row["warnings"] or "[]"),
        notes=row["notes"] or "", tags=row["tags"] or "", thumbnail=row["thumbnail"],
        metadata=json.loads(row["metadata"] or "[]"), quality=json.loads(row["quality"] or "[]"),
    )


def json_list(items) -> str:
    """A list of plain dicts as JSON; anything odd inside (numpy scalars, bytes) as its text."""
    return json.dumps([dict(i) for i in items or []], default=str)
