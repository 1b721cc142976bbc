"""Copy-move: parts of the picture cloned elsewhere in the same picture (keypoints + RANSAC)."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from app.core.forensics.common import Finding, ForensicResult, gray, map_size

TITLE = "Copy-move (cloned regions)"
HOW_TO_READ = (
    "Distinctive points (corners, small details) are found all over the picture and each is "
    "compared with all the others. When many points in one area match points in another area "
    "under one consistent shift (allowing for rotation and resizing), and the fine detail of the "
    "two areas agrees pixel for pixel, one area was probably copied onto the other: the lines "
    "join the matched points and the boxes mark the two regions. The confidence grows with the "
    "number of agreeing points and with that pixel agreement; docs/FORENSICS.md says how often "
    "it was right on test pictures. Genuinely repeated things (letters of printed text, tiles, "
    "patterns, two identical products) also match, so look at what the boxes show. Flat areas "
    "(sky, walls) have no points, so a clone there cannot be seen; nor can a clone that was "
    "mirrored, heavily blurred or recompressed. The sensitivity slider lowers the number of "
    "agreeing points needed (more finds, more false alarms)."
)
WORK_SIDE = 1024  # px: keypoints on a copy this large (bounded time on a 12 MP photo)
N_FEATURES = 4000
RATIO = 0.6  # g2NN (Amerini et al.): the best match must clearly beat the second best
K_NEIGHBOURS = 6
MIN_SHIFT = 24  # px at work size: closer pairs are the same texture, not a copy
# Points that must agree on one transform (fewer: chance alignments on textured pictures)...
MIN_INLIERS = 10
# ...and how well the two regions' fine detail must correlate once mapped onto each other: in
# trials most clones scored above 0.9, look-alike textures that fooled the keypoints 0.2-0.45.
MIN_AGREEMENT = 0.6
SCALES = (0.5, 2.0)
MAX_CLUSTERS = 4
COLORS = [(255, 64, 64), (64, 200, 255), (255, 210, 0), (140, 255, 120)]


@dataclass
class Clone:
    source: tuple[int, int, int, int]  # box in image pixels
    target: tuple[int, int, int, int]
    inliers: int
    confidence: float
    transform: list[list[float]]  # 2 x 3, source -> target, image pixels
    pairs: np.ndarray  # N x 4: x1, y1, x2, y2 (image pixels)
    agreement: float = 0.0  # band-pass correlation of the two regions (1 = identical detail)


def _keypoints(g: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    sift = cv2.SIFT_create(nfeatures=N_FEATURES, contrastThreshold=0.02)
    kps, des = sift.detectAndCompute(g, None)
    pts = np.array([k.pt for k in kps], np.float32).reshape(-1, 2)
    return pts, des


def _candidate_pairs(pts: np.ndarray, des: np.ndarray | None) -> np.ndarray:
    """(i, j) index pairs, i < j, that pass the ratio test and are far enough apart."""
    if des is None or len(pts) < 3:
        return np.zeros((0, 2), np.int64)
    # A k-d tree forest: about three times faster than brute force at a few thousand points,
    # and the ratio test discards the rare approximate neighbour that is wrong.
    matcher = cv2.FlannBasedMatcher({"algorithm": 1, "trees": 4}, {"checks": 64})
    out = set()
    for ms in matcher.knnMatch(des, des, k=K_NEIGHBOURS):
        # Skip the point itself and its near twins (SIFT gives one point several orientations):
        # the ratio test compares the first two candidates that lie elsewhere in the picture.
        others = [m for m in ms if m.trainIdx != m.queryIdx
                  and np.hypot(*(pts[m.queryIdx] - pts[m.trainIdx])) >= MIN_SHIFT]
        if len(others) < 2:
            continue
        best, second = others[0], others[1]
        if best.distance >= RATIO * second.distance:
            continue
        i, j = best.queryIdx, best.trainIdx
        out.add((min(i, j), max(i, j)))
    return np.array(sorted(out), np.int64).reshape(-1, 2)


def _confidence(inliers: int, min_inliers: int, agreement: float) -> float:
    """0.5 at both thresholds, towards 1 with more agreeing points and closer pixel agreement
    (a score, not a probability: docs/FORENSICS.md gives the measured rates)."""
    points = 1.0 - np.exp(-(inliers - min_inliers + 1) / 10.0)
    pixels = np.clip((agreement - MIN_AGREEMENT) / (1.0 - MIN_AGREEMENT), 0.0, 1.0)
    return float(np.clip(0.5 + 0.25 * points + 0.25 * pixels, 0.5, 0.99))


def find_clones(rgb: np.ndarray, min_inliers: int = MIN_INLIERS) -> list[Clone]:
    """Clusters of matched points related by one similarity transform (rotation, scale, shift)."""
    h, w = rgb.shape[:2]
    s = min(1.0, WORK_SIDE / max(h, w))
    g = gray(rgb)
    if s < 1.0:
        g = cv2.resize(g, (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA)
    pts, des = _keypoints(g)
    pairs = _candidate_pairs(pts, des)
    clones: list[Clone] = []
    while len(pairs) >= min_inliers and len(clones) < MAX_CLUSTERS:
        # Each pair in both directions: RANSAC picks whichever copy is the "source".
        src = np.concatenate([pts[pairs[:, 0]], pts[pairs[:, 1]]])
        dst = np.concatenate([pts[pairs[:, 1]], pts[pairs[:, 0]]])
        m, mask = cv2.estimateAffinePartial2D(src, dst, method=cv2.RANSAC,
                                              ransacReprojThreshold=3.0, maxIters=3000,
                                              confidence=0.999, refineIters=10)
        if m is None:
            break
        mask = mask.ravel().astype(bool)
        n = len(pairs)
        used = mask[:n] | mask[n:]
        inl_src = np.where(mask[:n, None], pts[pairs[:, 0]], pts[pairs[:, 1]])[used]
        inl_dst = np.where(mask[:n, None], pts[pairs[:, 1]], pts[pairs[:, 0]])[used]
        pairs = pairs[~used]
        scale = float(np.sqrt(abs(np.linalg.det(m[:, :2]))))
        shift = float(np.median(np.hypot(*(inl_dst - inl_src).T))) if len(inl_src) else 0.0
        if used.sum() < min_inliers:
            break
        if not (SCALES[0] <= scale <= SCALES[1]) or shift < MIN_SHIFT:
            continue  # a degenerate model: drop its points, look for another
        ncc = _agreement(g, m, inl_dst)
        if ncc < MIN_AGREEMENT:
            continue  # similar texture (bricks, foliage), not the same pixels
        clones.append(_clone(inl_src / s, inl_dst / s, m, s, min_inliers, ncc))
    return clones


def _agreement(g: np.ndarray, m: np.ndarray, dst: np.ndarray) -> float:
    """Correlation of the fine detail (band-pass) of the target region with the source mapped
    onto it: near 1 for a copy (JPEG and resampling lower it a little), low for look-alikes."""
    f = g.astype(np.float32)
    band = f - cv2.GaussianBlur(f, (0, 0), 3.0)
    warped = cv2.warpAffine(band, m.astype(np.float64), (g.shape[1], g.shape[0]),
                            flags=cv2.INTER_LINEAR)
    mask = np.zeros(g.shape, np.uint8)
    cv2.fillConvexPoly(mask, cv2.convexHull(dst.astype(np.int32)), 1)
    sel = mask.astype(bool)
    if sel.sum() < 64:
        return 0.0
    a, b = band[sel], warped[sel]
    a, b = a - a.mean(), b - b.mean()
    return float((a * b).sum() / np.sqrt((a * a).sum() * (b * b).sum() + 1e-9))


def _clone(src: np.ndarray, dst: np.ndarray, m: np.ndarray, s: float, min_inl: int,
           ncc: float) -> Clone:
    def box(p: np.ndarray) -> tuple[int, int, int, int]:
        pad = 12 / s
        return (int(p[:, 0].min() - pad), int(p[:, 1].min() - pad), int(p[:, 0].max() + pad),
                int(p[:, 1].max() + pad))

    t = m.astype(np.float64).copy()
    t[:, 2] /= s  # the translation was measured at work size
    return Clone(box(src), box(dst), len(src), _confidence(len(src), min_inl, ncc),
                 np.round(t, 4).tolist(), np.hstack([src, dst]).astype(np.float32), ncc)


def draw(rgb: np.ndarray, clones: list[Clone]) -> tuple[np.ndarray, float]:
    """The picture, dimmed, with each clone's matched pairs and boxes drawn in its colour."""
    h, w = rgb.shape[:2]
    mw, mh, scale = map_size(w, h)
    canvas = cv2.resize(rgb, (mw, mh), interpolation=cv2.INTER_AREA) if scale < 1 else rgb.copy()
    canvas = (canvas * 0.55).astype(np.uint8)
    thick = max(1, round(max(mw, mh) / 600))
    for k, c in enumerate(clones):
        color = COLORS[k % len(COLORS)]
        for x1, y1, x2, y2 in c.pairs * scale:
            cv2.line(canvas, (int(x1), int(y1)), (int(x2), int(y2)), color, thick, cv2.LINE_AA)
            cv2.circle(canvas, (int(x1), int(y1)), 2 * thick, color, -1, cv2.LINE_AA)
        for b in (c.source, c.target):
            x1, y1, x2, y2 = (int(v * scale) for v in b)
            cv2.rectangle(canvas, (x1, y1), (x2, y2), color, 2 * thick, cv2.LINE_AA)
    return canvas, scale


