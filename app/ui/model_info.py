"""Help > About the model: the model card in plain words (or a plain 'none installed')."""

from __future__ import annotations

import html

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QTextBrowser, QVBoxLayout

from app.core.detector import shown_cutoffs
from app.core.paths import default_model_card

# Keys shown in their own section; everything else in the card goes under "Other details".
_DATA_KEYS = ("training_data", "trained_on", "data", "datasets", "dataset")
_METRIC_KEYS = ("metrics", "evaluation", "measured")
_LIMIT_KEYS = ("limits", "known_limits", "limitations", "caveats")
_SKIP = {"id", "trained", "architecture", "input_size", "normalization", "threshold",
         "uncertain_band", "calibration", "crop_scale", "gradcam_target_layer", "weights_file",
         "weights_sha256", "description", "name", "date", "pretrained_from", "recipe",
         "best_step", *_DATA_KEYS, *_METRIC_KEYS, *_LIMIT_KEYS}


def _e(value) -> str:
    return html.escape(str(value))


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.3f}"
    if isinstance(value, list):
        return ", ".join(_fmt(v) for v in value)
    return _e(value)


# Metric names as a reader knows them; rates in [0, 1] are shown as percentages.
_NAMES = {"roc_auc": "ROC AUC", "auc": "ROC AUC", "ece_after": "calibration error",
          "fpr": "false alarms on real faces", "tpr": "fakes caught", "n": "images",
          "uncertain_share": "called uncertain", "dev_eval": "evaluation (held out)",
          "dev_cal": "calibration split", "utk_real_fpr": "false alarms on UTKFace real faces",
          "real_fpr_by_group": "false alarms by group", "no_face": "no face found"}
_RATES = {"accuracy", "precision", "recall", "fpr", "tpr", "uncertain_share", "utk_real_fpr",
          "real_fpr_by_group"}  # a dict of rates: everything under it is a rate too


def _name(key: str) -> str:
    return _NAMES.get(key, key.replace("_", " "))


def _rows(obj, prefix: str = "", rate: bool = False) -> list[tuple[str, str]]:
    """Nested dicts -> ("evaluation (held out) / ffpp / ROC AUC", "0.870") rows."""
    if isinstance(obj, dict):
        out = []
        for k, v in obj.items():
            if v is None or k == "note":
                continue
            label = f"{prefix} / {_name(k)}" if prefix else _name(str(k))
            out += _rows(v, label, rate or k in _RATES)
        return out
    if rate and isinstance(obj, float) and 0 <= obj <= 1:
        return [(prefix, f"{100 * obj:.1f}%")]
    return [(prefix, _fmt(obj))]


def _section(title: str, body: str) -> str:
    return f"<h3>{_e(title)}</h3>{body}"


def _as_list(value) -> str:
    if isinstance(value, list):
        return "<ul>" + "".join(f"<li>{_fmt(v)}</li>" for v in value) + "</ul>"
    if isinstance(value, dict):
        note = f"<p><i>{_e(value['note'])}</i></p>" if isinstance(value.get("note"), str) else ""
        return _table(_rows(value)) + note
    return f"<p>{_e(value)}</p>"


def _table(rows: list[tuple[str, str]]) -> str:
    cells = "".join(f"<tr><td style='padding-right:16px'>{_e(k)}</td><td><b>{v}</b></td></tr>"
                    for k, v in rows)
    return f"<table>{cells}</table>"


_PLAIN_SETS = {"gan": "AI-generated faces (GAN) vs real web photos",
               "ffpp": "Face-swap video deepfakes (FaceForensics++) vs real video frames",
               "dfdc": "Face-swap video deepfakes (DFDC, other videos) vs real frames"}


def _rate(m: dict, *keys: str) -> float:
    """The first of `keys` present (round 1's cards say fpr/recall, round 2's say it in words)."""
    return next((float(m[k]) for k in keys if m.get(k) is not None), 0.0)


def _plain_figures(raw: dict) -> str:
    """The figures a journalist needs, in words, from metrics.dev_eval (ship.py's layout)."""
    ev = (raw.get("metrics") or {}).get("dev_eval") or {}
    rows = []
    for key, label in _PLAIN_SETS.items():
        m = ev.get(key)
        if not isinstance(m, dict) or m.get("roc_auc") is None:
            continue
        auc = m["roc_auc"]
        skill = ("good" if auc >= 0.9 else "fair" if auc >= 0.75 else "poor" if auc >= 0.6
                 else "close to guessing")
        rows.append((label, f"{skill}: ranks a fake above a real {100 * auc:.0f}% of the time; "
                            f"{100 * _rate(m, 'fpr', 'real_called_fake'):.0f}% of real faces "
                            f"called fake, {100 * _rate(m, 'recall', 'fakes_caught'):.0f}% of "
                            "fakes called fake, "
                            f"{100 * _rate(m, 'uncertain_share', 'uncertain'):.0f}% left "
                            "uncertain"))
    utk = ev.get("utk_real_fpr")
    if utk is None and isinstance(ev.get("utk"), dict):
        utk = ev["utk"].get("real_called_fake")
    if utk is not None:
        rows.append(("Real portraits of all ages and ethnicities (UTKFace)",
                     f"{100 * utk:.1f}% called fake"))
    if not rows:
        return ""
    return _table(rows) + ("<p><i>Small development sets; results on other material will "
                           "differ.</i></p>")


