"""Whole-image forensic filters: ELA, noise level, JPEG history and ghosts, copy-move, EXIF
thumbnail. No Qt: the window, the CLI and the report all call `run_filter`.

Each filter returns a map to look at (float32 HxW in [0, 1], or an RGB drawing) and findings.
Only copy-move and the thumbnail comparison ever say "edited", with a confidence measured on
the benchmark set (benchmarks/forensics_bench.py, docs/FORENSICS.md); the other maps are
evidence to interpret.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType

from app.core.forensics import copymove, ela, jpeg, noise, thumbnail
from app.core.forensics.common import Finding, ForensicResult, colorize

__all__ = ["FILTERS", "Finding", "FilterSpec", "ForensicResult", "colorize", "run_filter"]


@dataclass(frozen=True)
class FilterSpec:
    """What a front end needs to offer a filter: its words and its one adjustable parameter."""

    name: str
    title: str
    how_to_read: str
    run: Callable[..., ForensicResult]
    param: str | None = None  # keyword of `run` that the slider sets
    param_label: str = ""
    param_range: tuple[int, int] = (0, 0)
    param_default: int | None = None  # None: the filter chooses (e.g. the detected quality)
    param_scale: float = 1.0  # slider value * scale = parameter value


def _spec(name: str, mod: ModuleType, **kw) -> FilterSpec:
    return FilterSpec(name, mod.TITLE, mod.HOW_TO_READ, mod.run, **kw)


FILTERS: dict[str, FilterSpec] = {s.name: s for s in [
    _spec("ela", ela, param="quality", param_label="Re-save quality",
          param_range=(50, 100), param_default=ela.DEFAULT_QUALITY),
    _spec("noise", noise, param="strength", param_label="Contrast", param_range=(1, 40),
          param_default=10, param_scale=0.1),
    _spec("jpeg", jpeg, param="quality", param_label="Ghost quality", param_range=(30, 100)),
    _spec("copymove", copymove, param="sensitivity", param_label="Sensitivity",
          param_range=(0, 4), param_default=0),
    _spec("thumbnail", thumbnail),
]}


def run_filter(name: str, image, param: float | None = None) -> ForensicResult:
    """Run one filter on a LoadedImage (keep_bytes=True gives the file-level findings).

    `param` is the filter's parameter in its own units (quality, strength...); None = default.
    """
    spec = FILTERS.get(name)
    if spec is None:
        raise ValueError(f"Unknown filter {name!r}; choose from {', '.join(FILTERS)}.")
    kwargs = {"raw": image.raw, "orientation": image.exif_orientation}
    if spec.param and param is not None:
        kwargs[spec.param] = param
    t0 = time.perf_counter()
    result = spec.run(image.rgb, **kwargs)
    result.elapsed_ms = (time.perf_counter() - t0) * 1000.0
    return result
