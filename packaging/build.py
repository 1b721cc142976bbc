"""Build the Deepfake Inspector bundle and Linux installers, smoke-testing each before it ships.

    python packaging/build.py                 # CPU-only build: dist/deepfake-inspector/ + .deb
    python packaging/build.py --flavor cuda   # bundle PyPI's CUDA torch from this venv (~3x bigger)

Steps: (1) a build venv (cpu: build/venv-cpu from packaging/requirements-cpu.txt), (2) PyInstaller
with packaging/deepfake-inspector.spec, (3) the frozen app's `--self-test` and a headless GUI start
(QT_QPA_PLATFORM=offscreen), (4) the .deb (dpkg-deb), unpacked into a scratch root and
self-tested again, (5) an AppImage when `appimagetool` is on PATH. Any failure stops the build
with a non-zero exit. Sizes and timings go to dist/build-report.json.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "packaging"
BUILD = ROOT / "build"
DIST = ROOT / "dist"
NAME = "deepfake-inspector"
GUI_SECONDS = 120  # the most the GUI may take to show its first result
EXIT_NO_MODEL = 3
BAD_STDERR = re.compile(r"Traceback \(most recent call last\)|"
                        r"could not load the Qt platform plugin|"
                        r"qt\.qpa\.plugin: Could not|Failed to execute script|"
                        r"Fatal Python error|ModuleNotFoundError|ImportError", re.IGNORECASE)


class BuildError(Exception):
    pass


def app_version() -> str:
    text = (ROOT / "app" / "__init__.py").read_text(encoding="utf-8")
    return re.search(r'__version__\s*=\s*"([^"]+)"', text).group(1)


def log(msg: str) -> None:
    print(f"[build {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    log("$ " + " ".join(str(c) for c in cmd))
    return subprocess.run([str(c) for c in cmd], check=True, **kw)


def du(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def mib(n: int) -> str:
    return f"{n / 2**20:.1f} MiB"


# -- 1. build environment ------------------------------------------------------------------------

def app_dependencies() -> list[str]:
    """pyproject.toml's run-time dependencies, less torch/torchvision (pinned to CPU builds)."""
    import tomllib

    deps = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return [d for d in deps["dependencies"]
            if re.split(r"[<>=!~\[; ]", d, maxsplit=1)[0].lower() not in ("torch", "torchvision")]


def out_dir(flavor: str) -> Path:
    """dist/ for the release (cpu) build, dist/<flavor>/ for the others."""
    return DIST if flavor == "cpu" else DIST / flavor


def build_python(flavor: str, venv: str | None) -> Path:
    """The interpreter that runs PyInstaller (its site-packages is what gets bundled)."""
    if venv:
        py = Path(venv) / "bin" / "python"
    elif flavor == "cuda":
        return Path(sys.executable)
    else:
        py = BUILD / "venv-cpu" / "bin" / "python"
    if not py.exists():
        log(f"creating the {flavor} build venv at {py.parents[1]}")
        run([sys.executable, "-m", "venv", py.parents[1]])
    if not venv:  # (re)sync: the CPU pins + whatever pyproject.toml asks for now
        try:
            run([py, "-m", "pip", "install", "-q", "-r", PKG / "requirements-cpu.txt",
                 *app_dependencies()])
        except subprocess.CalledProcessError as exc:
            raise BuildError(
                "could not install the CPU build requirements. torch's CPU wheels are not on PyPI: "
                "set PIP_EXTRA_INDEX_URL=https://download.pytorch.org/whl/cpu (or PIP_FIND_LINKS "
                "to a folder holding torch-2.13.0+cpu) and retry.") from exc
    probe = subprocess.run([py, "-c", "import importlib.metadata as m; print(m.version('torch'))"],
                           capture_output=True, text=True)
    if probe.returncode:
        raise BuildError(f"{py} has no torch: {probe.stderr.strip()}")
    if subprocess.run([py, "-c", "import PyInstaller"], capture_output=True).returncode:
        raise BuildError(f"PyInstaller is missing in {py}: pip install -e '.[package]'")
    log(f"build interpreter {py} (torch {probe.stdout.strip()})")
    return py


# -- 2. PyInstaller ------------------------------------------------------------------------------

def ensure_icons(py: Path) -> None:
    icons = PKG / "icons"
    if not all((icons / f"{NAME}{ext}").exists() for ext in (".png", ".ico", ".icns")):
        run([py, PKG / "make_icons.py"])


