"""The one place an Analyzer is made for a front end: the CLI, evaluation and scripts.

The detector is loaded at once, so a missing, untrained or tampered model is one plain
ModelError before any file is read (the window loads lazily in its worker instead).
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path

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
    try:
        analyzer.detector  # noqa: B018 - load now: a bad model is one clear message up front
    except ModelError as exc:
        if isinstance(exc.__cause__, pickle.UnpicklingError):
            # torch's own text advises weights_only=False, i.e. running the file's code: never.
            raise ModelError(
                f"{Path(weights or '').name} holds Python objects besides weights (possibly code), "
                "so it was not loaded: the app never runs code from a model file.") from exc
        raise
    return analyzer
