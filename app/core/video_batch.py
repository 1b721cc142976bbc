"""Videos inside a batch (folders dropped on the window): one photo-shaped item per clip, so the
gallery, CSV/JSON export and history list clips beside photos; the full timeline travels in the
result's metadata (see VideoResult.as_analysis_result) and is stored with it."""

from __future__ import annotations

import numpy as np

from app.core.batch import BatchItem
from app.core.images import LoadedImage
from app.core.video import analyze_video


def video_item(analyzer, path: str, cancel=None) -> BatchItem:
    """Analyse one clip; its first frame stands in as the item's picture (the thumbnail)."""
    video = analyze_video(analyzer, path, cancel=cancel)
    result = video.as_analysis_result()
    first = video.first_frame
    if first is None and video.key_frames:
        first = video.key_frames[0].rgb
    image = None if first is None else LoadedImage(rgb=np.ascontiguousarray(first), path=path,
                                                   sha256=video.sha256)
    return BatchItem(-1, path, result, image)