def pyinstaller(py: Path, flavor: str, allow_no_model: bool) -> Path:
    env = dict(os.environ, DFI_BUILD_FLAVOR=flavor)
    if allow_no_model:
        env["DFI_ALLOW_NO_MODEL"] = "1"
    run([py, "-m", "PyInstaller", "--noconfirm", "--clean", "--log-level", "WARN",
         "--distpath", out_dir(flavor), "--workpath", BUILD / f"pyinstaller-{flavor}",
         PKG / f"{NAME}.spec"], env=env)
    exe = out_dir(flavor) / NAME / NAME
    if not exe.exists():
        raise BuildError(f"PyInstaller produced no {exe}")
    return exe


# -- 3. smoke tests ------------------------------------------------------------------------------

def _clean_env(data_dir: str) -> dict:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("DFI_", "PYTHON", "QT_", "LD_LIBRARY_PATH", "VIRTUAL_ENV"))}
    env["DFI_DATA_DIR"] = data_dir
    return env


def self_test(exe: Path, *, expect: int = 0, extra: list[str] | None = None,
              env_extra: dict | None = None) -> dict:
    """Run `<exe> --self-test`; fail on a wrong exit status or a traceback on stderr."""
    with tempfile.TemporaryDirectory() as tmp:
        env = _clean_env(tmp) | (env_extra or {})
        t0 = time.perf_counter()
        proc = subprocess.run([str(exe), "--self-test", *(extra or [])], capture_output=True,
                              text=True, env=env, timeout=600)
        secs = time.perf_counter() - t0
    if proc.returncode != expect or BAD_STDERR.search(proc.stderr):
        raise BuildError(f"self-test of {exe} {extra or ''}: exit {proc.returncode} "
                         f"(expected {expect})\nstdout:\n{proc.stdout[-3000:]}\n"
                         f"stderr:\n{proc.stderr[-3000:]}")
    try:
        report = json.loads(proc.stdout)
    except ValueError as exc:
        raise BuildError(f"self-test printed no JSON:\n{proc.stdout[-2000:]}") from exc
    report["wall_seconds"] = round(secs, 1)
    summary = report.get("error") or (
        f"{report['model']['id']}: p_fake={report['result']['p_fake']} "
        f"faces={len(report['result']['faces'])} torch={report['torch']}")
    log(f"self-test {' '.join(extra or [])} -> exit {proc.returncode} in {secs:.1f} s: {summary}")
    return report


def untrained_card(py: Path) -> Path:
    """An explicitly UNTRAINED model (random weights) to exercise the pipeline when the real
    detector is absent: the frozen app must then pass its self-test with it."""
    folder = BUILD / "untrained-model"
    card = folder / "untrained.json"
    if card.exists():
        return card
    code = (
        "import json, sys, torch; from pathlib import Path;"
        "from safetensors.torch import save_file;"
        "from app.core.detector import build_model, sha256_file;"
        "d = Path(sys.argv[1]); d.mkdir(parents=True, exist_ok=True); torch.manual_seed(0);"
        "m = build_model('faceres_mobilenet_v1').eval(); w = d / 'untrained.safetensors';"
        "save_file({k: v.contiguous() for k, v in m.state_dict().items()}, str(w));"
        "(d / 'untrained.json').write_text(json.dumps({'id': 'untrained-test-model',"
        " 'trained': False, 'architecture': 'faceres_mobilenet_v1', 'input_size': 160,"
        " 'normalization': 'fixed_standardization', 'threshold': 0.5,"
        " 'weights_file': w.name, 'weights_sha256': sha256_file(w)}))"
    )
    run([py, "-c", code, folder], cwd=ROOT)
    return card


def _history_rows(data_dir: Path) -> int:
    """Rows in the GUI's history database (each analysed photo adds one)."""
    import sqlite3

    db = data_dir / "history.db"
    if not db.exists():
        return 0
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1)
        try:
            tables = [r[0] for r in con.execute(
                "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'")]
            return sum(con.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables)
        finally:
            con.close()
    except sqlite3.Error:
        return 0


