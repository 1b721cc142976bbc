"""Deterministic splits of the development data: by swap pair for FF++ (frames of one video are
near-duplicates, and a swap shows a second person's face), by file for GAN and UTKFace.
'cal' tunes/calibrates, 'eval' is only reported.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

# GAN dev data: part of it is used for training (GAN faces carry no blending boundary).
GAN_FRACTIONS = {"train": 0.5, "cal": 0.2, "eval": 0.3}
# Half the FF++ videos train (real deepfakes teach what SBI alone did not, see DETECTOR.md).
FFPP_FRACTIONS = {"train": 0.5, "cal": 0.2, "eval": 0.3}
UTK_FRACTIONS = {"train": 0.9, "cal": 0.05, "eval": 0.05}


def _bucket(key: str, fractions: dict[str, float]) -> str:
    u = int(hashlib.sha256(key.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    acc = 0.0
    for name, frac in fractions.items():
        acc += frac
        if u <= acc:
            return name
    return list(fractions)[-1]


# FF++ swaps come in pairs (035_036 puts 036's face into 035's video, 036_035 the reverse), so
# one person's face is in four folders' worth of frames. The dev set's pairs, from its listing:
FFPP_PAIRS = ("035_036", "055_147", "159_175", "263_284", "272_396", "644_657", "648_654",
              "712_716", "811_920", "917_924", "980_992", "986_994")
_FFPP_GROUP = {v: pair for pair in FFPP_PAIRS for v in pair.split("_")}


def ffpp_group(name: str) -> str:
    """The split unit for FF++: every video that shows either person of a swap pair.

    Splitting by target video alone put 036's face in training (inside fake 035_036) and 036's
    real video in evaluation, so a model could learn "this person is fake": the split leaked
    identity. Real '036_0030.png', fakes '035_036_0030.png' and '036_035_...' share a group.
    """
    parts = Path(name).name.split("_")
    ids = [p for p in parts[:2] if p.isdigit() and len(p) == 3] or parts[:1]
    group = {_FFPP_GROUP.get(i, i) for i in ids}
    return "+".join(sorted(group))


def split_of(dataset: str, name: str) -> str:
    if dataset.startswith("ffpp"):
        return _bucket("ffpp:" + ffpp_group(name), FFPP_FRACTIONS)
    if dataset.startswith("gan"):
        return _bucket("gan:" + Path(name).name, GAN_FRACTIONS)
    if dataset.startswith("dfdc_train"):
        # train/dfdc is a training set as a whole: its source videos are not in dev/dfdc (the
        # data README), which holds DFDC's cal/eval faces (split by group in clip_features).
        return "train"
    if dataset == "utkface":
        return _bucket("utk:" + Path(name).name, UTK_FRACTIONS)
    raise ValueError(dataset)


def utk_groups(name: str) -> dict[str, str] | None:
    """UTKFace 'AGE_GENDER_RACE_DATE.jpg' -> age band, gender and ethnicity labels."""
    parts = Path(name).name.split("_")
    try:
        age, gender, race = int(parts[0]), int(parts[1]), int(parts[2])
    except (IndexError, ValueError):
        return None
    bands = [(0, 12, "0-12"), (13, 19, "13-19"), (20, 39, "20-39"), (40, 59, "40-59"),
             (60, 200, "60+")]
    band = next(b for lo, hi, b in bands if lo <= age <= hi)
    races = {0: "White", 1: "Black", 2: "Asian", 3: "Indian", 4: "Others"}
    return {"age": band, "gender": {0: "male", 1: "female"}.get(gender, "?"),
            "ethnicity": races.get(race, "?")}
