"""The one place an Analyzer is made for a front end: the CLI, evaluation and scripts.

The detector is loaded at once, so a missing, untrained or tampered model is one plain
ModelError before any file is read (the window loads lazily in its worker instead).
"""

from __future__ import annotations

import os

from app.core.analysis import Analyzer
from app.core.errors import ImageLoadError, ModelError


def load_analyzer(weights: str | os.PathLike | None = None, *, heatmaps: bool = True,
                  allow_untrained: bool = False) -> Analyzer:
    """An Analyzer with its detector loaded; raises ModelError (a plain message) otherwise."""
    if weights is not None and os.path.lexists(weights):
        from app.core.files import check_regular

        try:  # a pipe or a device given as --weights must not block or read forever
            check_regular(weights)
        except ImageLoadError as exc:
            raise ModelError(f"The model file cannot be used: {exc}") from exc
    analyzer = Analyzer(weights, heatmaps=heatmaps, allow_untrained=allow_untrained)
    analyzer.detector  # noqa: B018 - load now: a bad model is one clear message up front
    return analyzer
