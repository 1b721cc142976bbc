"""The GUI half of benchmarks/soak.py: one long batch through the real MainWindow, offscreen.

Measured while the batch runs:
- RSS of this process twice a second, against the number of tiles in the gallery;
- the event loop's gaps: a 10 ms heartbeat QTimer, whose longest gap is the longest stall a user
  would feel (an idle baseline is taken first: on a busy machine the OS alone delays the timer);
- scrolling: every 250 ms the gallery is scrolled to another place and repainted at once; the
  time of that call is what a user dragging the scroll bar waits for a frame;
- cancel: after the batch, the same photos are started again three times and cancelled once ten
  results are in; the time from the click to the batch's end is the cancel latency.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("DFI_DATA_DIR", tempfile.mkdtemp(prefix="dfi-soak-gui-"))

from benchmarks.soak import rss_mb, rss_report  # noqa: E402

HEARTBEAT_MS = 10
STALL_TARGET_MS = 100.0
CANCEL_TARGET_S = 1.0


class _Meter:
    """Heartbeat gaps, RSS samples and scroll timings, all on the UI thread's timers."""

    def __init__(self, win) -> None:
        from PySide6.QtCore import QTimer

        self.win, self.gaps, self.samples, self.scrolls = win, [], [], []
        self.app_gaps: list[float] = []  # the same gaps less our own scroll-and-repaint calls
        self._scrolled = 0.0
        self.t0 = self._last = time.perf_counter()
        self.heart = QTimer(interval=HEARTBEAT_MS, timeout=self._beat)
        self.rss = QTimer(interval=500, timeout=self._sample)
        self.scroll = QTimer(interval=250, timeout=self._scroll)
        self._step = 0

    def start(self, *, scroll: bool) -> None:
        self.gaps.clear()
        self.app_gaps.clear()
        self._scrolled = 0.0
        self._last = time.perf_counter()
        self.heart.start()
        self.rss.start()
        if scroll:
            self.scroll.start()

    def stop(self) -> None:
        for t in (self.heart, self.rss, self.scroll):
            t.stop()

    def _beat(self) -> None:
        now = time.perf_counter()
        self.gaps.append((now - self._last) * 1000.0)
        self.app_gaps.append(self.gaps[-1] - self._scrolled)
        self._scrolled = 0.0
        self._last = now

    def _sample(self) -> None:
        got = rss_mb()
        if got:
            self.samples.append((time.perf_counter() - self.t0,
                                 self.win.gallery.model.rowCount(), got[0]))

    def _scroll(self) -> None:
        bar = self.win.gallery.list.verticalScrollBar()
        if bar.maximum() <= 0:
            return
        self._step += 1
        # Walk up and down the whole range in uneven steps, as a user skimming would.
        frac = (self._step * 0.37) % 1.0
        t = time.perf_counter()
        bar.setValue(int(frac * bar.maximum()))
        self.win.gallery.list.viewport().repaint()
        self.scrolls.append((time.perf_counter() - t) * 1000.0)
        self._scrolled += self.scrolls[-1]


def _wait(app, pred, timeout_s: float) -> bool:
    """Run the event loop until `pred()` (checked every 20 ms) or the timeout."""
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    deadline = time.monotonic() + timeout_s
    check = QTimer(interval=20)
    check.timeout.connect(lambda: (pred() or time.monotonic() > deadline) and loop.quit())
    check.start()
    if not pred():
        loop.exec()
    check.stop()
    return pred()


def _cancel(app, win, batch_done) -> float:
    """Click Cancel; seconds until the batch has stopped."""
    t = time.perf_counter()
    win.cancel_batch()
    _wait(app, batch_done, 60)
    return time.perf_counter() - t


def _stall_figures(gaps: list[float]) -> dict:
    gaps = sorted(gaps) or [0.0]
    return {"longest_ms": round(gaps[-1], 1), "p99_ms": round(gaps[int(0.99 * (len(gaps) - 1))], 1),
            "median_ms": round(statistics.median(gaps), 1),
            "over_100ms": sum(1 for g in gaps if g > STALL_TARGET_MS), "ticks": len(gaps)}


