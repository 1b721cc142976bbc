"""README's first set-up command works as root without sudo and as a user with sudo (issue 11).

The script runs for real; only the system tools it calls (id, sudo, apt-get, dpkg-query) are
stand-ins on PATH that record how they were called, so nothing is installed."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "packaging" / "install-system-deps.sh"


def _stub(bin_dir: Path, name: str, body: str) -> None:
    path = bin_dir / name
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(0o755)


def _run(tmp_path: Path, uid: int, with_sudo: bool, installed: bool = False):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "calls.log"
    _stub(bin_dir, "id", f'[ "$1" = "-u" ] && echo {uid}')
    _stub(bin_dir, "dpkg-query", "echo 'install ok installed'" if installed else "exit 1")
    _stub(bin_dir, "apt-get", f'echo "apt-get $*" >> {calls}')
    if with_sudo:
        _stub(bin_dir, "sudo", f'echo "sudo $1" >> {calls}; exec "$@"')
    # Only the stand-ins and the basic tools the script needs (no real sudo or apt-get).
    for tool in ("bash", "grep", "dirname", "env", "sh"):
        real = shutil.which(tool)
        if real and not (bin_dir / tool).exists():
            (bin_dir / tool).symlink_to(real)
    done = subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True, timeout=30,
                          env={"PATH": str(bin_dir), "HOME": str(tmp_path)})
    return done, calls.read_text().splitlines() if calls.exists() else []


@pytest.mark.skipif(os.name != "posix", reason="a bash script")
def test_as_root_without_sudo(tmp_path):
    done, calls = _run(tmp_path, uid=0, with_sudo=False)
    assert done.returncode == 0, done.stderr
    assert calls[0] == "apt-get update -qq"
    assert calls[1].startswith("apt-get install -y libxcb-icccm4 ")
    assert not any(c.startswith("sudo") for c in calls)


@pytest.mark.skipif(os.name != "posix", reason="a bash script")
def test_as_a_user_through_sudo(tmp_path):
    done, calls = _run(tmp_path, uid=1000, with_sudo=True)
    assert done.returncode == 0, done.stderr
    assert calls[:2] == ["sudo apt-get", "apt-get update -qq"]
    assert calls[2] == "sudo env" and calls[3].startswith("apt-get install -y ")


@pytest.mark.skipif(os.name != "posix", reason="a bash script")
def test_as_a_user_without_sudo_says_what_to_do(tmp_path):
    done, calls = _run(tmp_path, uid=1000, with_sudo=False)
    assert done.returncode == 1 and calls == []
    assert "needs root, and sudo is not available" in done.stderr and "libegl1" in done.stderr


@pytest.mark.skipif(os.name != "posix", reason="a bash script")
def test_nothing_to_do_when_installed(tmp_path):
    done, calls = _run(tmp_path, uid=1000, with_sudo=False, installed=True)
    assert done.returncode == 0 and calls == [] and "already installed" in done.stdout


def test_readme_and_ci_use_the_script():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "    bash packaging/install-system-deps.sh\n" in readme
    assert "sudo apt-get" not in readme.split("## Set up, run, test")[1].split("## ")[0]
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "bash packaging/install-system-deps.sh" in ci and ".venv/bin/python -m pytest" in ci
