"""Plain, JSON-serialisable result types shared by every front end."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np


class Verdict(StrEnum):
    FAKE = "fake"
    REAL = "real"
    UNCERTAIN = "uncertain"
    NO_FACE = "no face"


# How suspicious a verdict is: a face judged fake outranks one left uncertain (e.g. too small to
# judge, however high its score), which outranks one judged real.
VERDICT_RANK = {Verdict.FAKE: 2, Verdict.UNCERTAIN: 1, Verdict.REAL: 0}


def suspicion(verdict, p_fake: float) -> tuple[int, float]:
    """Sort key of a face or a clip's track: its verdict's rank, then its score."""
    return VERDICT_RANK.get(verdict, 1), p_fake


class Severity(StrEnum):
    """How much a metadata finding or quality warning matters (shared by both)."""

    INFO = "info"
    NOTABLE = "notable"
    WARNING = "warning"


class Status(StrEnum):
    OK = "ok"
    NO_FACE = "no_face"
    ERROR = "error"


# Plain-language wording of each verdict, used by the GUI and reports alike.
VERDICT_TEXT = {
    Verdict.FAKE: "Likely manipulated (deepfake)",
    Verdict.REAL: "No sign of manipulation found",
    Verdict.UNCERTAIN: "Uncertain: the model cannot tell reliably",
    Verdict.NO_FACE: "No face found",
}


@dataclass
class FaceResult:
    box: tuple[float, float, float, float]  # x1, y1, x2, y2 in image pixels
    det_score: float
    landmarks: list[tuple[float, float]] | None = None  # 5 points: eyes, nose, mouth corners
    p_fake: float | None = None
    logit: float | None = None
    verdict: Verdict | None = None
    # GradCAM map in [0, 1] over the classifier's crop (crop_box), float32, or None.
    heatmap: np.ndarray | None = field(default=None, repr=False)
    crop_box: tuple[float, float, float, float] | None = None
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "box": [round(float(v), 1) for v in self.box],
            "det_score": round(float(self.det_score), 4),
            "p_fake": None if self.p_fake is None else round(float(self.p_fake), 4),
            "verdict": None if self.verdict is None else str(self.verdict),
            "landmarks": None
            if self.landmarks is None
            else [[round(float(x), 1), round(float(y), 1)] for x, y in self.landmarks],
            "warnings": list(self.warnings),
        }


@dataclass(kw_only=True)
class MediaResult:
    """What every analysed file carries, photo (`AnalysisResult`) or clip (`VideoResult`)."""

    path: str | None
    status: Status
    error: str | None = None
    error_type: str | None = None
    p_fake: float | None = None
    verdict: Verdict | None = None
    sha256: str | None = None
    model: str | None = None
    warnings: list[str] = field(default_factory=list)
    timings_ms: dict[str, float] = field(default_factory=dict)
    analysed_at: str | None = None  # ISO 8601, UTC
    # Provenance/metadata findings (app.core.metadata.Finding.to_dict): plain dicts, so results
    # stay JSON-ready.
    metadata: list[dict] = field(default_factory=list)

    def shared_dict(self) -> dict:
        """The keys both kinds write (the CLI's JSONL contract, ARCHITECTURE.md)."""
        return {
            "path": self.path,
            "status": str(self.status),
            "error": self.error,
            "p_fake": None if self.p_fake is None else round(float(self.p_fake), 4),
            "verdict": None if self.verdict in (None, Verdict.NO_FACE) else str(self.verdict),
            "sha256": self.sha256,
            "model": self.model,
            "warnings": list(self.warnings),
            "error_type": self.error_type,
            "timings_ms": {k: round(v, 1) for k, v in self.timings_ms.items()},
            "analysed_at": self.analysed_at,
            "metadata": [dict(m) for m in self.metadata],
        }


@dataclass(kw_only=True)
class AnalysisResult(MediaResult):
    faces: list[FaceResult] = field(default_factory=list)
    image_size: tuple[int, int] | None = None  # width, height after orientation
    # Input-quality warnings (app.core.quality.QualityWarning.to_dict), plain dicts.
    quality: list[dict] = field(default_factory=list)
    frame: int = 0  # of an animation or multi-page file: the frame analysed (boxes are on it)

    @property
    def most_suspicious(self) -> FaceResult | None:
        """The face that decides the image: fake before uncertain before real, then the
        highest score (so a trusted "fake" face is never hidden by a higher-scoring face that
        was too small or blurred to judge)."""
        scored = [f for f in self.faces if f.p_fake is not None]
        return max(scored, key=lambda f: suspicion(f.verdict, f.p_fake)) if scored else None

    def to_dict(self) -> dict:
        """The CLI's JSONL contract (ARCHITECTURE.md) plus extra keys that readers may ignore."""
        return {
            **self.shared_dict(),
            "faces": [f.to_dict() for f in self.faces],
            "image_size": list(self.image_size) if self.image_size else None,
            "quality": [dict(q) for q in self.quality],
            "frame": self.frame,
            "kind": "image",  # videos say "video" (app.core.video.VideoResult)
        }
