"""Guards so a regression fails a test instead of hanging CI or exhausting memory."""

from __future__ import annotations

import contextlib
import json
import os
import resource
import signal
import subprocess
import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@contextlib.contextmanager
def no_hang(seconds: float = 10.0, fifos: tuple[Path, ...] = ()):
    """Fail with TimeoutError if the block runs longer than `seconds` (SIGALRM interrupts a
    blocking open() of a FIFO in the main thread). On timeout, each FIFO in `fifos` is opened
    for writing once, which releases a reader stuck in another thread."""
    assert threading.current_thread() is threading.main_thread(), "SIGALRM needs the main thread"

    def fire(signum, frame):
        for f in fifos:
            with contextlib.suppress(OSError):
                os.close(os.open(f, os.O_WRONLY | os.O_NONBLOCK))
        raise TimeoutError(f"took longer than {seconds} s (would hang without the guard)")

    old = signal.signal(signal.SIGALRM, fire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def _limit_memory(data_bytes: int):
    def apply() -> None:  # in the child, before exec
        resource.setrlimit(resource.RLIMIT_DATA, (data_bytes, data_bytes))

    return apply


def run_bounded(args: list[str], *, timeout: float = 120.0, data_gb: float = 6.0,
                cwd: Path = ROOT, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run a command in a child process with a wall-clock limit and a heap (RLIMIT_DATA) limit,
    so reading /dev/zero without end ends in a MemoryError there, not in the test runner."""
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          preexec_fn=_limit_memory(int(data_gb * (1 << 30))),
                          env={**os.environ, **(env or {})})


def load_in_child(path: Path, timeout: float = 60.0) -> dict:
    """load_image(path) in a bounded child process: {"ok": bool, "type": ..., "error": ...}."""
    code = (
        "import json, sys\n"
        "from app.core.images import load_image\n"
        "try:\n"
        "    img = load_image(sys.argv[1])\n"
        "    print(json.dumps({'ok': True, 'type': None, 'error': None}))\n"
        "except Exception as exc:\n"
        "    print(json.dumps({'ok': False, 'type': type(exc).__name__, 'error': str(exc)}))\n"
    )
    done = run_bounded([sys.executable, "-c", code, str(path)], timeout=timeout, data_gb=2.0)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])
