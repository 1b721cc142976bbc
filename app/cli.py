"""Command line: `python -m app analyze|evaluate|train|model-info ...`.

Heavy imports (torch, the models) happen inside the commands, so `--help` answers at once.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from app import __version__

EXIT_FAILED = 1  # the job ran but its output could not be written (report)
EXIT_USAGE = 2
EXIT_NO_MODEL = 3


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m app",
        description="Deepfake Inspector: are the faces in these images real or deepfaked? "
        "Everything runs offline on this computer.",
    )
    p.add_argument("--version", action="version", version=f"Deepfake Inspector {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    a = sub.add_parser("analyze", help="analyse image/video files or folders (recursive)")
    a.add_argument("paths", nargs="+", metavar="PATH", help="image or video files, or folders")
    a.add_argument("--format", choices=["jsonl", "table"], default="jsonl")
    a.add_argument("--no-heatmap", action="store_true", help="skip the heatmaps (faster)")
    a.add_argument("--weights", metavar="FILE", help="model card (.json), .safetensors or a seed "
                   "checkpoint (.pt/.pth with 'model_state_dict')")
    a.add_argument("--save-heatmaps", metavar="DIR",
                   help="write each photo's heatmap overlay as a PNG here")
    a.add_argument("--quiet", "-q", action="store_true", help="no progress on stderr")
    a.add_argument("--workers", type=int, default=min(4, os.cpu_count() or 1),
                   help="images analysed at once (default: one per CPU core, at most 4)")
    from app.cli_video import add_video_options

    add_video_options(a)  # videos (mp4 mov m4v webm mkv avi) are analysed too

    e = sub.add_parser("evaluate", help="measure the detector on folders of known real/fake images")
    e.add_argument("--real", nargs="+", default=[], metavar="DIR", required=True)
    e.add_argument("--fake", nargs="+", default=[], metavar="DIR", required=True)
    e.add_argument("--weights", metavar="FILE")
    e.add_argument("--threshold", type=float, help="default: the model card's")
    e.add_argument("--out", metavar="DIR", help="write metrics.json, scores.csv and plots here")
    e.add_argument("--limit", type=int, help="at most this many images per folder")
    add_video_options(e)  # folders of videos: per-clip and per-frame AUC

    sub.add_parser("model-info", help="print the installed detector's model card")

    r = sub.add_parser("report", help="analyse images and write a case report (HTML or PDF)")
    r.add_argument("paths", nargs="+", metavar="PATH", help="image or video files, or folders")
    r.add_argument("--format", choices=["html", "pdf"], default=None,
                   help="default: from --out's extension, else html")
    r.add_argument("--out", metavar="FILE", help="default: case-report-<time>.<format> here")
    r.add_argument("--weights", metavar="FILE", help="model card (.json) or weights to use")
    r.add_argument("--notes", default="", help="case notes to include (plain text)")
    r.add_argument("--tag", action="append", default=[], metavar="TAG", help="a tag (repeatable)")
    r.add_argument("--title", default="Case report")
    from app import cli_forensics

    cli_forensics.add_report_option(r)
    r.add_argument("--quiet", "-q", action="store_true", help="no progress on stderr")

    for cmd in (a, e, r):  # an unexpected error's details always go to the per-user log file
        cmd.add_argument("--verbose", "-v", action="store_true",
                         help="also print the details (traceback) of unexpected errors on stderr")
    cli_forensics.add_parser(sub)
    sub.add_parser("train", help="fine-tune a detector (`python -m app train --help`)")
    return p


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["train"]:  # its options belong to app.training.train's own parser
        from app.training.train import main as train_main

        return train_main(argv[1:])
    args = _parser().parse_args(argv)
    if args.command is None:
        _parser().print_help()
        return EXIT_USAGE
    from app.core.logs import cli_logging

    with cli_logging(verbose=getattr(args, "verbose", False)):
        return _run(args)


def _run(args) -> int:
    if args.command == "analyze":
        return _cmd_analyze(args)
    if args.command == "evaluate":
        from app.training.evaluate import run_cli

        return run_cli(args)
    if args.command == "model-info":
        return _cmd_model_info()
    if args.command == "forensics":
        from app.cli_forensics import run as forensics_run

        return forensics_run(args)
    if args.command == "report":
        return _cmd_report(args)
    return EXIT_USAGE


def _load_analyzer(weights, heatmaps: bool):
    from app.core.errors import ModelError
    from app.core.factory import load_analyzer

    try:
        return load_analyzer(weights, heatmaps=heatmaps)
    except ModelError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return None


def _cmd_analyze(args) -> int:
    from app.cli_video import iter_media_files, run_mixed

    if args.save_heatmaps and args.no_heatmap:
        print("error: --save-heatmaps needs the heatmaps that --no-heatmap turns off; "
              "drop one of them", file=sys.stderr)
        return EXIT_USAGE
    missing = [p for p in args.paths if not Path(p).exists()]
    files = iter_media_files(args.paths)
    if not files:
        print("error: no image or video files found in the given paths", file=sys.stderr)
        return EXIT_USAGE
    analyzer = _load_analyzer(args.weights, heatmaps=not args.no_heatmap)
    if analyzer is None:
        return EXIT_NO_MODEL
    if missing and not args.quiet:
        print(f"warning: {len(missing)} path(s) do not exist; reported as errors", file=sys.stderr)
    heat_dir = Path(args.save_heatmaps) if args.save_heatmaps else None
    if heat_dir:
        heat_dir.mkdir(parents=True, exist_ok=True)
        from app.core.video_io import is_video_path

        if not args.quiet and any(is_video_path(f) for f in files):
            print("note: heatmap PNGs are written for photos; a clip's frames get theirs in the "
                  "window and in case reports (`report`)", file=sys.stderr)
    from app.core.batch import run_batch

    table_rows = []

    last: list = [None]  # the result the progress line reports

    def emit(item, start: int) -> None:
        result, i = item.result, start + item.index + 1  # the position in the whole input
        last[0] = result
        record = result.to_dict()
        if heat_dir and result.faces and result.faces[0].heatmap is not None:
            record["heatmap_file"] = _save_overlay(item.path, result, heat_dir, i)
        if args.format == "jsonl":
            print(json.dumps(record), flush=True)
        else:
            table_rows.append(record)

    def progress(p, start: int) -> None:
        if not args.quiet:
            rate = p.done / max(p.elapsed_s, 1e-9)
            print(f"[{start + p.done}/{len(files)}] {_short(last[0])}  {p.path}  "
                  f"({rate:.1f} img/s, ETA {p.eta_s or 0:.0f} s)", file=sys.stderr, flush=True)

    run_mixed(files, args, analyzer, lambda chunk, start: run_batch(
        analyzer, chunk, heatmaps=None, expand=False, workers=args.workers,
        on_result=lambda item: emit(item, start), on_progress=lambda p: progress(p, start)),
        table_rows)
    if args.format == "table":
        _print_table(table_rows)
    return 0


def _short(result) -> str:
    if result.status == "error":
        return f"ERROR {result.error_type}"
    if result.p_fake is None:
        return "no face"
    return f"{result.verdict} p_fake={result.p_fake:.2f}"


def _save_overlay(path: str, result, out_dir, index: int) -> str:
    from PIL import Image

    from app.core.explain import overlay_faces
    from app.core.images import load_image, shown_frame

    rgb = shown_frame(load_image(path), result).rgb
    out = out_dir / f"{index:05d}_{Path(path).stem[:60]}_heatmap.png"
    Image.fromarray(overlay_faces(rgb, result.faces, 0.5)).save(out)
    return str(out)


def _print_table(rows: list[dict]) -> None:
    print(f"{'verdict':<10} {'p_fake':>6} {'faces':>5}  path")
    for r in rows:
        p = "" if r["p_fake"] is None else f"{r['p_fake']:.3f}"
        verdict = r["verdict"] or ("error" if r["status"] == "error" else "no face")
        extra = f"  ({r['error']})" if r["error"] else ""
        print(f"{verdict:<10} {p:>6} {len(r['faces']):>5}  {r['path']}{extra}")


def _cmd_model_info() -> int:
    from app.core.detector import ModelCard
    from app.core.errors import ModelError
    from app.core.paths import default_model_card

    try:
        card = ModelCard.from_file(default_model_card())
    except ModelError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_NO_MODEL
    print(json.dumps(card.raw, indent=2))
    return 0


def _cmd_report(args) -> int:
    """Analyse, then write one report for all inputs (PDF through Qt, imported only for PDF)."""
    from app.cli_video import iter_media_files, report_result
    from app.core.report import CaseReport

    fmt = args.format or ("pdf" if args.out and args.out.lower().endswith(".pdf") else "html")
    out = Path(args.out or time.strftime(f"case-report-%Y%m%d-%H%M%S.{fmt}"))
    from app.core.files import check_output_file

    try:  # before any analysis: a pipe as --out would block the write forever
        check_output_file(out)
    except OSError as exc:
        print(f"error: {exc.strerror}", file=sys.stderr)
        return EXIT_USAGE
    files = iter_media_files(args.paths)
    if not files:
        print("error: no image or video files found in the given paths", file=sys.stderr)
        return EXIT_USAGE
    analyzer = _load_analyzer(args.weights, heatmaps=True)
    if analyzer is None:
        return EXIT_NO_MODEL
    report = CaseReport(card=analyzer.detector.card, title=args.title, notes=args.notes,
                        tags=args.tag, forensics=args.forensics)
    for i, path in enumerate(files, 1):
        result = report_result(analyzer, path)  # a video: its timeline and frames
        report.add(result)
        if not args.quiet:
            print(f"[{i}/{len(files)}] {_short(result)}  {path}", file=sys.stderr, flush=True)
    try:
        if fmt == "pdf":
            from app.render.report_pdf import write_report_pdf

            pages = write_report_pdf(report, out)
            print(f"wrote {out} ({pages} pages)", file=sys.stderr)
        else:
            report.write(out)
            print(f"wrote {out}", file=sys.stderr)
    except OSError as exc:  # the disk filled, or the folder went away during the analysis
        print(f"error: the report was not written: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_FAILED
    print(out)
    return 0