def run_gui(paths: list[str], weights: str | None = None, minutes: float | None = None) -> dict:
    """Run the soak; after `minutes` (if given) the batch is cancelled, which is then one of the
    cancel measurements, and the figures cover what was done by then."""
    from PySide6.QtWidgets import QApplication

    from app.ui.main_window import MainWindow, default_analyzer_factory

    app = QApplication.instance() or QApplication([])
    win = MainWindow(default_analyzer_factory(weights))
    win.resize(1240, 800)
    win.show()
    meter = _Meter(win)
    print(f"data dir (history, logs): {os.environ['DFI_DATA_DIR']}", flush=True)
    if not _wait(app, lambda: win.model_ready or win.model_error is not None, 600):
        raise SystemExit("the model did not load in 10 minutes")
    if win.model_error is not None:
        raise SystemExit(f"the model did not load: {win.model_error}")

    meter.start(scroll=False)
    _wait(app, lambda: False, 3.0)
    meter.stop()
    idle = _stall_figures(meter.gaps)
    print(f"idle heartbeat (3 s, nothing running): longest gap {idle['longest_ms']} ms", flush=True)

    def batch_done() -> bool:
        return not win.gallery.is_running() and win.service.batches_pending() == 0

    meter.start(scroll=True)
    t0 = time.perf_counter()
    win.start_batch(paths)
    last_print, cancels = 0.0, []
    while not _wait(app, batch_done, 5.0):
        if time.perf_counter() - last_print > 60:
            last_print = time.perf_counter()
            print(f"  {last_print - t0:6.0f} s: {win.gallery.model.rowCount()} tiles", flush=True)
        if minutes is not None and time.perf_counter() - t0 > minutes * 60:
            print(f"time limit ({minutes:g} min) reached: cancelling the batch", flush=True)
            cancels.append(_cancel(app, win, batch_done))
            break
    elapsed = time.perf_counter() - t0
    meter.stop()
    busy = _stall_figures(meter.gaps)
    app_only = _stall_figures(meter.app_gaps)
    tiles = win.gallery.model.rowCount()
    scrolls = sorted(meter.scrolls) or [0.0]
    print(f"\nGUI batch: {tiles} tiles for {len(paths)} photos in {elapsed:.0f} s "
          f"({tiles / max(elapsed, 1e-9):.1f} img/s); {win.gallery.status.text()}")
    print(f"event loop: longest stall {busy['longest_ms']} ms (target < {STALL_TARGET_MS:.0f}); "
          f"p99 {busy['p99_ms']} ms; {busy['over_100ms']} of {busy['ticks']} ticks over 100 ms; "
          f"idle baseline {idle['longest_ms']} ms; not counting the soak's own scroll repaints: "
          f"longest {app_only['longest_ms']} ms, {app_only['over_100ms']} over 100 ms")
    print(f"gallery scroll + repaint: {len(scrolls)} scrolls, median "
          f"{statistics.median(scrolls):.1f} ms, longest {scrolls[-1]:.1f} ms")
    rss = rss_report(meter.samples, max(50, len(paths) // 50), len(paths), rss_mb()[1])

    for _ in range(1 if cancels else 3):  # past the time limit: one more, not three
        start_tiles = win.gallery.model.rowCount()
        win.start_batch(paths)
        _wait(app, lambda s=start_tiles: win.gallery.model.rowCount() >= s + 5, 120)
        cancels.append(_cancel(app, win, batch_done))
    print(f"cancel latency: {', '.join(f'{c * 1000:.0f} ms' for c in cancels)} "
          f"(target < {CANCEL_TARGET_S * 1000:.0f} ms)")
    history = win.history.count() if win.history is not None else None
    win.close()
    app.processEvents()
    return {"mode": "gui", "photos": len(paths), "tiles": tiles, "elapsed_s": round(elapsed, 1),
            "stopped_at_time_limit": minutes is not None and tiles < len(paths),
            "stall": busy, "stall_without_scroll_repaints": app_only, "idle_stall": idle,
            "scroll_ms": {"count": len(scrolls), "median": round(statistics.median(scrolls), 1),
                          "longest": round(scrolls[-1], 1)},
            "rss": rss, "cancel_latency_s": [round(c, 3) for c in cancels],
            "history_rows": history}