def smoke_gui(exe: Path, model_env: dict, platform: str = "offscreen",
              limit: int = GUI_SECONDS) -> dict:
    """Start the frozen GUI headless with the sample photo: it must analyse it (a row appears in
    its history database) and still be running, with a clean stderr and log. Proves the Qt
    platform plugin, the window and the worker thread work in the bundle. platform "xcb" runs
    it on a virtual X server (xvfb-run) with this machine's X libraries."""
    wrapper = ["xvfb-run", "-a", "-s", "-screen 0 1280x800x24"] if platform == "xcb" else []
    sample = exe.parent / "_internal" / "resources" / "sample" / "astronaut.jpg"
    with tempfile.TemporaryDirectory() as tmp:
        env = _clean_env(tmp) | model_env | {"QT_QPA_PLATFORM": platform}
        t0 = time.perf_counter()
        proc = subprocess.Popen([*wrapper, str(exe), str(sample)], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env=env,
                                start_new_session=True)
        rows = 0
        while time.perf_counter() - t0 < limit and proc.poll() is None:
            rows = _history_rows(Path(tmp))
            if rows:
                break
            time.sleep(1)
        secs = time.perf_counter() - t0
        time.sleep(2)  # still alive a moment after the analysis?
        alive = proc.poll() is None
        if alive:
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            out, err = proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, err = proc.communicate()
        logs = "".join(p.read_text(errors="replace") for p in Path(tmp).rglob("*.log"))
    if not alive or not rows or BAD_STDERR.search(err) or BAD_STDERR.search(logs):
        raise BuildError(f"GUI smoke test ({platform}) failed: running={alive}, photos analysed="
                         f"{rows} after {secs:.0f} s (exit {proc.returncode})"
                         f"\nstderr:\n{err[-3000:]}\nlog:\n{logs[-3000:]}")
    log(f"GUI ({platform}) opened the sample and analysed it in {secs:.1f} s; clean stderr")
    return {"platform": platform, "seconds_to_first_result": round(secs, 1),
            "stderr_tail": err[-300:]}


def check_xcb(bundle: Path) -> list[str]:
    """System libraries the bundled xcb plugin needs but this machine lacks (-> Depends)."""
    plugin = next(bundle.rglob("platforms/libqxcb.so"), None)
    if plugin is None:
        raise BuildError("the Qt xcb platform plugin is not in the bundle")
    if next(bundle.rglob("platforms/libqoffscreen.so"), None) is None:
        raise BuildError("the Qt offscreen platform plugin is not in the bundle")
    env = dict(os.environ, LD_LIBRARY_PATH=str(plugin.parents[3]) + os.pathsep +
               str(plugin.parents[2] / "lib"))
    out = subprocess.run(["ldd", str(plugin)], capture_output=True, text=True, env=env).stdout
    missing = sorted(set(re.findall(r"^\s*(\S+) => not found", out, re.MULTILINE)))
    if missing:
        log(f"note: the xcb plugin needs system libraries absent here: {missing} "
            "(declared in the .deb's Depends; see packaging/apt-deps.sh)")
    return missing


# -- 4. .deb -------------------------------------------------------------------------------------

def debian_depends() -> str:
    pkgs = subprocess.run(["bash", PKG / "apt-deps.sh"], capture_output=True, text=True,
                          check=True).stdout.split()
    return ", ".join(pkgs + ["libc6 (>= 2.28)"])


def _copy_bundle(bundle: Path, dest: Path) -> None:
    shutil.copytree(bundle, dest, symlinks=True)


def stage_linux_tree(bundle: Path, root: Path, libdir: str) -> None:
    """The files a Linux install holds: bundle, launcher, .desktop entry, icons."""
    _copy_bundle(bundle, root / libdir.lstrip("/"))
    bindir = root / "usr" / "bin"
    bindir.mkdir(parents=True)
    launcher = bindir / NAME
    # Relative to the launcher, so the same tree also runs unpacked in a scratch root.
    launcher.write_text(
        "#!/bin/sh\n"
        f'here="$(dirname "$(readlink -f "$0")")"\n'
        f'exec "$here/../lib/{NAME}/{NAME}" "$@"\n')
    launcher.chmod(0o755)
    apps = root / "usr" / "share" / "applications"
    apps.mkdir(parents=True)
    shutil.copy2(PKG / "linux" / f"{NAME}.desktop", apps / f"{NAME}.desktop")
    for size in (48, 128, 256, 512):
        d = root / "usr" / "share" / "icons" / "hicolor" / f"{size}x{size}" / "apps"
        d.mkdir(parents=True)
        shutil.copy2(PKG / "icons" / f"{NAME}-{size}.png", d / f"{NAME}.png")
    d = root / "usr" / "share" / "icons" / "hicolor" / "scalable" / "apps"
    d.mkdir(parents=True)
    shutil.copy2(ROOT / "resources" / "icon.svg", d / f"{NAME}.svg")
    doc = root / "usr" / "share" / "doc" / NAME
    doc.mkdir(parents=True)
    (doc / "copyright").write_text(
        "Deepfake Inspector - MIT licence.\nBundled third-party components keep their own "
        f"licences; see /usr/lib/{NAME}/_internal/weights/LICENSE-* and the packages' "
        "*.dist-info folders.\n")


