"""Shared fixtures. Qt runs offscreen; user data goes to a temp dir; images derive from skimage."""

from __future__ import annotations

import os
import threading

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from app.core.detector import write_untrained_model  # noqa: E402, F401 - re-exported for tests

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"

# Where the astronaut's face is in skimage.data.astronaut() (512 x 512), measured with MTCNN.
ASTRONAUT_FACE = (181.0, 62.0, 268.0, 172.0)


@pytest.fixture(autouse=True)
def _user_dirs(tmp_path, monkeypatch):
    """Each test gets its own data dir: history and logs never touch the real user's files."""
    monkeypatch.setenv("DFI_DATA_DIR", str(tmp_path / "userdata"))


@pytest.fixture(autouse=True)
def _no_leftover_threads():
    """Fail a test that leaves a thread running (napari does the same)."""
    before = set(threading.enumerate())
    yield
    # Daemon threads and the placeholders Python makes for threads it did not start (a Qt
    # worker that logs) cannot be joined; the Qt tests check their pools shut down themselves.
    new = [t for t in set(threading.enumerate()) - before
           if not t.daemon and not isinstance(t, threading._DummyThread)]
    for t in new:
        t.join(timeout=5)
    left = [t for t in new if t.is_alive()]
    assert not left, f"threads left running: {left}"


@pytest.fixture(scope="session")
def astronaut() -> np.ndarray:
    from skimage import data

    return data.astronaut()


@pytest.fixture(scope="session")
def no_face() -> np.ndarray:
    """A photo without a face (skimage's coffee cup). Note: camera() shows a face."""
    from skimage import data

    return data.coffee()


@pytest.fixture(scope="session")
def face_crop_200(astronaut) -> np.ndarray:
    """A tight 200 x 200 crop: the face fills the frame (like a profile picture)."""
    x1, y1, x2, y2 = ASTRONAUT_FACE
    cx, cy = int((x1 + x2) / 2), int((y1 + y2) / 2)
    return np.ascontiguousarray(astronaut[cy - 100 : cy + 100, cx - 100 : cx + 100])


@pytest.fixture(scope="session")
def three_faces(astronaut, no_face) -> np.ndarray:
    """A composite with three copies of the astronaut's face at different sizes."""
    import cv2

    canvas = cv2.resize(no_face, (900, 450))
    x1, y1, x2, y2 = (int(v) for v in ASTRONAUT_FACE)
    face = astronaut[y1 - 30 : y2 + 30, x1 - 30 : x2 + 30]
    for (x, y), s in zip([(40, 60), (340, 100), (640, 40)], [1.0, 1.3, 1.6], strict=True):
        f = cv2.resize(face, None, fx=s, fy=s)
        canvas[y : y + f.shape[0], x : x + f.shape[1]] = f
    return canvas


@pytest.fixture(scope="session")
def untrained_card(tmp_path_factory) -> Path:
    return write_untrained_model(tmp_path_factory.mktemp("model"))


@pytest.fixture(scope="session")
def analyzer(untrained_card):
    from app.core.analysis import Analyzer

    a = Analyzer(untrained_card, allow_untrained=True)
    yield a
    a.close()


def save_rgb(path: Path, rgb: np.ndarray, **kwargs) -> Path:
    from PIL import Image

    Image.fromarray(rgb).save(path, **kwargs)
    return path
