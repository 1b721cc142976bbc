"""Soak benchmark: long runs, figures printed, nothing asserted (not a timed test).

    python -m benchmarks.soak cli --count 10000 [--dir DIR] [--workers N] [--weights CARD]
    python -m benchmarks.soak gui --count 1000  [--dir DIR] [--weights CARD]

`cli` runs the real command line (`python -m app analyze --no-heatmap --quiet DIR`) as a child
process over generated photos (benchmarks/soak_photos.py: crops of skimage's shipped images,
96-480 px, deterministic) and samples the child's RSS from /proc twice a second against the
number of JSON lines it has printed. `gui` drives the real MainWindow (offscreen) through one
batch: RSS curve, the longest gap of a 10 ms heartbeat QTimer, the time to scroll and repaint the
gallery during the batch, and how long a cancel takes to stop a batch (see soak_gui.py).

Targets the figures are read against (from issue 11): peak RSS after warm-up at most +150 MB over
the RSS at warm-up; longest event-loop stall under 100 ms; cancel answered within 1 s. History
and logs go to a temporary data dir (DFI_DATA_DIR), never the user's own. Photos are generated
once into --dir (default: a folder under the system temp dir) and reused by later runs.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RSS_GROWTH_TARGET_MB = 150.0


def rss_mb(pid: int | str = "self") -> tuple[float, float] | None:
    """(current RSS, peak RSS) in MB of a process from /proc; None once it has gone."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
    try:
        return (int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024)
    except (KeyError, ValueError, IndexError):
        return None


