"""`python -m app forensics`: whole-image filters on files, maps as PNG, one JSON line per file.

No model is loaded (the filters are plain image processing), so this runs even where no trained
detector is installed.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import sys
from pathlib import Path

log = logging.getLogger(__name__)

# The filter names, spelled out so `--help` answers without importing OpenCV (a test keeps this
# equal to app.core.forensics.FILTERS).
FILTER_NAMES = ("ela", "noise", "jpeg", "copymove", "thumbnail")


def add_parser(sub) -> None:
    """Register the sub-command on the main CLI's subparsers."""
    f = sub.add_parser(
        "forensics", help="whole-image forensic filters: ELA, noise, JPEG history, copy-move, "
        "EXIF thumbnail",
        description="Runs forensic filters on each image and prints one JSON line of findings "
        "per file. Only copy-move and the thumbnail comparison ever say \"edited\"; the maps of "
        "the others are evidence to interpret (see docs/FORENSICS.md).")
    f.add_argument("paths", nargs="+", metavar="PATH", help="image files or folders")
    f.add_argument("--filter", action="append", choices=FILTER_NAMES, dest="filters",
                   metavar="NAME",
                   help=f"one of {', '.join(FILTER_NAMES)} (repeatable; default: all)")
    f.add_argument("--out", metavar="DIR", help="write each map (and EXIF previews) as PNG here")
    f.add_argument("--quiet", "-q", action="store_true", help="no progress on stderr")


def add_report_option(report_parser) -> None:
    """`report --forensics NAME[,NAME]...` (repeatable; `all` for every filter)."""
    report_parser.add_argument(
        "--forensics", action="extend", type=_filter_list, default=[], metavar="NAME",
        help=f"add these filters' maps and findings to each image: {', '.join(FILTER_NAMES)} "
        "or all (comma-separated or repeated)")


def _filter_list(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    if "all" in names:
        return list(FILTER_NAMES)
    bad = [n for n in names if n not in FILTER_NAMES]
    if bad:
        raise argparse.ArgumentTypeError(
            f"unknown filter {', '.join(bad)}; choose from {', '.join(FILTER_NAMES)} or all")
    return names


def run(args: argparse.Namespace) -> int:
    """Run the chosen filters over every file; a bad file is an error line, the run goes on."""
    from app.core.files import iter_image_files

    files = iter_image_files(args.paths)
    if not files:
        print("error: no image files found in the given paths", file=sys.stderr)
        return 2
    names = list(dict.fromkeys(args.filters or FILTER_NAMES))
    out = Path(args.out) if args.out else None
    if out:
        out.mkdir(parents=True, exist_ok=True)
    for i, path in enumerate(files, 1):
        record = examine(str(path), names, out, i)
        print(json.dumps(record), flush=True)
        if not args.quiet:
            flagged = [n for n, r in record.get("filters", {}).items() if r.get("edited")]
            state = record["status"] if record["status"] != "ok" else (
                f"edited? {', '.join(flagged)}" if flagged else "nothing flagged")
            print(f"[{i}/{len(files)}] {path}: {state}", file=sys.stderr, flush=True)
    return 0


def examine(path: str, names: list[str], out: Path | None, index: int) -> dict:
    """One file's JSON record; maps written to `out` when given."""
    from app.core.errors import InspectorError
    from app.core.forensics import run_filter
    from app.core.forensics.files import write_maps
    from app.core.images import load_image

    try:
        image = load_image(path, keep_bytes=True)
    except InspectorError as exc:
        return {"path": path, "status": "error", "error": str(exc),
                "error_type": type(exc).__name__}
    record: dict = {"path": path, "status": "ok", "error": None, "sha256": image.sha256,
                    "size": [image.width, image.height], "filters": {}}
    stem = f"{index:05d}_{re.sub(r'[^A-Za-z0-9._-]', '_', Path(path).stem)[:60]}"
    for name in names:
        try:
            result = run_filter(name, image)
        except Exception as exc:  # a bug in one filter: say so, run the others
            log.exception("Filter %s failed on %s", name, path)
            record["filters"][name] = {"filter": name, "edited": False,
                                       "error": f"{type(exc).__name__}: {exc}"}
            continue
        entry = result.to_dict()
        if out is not None:
            entry["files"] = write_maps(result, out, stem)
        record["filters"][name] = entry
    image.raw = None  # the bytes were kept for the JPEG and EXIF readers only
    record["edited"] = any(r["edited"] for r in record["filters"].values())
    return record
