"""Forensic filters on a larger synthetic set: detection rates, false alarms, time per filter.

    nice -n 15 .venv/bin/python -m benchmarks.forensics_bench [--n 200] [--seed 0] [--json FILE]

Every picture derives from skimage's shipped images: random crops (320-640 px) of 15 photos,
so the unedited set has real content (faces, texture, sky, text) and no two crops are the same.
Prints figures; asserts nothing (the tests in tests/test_forensics*.py do the pass/fail part).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.core.forensics import copymove, ela, jpeg, noise, run_filter, thumbnail  # noqa: E402
from app.core.forensics.common import gray  # noqa: E402
from app.core.forensics.ghosts import find_dips  # noqa: E402
from app.core.images import load_image  # noqa: E402
from tests.forensics_synth import (  # noqa: E402
    add_noise,
    dec,
    enc,
    paste,
    random_clone,
    region_means,
    rgb3,
    with_thumbnail,
)

PHOTOS = ["astronaut", "coffee", "chelsea", "camera", "rocket", "coins", "moon",
          "hubble_deep_field", "immunohistochemistry", "page", "text", "clock", "brick",
          "gravel", "retina"]


LAST_SOURCE = ""


def photos() -> list[tuple[str, np.ndarray]]:
    from skimage import data

    out = []
    for name in PHOTOS:
        try:
            out.append((name, rgb3(getattr(data, name)())))
        except Exception:  # an image that needs a download: skipped, offline
            pass
    return out


def crop(pics, rng) -> np.ndarray:
    """A random square crop of a random photo; its source name is left in LAST_SOURCE."""
    global LAST_SOURCE
    k = int(rng.integers(len(pics)))
    img, LAST_SOURCE = pics[k][1], pics[k][0]
    h, w = img.shape[:2]
    side = int(rng.integers(320, 641))
    if min(h, w) < side:  # small source: upscale a little first
        s = side / min(h, w)
        img = cv2.resize(img, (int(w * s) + 1, int(h * s) + 1), interpolation=cv2.INTER_CUBIC)
        h, w = img.shape[:2]
    y, x = int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1))
    out = img[y : y + side, x : x + side]
    return np.ascontiguousarray(out[:, ::-1] if rng.random() < 0.5 else out)


def rate(flags) -> str:
    flags = list(flags)
    return f"{sum(flags)}/{len(flags)} ({100 * sum(flags) / max(len(flags), 1):.1f} %)"


def bench_copymove(pics, rng, n) -> dict:
    clean_inl, found = [], {"shift": [], "rotated": [], "rotated+scaled": []}
    alarms: dict[str, int] = {}
    conf_true, conf_false = [], []
    for _ in range(n):
        img = crop(pics, rng)
        res = copymove.run(dec(enc(img, int(rng.integers(80, 96)))))
        flagged = [f for f in res.findings if f.edited]
        clean_inl.append(bool(flagged))
        conf_false += [f.confidence for f in flagged]
        if flagged:
            alarms[LAST_SOURCE] = alarms.get(LAST_SOURCE, 0) + 1
    kinds = list(found)
    for i in range(n):
        kind = kinds[i % 3]
        img, src, dst = random_clone(crop(pics, rng), rng, rotate=kind != "shift",
                                     rescale=kind == "rotated+scaled")
        res = copymove.run(dec(enc(img, int(rng.integers(80, 96)))))
        hits = [f for f in res.findings if f.edited and _covers(f.boxes, src, dst)]
        conf_true += [f.confidence for f in hits]
        found[kind].append(bool(hits))
    return {"false_alarms": rate(clean_inl), "false_alarms_by_photo": alarms,
            "confidence_clones_median": _median(conf_true),
            "confidence_false_alarms": [round(c, 2) for c in conf_false],
            **{f"detected_{k}": rate(v) for k, v in found.items()},
            "detected_all": rate(sum(found.values(), []))}


def _median(values) -> float | None:
    return round(float(np.median(values)), 3) if values else None


def _covers(boxes, src, dst) -> bool:
    """Each reported box lies mostly (half its area or more) on one of the two true regions."""
    def on(b, t) -> bool:
        ix = max(0, min(b[2], t[2]) - max(b[0], t[0]))
        iy = max(0, min(b[3], t[3]) - max(b[1], t[1]))
        return ix * iy >= 0.5 * (b[2] - b[0]) * (b[3] - b[1])
    return (on(boxes[0], src) and on(boxes[1], dst)) or (on(boxes[0], dst) and on(boxes[1], src))


def _patch_box(img, rng, frac=0.3):
    h, w = img.shape[:2]
    side = int(min(h, w) * frac) // 8 * 8
    x = int(rng.integers(0, (w - side) // 8)) * 8
    y = int(rng.integers(0, (h - side) // 8)) * 8
    return side, (x, y, x + side, y + side)


def bench_pasted(pics, rng, n) -> dict:
    """ELA: camera JPEG (q75) with a patch from a q98 JPEG, saved at 75. Ghosts: patch from a q60
    JPEG in an uncompressed picture, saved at 90. Noise: patch with added noise (sigma 6)."""
    out = {"ela": [], "ela_clean": [], "ghost": [], "ghost_clean": [], "noise": [],
           "noise_clean": []}
    for _ in range(n):
        bg, donor = crop(pics, rng), crop(pics, rng)
        side, box = _patch_box(bg, rng)
        x, y = box[:2]
        base = dec(enc(bg, 75))
        edited = dec(enc(paste(base, dec(enc(donor, 98))[:side, :side], x, y), 75))
        r = ela.run(edited, quality=75)
        i, o = region_means(r.map, r.map_scale, box)
        out["ela"].append(i > 3 * o)
        r = ela.run(dec(enc(base, 75)), quality=75)
        i, o = region_means(r.map, r.map_scale, box)
        out["ela_clean"].append(i > 3 * o)
        raw = enc(paste(bg, dec(enc(donor, 60))[:side, :side], x, y), 90)
        r = jpeg.run(dec(raw), quality=60, raw=raw)
        i, o = region_means(r.map, r.map_scale, box)
        out["ghost"].append(i > o + 0.3)
        r = jpeg.run(dec(enc(bg, 90)), quality=60)
        i, o = region_means(r.map, r.map_scale, box)
        out["ghost_clean"].append(i > o + 0.3)
        noisy = paste(bg, add_noise(donor, 6.0, int(rng.integers(1 << 30)))[:side, :side], x, y)
        r = noise.run(dec(enc(noisy, 92)))
        i, o = region_means(r.map, r.map_scale, box)
        out["noise"].append(i > o + 0.15)
        r = noise.run(dec(enc(bg, 92)))
        i, o = region_means(r.map, r.map_scale, box)
        out["noise_clean"].append(abs(i - o) > 0.15)
    return {k: rate(v) for k, v in out.items()}


def bench_jpeg(pics, rng, n) -> dict:
    qual_err = []
    for q in range(5, 101):
        raw = enc(crop(pics, rng), q)
        r = run_filter("jpeg", load_image(raw, keep_bytes=True))
        qual_err.append(abs(r.findings[0].data["quality"] - q))
    single, double, down = [], [], []
    for _ in range(n):
        img = crop(pics, rng)
        q2 = int(rng.integers(70, 99))
        single.append(bool(find_dips(gray(dec(enc(img, q2))), q2)[0]))
        q1 = int(rng.integers(45, q2 - 9))
        double.append(bool(find_dips(gray(dec(enc(dec(enc(img, q1)), q2))), q2)[0]))
        qa, qb = int(rng.integers(85, 99)), int(rng.integers(60, 80))
        down.append(bool(find_dips(gray(dec(enc(dec(enc(img, qa)), qb))), qb)[0]))
    return {"quality_max_error_q5_to_100": int(max(qual_err)),
            "double_detected_q1_below_q2": rate(double),
            "double_detected_q1_above_q2": rate(down),
            "single_false_alarms": rate(single)}


def bench_thumbnail(pics, rng, n) -> dict:
    res = {"edited_10pct": [], "edited_3pct": [], "clean_false_alarms": []}
    for _ in range(n):
        img, donor = crop(pics, rng), crop(pics, rng)
        h, w = img.shape[:2]
        for key, frac in (("edited_10pct", 0.32), ("edited_3pct", 0.18)):
            s = int(min(h, w) * frac)
            x, y = int(rng.integers(0, w - s)), int(rng.integers(0, h - s))
            raw = with_thumbnail(paste(img, donor[:s, :s], x, y), img)
            res[key].append(_thumb_flag(raw))
        res["clean_false_alarms"].append(_thumb_flag(with_thumbnail(img, img)))
    return {k: rate(v) for k, v in res.items()}


def _thumb_flag(raw: bytes) -> bool:
    li = load_image(raw, keep_bytes=True)
    return thumbnail.run(li.rgb, raw=li.raw, orientation=li.exif_orientation).edited


def bench_time(repeats: int = 3) -> dict:
    """Median ms per filter on a 12 MP (4000 x 3000) JPEG with camera-like grain and EXIF
    preview; peak RSS of the process after all of it."""
    from skimage import data

    base = cv2.resize(data.astronaut(), (4000, 3000), interpolation=cv2.INTER_CUBIC)
    base = add_noise(base, 3.0)
    li = load_image(with_thumbnail(base, base, quality=92), keep_bytes=True)
    out = {}
    for name in ("ela", "noise", "jpeg", "copymove", "thumbnail"):
        times, cpu = [], []
        for _ in range(repeats):
            t0, c0 = time.perf_counter(), time.process_time()
            run_filter(name, li)
            times.append((time.perf_counter() - t0) * 1000)
            cpu.append((time.process_time() - c0) * 1000)
        # Wall time is what a user waits; CPU time (all threads) is less swayed by other load.
        out[f"{name}_ms"] = round(float(np.median(times)))
        out[f"{name}_cpu_ms"] = round(float(np.median(cpu)))
    out["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    out["load_average"] = round(os.getloadavg()[0], 1)
    out["opencv_threads"] = cv2.getNumThreads()
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=200, help="pictures per set (copy-move: n clean + "
                   "n cloned; the other sets n/2)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", metavar="FILE", help="also write the figures here")
    p.add_argument("--only", choices=["time", "copymove", "pasted", "jpeg", "thumbnail"])
    args = p.parse_args(argv)
    pics = photos()
    rng = np.random.default_rng(args.seed)
    figures = {"photos": len(pics), "n": args.n}
    steps = {"copymove": lambda: bench_copymove(pics, rng, args.n),
             "pasted": lambda: bench_pasted(pics, rng, args.n // 2),
             "jpeg": lambda: bench_jpeg(pics, rng, args.n // 2),
             "thumbnail": lambda: bench_thumbnail(pics, rng, args.n // 2),
             "time": lambda: bench_time()}
    for name, step in steps.items():
        if args.only and name != args.only:
            continue
        t0 = time.perf_counter()
        figures[name] = step()
        figures[name]["bench_s"] = round(time.perf_counter() - t0, 1)
        print(name, json.dumps(figures[name]), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
