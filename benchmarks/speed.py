"""Speed benchmark: figures, not pass/fail.

    python -m benchmarks.speed [--weights weights/detector.json] [--threads N] [--repeat N]

Prints model load time, ms per image with and without heatmap (single-face ~512 px photo),
images per second over a folder without heatmaps, peak RSS, the torch thread count and the load
average at start, and re-creates the seed paper's pipeline in the same process for comparison
(facenet-pytorch MTCNN -> 160 px face -> bilinear 256 px -> pixels / 255 -> InceptionResnetV1,
GradCAM constructed on every call on ``block8.branch1[-1]`` with ``eigen_smooth=True``; random
weights: only speed matters).

Inputs are built from ``skimage.data.astronaut()`` in a temporary folder (one photo, plus
``--folder-size`` variants: flips, crops re-scaled to 512 px, colour shifts). Nothing touches the
network: sockets are disabled for the whole run. Without a trained detector (the default card
``weights/detector.json`` missing) an explicitly UNTRAINED faceres model is built in a temp dir:
the figures then measure speed only, never accuracy.

Targets the figures are read against (not asserted): one image with heatmap in at most 1/3 of the
paper pipeline's time in the same run; >= 25 images/s without heatmaps on single-face 512 px
photos. ``--profile`` adds a per-stage breakdown of the batch (MTCNN P/R/O-nets, the rest of
MTCNN, face crop, classifier, decoding, quality, metadata).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import socket
import statistics
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

# Where the astronaut's face is in skimage.data.astronaut() (as in tests/conftest.py).
ASTRONAUT_FACE = (181.0, 62.0, 268.0, 172.0)
UNTRAINED_ARCH = "faceres_mobilenet_v1"
UNTRAINED_SIZE = 160


# -- set-up ----------------------------------------------------------------------------------------


def _block_network() -> None:
    """Any attempt to open a connection or resolve a name fails loudly."""

    def refuse(*_a, **_k):
        raise OSError("benchmarks.speed: network access is disabled")

    socket.socket.connect = refuse  # type: ignore[method-assign]
    socket.socket.connect_ex = refuse  # type: ignore[method-assign]
    socket.create_connection = refuse  # type: ignore[assignment]
    socket.getaddrinfo = refuse  # type: ignore[assignment]


def _set_threads(n: int) -> None:
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(n)
    import cv2
    import torch

    torch.set_num_threads(n)
    try:
        torch.set_num_interop_threads(n)
    except RuntimeError:  # already set (only allowed once per process)
        pass
    cv2.setNumThreads(n)


def make_inputs(tmp: Path, n: int, seed: int = 0) -> tuple[Path, Path]:
    """(single photo, folder of n variants), all 512 x 512 single-face JPEGs."""
    import cv2
    import numpy as np
    from PIL import Image
    from skimage import data

    img = data.astronaut()
    single = tmp / "astronaut.jpg"
    Image.fromarray(img).save(single, quality=92)
    folder = tmp / "folder"
    folder.mkdir()
    rng = np.random.default_rng(seed)
    fx1, fy1, fx2, fy2 = ASTRONAUT_FACE
    for i in range(n):
        v = img
        kind = i % 4
        if kind in (0, 3):
            v = v[:, ::-1]
        if kind in (1, 3):  # a crop that keeps the face, re-scaled to 512
            side = int(rng.uniform(0.7, 0.95) * 512)
            x0 = int(rng.integers(max(0, int(fx2) - side), min(int(fx1), 512 - side) + 1))
            y0 = int(rng.integers(max(0, int(fy2) - side), min(int(fy1), 512 - side) + 1))
            if kind == 3:  # flipped: the face sits mirrored
                x0 = int(rng.integers(max(0, 512 - int(fx1) - side),
                                      min(512 - int(fx2), 512 - side) + 1))
            v = cv2.resize(np.ascontiguousarray(v[y0 : y0 + side, x0 : x0 + side]), (512, 512),
                           interpolation=cv2.INTER_LINEAR)
        if kind in (2, 3):  # colour shift: per-channel gain and a gamma
            gains = rng.uniform(0.85, 1.15, 3)
            gamma = rng.uniform(0.8, 1.25)
            f = (v.astype(np.float32) / 255.0) ** gamma * gains
            v = np.clip(f * 255.0 + 0.5, 0, 255).astype(np.uint8)
        Image.fromarray(np.ascontiguousarray(v)).save(folder / f"variant_{i:03d}.jpg",
                                                      quality=int(rng.integers(85, 96)))
    return single, folder


def peak_rss_mb() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return r / 1024.0 if sys.platform != "darwin" else r / (1024.0 * 1024.0)


def _median_ms(fn, repeat: int, warmup: int = 1) -> tuple[float, float]:
    """(median wall ms, median process-CPU ms) over `repeat` calls after `warmup` calls.

    On a shared CPU the wall time inflates with the other load while the CPU time (all of this
    process's threads) does not: with --threads 1 it estimates the wall time on an idle core."""
    for _ in range(warmup):
        fn()
    wall, cpu = [], []
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall.append((time.perf_counter() - t0) * 1000.0)
        cpu.append((time.process_time() - c0) * 1000.0)
    return statistics.median(wall), statistics.median(cpu)


# -- our pipeline ----------------------------------------------------------------------------------


def bench_ours(weights: Path, allow_untrained: bool, single: Path, folder: Path, repeat: int,
               face_finder=None, profile: bool = False) -> dict:
    """Load, one image with/without heatmap, then a folder batch without heatmaps."""
    from app.core.analysis import Analyzer, iter_image_files
    from app.core.batch import run_batch
    from app.core.explain import overlay_faces

    out: dict = {}
    t0 = time.perf_counter()
    analyzer = Analyzer(weights, allow_untrained=allow_untrained, face_finder=face_finder)
    det = analyzer.detector
    t1 = time.perf_counter()
    analyzer.faces._model()
    t2 = time.perf_counter()
    first = analyzer.analyze(str(single), heatmaps=False)
    t3 = time.perf_counter()
    out.update(model=det.card.id, trained=det.card.trained, architecture=det.card.architecture,
               input_size=det.card.input_size, detector_load_ms=(t1 - t0) * 1000.0,
               mtcnn_load_ms=(t2 - t1) * 1000.0, first_call_ms=(t3 - t2) * 1000.0,
               faces_in_single=len(first.faces))

    def with_map():
        r = analyzer.analyze(str(single), heatmaps=True)
        overlay_faces(r_image(r), r.faces, 0.5)  # render it, as the paper's pipeline does

    cache: dict = {}

    def r_image(r):
        if "rgb" not in cache:
            from app.core.images import load_image

            cache["rgb"] = load_image(single).rgb
        return cache["rgb"]

    out["heatmap_ms"], out["heatmap_cpu_ms"] = _median_ms(with_map, repeat, warmup=2)
    out["no_heatmap_ms"], out["no_heatmap_cpu_ms"] = _median_ms(
        lambda: analyzer.analyze(str(single), heatmaps=False), repeat, warmup=1)
    out["rss_after_single_mb"] = peak_rss_mb()

    files = iter_image_files([folder])
    stages = {k: 0.0 for k in ("load", "faces", "classify", "quality", "metadata", "total")}
    nfaces = []

    def on_result(item):
        nfaces.append(len(item.result.faces))
        for k in stages:
            stages[k] += item.result.timings_ms.get(k, 0.0)

    prof = _Profiler(analyzer) if profile else None
    c0 = time.process_time()
    with prof if prof else _nullctx():
        summary = run_batch(analyzer, files, heatmaps=False, on_result=on_result, expand=False)
    out["batch_images"] = summary.done
    out["batch_s"] = summary.elapsed_s
    out["batch_img_per_s"] = summary.done / summary.elapsed_s
    out["batch_cpu_ms_per_image"] = (time.process_time() - c0) * 1000.0 / max(1, summary.done)
    out["batch_faces_found"] = f"{sum(n == 1 for n in nfaces)}/{len(nfaces)} with exactly 1 face"
    ms = {k: v / max(1, summary.done) for k, v in stages.items()}
    ms["decode (outside analyze)"] = summary.elapsed_s * 1000.0 / max(1, summary.done) - ms["total"]
    out["batch_stage_ms_per_image"] = ms
    # The product's batch path: one image per CPU core at once (run_batch(workers=N)).
    workers = max(1, os.cpu_count() or 1)
    t0 = time.perf_counter()
    par = run_batch(analyzer, files, heatmaps=False, expand=False, workers=workers)
    out["batch_parallel_workers"] = workers
    out["batch_parallel_img_per_s"] = par.done / (time.perf_counter() - t0)
    if prof:
        out["profile_ms_per_image"] = {k: v / max(1, summary.done) for k, v in prof.ms.items()}
        out["profile_counts_per_image"] = {k: v / max(1, summary.done)
                                           for k, v in prof.counts.items()}
    analyzer.close()
    out["rss_after_ours_mb"] = peak_rss_mb()
    return out


@contextmanager
def _nullctx():
    yield


class _Profiler:
    """Times MTCNN's three networks (forward hooks), face_crop and the classifier during a batch
    by wrapping them in this process only."""

    def __init__(self, analyzer) -> None:
        self.analyzer = analyzer
        self.ms: dict[str, float] = {}
        self.counts: dict[str, float] = {}
        self._undo: list = []

    def _add(self, key: str, dt: float, n: int = 0) -> None:
        self.ms[key] = self.ms.get(key, 0.0) + dt * 1000.0
        if n:
            self.counts[key] = self.counts.get(key, 0) + n

    def __enter__(self):
        import app.core.analysis as analysis

        mtcnn = self.analyzer.faces._model()
        for name in ("pnet", "rnet", "onet"):
            net = getattr(mtcnn, name)
            starts: list[float] = []

            def pre(_m, inp, starts=starts):
                starts.append(time.perf_counter())

            def post(_m, inp, _out, starts=starts, name=name):
                self._add(f"mtcnn {name}", time.perf_counter() - starts.pop(), len(inp[0]))

            self._undo += [net.register_forward_pre_hook(pre).remove,
                           net.register_forward_hook(post).remove]
        finder = self.analyzer.faces
        orig_detect = finder._detect

        def detect(*a, **k):
            t = time.perf_counter()
            try:
                return orig_detect(*a, **k)
            finally:
                self._add("mtcnn detect() total", time.perf_counter() - t, 1)

        finder._detect = detect
        self._undo.append(lambda: delattr(finder, "_detect"))
        orig_crop = analysis.face_crop

        def crop(*a, **k):
            t = time.perf_counter()
            try:
                return orig_crop(*a, **k)
            finally:
                self._add("face crop", time.perf_counter() - t, 1)

        analysis.face_crop = crop
        self._undo.append(lambda: setattr(analysis, "face_crop", orig_crop))
        det = self.analyzer.detector
        orig_predict = det.predict

        def predict(crops):
            t = time.perf_counter()
            try:
                return orig_predict(crops)
            finally:
                self._add("classifier predict", time.perf_counter() - t, len(crops))

        det.predict = predict
        self._undo.append(lambda: delattr(det, "predict"))
        return self

    def __exit__(self, *exc):
        for undo in reversed(self._undo):
            undo()
        p = sum(self.ms.get(f"mtcnn {n}", 0.0) for n in ("pnet", "rnet", "onet"))
        self.ms["mtcnn other (pyramid resize, NMS, crops)"] = (
            self.ms.get("mtcnn detect() total", 0.0) - p)
        return False


# -- the paper's pipeline --------------------------------------------------------------------------


def bench_paper(single: Path, repeat: int) -> dict:
    """The seed paper's inference as published, with random weights (speed only)."""
    import cv2
    import numpy as np
    import torch
    import torch.nn.functional as F
    from facenet_pytorch import MTCNN, InceptionResnetV1
    from PIL import Image
    from pytorch_grad_cam import GradCAM
    from pytorch_grad_cam.utils.image import show_cam_on_image
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    t0 = time.perf_counter()
    mtcnn = MTCNN(select_largest=False, post_process=False, device="cpu").eval()
    torch.manual_seed(0)
    model = InceptionResnetV1(pretrained=None, classify=True, num_classes=1).eval()
    load_ms = (time.perf_counter() - t0) * 1000.0

    def predict(with_cam: bool) -> float:
        image = Image.open(single).convert("RGB")  # decoding counts, as it does for ours
        face = mtcnn(image)
        if face is None:
            raise RuntimeError("paper pipeline: no face")
        face = F.interpolate(face.unsqueeze(0), size=(256, 256), mode="bilinear",
                             align_corners=False)
        prev = face[0].permute(1, 2, 0).detach().int().numpy().astype(np.uint8)
        face = face.float() / 255.0
        if with_cam:
            cam = GradCAM(model=model, target_layers=[model.block8.branch1[-1]])
            grey = cam(input_tensor=face, targets=[ClassifierOutputTarget(0)],
                       eigen_smooth=True)[0]
            vis = show_cam_on_image(face[0].permute(1, 2, 0).numpy(), grey, use_rgb=True)
            cv2.addWeighted(prev, 1, vis, 0.5, 0)
            del cam
        with torch.no_grad():
            return float(torch.sigmoid(model(face).squeeze(0)).item())

    cam_ms, cam_cpu = _median_ms(lambda: predict(True), repeat, warmup=2)
    plain_ms, plain_cpu = _median_ms(lambda: predict(False), repeat, warmup=1)
    return {"paper_load_ms": load_ms, "paper_gradcam_ms": cam_ms, "paper_gradcam_cpu_ms": cam_cpu,
            "paper_plain_ms": plain_ms, "paper_plain_cpu_ms": plain_cpu}


# -- report ----------------------------------------------------------------------------------------


def _ms(r: dict, key: str) -> str:
    return f"{r[key + '_ms']:.1f} ms (CPU {r[key + '_cpu_ms']:.1f} ms)"


def format_report(r: dict) -> str:
    rows = [
        ("detector", f"{r['model']} ({r['architecture']}, {r['input_size']} px"
                     f"{'' if r['trained'] else ', UNTRAINED: speed only'})"),
        ("model load (detector card + weights)", f"{r['detector_load_ms']:.0f} ms"),
        ("model load (MTCNN)", f"{r['mtcnn_load_ms']:.0f} ms"),
        ("first analysis after load (cold)", f"{r['first_call_ms']:.0f} ms"),
        (f"ms/image WITH heatmap (median of {r['repeat']})", _ms(r, "heatmap")),
        (f"ms/image without heatmap (median of {r['repeat']})", _ms(r, "no_heatmap")),
    ]
    if "paper_gradcam_ms" in r:
        ratio = r["heatmap_ms"] / r["paper_gradcam_ms"]
        cratio = r["heatmap_cpu_ms"] / r["paper_gradcam_cpu_ms"]
        rows += [
            ("paper pipeline load (MTCNN + InceptionResnetV1)", f"{r['paper_load_ms']:.0f} ms"),
            ("paper pipeline ms/image with GradCAM", _ms(r, "paper_gradcam")),
            ("paper pipeline ms/image without GradCAM", _ms(r, "paper_plain")),
            ("ratio ours/paper, with heatmap (target <= 0.333)",
             f"{ratio:.3f} wall, {cratio:.3f} CPU"),
            ("ratio ours/paper, without heatmap",
             f"{r['no_heatmap_ms'] / r['paper_plain_ms']:.3f} wall, "
             f"{r['no_heatmap_cpu_ms'] / r['paper_plain_cpu_ms']:.3f} CPU"),
        ]
    rows += [
        (f"batch without heatmaps ({r['batch_images']} images, target >= 25/s)",
         f"{r['batch_img_per_s']:.1f} images/s serial, "
         f"{r['batch_parallel_img_per_s']:.1f} images/s with {r['batch_parallel_workers']} "
         f"workers ({r['batch_s']:.2f} s serial; "
         f"{r['batch_faces_found']})"),
        ("batch CPU time per image (all threads)",
         f"{r['batch_cpu_ms_per_image']:.1f} ms = {1000 / r['batch_cpu_ms_per_image']:.1f} "
         "images/s per fully-used core"),
        ("peak RSS after our pipeline", f"{r['rss_after_ours_mb']:.0f} MB"),
        ("peak RSS at end (incl. paper pipeline)", f"{r['rss_end_mb']:.0f} MB"),
        ("torch.get_num_threads()", str(r["torch_threads"])),
        ("load average at start (1/5/15 min)",
         " / ".join(f"{v:.2f}" for v in r["loadavg_start"]) + f" on {r['cpu_count']} CPUs"),
    ]
    w = max(len(k) for k, _ in rows)
    lines = [f"{k:<{w}}  {v}" for k, v in rows]
    lines.append("batch stages, ms per image: " + ", ".join(
        f"{k} {v:.1f}" for k, v in r["batch_stage_ms_per_image"].items()))
    if "profile_ms_per_image" in r:
        lines.append("profile of the batch, ms per image:")
        for k, v in sorted(r["profile_ms_per_image"].items(), key=lambda kv: -kv[1]):
            n = r["profile_counts_per_image"].get(k)
            lines.append(f"  {k:<44}{v:8.1f}" + (f"   ({n:.1f} inputs/image)" if n else ""))
    if r["loadavg_start"][0] > 0.5 * r["cpu_count"]:
        lines.append(f"NOTE: the CPU was shared (load {r['loadavg_start'][0]:.2f} on "
                     f"{r['cpu_count']} CPUs at start): wall-clock figures are pessimistic; "
                     "the same-run ours/paper ratios remain comparable.")
        if r["torch_threads"] > 1:
            lines.append("NOTE: with more than one torch thread on a shared CPU, OpenMP threads "
                         "wait on preempted siblings: wall AND CPU times inflate (spin-waits). "
                         "Use --threads 1 for figures that survive a busy machine.")
        else:
            lines.append("NOTE: with --threads 1 the CPU-time figures estimate the wall time on "
                         "an idle core.")
    if not r["trained"]:
        lines.append("NOTE: no trained detector installed: an UNTRAINED model of the shipped "
                     "architecture was used; this measures speed, not accuracy.")
    return "\n".join(lines)


def _parser() -> argparse.ArgumentParser:
    from app.core.paths import default_model_card

    ap = argparse.ArgumentParser(prog="python -m benchmarks.speed", description=__doc__.split(
        "\n")[0])
    ap.add_argument("--weights", type=Path, default=default_model_card(),
                    help="model card (.json); default: the shipped weights/detector.json")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1,
                    help="torch/OpenCV/BLAS threads (default: all CPUs)")
    ap.add_argument("--repeat", type=int, default=10, help="timed calls per single-image figure")
    ap.add_argument("--folder-size", type=int, default=40)
    ap.add_argument("--no-paper", action="store_true", help="skip the paper pipeline")
    ap.add_argument("--profile", action="store_true", help="per-stage breakdown of the batch")
    ap.add_argument("--json", type=Path, default=None, help="also write the figures here")
    return ap