def run(rgb: np.ndarray, sensitivity: int = 0, **_) -> ForensicResult:
    """Clones with confidence (the only 'edited' claim this filter makes) and the pairs drawn."""
    min_inl = max(6, MIN_INLIERS - int(sensitivity))
    clones = find_clones(rgb, min_inl)
    findings = [Finding(
        "copy_move",
        f"Two regions match, {_where(c.source)} and {_where(c.target)}: {c.inliers} points "
        f"agree on one shift{_describe(c.transform)}; one is probably a copy of the other "
        f"(confidence {c.confidence:.0%}).",
        severity="warning", confidence=c.confidence, edited=True,
        boxes=[c.source, c.target],
        data={"inliers": c.inliers, "agreement": round(c.agreement, 3),
              "transform": c.transform},
    ) for c in clones]
    if not clones:
        findings.append(Finding("copy_move", "No cloned region found (flat areas cannot be "
                                "checked).", data={"min_inliers": min_inl}))
    canvas, scale = draw(rgb, clones)
    return ForensicResult("copymove", canvas, findings, {"sensitivity": int(sensitivity)},
                          map_scale=scale)


def _where(box: tuple[int, int, int, int]) -> str:
    x1, y1, x2, y2 = box
    return f"x {x1}-{x2} / y {y1}-{y2}"


def _describe(t: list[list[float]]) -> str:
    a, b = t[0][0], t[1][0]
    angle = float(np.degrees(np.arctan2(b, a)))
    scale = float(np.hypot(a, b))
    parts = []
    if abs(angle) > 2:
        parts.append(f"rotated {angle:.0f}°")
    if abs(scale - 1) > 0.03:
        parts.append(f"scaled x{scale:.2f}")
    return f" ({', '.join(parts)})" if parts else ""
