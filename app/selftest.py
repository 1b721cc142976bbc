"""Headless self-test of an installation: `python main.py --self-test`, `<frozen app> --self-test`.

Loads the model, analyses the bundled sample portrait, prints one JSON object and exits 0; exits
non-zero with a one-line reason when something the app needs is missing. No Qt import, no window:
the release build runs it on the frozen bundle and on the installed package before shipping.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import sys
import time
import traceback
from pathlib import Path

from app import __version__
from app.core.paths import resources_dir, weights_dir

EXIT_OK = 0
EXIT_FAILED = 1  # an unexpected error (a bug, or a broken bundle)
EXIT_USAGE = 2
EXIT_NO_MODEL = 3  # same code as the CLI's "no model"
EXIT_MISSING_FILE = 4
EXIT_BAD_RESULT = 5

SAMPLE_IMAGE = Path("sample") / "astronaut.jpg"
MTCNN_FILES = ("pnet.pt", "rnet.pt", "onet.pt")


class SelfTestError(Exception):
    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="deepfake-inspector --self-test",
                                description="Check this installation without opening a window.")
    p.add_argument("--self-test", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--weights", metavar="FILE", default=os.environ.get("DFI_WEIGHTS") or None,
                   help="model card (.json) to test instead of the installed detector")
    p.add_argument("--allow-untrained", action="store_true",
                   default=os.environ.get("DFI_ALLOW_UNTRAINED") == "1",
                   help="accept an UNTRAINED test model (tests only)")
    p.add_argument("--image", metavar="FILE", help="image to analyse (default: the bundled sample)")
    p.add_argument("--out", metavar="FILE", help="also write the JSON here (Windows GUI builds "
                   "have no console)")
    return p


def required_data_files() -> list[Path]:
    """Files the app cannot run without, apart from the model (checked when it loads)."""
    res = resources_dir()
    files = [res / SAMPLE_IMAGE, res / "style.qss", res / "icon.png", res / "icons" / "open.svg"]
    return files + [mtcnn_dir() / name for name in MTCNN_FILES]


def mtcnn_dir() -> Path:
    """facenet-pytorch's MTCNN weights (inside the wheel; PyInstaller must copy them), spelled the
    way MTCNN opens them: `<package>/models/../data`, so a bundle lacking models/ fails here."""
    spec = importlib.util.find_spec("facenet_pytorch")
    if spec is None or not spec.submodule_search_locations:
        raise SelfTestError("facenet-pytorch is not installed (or not bundled)", EXIT_MISSING_FILE)
    return Path(list(spec.submodule_search_locations)[0]) / "models" / os.pardir / "data"


def _check_files(files: list[Path]) -> list[str]:
    missing = [str(f) for f in files if not f.is_file() or f.stat().st_size == 0]
    if missing:
        raise SelfTestError("missing data file(s): " + ", ".join(missing), EXIT_MISSING_FILE)
    return [str(f) for f in files]


def _c2pa_version() -> str | None:
    """C2PA support must load in a build (its native library is easy to leave behind)."""
    try:
        from app.core.provenance_c2pa import c2pa_available
    except ImportError:  # an app version without C2PA support
        return None
    ok, why = c2pa_available()
    if not ok:
        raise SelfTestError(f"C2PA support does not load: {why}", EXIT_MISSING_FILE)
    return why


def run_self_test(weights: str | None = None, *, allow_untrained: bool = False,
                  image: str | None = None) -> dict:
    """Run every check; returns the report, raises SelfTestError with an exit code on failure."""
    t0 = time.perf_counter()
    checked = _check_files(required_data_files())
    c2pa_version = _c2pa_version()
    sample = Path(image) if image else resources_dir() / SAMPLE_IMAGE
    if image:
        checked += _check_files([sample])

    import torch

    from app.core.analysis import Analyzer
    from app.core.errors import ModelError, NoTrainedModelError

    analyzer = Analyzer(weights, heatmaps=True, allow_untrained=allow_untrained)
    try:
        det = analyzer.detector
    except NoTrainedModelError as exc:
        raise SelfTestError(f"no usable model: {exc} (weights folder: {weights_dir()})",
                            EXIT_NO_MODEL) from exc
    except ModelError as exc:
        raise SelfTestError(f"the model does not load: {exc}", EXIT_NO_MODEL) from exc
    try:
        result = analyzer.analyze(str(sample))
        heatmap = result.faces[0].heatmap if result.faces else None
    finally:
        analyzer.close()
    if result.status == "error":
        raise SelfTestError(f"analysing {sample} failed: {result.error_type}: {result.error}",
                            EXIT_BAD_RESULT)
    if not result.faces or result.p_fake is None:
        raise SelfTestError(f"no face found in the sample image {sample}", EXIT_BAD_RESULT)
    if heatmap is None:
        raise SelfTestError("no GradCAM heatmap was computed for the sample face", EXIT_BAD_RESULT)
    return {
        "self_test": "passed",
        "app_version": __version__,
        "frozen": bool(getattr(sys, "frozen", False)),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "torch": torch.__version__,
        "torch_cuda_build": torch.version.cuda,
        "model": {"id": det.card.id, "trained": det.card.trained,
                  "card": str(det.card.path) if det.card.path else None,
                  "load_ms": round(analyzer.load_ms or 0.0, 1)},
        "data_files_checked": len(checked),
        "c2pa": c2pa_version,
        "heatmap_shape": list(getattr(heatmap, "shape", [])),
        "result": result.to_dict(),
        "seconds": round(time.perf_counter() - t0, 2),
    }


def _emit(report: dict, out: str | None) -> None:
    text = json.dumps(report, indent=2)
    if sys.stdout is not None:  # None in a Windows GUI (no console) build
        print(text, flush=True)
    if out:
        Path(out).write_text(text + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    """Entry point; `argv` excludes the program name. Returns the exit status."""
    args, unknown = _parser().parse_known_args(sys.argv[1:] if argv is None else argv)
    if unknown:
        print(f"self-test: unknown arguments {unknown}", file=sys.stderr)
        return EXIT_USAGE
    try:
        report = run_self_test(args.weights, allow_untrained=args.allow_untrained,
                               image=args.image)
    except SelfTestError as exc:
        _emit({"self_test": "failed", "exit_code": exc.code, "error": str(exc)}, args.out)
        if sys.stderr is not None:
            print(f"SELF-TEST FAILED: {exc}", file=sys.stderr)
        return exc.code
    except Exception as exc:  # a broken bundle shows up here: say so, with the traceback
        _emit({"self_test": "failed", "exit_code": EXIT_FAILED,
               "error": f"{type(exc).__name__}: {exc}"}, args.out)
        if sys.stderr is not None:
            traceback.print_exc()
            print(f"SELF-TEST FAILED: unexpected {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_FAILED
    _emit(report, args.out)
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
