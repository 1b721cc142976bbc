"""Short test clips made from skimage's shipped pictures (never from ../shared)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

W, H = 320, 240
FPS = 12.0
PAN_S, CUT_S, EMPTY_S = 3.0, 1.5, 1.0


def frames() -> list[tuple[np.ndarray, str]]:
    """(RGB frame, scene) for: the astronaut panning (her face moves right to left), a cut to
    the cameraman (camera()), then a coffee cup (no face)."""
    from skimage import data

    astro = data.astronaut()
    cam = np.stack([data.camera()] * 3, axis=-1)
    cup = data.coffee()
    out = []
    n_pan = int(PAN_S * FPS)
    for i in range(n_pan):
        x = int(i * 140 / max(1, n_pan - 1))  # 140 px over the pan: about 4 px per frame
        out.append((np.ascontiguousarray(astro[0:H, x:x + W]), "astronaut"))
    for _ in range(int(CUT_S * FPS)):
        out.append((np.ascontiguousarray(cam[20:20 + H, 120:120 + W]), "camera"))
    for _ in range(int(EMPTY_S * FPS)):
        out.append((np.ascontiguousarray(cup[0:H, 0:W]), "cup"))
    return out


def write_clip(path: Path, items: list[np.ndarray] | None = None, fourcc: str = "mp4v",
               fps: float = FPS) -> Path:
    import cv2

    items = items if items is not None else [f for f, _ in frames()]
    h, w = items[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, (w, h))
    assert writer.isOpened(), f"OpenCV cannot write {fourcc} here"
    for rgb in items:
        writer.write(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    writer.release()
    return path


def truncated_clip(path: Path, keep: float = 0.5) -> Path:
    """An AVI (MJPEG) cut off part-way, as a broken download is: AVI streams can be read
    without their trailing index, so the first part still decodes."""
    write_clip(path, fourcc="MJPG")
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    return path
