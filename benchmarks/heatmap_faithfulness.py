"""Do the heatmaps point at what drives the verdict? A deletion test: figures, not pass/fail.

    python -m benchmarks.heatmap_faithfulness [--data ../shared/data] [--n 60] [--threads 2]

For dev deepfakes the shipped detector calls fake-leaning (FF++ Deepfakes frames and DFDC dev
fakes: p(fake) >= 0.5 on the app's own face crop), each heatmap method's hottest 10 % / 25 % of
the crop is replaced (by a blurred copy, Gaussian sigma 5; or by the crop's mean colour) and the
face re-scored; the drop in the fake logit says how much of the evidence the map found. The
same area replaced at random 14 x 14-grid cells (3 draws) is the floor. Methods: the card's
`gradcam` (GradCAM hooked on `gradcam_target_layer`, one backward pass) and, for CLIP cards,
`token_relevance` (ClipDetector.relevance: every feature layer's direct gradient x token
deviation, no backward pass through the transformer); both run on the same loaded weights.
Per-method time per face is printed too. Needs the dev data (../shared/data); the network
is never touched.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

import numpy as np

from benchmarks.speed import _block_network, _set_threads


def _fakes(data: Path, n: int, offset: int = 0) -> list[Path]:
    """Every k-th file from `offset` (offset 1, 2, ... give disjoint samples)."""
    ff = sorted((data / "dev/ffpp/Deepfakes").iterdir())
    dfdc = sorted((data / "dev/dfdc/fake").iterdir())
    return ff[offset:: max(1, len(ff) // n)][:n] + dfdc[offset:: max(1, len(dfdc) // n)][:n]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared"
                    / "data")
    ap.add_argument("--weights", default=None, help="model card (default: the shipped one)")
    ap.add_argument("--n", type=int, default=60, help="fakes per source (FF++, DFDC)")
    ap.add_argument("--offset", type=int, default=0,
                    help="start of the every-k-th sample (1, 2, ...: other files)")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    _block_network()
    _set_threads(args.threads)
    import cv2

    from app.core.detector import (
        ARCH_CLIP,
        HEATMAP_GRADCAM,
        HEATMAP_TOKEN_RELEVANCE,
        Detector,
    )
    from app.core.explain import Explainer
    from app.core.faces import FaceFinder, face_crop
    from app.core.images import load_image

    base = Detector.load(args.weights)
    methods = [HEATMAP_GRADCAM] + ([HEATMAP_TOKEN_RELEVANCE]
                                   if base.card.architecture == ARCH_CLIP else [])
    explainers = {m: Explainer(Detector(dataclasses.replace(base.card, heatmap_method=m),
                                        base.model)) for m in methods}
    finder = FaceFinder()
    card = base.card
    rng = np.random.default_rng(0)
    fracs, fills = (0.1, 0.25), ("blur", "grey")
    drops: dict[tuple, list[float]] = {}
    secs: dict[str, list[float]] = {m: [] for m in methods}
    used = 0
    for path in _fakes(args.data, args.n, args.offset):
        rgb = load_image(path).rgb
        faces = finder.find(rgb)
        if not faces:
            continue
        crop = face_crop(rgb, faces[0].box, card.input_size, card.crop_scale)[0]
        z0 = float(base.predict(crop[None])[0][0])
        if z0 < 0:
            continue
        used += 1
        filled = {"blur": cv2.GaussianBlur(crop, (0, 0), 5),
                  "grey": np.broadcast_to(crop.reshape(-1, 3).mean(0).astype(np.uint8),
                                          crop.shape)}

        def drop(mask: np.ndarray, fill: str, crop=crop, filled=filled, z0=z0) -> float:
            x = np.where(mask[..., None], filled[fill], crop)
            return z0 - float(base.predict(x[None])[0][0])

        masks: dict[str, list[np.ndarray]] = {}
        for m, ex in explainers.items():
            t = time.perf_counter()
            heat = ex.explain(crop[None])[2][0]
            secs[m].append(time.perf_counter() - t)
            masks[m] = [heat >= np.quantile(heat, 1 - f) for f in fracs]
        cells = [cv2.resize(rng.random((14, 14)), crop.shape[:2][::-1],
                            interpolation=cv2.INTER_NEAREST) for _ in range(3)]
        for k, frac in enumerate(fracs):
            for fill in fills:
                for m in methods:
                    drops.setdefault((fill, frac, m), []).append(drop(masks[m][k], fill))
                drops.setdefault((fill, frac, "random (floor)"), []).append(float(np.mean(
                    [drop(c >= np.quantile(c, 1 - frac), fill) for c in cells])))
    print(f"detector {card.id}; {used} dev fakes scored fake-leaning (p >= 0.5), "
          f"threads {args.threads}")
    print("fake-logit drop when the hottest area is replaced (mean / median; higher = the map "
          "found more of the evidence)")
    for (fill, frac, m), d in drops.items():
        print(f"  {fill:4s} {frac:4.0%}  {m:16s} {np.mean(d):6.3f} / {np.median(d):6.3f}")
    for m in methods:
        print(f"ms per face, {m:16s}: {1000 * np.median(secs[m]):.0f} (score + map)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