def build_deb(bundle: Path, version: str) -> Path:
    stage = BUILD / "deb" / bundle.parent.name / f"{NAME}_{version}_amd64"
    shutil.rmtree(stage, ignore_errors=True)
    stage_linux_tree(bundle, stage, f"/usr/lib/{NAME}")
    control = stage / "DEBIAN" / "control"
    control.parent.mkdir(parents=True)
    installed_kib = du(stage) // 1024
    control.write_text(
        f"Package: {NAME}\nVersion: {version}\nArchitecture: amd64\n"
        "Maintainer: Deepfake Inspector developers <noreply@example.org>\n"
        f"Installed-Size: {installed_kib}\nSection: graphics\nPriority: optional\n"
        f"Depends: {debian_depends()}\n"
        "Description: offline deepfake detector for photos of faces\n"
        " Deepfake Inspector tells whether the faces in a photo are real or deepfaked,\n"
        " and shows which regions drove the score. Everything runs on this computer;\n"
        " the detector model is included. No GPU needed.\n")
    for p in stage.rglob("*"):  # dpkg-deb wants sane permissions
        if p.is_symlink():
            continue
        if p.is_dir():
            p.chmod(0o755)
        else:
            p.chmod(0o755 if os.access(p, os.X_OK) else 0o644)
    deb = bundle.parent / f"{NAME}_{version}_amd64.deb"
    run(["dpkg-deb", "--root-owner-group", "-Zxz", "--build", stage, deb])
    return deb


def test_deb(deb: Path, expect: int, extra: list[str]) -> dict:
    """Unpack the .deb into a scratch root and self-test the installed launcher."""
    scratch = BUILD / "deb-test" / deb.parent.name
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.parent.mkdir(parents=True, exist_ok=True)
    run(["dpkg-deb", "-x", deb, scratch])
    info = subprocess.run(["dpkg-deb", "--info", str(deb)], capture_output=True, text=True,
                          check=True).stdout
    if f"Package: {NAME}" not in info:
        raise BuildError(f"bad control file in {deb}:\n{info}")
    report = self_test(scratch / "usr" / "bin" / NAME, expect=expect, extra=extra)
    shutil.rmtree(scratch, ignore_errors=True)
    return report


def test_dpkg_install(deb: Path, expect: int, extra: list[str]) -> dict:
    """Really install the .deb (root only), self-test /usr/bin's launcher, then remove it."""
    if os.geteuid() != 0:
        raise BuildError("--dpkg-install needs root")
    run(["dpkg", "-i", deb], stdout=subprocess.DEVNULL)
    try:
        for path in (f"/usr/share/applications/{NAME}.desktop",
                     f"/usr/share/icons/hicolor/256x256/apps/{NAME}.png"):
            if not Path(path).is_file():
                raise BuildError(f"the installed package lacks {path}")
        return self_test(Path("/usr/bin") / NAME, expect=expect, extra=extra)
    finally:
        run(["dpkg", "-r", NAME], stdout=subprocess.DEVNULL)


# -- 5. AppImage (when appimagetool is available) ------------------------------------------------

def build_appimage(bundle: Path, version: str) -> Path | None:
    tool = shutil.which("appimagetool") or shutil.which("appimagetool-x86_64.AppImage")
    if not tool:
        log("AppImage skipped: appimagetool is not on PATH (a GitHub download; neither PyPI nor "
            "Debian ship it). See packaging/README.md.")
        return None
    appdir = BUILD / "AppDir"
    shutil.rmtree(appdir, ignore_errors=True)
    stage_linux_tree(bundle, appdir, f"/usr/lib/{NAME}")
    (appdir / "AppRun").write_text(
        "#!/bin/sh\nhere=\"$(dirname \"$(readlink -f \"$0\")\")\"\n"
        f"exec \"$here/usr/lib/{NAME}/{NAME}\" \"$@\"\n")
    (appdir / "AppRun").chmod(0o755)
    shutil.copy2(PKG / "linux" / f"{NAME}.desktop", appdir / f"{NAME}.desktop")
    shutil.copy2(PKG / "icons" / f"{NAME}-256.png", appdir / f"{NAME}.png")
    out = bundle.parent / f"Deepfake_Inspector-{version}-x86_64.AppImage"
    run([tool, appdir, out], env=dict(os.environ, ARCH="x86_64"))
    return out


