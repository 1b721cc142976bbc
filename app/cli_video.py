"""The CLI's video side: options, finding videos among the inputs, one JSON line per clip.

`app.cli` calls these with a line or two, so photos keep exactly their old path and contract.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

from app.core.video import DEFAULT_FPS, DEFAULT_MAX_FRAMES, is_video_path
from app.core.video_io import iter_media_files  # noqa: F401 - the CLI's file walker


def add_video_options(parser) -> None:
    """--frames-per-second and --max-frames on a subcommand's parser."""
    parser.add_argument("--frames-per-second", type=_bounded(float, 0.01, 60), default=DEFAULT_FPS,
                        metavar="N", help=f"videos: frames sampled per second of clip "
                        f"(default {DEFAULT_FPS:g}; scene cuts add frames)")
    parser.add_argument("--max-frames", type=_bounded(int, 1, 10_000), default=DEFAULT_MAX_FRAMES,
                        metavar="N", help="videos: at most this many frames scored per clip "
                        f"(default {DEFAULT_MAX_FRAMES}; long clips are sampled more sparsely)")


def _bounded(kind: type, lo: float, hi: float) -> Callable[[str], float]:
    """An argparse type: a number of `kind` within [lo, hi], with a plain message otherwise."""
    import argparse

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a valid number: {text!r}") from None
        if not lo <= value <= hi:
            raise argparse.ArgumentTypeError(f"must be between {lo:g} and {hi:g}")
        return value

    return parse


def run_mixed(files: list[str], args, analyzer,
              run_images: Callable[[list[str], int], None], table_rows: list[dict]) -> None:
    """Analyse in input order: consecutive photos go to `run_images(chunk, start)` (the batch
    path; `start` = the chunk's first position in `files`, so numbering runs on across clips),
    each video is analysed here and printed as one JSON line (or a table row)."""
    chunk: list[str] = []
    for pos, path in enumerate(files):
        if not is_video_path(path):
            chunk.append(path)
            continue
        if chunk:
            run_images(chunk, pos - len(chunk))
            chunk = []
        emit_video(analyze_clip(path, args, analyzer), args, table_rows)
    if chunk:
        run_images(chunk, len(files) - len(chunk))


def analyze_clip(path: str, args, analyzer):
    from app.core.batch import internal_error_result
    from app.core.video import VideoResult, analyze_video

    quiet = getattr(args, "quiet", False)

    def progress(p) -> None:
        if not quiet and p.eta_s is not None:
            print(f"\r  {Path(path).name}: {p.fraction:4.0%}  {p.frames_scored} frames  "
                  f"ETA {p.eta_s:.0f} s ", end="", file=sys.stderr, flush=True)

    try:
        result = analyze_video(analyzer, path, frames_per_second=args.frames_per_second,
                               max_frames=args.max_frames, on_progress=progress)
    except Exception as exc:  # a bug: report it in place and keep going, as photos do
        import logging

        logging.getLogger(__name__).exception("Unexpected failure analysing %s", path)
        err = internal_error_result(path, exc)
        result = VideoResult(path=path, status=err.status, error=err.error,
                             error_type=err.error_type, analysed_at=err.analysed_at)
    if not quiet:
        print("\r", end="", file=sys.stderr)
    return result


def emit_video(result, args, table_rows: list[dict]) -> None:
    record = result.to_dict()
    if getattr(args, "format", "jsonl") == "table":
        table_rows.append({**record, "faces": record["tracks"]})  # a face = a track
    else:
        print(json.dumps(record), flush=True)
    if not getattr(args, "quiet", False):
        what = (f"ERROR {result.error_type}" if result.status == "error" else
                "no face" if result.p_fake is None else
                f"{result.verdict} p_fake={result.p_fake:.2f}")
        print(f"[video] {what}  {result.path}  ({result.frames_scored} frames, "
              f"{len(result.tracks)} faces)", file=sys.stderr, flush=True)


def report_result(analyzer, path: str):
    """What `report` adds for one file: a photo's result, or a clip's (timeline inside)."""
    if not is_video_path(path):
        return analyzer.analyze(path)
    from app.core.video import analyze_video

    return analyze_video(analyzer, path).as_analysis_result()