def run(args, face_finder=None) -> dict:
    """All measurements; `face_finder` lets a prototype FaceFinder be compared (Analyzer arg)."""
    loadavg = os.getloadavg()
    _block_network()
    _set_threads(args.threads)
    import torch

    from app.core.detector import write_untrained_model

    with tempfile.TemporaryDirectory(prefix="dfi-speed-") as tmp:
        tmp = Path(tmp)
        weights, untrained = Path(args.weights), False
        if not weights.exists():
            print(f"No trained detector at {weights}: building an UNTRAINED "
                  f"{UNTRAINED_ARCH} ({UNTRAINED_SIZE} px) model for the benchmark. "
                  "SPEED ONLY: its scores mean nothing.", flush=True)
            weights, untrained = write_untrained_model(
                tmp / "model", UNTRAINED_ARCH, UNTRAINED_SIZE, "untrained-benchmark-model"), True
        single, folder = make_inputs(tmp, args.folder_size)
        r = bench_ours(weights, untrained, single, folder, args.repeat, face_finder,
                       profile=args.profile)
        if not args.no_paper:
            r.update(bench_paper(single, args.repeat))
    r.update(repeat=args.repeat, rss_end_mb=peak_rss_mb(), torch_threads=torch.get_num_threads(),
             loadavg_start=list(loadavg), cpu_count=os.cpu_count())
    return r


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    r = run(args)
    print(format_report(r))
    if args.json:
        args.json.write_text(json.dumps(r, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