# -- main ----------------------------------------------------------------------------------------

def largest(bundle: Path, n: int = 15) -> list[tuple[str, int]]:
    files = [(str(p.relative_to(bundle)), p.stat().st_size) for p in bundle.rglob("*")
             if p.is_file() and not p.is_symlink()]
    return sorted(files, key=lambda t: -t[1])[:n]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--flavor", choices=["cpu", "cuda"], default="cpu",
                   help="cpu: CPU-only torch in build/venv-cpu (default, ~3x smaller); "
                   "cuda: bundle this venv's PyPI (CUDA) torch, unused CUDA libraries left out")
    p.add_argument("--venv", help="use this build venv instead")
    p.add_argument("--allow-no-model", action="store_true",
                   help="build without weights/detector.json (test builds only): the self-test "
                   "then checks the 'no model' exit and runs with an untrained test model")
    p.add_argument("--no-deb", action="store_true", help="stop after the tested bundle")
    p.add_argument("--no-appimage", action="store_true")
    p.add_argument("--dpkg-install", action="store_true",
                   help="also install the .deb with dpkg (root), self-test it, remove it again")
    args = p.parse_args(argv)

    t_start = time.perf_counter()
    version = app_version()
    has_model = (ROOT / "weights" / "detector.json").is_file()
    if not has_model and not args.allow_no_model:
        log("error: weights/detector.json is missing; the installer must ship a trained model. "
            "Use --allow-no-model for a test build.")
        return EXIT_NO_MODEL
    report: dict = {"version": version, "flavor": args.flavor, "model_included": has_model}
    try:
        py = build_python(args.flavor, args.venv)
        ensure_icons(py)
        t0 = time.perf_counter()
        exe = pyinstaller(py, args.flavor, args.allow_no_model)
        report["pyinstaller_seconds"] = round(time.perf_counter() - t0)
        bundle = exe.parent
        report["bundle_bytes"] = du(bundle)
        report["bundle_largest"] = largest(bundle)
        log(f"bundle {bundle}: {mib(report['bundle_bytes'])}")

        # The frozen app must work before anything is packaged.
        tests: dict = {}
        if has_model:
            expect, extra = 0, []
            tests["frozen"] = self_test(exe)
        else:
            tests["frozen_no_model"] = self_test(exe, expect=EXIT_NO_MODEL)
            expect, extra = 0, ["--weights", str(untrained_card(py)), "--allow-untrained"]
            tests["frozen_untrained"] = self_test(exe, extra=extra)
        model_env = {} if has_model else {"DFI_WEIGHTS": extra[1], "DFI_ALLOW_UNTRAINED": "1"}
        tests["gui"] = smoke_gui(exe, model_env)
        report["xcb_missing_here"] = check_xcb(bundle)
        if shutil.which("xvfb-run") and not report["xcb_missing_here"]:
            tests["gui_xcb"] = smoke_gui(exe, model_env, platform="xcb")
        else:
            log("xcb GUI test skipped: needs xvfb-run and the libraries of apt-deps.sh")
        report["tests"] = tests

        if not args.no_deb:
            deb = build_deb(bundle, version)
            report["deb"] = str(deb)
            report["deb_bytes"] = deb.stat().st_size
            log(f"{deb.name}: {mib(report['deb_bytes'])}")
            tests["deb_installed"] = test_deb(deb, expect, extra)
            if not has_model:
                tests["deb_installed_no_model"] = test_deb(deb, EXIT_NO_MODEL, [])
            if args.dpkg_install:
                tests["dpkg_install"] = test_dpkg_install(deb, expect, extra)
        if not args.no_appimage:
            appimage = build_appimage(bundle, version)
            report["appimage"] = str(appimage) if appimage else None
    except (BuildError, subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        log(f"BUILD FAILED: {exc}")
        return 1
    report["total_seconds"] = round(time.perf_counter() - t_start)
    dest = out_dir(args.flavor)
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "build-report.json").write_text(json.dumps(report, indent=2, default=str))
    log(f"done in {report['total_seconds']} s; report: {dest / 'build-report.json'}")
    if not has_model:
        log("WARNING: built WITHOUT the detector (--allow-no-model): not for release.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
