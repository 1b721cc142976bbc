"""Analyzer: the one pipeline every front end calls. image -> faces -> p(fake) -> GradCAM."""

from __future__ import annotations

import os
import threading
import time
from datetime import UTC, datetime

import numpy as np

from app.core.errors import InspectorError
from app.core.faces import Face, FaceFinder, face_crop
from app.core.files import iter_image_files  # noqa: F401 - re-exported (its old home)
from app.core.images import LoadedImage, load_image
from app.core.results import AnalysisResult, FaceResult, Status, Verdict


class Analyzer:
    """Loads the detector lazily, once; `analyze` is safe to call from one worker thread at a time
    per instance (a lock serialises concurrent callers)."""

    def __init__(
        self,
        weights: str | os.PathLike | None = None,
        *,
        heatmaps: bool = True,
        allow_untrained: bool = False,
        face_finder: FaceFinder | None = None,
        metadata: bool = True,
    ) -> None:
        self.weights = weights
        self.heatmaps = heatmaps
        self.metadata = metadata
        self.allow_untrained = allow_untrained
        self.faces = face_finder or FaceFinder()
        self._detector = None
        self._shared: dict = {}  # GradCAM, shared with siblings
        self._shared_lock = threading.Lock()
        self._lock = threading.RLock()
        self.load_ms: float | None = None

    # -- model -----------------------------------------------------------------------------------

    @property
    def detector(self):
        """The loaded Detector (raises NoTrainedModelError / ModelError with a plain message)."""
        with self._lock:
            if self._detector is None:
                from app.core.detector import Detector

                t0 = time.perf_counter()
                _limit_threads()
                self._detector = Detector.load(self.weights, allow_untrained=self.allow_untrained)
                self.load_ms = (time.perf_counter() - t0) * 1000.0
            return self._detector

    @property
    def model_id(self) -> str:
        return self.detector.card.id

    def _explainer_for(self):
        with self._shared_lock:
            if self._shared.get("explainer") is None:
                from app.core.explain import Explainer

                self._shared["explainer"] = Explainer(self.detector)
            return self._shared["explainer"]

    def sibling(self) -> Analyzer:
        """Another Analyzer for a second worker thread: its own face finder and lock, the same
        loaded detector and GradCAM (safe to share: each thread sees only its own pass)."""
        det = self.detector
        twin = Analyzer(self.weights, heatmaps=self.heatmaps, allow_untrained=self.allow_untrained,
                        metadata=self.metadata)
        twin._detector, twin.load_ms = det, self.load_ms
        twin._shared, twin._shared_lock = self._shared, self._shared_lock
        return twin

    def warm_up(self) -> None:
        """Load every network now (the GUI calls this in its worker while the window shows)."""
        det = self.detector
        size = det.card.input_size
        det.predict(np.zeros((1, size, size, 3), np.uint8))
        self.faces.find(np.zeros((64, 64, 3), np.uint8))

    # -- analysis --------------------------------------------------------------------------------

    def analyze(
        self, source: str | os.PathLike | np.ndarray | LoadedImage, *, heatmaps: bool | None = None,
        metadata: bool | None = None,
    ) -> AnalysisResult:
        """Analyse one image. User-caused failures come back as status 'error', never raised.

        `metadata=False` skips provenance/metadata extraction (default: the instance's setting);
        input-quality checks always run.
        """
        from app.core import metadata as meta
        from app.core.quality import assess

        want_maps = self.heatmaps if heatmaps is None else heatmaps
        want_meta = self.metadata if metadata is None else metadata
        t0 = time.perf_counter()
        path = os.fspath(source) if isinstance(source, str | os.PathLike) else None
        now = datetime.now(UTC).isoformat(timespec="seconds")
        try:
            # Metadata reads the file's bytes: keep them rather than read the file twice.
            image = load_image(path, keep_bytes=True) if path and want_meta else self._load(source)
            if isinstance(source, LoadedImage):
                path = source.path
            turned = None
            with self._lock:
                det = self.detector
                t1 = time.perf_counter()
                photo = not isinstance(source, np.ndarray)  # else a video frame
                found = self.faces.find(image.rgb, photo=photo)
                if not found and image.frames > 1:
                    image, found = self._frame_with_a_face(image)
                if not found and photo and image.exif_orientation in (None, 1):
                    # (a file that kept its orientation tag was turned upright already)
                    turned = self.faces.turned_face(image.rgb)
                t2 = time.perf_counter()
                faces = self._score(image.rgb, found, want_maps)
                t3 = time.perf_counter()
            quality = [q.to_dict() for q in assess(image, faces, det.card.input_size,
                                                   turned=turned)]
            t4 = time.perf_counter()
            findings = [f.to_dict() for f in meta.for_image(image)] if want_meta else []
            t5 = time.perf_counter()
        except InspectorError as exc:
            return AnalysisResult(
                path=path, status=Status.ERROR, error=str(exc), error_type=type(exc).__name__,
                model=self._detector.card.id if self._detector else None, analysed_at=now,
            )
        result = AnalysisResult(
            path=path,
            status=Status.OK if faces else Status.NO_FACE,
            faces=faces,
            sha256=image.sha256,
            model=det.card.id,
            image_size=(image.width, image.height),
            frame=image.frame,
            analysed_at=now,
            metadata=findings,
            quality=quality,
            timings_ms={
                "load": (t1 - t0) * 1000.0,
                "faces": (t2 - t1) * 1000.0,
                "classify": (t3 - t2) * 1000.0,
                "quality": (t4 - t3) * 1000.0,
                "metadata": (t5 - t4) * 1000.0,
                "total": (t5 - t0) * 1000.0,
            },
        )
        self._summarise(result, det.card)
        return result

    def _frame_with_a_face(self, image: LoadedImage) -> tuple[LoadedImage, list]:
        """An animation or multi-page file whose first frame shows no face: up to 7 more
        frames, evenly spread, and the first that shows one (else the first frame, as it was)."""
        from app.core.images import other_frames

        n = image.frames
        wanted = sorted({round(i * (n - 1) / 7) for i in range(1, 8)} - {0})
        for candidate in other_frames(image, wanted):  # one forward pass through the file
            found = self.faces.find(candidate.rgb)
            if found:
                return candidate, found
        return image, []

    def _load(self, source) -> LoadedImage:
        if isinstance(source, LoadedImage):
            return source
        if isinstance(source, np.ndarray):
            return _from_array(source)
        return load_image(source)

    def _score(self, rgb: np.ndarray, found: list[Face], want_maps: bool) -> list[FaceResult]:
        if not found:
            return []
        card = self.detector.card
        crops, regions = [], []
        for face in found:
            crop, region = face_crop(rgb, face.box, card.input_size, card.crop_scale)
            crops.append(crop)
            regions.append(region)
        batch = np.stack(crops)  # all faces of one image in one batch
        if want_maps:
            logits, probs, maps = self._explainer_for().explain(batch)
        else:
            logits, probs = self.detector.predict(batch)
            maps = [None] * len(found)
        extra = card.extra_views()
        if extra:
            # The score averages the logits of slightly wider/tighter and mirrored crops, so a
            # few pixels of face-box jitter (a re-saved copy) cannot flip the verdict; the
            # heatmap stays the main view's.
            views = []
            for face in found:
                for scale, mirror in extra:
                    v = face_crop(rgb, face.box, card.input_size, scale)[0]
                    views.append(np.ascontiguousarray(v[:, ::-1]) if mirror else v)
            more, _ = self.detector.predict(np.stack(views))
            logits = (np.asarray(logits) + more.reshape(len(found), len(extra)).sum(1)) / (
                1 + len(extra))
            probs = card.calibrate(logits)
        results = []
        for face, region, lg, p, hm in zip(found, regions, logits, probs, maps, strict=True):
            fr = FaceResult(
                box=face.box, det_score=face.score,
                landmarks=[(float(x), float(y)) for x, y in face.landmarks],
                p_fake=float(p), logit=float(lg), heatmap=hm, crop_box=region,
                verdict=Verdict(card.tier(float(p))),
            )
            results.append(fr)
        return results

    @staticmethod
    def _summarise(result: AnalysisResult, card) -> None:
        """Image score and verdict = its most suspicious face's (results.suspicion: a face
        judged fake outranks an uncertain one). A quality problem that makes a score
        untrustworthy turns that face (or, for a whole-image problem, every face) "uncertain"
        first, so it cannot outrank a trusted "fake" face."""
        if not card.trained:
            result.warnings.append("UNTRAINED MODEL (test only): scores mean nothing.")
        for q in result.quality:
            faces = result.faces if q["face"] is None else [result.faces[q["face"]]]
            if q["face"] is None:
                result.warnings.append(q["message"])
            elif q["message"] not in faces[0].warnings:
                faces[0].warnings.append(q["message"])
            if q["makes_uncertain"]:
                for face in faces:
                    face.verdict = Verdict.UNCERTAIN
        if not result.faces:
            result.verdict = Verdict.NO_FACE
            return
        top = result.most_suspicious
        result.p_fake = top.p_fake
        result.verdict = top.verdict
        for i, face in enumerate(result.faces):
            result.warnings.extend(f"Face {i + 1}: {w}" for w in face.warnings)

    def close(self) -> None:
        with self._shared_lock:
            explainer = self._shared.pop("explainer", None)
        if explainer is not None:
            explainer.close()


def _from_array(arr: np.ndarray) -> LoadedImage:
    if arr.ndim == 2:
        arr = np.stack([arr] * 3, axis=-1)
    if arr.ndim != 3 or arr.shape[2] not in (3, 4):
        raise InspectorError(f"Expected an H x W x 3 RGB array, got shape {arr.shape}.")
    rgb = np.ascontiguousarray(arr[..., :3].astype(np.uint8, copy=False))
    import hashlib

    return LoadedImage(rgb=rgb, sha256=hashlib.sha256(rgb.tobytes()).hexdigest())


def _limit_threads() -> None:
    """Half the cores for one image's maths: the window, the other workers and whatever else
    the laptop runs keep the rest (more threads than free cores make OpenMP slower, not faster).
    Batches use more cores by analysing several images at once (batch.run_batch workers)."""
    import torch

    n = max(1, (os.cpu_count() or 1) // 2)
    if torch.get_num_threads() > n:
        torch.set_num_threads(n)