def rss_report(samples: list[tuple[float, int, float]], warm: int, total: int,
               lifetime_peak: float | None = None) -> dict:
    """Print the RSS curve (about 20 rows) and the growth figures; returns them as a dict.
    `samples`: (seconds, images done, RSS MB)."""
    print(f"\n{'seconds':>8} {'done':>7} {'RSS MB':>8}")
    step = max(1, len(samples) // 20)
    tail = [samples[-1]] if samples and (len(samples) - 1) % step else []
    for t, done, rss in samples[::step] + tail:
        print(f"{t:8.1f} {done:7d} {rss:8.1f}")
    after = [s for s in samples if s[1] >= warm]
    if not after:
        print("warm-up never finished: no growth figure")
        return {}
    at_warm = after[0][2]
    peak_after = max(s[2] for s in after)
    # Tear-down after the last image (interpreter exit, thread pools) is reported apart.
    during = [s[2] for s in after if s[1] < total] or [at_warm]
    figures = {
        "warm_up_images": warm, "rss_at_warm_up_mb": round(at_warm, 1),
        "peak_rss_after_warm_up_mb": round(peak_after, 1), "rss_at_end_mb": round(after[-1][2], 1),
        "peak_rss_while_analysing_mb": round(max(during), 1),
        "growth_mb": round(peak_after - at_warm, 1), "target_growth_mb": RSS_GROWTH_TARGET_MB,
        "lifetime_peak_rss_mb": None if lifetime_peak is None else round(lifetime_peak, 1),
        "images_done": samples[-1][1], "images_total": total,
    }
    verdict = "within" if figures["growth_mb"] <= RSS_GROWTH_TARGET_MB else "OVER"
    print(f"RSS at warm-up ({warm} images) {at_warm:.0f} MB; peak after warm-up {peak_after:.0f} MB"
          f" (+{peak_after - at_warm:.0f} MB, {verdict} the +{RSS_GROWTH_TARGET_MB:.0f} MB "
          f"target); at the end {after[-1][2]:.0f} MB"
          + (f"; lifetime peak (VmHWM) {lifetime_peak:.0f} MB" if lifetime_peak else ""))
    return figures


def photo_folder(args) -> Path:
    from benchmarks.soak_photos import make_photos

    folder = Path(args.dir or Path(tempfile.gettempdir()) / "dfi-soak-photos")
    t0 = time.perf_counter()
    make_photos(folder, args.count)
    print(f"{args.count} photos ready in {folder} ({time.perf_counter() - t0:.0f} s)", flush=True)
    return folder


def limited_folder(folder: Path, count: int) -> list[str]:
    """The first `count` generated photos (a larger earlier run may have left more)."""
    from benchmarks.soak_photos import make_photos

    return [str(p) for p in make_photos(folder, count)]


# -- CLI soak --------------------------------------------------------------------------------------


def run_cli(args) -> dict:
    folder = photo_folder(args)
    paths = limited_folder(folder, args.count)
    # Whole sub-folders where they are complete (as a user would pass them), else file names.
    inputs = _folders_or_files(folder, paths)
    cmd = [sys.executable, "-m", "app", "analyze", "--no-heatmap", "--quiet", "--format", "jsonl",
           "--workers", str(args.workers), *(["--weights", args.weights] if args.weights else []),
           *inputs]
    env = dict(os.environ, DFI_DATA_DIR=tempfile.mkdtemp(prefix="dfi-soak-data-"))
    print(f"running: nice -n {args.nice} python -m app analyze --no-heatmap --quiet --format jsonl"
          f" --workers {args.workers} <{len(inputs)} paths, {len(paths)} photos>", flush=True)
    t0 = time.perf_counter()
    # stderr to a file: a pipe nobody reads would block the child once 64 KB of warnings pile up
    stderr_file = tempfile.TemporaryFile("w+")
    child = subprocess.Popen(["nice", "-n", str(args.nice), *cmd], cwd=REPO, env=env,
                             stdout=subprocess.PIPE, stderr=stderr_file, text=True)
    done, statuses, errors = [0], Counter(), []

    def read_stdout() -> None:
        for line in child.stdout:
            rec = json.loads(line)
            statuses[rec["status"]] += 1
            if rec["status"] == "error" and len(errors) < 5:
                errors.append(f"{rec['path']}: {rec['error']}")
            done[0] += 1

    reader = threading.Thread(target=read_stdout, daemon=True)
    reader.start()
    samples, peak, stopped = [], None, False
    last_print = 0.0
    while child.poll() is None:
        got = rss_mb(child.pid)
        if got:
            t = time.perf_counter() - t0
            samples.append((t, done[0], got[0]))
            peak = got[1]
            if t - last_print >= 60:
                last_print = t
                print(f"  {t:6.0f} s: {done[0]} done, RSS {got[0]:.0f} MB", flush=True)
            if args.minutes is not None and t > args.minutes * 60 and not stopped:
                print(f"time limit ({args.minutes:g} min) reached: stopping the CLI", flush=True)
                stopped = True
                child.terminate()
        time.sleep(0.5)
    reader.join(timeout=30)
    elapsed = time.perf_counter() - t0
    stderr_file.seek(0)
    stderr = stderr_file.read()
    print(f"\nexit status {child.returncode}; {done[0]} JSON lines for {len(paths)} photos in "
          f"{elapsed:.0f} s ({done[0] / max(elapsed, 1e-9):.1f} img/s); statuses {dict(statuses)}")
    for e in errors:
        print(f"  error: {e}")
    if child.returncode != 0 and not stopped:
        print(stderr[-2000:])
    warm = max(50, len(paths) // 50)
    figures = rss_report(samples, warm, len(paths), peak)
    figures.update(mode="cli", exit_status=child.returncode, elapsed_s=round(elapsed, 1),
                   stopped_at_time_limit=stopped,
                   statuses=dict(statuses), workers=args.workers)
    return figures


def _folders_or_files(folder: Path, paths: list[str]) -> list[str]:
    by_dir: dict[str, list[str]] = {}
    for p in paths:
        by_dir.setdefault(str(Path(p).parent), []).append(p)
    out = []
    for d, files in by_dir.items():
        on_disk = sum(1 for _ in Path(d).iterdir())
        out += [d] if on_disk == len(files) else files
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.soak",
                                description=__doc__.split("\n")[0])
    p.add_argument("mode", choices=["cli", "gui"])
    p.add_argument("--count", type=int, help="photos (default: 10000 for cli, 1000 for gui)")
    p.add_argument("--dir", help="where the generated photos live (reused between runs)")
    p.add_argument("--weights", help="model card (default: the installed detector)")
    p.add_argument("--workers", type=int, default=min(4, os.cpu_count() or 1),
                   help="cli: the CLI's --workers (its default)")
    p.add_argument("--nice", type=int, default=0, help="cli: run the child under nice -n N")
    p.add_argument("--json", help="also write the figures to this JSON file")
    p.add_argument("--minutes", type=float, help="stop after this long (cli: the child is "
                   "terminated; gui: the batch is cancelled) and report what was done")
    args = p.parse_args(argv)
    args.count = args.count or (10_000 if args.mode == "cli" else 1000)
    if args.mode == "cli":
        figures = run_cli(args)
    else:
        from benchmarks.soak_gui import run_gui

        folder = photo_folder(args)
        figures = run_gui(limited_folder(folder, args.count), args.weights, args.minutes)
    figures["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(figures, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
