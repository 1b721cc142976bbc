"""Fast checks of the release packaging (the full PyInstaller build is too slow for CI).

The self-test mode from source, the files the spec and installers name, the .desktop entry, the
spec's shape, and the CPU bundle's pure-torch nms against torchvision's own.
"""

from __future__ import annotations

import ast
import configparser
import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from app import selftest

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "packaging"
SPEC = PKG / "deepfake-inspector.spec"
DESKTOP = PKG / "linux" / "deepfake-inspector.desktop"
HAS_MODEL = (ROOT / "weights" / "detector.json").is_file()


# -- self-test mode ------------------------------------------------------------------------------

def test_self_test_without_model_exits_3_with_a_clear_message(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DFI_WEIGHTS_DIR", str(tmp_path / "empty"))
    monkeypatch.delenv("DFI_WEIGHTS", raising=False)
    monkeypatch.delenv("DFI_ALLOW_UNTRAINED", raising=False)
    assert selftest.main([]) == selftest.EXIT_NO_MODEL == 3
    out, err = capsys.readouterr()
    report = json.loads(out)
    assert report["self_test"] == "failed" and report["exit_code"] == 3
    assert "SELF-TEST FAILED: no usable model" in err
    assert "detector.json" in err and "Traceback" not in err


def test_self_test_refuses_an_untrained_model_unless_allowed(untrained_card, capsys):
    assert selftest.main(["--weights", str(untrained_card)]) == selftest.EXIT_NO_MODEL
    assert "untrained" in capsys.readouterr().err


def test_self_test_passes_with_the_untrained_test_model(untrained_card, tmp_path, capsys):
    out_file = tmp_path / "selftest.json"
    code = selftest.main(["--self-test", "--weights", str(untrained_card), "--allow-untrained",
                          "--out", str(out_file)])
    out, err = capsys.readouterr()
    assert code == 0, err
    report = json.loads(out)
    assert report == json.loads(out_file.read_text())
    assert report["self_test"] == "passed"
    assert report["model"] == {**report["model"], "id": "untrained-test-model", "trained": False}
    assert report["result"]["status"] == "ok" and len(report["result"]["faces"]) == 1
    assert 0.0 <= report["result"]["p_fake"] <= 1.0
    assert report["heatmap_shape"] == [160, 160]
    assert report["data_files_checked"] >= 7


def test_self_test_reports_a_missing_data_file(untrained_card, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(selftest, "resources_dir", lambda: tmp_path)
    code = selftest.main(["--weights", str(untrained_card), "--allow-untrained"])
    assert code == selftest.EXIT_MISSING_FILE
    err = capsys.readouterr().err
    assert "missing data file" in err and "astronaut.jpg" in err


def test_self_test_rejects_unknown_arguments(capsys):
    assert selftest.main(["--bogus"]) == selftest.EXIT_USAGE


@pytest.mark.skipif(not HAS_MODEL, reason="weights/detector.json not installed yet")
@pytest.mark.slow
def test_self_test_with_the_installed_model(monkeypatch, capsys):
    monkeypatch.delenv("DFI_WEIGHTS", raising=False)
    monkeypatch.delenv("DFI_WEIGHTS_DIR", raising=False)
    assert selftest.main([]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["model"]["trained"] is True
    assert report["result"]["faces"]


@pytest.mark.slow
def test_main_py_self_test_needs_no_qt_and_no_window(tmp_path):
    """`python main.py --self-test` runs headless: no PySide6 import, JSON on stdout."""
    code = ("import runpy, sys; sys.argv = ['main.py', '--self-test'];\n"
            "try:\n    runpy.run_path('main.py', run_name='__main__')\n"
            "except SystemExit as e:\n"
            "    assert not any(m.startswith('PySide6') for m in sys.modules), 'Qt imported'\n"
            "    raise\n")
    env = {"DFI_WEIGHTS_DIR": str(tmp_path / "none"), "DFI_DATA_DIR": str(tmp_path / "data"),
           "PATH": "/usr/bin:/bin"}
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                          env=env, timeout=300)
    assert proc.returncode == 3, proc.stderr
    assert json.loads(proc.stdout)["self_test"] == "failed"
    assert "Qt imported" not in proc.stderr and "Traceback" not in proc.stderr


# -- the spec and the files it names -------------------------------------------------------------

def _root_paths(tree: ast.AST) -> list[Path]:
    """Every `ROOT / "a" / "b"` expression in the spec whose parts are all string constants."""
    paths = []
    for node in ast.walk(tree):
        parts = []
        while isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
            if not (isinstance(node.right, ast.Constant) and isinstance(node.right.value, str)):
                break
            parts.insert(0, node.right.value)
            node = node.left
        else:
            if isinstance(node, ast.Name) and node.id == "ROOT" and parts:
                paths.append(ROOT.joinpath(*parts))
    return paths


def test_spec_parses_and_is_onedir_windowed_rooted_at_specpath():
    source = SPEC.read_text(encoding="utf-8")
    tree = ast.parse(source, filename=str(SPEC))
    calls = {n.func.id: n for n in ast.walk(tree)
             if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
    assert {"Analysis", "PYZ", "EXE", "COLLECT"} <= set(calls)
    exe_kw = {k.arg: k.value for k in calls["EXE"].keywords}
    assert ast.literal_eval(exe_kw["exclude_binaries"]) is True  # onedir: binaries in COLLECT
    assert ast.literal_eval(exe_kw["console"]) is False  # windowed
    assert "Path(SPECPATH)" in source and "from app import __version__" in source
    assert '"triton"' in source  # never bundle torch.compile's GPU compiler


def test_every_file_the_spec_names_exists():
    paths = _root_paths(ast.parse(SPEC.read_text(encoding="utf-8")))
    assert ROOT / "main.py" in paths and ROOT / "weights" in paths
    for path in paths:
        if path.name in ("detector.json", "deepfake-inspector.icns"):
            continue  # the model arrives from training; .icns only on macOS (checked below)
        assert path.exists(), path
    for name in ("deepfake-inspector.png", "deepfake-inspector.ico", "deepfake-inspector.icns",
                 "deepfake-inspector-48.png", "deepfake-inspector-128.png",
                 "deepfake-inspector-256.png", "deepfake-inspector-512.png"):
        assert (PKG / "icons" / name).stat().st_size > 0, name


def test_bundled_data_files_exist():
    """What the bundle copies and the self-test checks: resources, sample, MTCNN weights."""
    for path in selftest.required_data_files():
        assert path.is_file() and path.stat().st_size > 0, path
    assert sorted(p.name for p in selftest.mtcnn_dir().glob("*.pt")) == ["onet.pt", "pnet.pt",
                                                                         "rnet.pt"]
    assert list((ROOT / "weights").glob("LICENSE*")), "weights/ licences must ship"
    if HAS_MODEL:
        card = json.loads((ROOT / "weights" / "detector.json").read_text())
        assert (ROOT / "weights" / card["weights_file"]).is_file()


def test_build_files_exist_and_build_script_answers_help():
    for name in ("build.py", "make_icons.py", "requirements-cpu.txt", "apt-deps.sh",
                 "README.md", "hooks/rth_torchvision_nms.py", "windows/deepfake-inspector.iss",
                 "macos/build-dmg.sh"):
        assert (PKG / name).is_file(), name
    proc = subprocess.run([sys.executable, str(PKG / "build.py"), "--help"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "--flavor" in proc.stdout


def test_cpu_build_venv_gets_pyproject_dependencies_with_cpu_torch():
    reqs = (PKG / "requirements-cpu.txt").read_text()
    assert "torch==2.13.0+cpu" in reqs and "torchvision==" in reqs and "pyinstaller" in reqs
    spec = importlib.util.spec_from_file_location("dfi_build", PKG / "build.py")
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    deps = build.app_dependencies()
    names = {d.split("=")[0].split(">")[0].lower() for d in deps}
    assert {"facenet-pytorch", "grad-cam", "pyside6-essentials", "safetensors"} <= names
    assert not names & {"torch", "torchvision"}  # those come from requirements-cpu.txt


def test_apt_deps_lists_the_xcb_libraries():
    out = subprocess.run(["bash", str(PKG / "apt-deps.sh")], capture_output=True, text=True,
                         check=True).stdout.split()
    assert {"libxcb-cursor0", "libxkbcommon-x11-0", "libegl1"} <= set(out)


# -- .desktop entry ------------------------------------------------------------------------------

def test_desktop_entry_is_valid():
    validator = shutil.which("desktop-file-validate")
    if validator:
        proc = subprocess.run([validator, str(DESKTOP)], capture_output=True, text=True)
        assert proc.returncode == 0 and not proc.stdout.strip(), proc.stdout + proc.stderr
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str
    parser.read(DESKTOP, encoding="utf-8")
    entry = parser["Desktop Entry"]
    assert entry["Type"] == "Application" and entry["Name"] == "Deepfake Inspector"
    assert entry["Exec"].split()[0] == "deepfake-inspector"  # the .deb's /usr/bin launcher
    assert entry["Icon"] == "deepfake-inspector"
    assert entry["Terminal"] == "false"
    assert "image/jpeg" in entry["MimeType"].split(";")


# -- the CPU bundle's nms ------------------------------------------------------------------------

def _load_nms_hook():
    import torchvision  # noqa: F401 - loaded first, so the hook installs no import finder

    spec = importlib.util.spec_from_file_location("rth_nms", PKG / "hooks" /
                                                  "rth_torchvision_nms.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("threshold", [0.0, 0.3, 0.5, 0.7])
def test_pure_torch_nms_matches_torchvision(seed, threshold):
    import torch
    from torchvision.ops import nms as tv_nms

    nms = _load_nms_hook().nms
    g = torch.Generator().manual_seed(seed)
    n = 300
    xy = torch.rand(n, 2, generator=g) * 200
    wh = torch.rand(n, 2, generator=g) * 60 + 1
    boxes = torch.cat([xy, xy + wh], 1)
    scores = torch.rand(n, generator=g)
    scores[::7] = 0.5  # ties keep their input order (stable sort), as in torchvision
    assert torch.equal(nms(boxes, scores, threshold), tv_nms(boxes, scores, threshold))
    assert nms(boxes[:0], scores[:0], threshold).shape == (0,)