def card_html(card, error: str | None = None) -> str:
    """The model card as simple HTML; `card` None means no model could be read."""
    if card is None:
        where = _e(default_model_card())
        return (
            "<h2 style='color:#c62828'>No trained detector installed</h2>"
            f"<p>{_e(error or '')}</p>"
            "<p>The app can open images and find faces, but it cannot say whether a face is real "
            "or fake until a trained detector is installed. It will not guess.</p>"
            f"<p>The detector's model card is expected at:<br><code>{where}</code></p>"
        )
    raw = card.raw or {}
    parts = [f"<h2>{_e(raw.get('name') or card.id)}</h2>"]
    if not card.trained:
        parts.append("<p style='background:#c62828;color:white;padding:6px'><b>UNTRAINED TEST "
                     "MODEL.</b> Its scores are random and mean nothing. For testing only.</p>")
    if raw.get("description"):
        parts.append(f"<p>{_e(raw['description'])}</p>")
    facts = [("Model id", _e(card.id)), ("Network", _e(card.architecture)),
             ("Looks at faces of", f"{card.input_size} x {card.input_size} pixels")]
    if raw.get("date"):
        facts.append(("Made on", _e(raw["date"])))
    parts.append(_section("What it is", _table(facts)))
    lo, hi = shown_cutoffs(card)  # the whole percents every shown score respects
    if lo is not None:
        tiers = [f"Below {lo}% a face is called <b>real</b> (no sign of manipulation found); "
                 f"from {lo}% to {hi - 1}% the verdict is <b>uncertain</b> (the model cannot "
                 f"tell reliably: check the picture by other means); from {hi}% up it is "
                 "called <b>fake</b>."]
    else:
        tiers = [f"From {hi}% up a face is called <b>fake</b>; below, <b>real</b>."]
    tiers.append("A picture takes the verdict of its most suspicious face (a face judged fake "
                 "before one left uncertain, then the highest score).")
    parts.append(_section("How to read the scores", "<p>" + " ".join(tiers) + "</p>"))
    limits = [raw[k] for k in _LIMIT_KEYS if raw.get(k)]
    parts.append(_section("Known limits", "".join(_as_list(v) for v in limits) if limits else
                          "<p>The model card lists none. Every detector has limits: treat a "
                          "score as one clue, never as proof.</p>"))
    plain = _plain_figures(raw)
    if plain:
        parts.append(_section("How well it works (held-out development data)", plain))
    for title, keys, none in (
            ("What it learned from", (*_DATA_KEYS, "pretrained_from"),
             "The model card does not say what data the model learned from."),
            ("Technical details of the measurements", _METRIC_KEYS,
             "The model card gives no measured figures for this model.")):
        found = [raw[k] for k in keys if raw.get(k)]
        parts.append(_section(title, "".join(_as_list(v) for v in found) if found
                              else f"<p>{none}</p>"))
    other = [(k.replace("_", " "), _fmt(v)) for k, v in raw.items()
             if k not in _SKIP and not isinstance(v, dict | list)]
    if other:
        parts.append(_section("Other details", _table(other)))
    parts.append(_section("Terms used above", _table(TERMS)))
    return "\n".join(parts)


# The card is written by and for engineers; these are its words for a journalist.
TERMS = [
    ("AUC (ROC AUC)", "How often the model scores a fake above a real face, over many pairs: "
     "1.0 = always, 0.5 = no better than a coin."),
    ("ECE", "How far the scores are from the rates they claim, on average: 0.05 means that "
     "faces given about 80 % turned out fake roughly 75-85 % of the time on development data."),
    ("dev / held-out data", "Pictures kept apart from training to measure the model; "
     "\u201cunseen\u201d or cross-dataset figures come from a source it never learned from."),
    ("cal split", "The part of the development data used to set the score scale and the "
     "verdict ranges, never to train."),
    ("DFDC, FF++ (FaceForensics++), UTKFace", "Research data sets of face swaps and of real "
     "faces, named by their usual abbreviations."),
]


def load_installed_card():
    """(card, error message) for the installed detector, without loading torch."""
    from app.core.detector import ModelCard
    from app.core.errors import ModelError

    try:
        return ModelCard.from_file(default_model_card()), None
    except ModelError as exc:
        return None, str(exc)


class ModelInfoDialog(QDialog):
    def __init__(self, card, error: str | None = None, parent=None) -> None:
        super().__init__(parent)
        self.setWindowTitle("About the model")
        self.resize(620, 640)
        self.browser = QTextBrowser()
        self.browser.setOpenExternalLinks(False)
        self.browser.setHtml(card_html(card, error))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addWidget(self.browser)
        lay.addWidget(buttons)
