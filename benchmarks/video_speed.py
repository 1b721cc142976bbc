"""Video benchmark: figures, not pass/fail.

    python -m benchmarks.video_speed [--seconds 30] [--size 1280x720] [--fps 30]
                                     [--long-minutes 60] [--long-size 320x180] [--threads N]

1. A generated clip (default 30 s, 720p, 30 fps; the astronaut panning, cuts to the cameraman
   and back, built from skimage's pictures) analysed at the default sampling (about 2 frames per
   second, at most 120): wall time against the clip's running time (target: under 1/2), with
   the time split into probing (hashing, metadata), face finding + scoring, and the rest
   (decoding every frame, cut detection).
2. A long low-resolution clip (default 1 hour at 320x180, 25 fps) walked the same way while the
   process's resident memory (RSS, from /proc) is sampled as the walk goes: it should stay flat.

The shipped model (weights/detector.json) is used when present, else an explicitly UNTRAINED
model of the same architecture (speed only). Sockets are disabled for the whole run.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.speed import _block_network, _set_threads


def rss_mb() -> float:
    """Current resident set size in MB (Linux /proc; peak RSS elsewhere)."""
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3


def make_clip(path: Path, seconds: float, width: int, height: int, fps: float) -> Path:
    """Scenes of about 10 s: the astronaut panning, the cameraman, the astronaut again..."""
    import cv2
    import numpy as np
    from skimage import data

    side = max(width, height) * 2
    astro = cv2.resize(data.astronaut(), (side, side))
    cam = cv2.resize(np.stack([data.camera()] * 3, -1), (side, side))
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
    n = int(seconds * fps)
    scene = int(10 * fps)
    for i in range(n):
        picture = astro if (i // scene) % 2 == 0 else cam
        k = (i % scene) / scene
        x = int(k * (side - width) * 0.6)
        y = int(side * 0.06)
        frame = np.ascontiguousarray(picture[y:y + height, x:x + width])
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    return path


def _analyzer(tmp: Path):
    from app.core.analysis import Analyzer
    from app.core.detector import write_untrained_model
    from app.core.paths import default_model_card

    if default_model_card().exists():
        return Analyzer(heatmaps=False), True
    card = write_untrained_model(tmp / "model", "faceres_mobilenet_v1")
    return Analyzer(card, heatmaps=False, allow_untrained=True), False


def cpu_s() -> float:
    """CPU seconds this process has used (all threads): a figure that other programs competing
    for the cores do not inflate, unlike wall time."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def speed(analyzer, clip: Path, seconds: float) -> None:
    from app.core.video import analyze_video

    t0, c0 = time.perf_counter(), cpu_s()
    v = analyze_video(analyzer, clip)
    wall, cpu = time.perf_counter() - t0, cpu_s() - c0
    t = v.timings_ms
    print(f"clip: {seconds:.0f} s, {v.size[0]}x{v.size[1]}, {v.fps:.0f} fps, "
          f"{os.path.getsize(clip) / 1e6:.1f} MB")
    print(f"  frames scored {v.frames_scored} ({len(v.cuts)} cuts), tracks {len(v.tracks)}, "
          f"verdict {v.verdict}")
    print(f"  wall {wall:.1f} s = {wall / seconds:.2f} x running time (target < 0.50); "
          f"CPU {cpu:.1f} s = {cpu / seconds:.2f} x running time (two frames are scored at "
          "once: on 2 free cores the wall time is about half the CPU time)")
    busy = t["scoring_summed"]
    print(f"  probe+hash {t['probe'] / 1000:.2f} s; scoring {busy / 1000:.1f} s summed over "
          f"the workers ({busy / max(1, v.frames_scored):.0f} ms per frame)")


def memory(analyzer, clip: Path, minutes: float) -> None:
    from app.core.video import analyze_video

    samples: list[tuple[float, float]] = []
    next_mark = [0.0]

    def progress(p) -> None:
        if p.fraction >= next_mark[0]:
            samples.append((p.fraction, rss_mb()))
            next_mark[0] += 0.05

    before = rss_mb()
    t0, c0 = time.perf_counter(), cpu_s()
    v = analyze_video(analyzer, clip, on_progress=progress)
    wall, cpu = time.perf_counter() - t0, cpu_s() - c0
    after = rss_mb()
    print(f"long clip: {minutes:.0f} min, {v.size[0]}x{v.size[1]}, {v.frame_count} frames, "
          f"{os.path.getsize(clip) / 1e6:.0f} MB; {v.frames_scored} frames scored, "
          f"{len(v.cuts)} cuts, wall {wall:.0f} s ({wall / (minutes * 60):.3f} x running time), "
          f"CPU {cpu:.0f} s")
    print(f"  RSS before {before:.0f} MB, after {after:.0f} MB; during the walk: "
          + ", ".join(f"{f:.0%} {m:.0f}" for f, m in samples[::2]))
    mid = [m for f, m in samples if f >= 0.2]
    if mid:
        print(f"  RSS range from 20 % on: {min(mid):.0f}-{max(mid):.0f} MB "
              f"(growth {max(mid) - min(mid):.0f} MB)")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3
    print(f"  peak RSS of the process {peak:.0f} MB")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.video_speed", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=30.0, help="0 skips the speed run")
    ap.add_argument("--size", default="1280x720")
    ap.add_argument("--fps", type=float, default=30.0)
    ap.add_argument("--long-minutes", type=float, default=60.0, help="0 skips the memory run")
    ap.add_argument("--long-size", default="320x180")
    ap.add_argument("--long-fps", type=float, default=25.0)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: the app's choice)")
    args = ap.parse_args(argv)
    _block_network()
    if args.threads:
        _set_threads(args.threads)
    print(f"load average at start: {' '.join(f'{v:.2f}' for v in os.getloadavg())}; "
          f"{os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        analyzer, trained = _analyzer(tmp)
        analyzer.warm_up()
        import torch

        print(f"model {analyzer.model_id}{'' if trained else ' (UNTRAINED: speed only)'}, "
              f"torch threads {torch.get_num_threads()}")
        if args.seconds > 0:
            w, h = (int(v) for v in args.size.split("x"))
            t0 = time.perf_counter()
            clip = make_clip(tmp / "clip.mp4", args.seconds, w, h, args.fps)
            print(f"(made the test clip in {time.perf_counter() - t0:.0f} s)")
            speed(analyzer, clip, args.seconds)
        if args.long_minutes > 0:
            w, h = (int(v) for v in args.long_size.split("x"))
            t0 = time.perf_counter()
            long_clip = make_clip(tmp / "long.mp4", args.long_minutes * 60, w, h, args.long_fps)
            print(f"(made the long clip in {time.perf_counter() - t0:.0f} s)")
            memory(analyzer, long_clip, args.long_minutes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
