"""The face classifier: model card + weights -> p(fake) per face crop.

Weights load only from safetensors or `torch.load(weights_only=True)`: nothing is unpickled.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from app.core.errors import ModelError, NoTrainedModelError
from app.core.paths import default_model_card

ARCH_INCEPTION = "inception_resnet_v1"
ARCH_FACERES = "faceres_mobilenet_v1"
ARCH_CLIP = "clip_vit_b16_multilayer"

# Per architecture: the module path GradCAM hooks by default.
DEFAULT_TARGET_LAYER = {
    ARCH_INCEPTION: "block8.branch1.2",  # the paper's block8.branch1[-1]
    ARCH_FACERES: "backbone.blocks.12.pw",
    ARCH_CLIP: "backbone.encoder.layers.0",  # upstream of every feature layer
}

VGGFACE2_BGR_MEAN = (91.4953, 103.8827, 131.0912)


HEATMAP_GRADCAM = "gradcam"
HEATMAP_TOKEN_RELEVANCE = "token_relevance"
HEATMAP_METHODS = (HEATMAP_GRADCAM, HEATMAP_TOKEN_RELEVANCE)


@dataclass
class ModelCard:
    """What the app needs to know about a detector; the JSON may hold much more (kept in `raw`)."""

    id: str
    architecture: str
    input_size: int
    normalization: str  # "unit" (x/255), "fixed_standardization", "vggface2_bgr_mean"
    threshold: float = 0.5
    uncertain_band: tuple[float, float] | None = None  # p(fake) inside it -> "uncertain"
    temperature: float = 1.0  # calibrated p = sigmoid((logit + bias) / temperature)
    bias: float = 0.0
    crop_scale: float = 1.3
    # Test-time views averaged into one score: crop scales (relative to crop_scale) x mirror.
    # Empty = one view. A card's calibration holds only for the views it was measured with.
    view_scales: tuple[float, ...] = ()
    view_flip: bool = False
    gradcam_layer: str | None = None
    # How the heatmap is made: "gradcam" (hook `gradcam_layer`, one backward pass) or
    # "token_relevance" (CLIP multi-layer heads: ClipDetector.relevance, no backward pass).
    heatmap_method: str = HEATMAP_GRADCAM
    trained: bool = True
    weights_file: str | None = None
    weights_sha256: str | None = None
    # A frozen pretrained backbone kept in its own file (CLIP: int8 weights + scales).
    backbone_file: str | None = None
    backbone_sha256: str | None = None
    autocast: str | None = None  # "bfloat16": run the model under CPU bf16 autocast
    raw: dict[str, Any] = field(default_factory=dict, repr=False)
    path: Path | None = None

    @classmethod
    def from_file(cls, path: str | Path) -> ModelCard:
        path = Path(path)
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise NoTrainedModelError(f"No model card at {path}.") from exc
        except (OSError, ValueError) as exc:
            raise ModelError(f"The model card {path} is unreadable: {exc}") from exc
        try:
            cal = raw.get("calibration") or {}
            band = raw.get("uncertain_band")
            return cls(
                id=str(raw["id"]),
                architecture=str(raw["architecture"]),
                input_size=int(raw["input_size"]),
                normalization=str(raw["normalization"]),
                threshold=float(raw.get("threshold", 0.5)),
                uncertain_band=tuple(float(v) for v in band) if band else None,
                temperature=float(cal.get("temperature", 1.0)),
                bias=float(cal.get("bias", 0.0)),
                crop_scale=float(raw.get("crop_scale", 1.3)),
                view_scales=tuple(float(v) for v in (raw.get("test_time_views") or {})
                                  .get("scales", ())),
                view_flip=bool((raw.get("test_time_views") or {}).get("flip", False)),
                gradcam_layer=raw.get("gradcam_target_layer"),
                heatmap_method=_heatmap_method(raw),
                trained=bool(raw.get("trained", False)),
                weights_file=raw.get("weights_file"),
                weights_sha256=raw.get("weights_sha256"),
                backbone_file=(raw.get("backbone") or {}).get("file"),
                backbone_sha256=(raw.get("backbone") or {}).get("sha256"),
                autocast=raw.get("autocast"),
                raw=raw,
                path=path,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelError(f"The model card {path} lacks a valid field: {exc}") from exc

    def extra_views(self) -> list[tuple[float, bool]]:
        """(crop scale, mirrored) of the views scored besides the main one (crop_scale, plain)."""
        scales = self.view_scales or (1.0,)
        views = [(self.crop_scale * s, f) for s in scales
                 for f in ((False, True) if self.view_flip else (False,))]
        return [v for v in views if not (abs(v[0] - self.crop_scale) < 1e-9 and not v[1])]

    def calibrate(self, logits: np.ndarray) -> np.ndarray:
        z = (np.asarray(logits, np.float64) + self.bias) / self.temperature
        return 1.0 / (1.0 + np.exp(-z))

    def tier(self, p_fake: float) -> str:
        """'fake', 'real' or 'uncertain' for a calibrated p(fake). The band wins over the
        threshold, and reaches up to the threshold even where its stored upper end stops short
        (cards store it rounded, e.g. [0.3196, 0.9571] with the threshold at 0.9572: a p of
        0.95715 would otherwise have been called real)."""
        return tier_of(p_fake, self.threshold, self.uncertain_band)


def tier_of(p_fake: float, threshold: float, band: tuple[float, float] | None) -> str:
    """ModelCard.tier for any cutoffs (a clip stores the ones it was judged with)."""
    if band:
        lo, hi = band
        if lo <= p_fake and (p_fake <= hi or p_fake < threshold):
            return "uncertain"
    return "fake" if p_fake >= threshold else "real"


def shown_cutoffs(cutoffs) -> tuple[int | None, int]:
    """(band start, fake cutoff) as the whole percents the app prints: "below L % real, from
    L % to H - 1 % uncertain, from H % up fake". `cutoffs`: anything with `threshold` and
    `uncertain_band` (a ModelCard, or a clip's stored settings)."""
    band = cutoffs.uncertain_band
    top = max(band[1], cutoffs.threshold) if band else cutoffs.threshold
    lo = round(100 * band[0]) if band else None
    hi = round(100 * top)
    return (lo if lo is None or lo < hi else None), hi


def judged_by(card, record):
    """`card` when it judged `record` (a result or history entry with the same model id), so
    the record's shown percent can agree with its verdict; else None (plain rounding)."""
    return card if card is not None and getattr(record, "model", None) == card.id else None


def shown_percent(p_fake: float, cutoffs=None) -> int:
    """p(fake) as the whole percent the app shows. Given the cutoffs the face was judged by,
    rounding never crosses the printed ones: with the band starting at 31.96 %, a real face at
    31.8 % reads 31 %, not a "32 %" that the words "below 32 % real" would contradict (at most
    one point from plain rounding, and only next to a cutoff)."""
    n = round(100 * p_fake)
    if cutoffs is None:
        return n
    lo, hi = shown_cutoffs(cutoffs)
    tier = tier_of(p_fake, cutoffs.threshold, cutoffs.uncertain_band)
    if tier == "fake":
        n = max(n, hi)
    elif tier == "uncertain" and lo is not None:
        n = min(max(n, lo), hi - 1)
    elif tier == "real":
        n = min(n, (hi if lo is None else lo) - 1)
    return max(0, min(100, n))


def build_model(architecture: str, card: ModelCard | None = None):
    """An untrained network of the named architecture (never downloads anything)."""
    if architecture == ARCH_CLIP:
        from app.core.models.clip_vit import DEFAULT_FEATURE_LAYERS, DEFAULT_POOLS, ClipDetector

        layers = (card.raw.get("feature_layers") if card else None) or DEFAULT_FEATURE_LAYERS
        pools = (card.raw.get("feature_pools") if card else None) or DEFAULT_POOLS
        return ClipDetector(feature_layers=layers, pools=pools)
    if architecture == ARCH_INCEPTION:
        from facenet_pytorch import InceptionResnetV1

        return InceptionResnetV1(pretrained=None, classify=True, num_classes=1)
    if architecture == ARCH_FACERES:
        from app.core.models.faceres import FaceResDetector

        return FaceResDetector()
    raise ModelError(f"Unknown detector architecture '{architecture}'.")


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _seed_card(path: Path) -> ModelCard:
    """The seed paper's checkpoint: InceptionResnetV1, 256 px faces, pixels / 255, threshold 0.5."""
    return ModelCard(
        id=f"seed-checkpoint:{path.name}",
        architecture=ARCH_INCEPTION,
        input_size=256,
        normalization="unit",
        threshold=0.5,
        trained=True,
        crop_scale=1.0,
        raw={"note": "external checkpoint in the seed paper's format; not calibrated by us"},
        path=path,
    )


class Detector:
    """A loaded classifier: crops (N, H, W, 3 uint8 RGB) -> logits and calibrated p(fake)."""

    def __init__(self, card: ModelCard, model) -> None:
        self.card = card
        self.model = model.eval()
        self._mean = None

    @classmethod
    def load(cls, weights: str | Path | None = None, *, allow_untrained: bool = False,
             cast_weights: bool = True) -> Detector:
        """Load from a model card (.json), safetensors with a card beside it, or a seed checkpoint.

        `weights=None` uses the app's bundled card. An untrained card is refused unless
        `allow_untrained` (tests): the app never presents random weights as a verdict.
        `cast_weights=False` keeps float32 backbone weights even under a bf16 card (tests compare
        the two; see :func:`cast_for_autocast`).
        """
        path = Path(weights) if weights else default_model_card()
        if path.suffix in (".pt", ".pth", ".ckpt"):
            return cls._load_checkpoint(path)
        card_path = path if path.suffix == ".json" else path.with_suffix(".json")
        if not card_path.exists():
            raise NoTrainedModelError(
                "No trained detector is installed (no model card found at "
                f"{card_path}). Scores cannot be given until one is."
            )
        card = ModelCard.from_file(card_path)
        if not card.trained and not allow_untrained:
            raise NoTrainedModelError(
                f"The detector '{card.id}' is marked untrained; it would give meaningless scores."
            )
        wfile = (path if path.suffix == ".safetensors"
                 else card_path.parent / (card.weights_file or ""))
        if not card.weights_file and path.suffix != ".safetensors":
            raise ModelError(f"The model card {card_path} names no weights file.")
        if not wfile.exists():
            raise NoTrainedModelError(f"The detector's weights file is missing: {wfile}")
        _check_sha(wfile, card.weights_sha256)
        from safetensors.torch import load_file

        model = build_model(card.architecture, card)
        state = {k: v.float() for k, v in load_file(str(wfile)).items()}
        if card.backbone_file:
            state.update(_backbone_state(card, card_path.parent / card.backbone_file))
        _load_state(model, state, wfile)
        if cast_weights and card.autocast == "bfloat16":
            cast_for_autocast(model)
        return cls(card, model)

    @classmethod
    def _load_checkpoint(cls, path: Path) -> Detector:
        import torch

        if not path.exists():
            raise NoTrainedModelError(f"The checkpoint does not exist: {path}")
        try:
            ckpt = torch.load(str(path), map_location="cpu", weights_only=True)
        except Exception as exc:
            raise ModelError(f"The checkpoint {path.name} could not be read safely: {exc}") from exc
        state = ckpt.get("model_state_dict", ckpt) if isinstance(ckpt, dict) else None
        if not isinstance(state, dict):
            raise ModelError(f"{path.name} holds no state dict ('model_state_dict').")
        card = _seed_card(path)
        model = build_model(card.architecture)
        _load_state(model, state, path)
        return cls(card, model)

    # -- inference -------------------------------------------------------------------------------

    def preprocess(self, crops: np.ndarray):
        """uint8 RGB crops (N, H, W, 3) at the card's input size -> normalised NCHW float tensor."""
        return normalize_batch(crops, self.card.normalization)

    def autocast(self):
        """The numeric mode the card's calibration was measured in (a context manager)."""
        import contextlib

        import torch

        if self.card.autocast == "bfloat16":
            return torch.autocast("cpu", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def reshape_transform(self):
        """For GradCAM: how the target layer's output becomes (N, C, H, W) maps (None: as is)."""
        if self.card.architecture == ARCH_CLIP:
            from app.core.models.clip_vit import vit_reshape_transform

            return vit_reshape_transform
        return None

    def predict(self, crops: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Logits and calibrated p(fake) for a batch of crops, no gradients."""
        import torch

        with torch.inference_mode(), self.autocast():
            logits = self.model(self.preprocess(crops)).reshape(-1).float().numpy()
        return logits, self.card.calibrate(logits)

    def target_layer(self):
        """The module GradCAM hooks: the card's choice, else the architecture's default."""
        name = self.card.gradcam_layer or DEFAULT_TARGET_LAYER[self.card.architecture]
        try:
            return self.model.get_submodule(name)
        except AttributeError as exc:
            raise ModelError(f"GradCAM target layer '{name}' does not exist in the model.") from exc


def write_untrained_model(folder: str | Path, architecture: str = ARCH_INCEPTION,
                          input_size: int = 160, model_id: str = "untrained-test-model") -> Path:
    """An explicitly UNTRAINED detector (seeded random weights) for tests and benchmarks only.

    Its card says `"trained": false`, so the app refuses it unless told `allow_untrained`.
    """
    import torch
    from safetensors.torch import save_file

    folder = Path(folder)
    torch.manual_seed(0)
    model = build_model(architecture).eval()
    folder.mkdir(parents=True, exist_ok=True)
    wfile = folder / "untrained.safetensors"
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(wfile))
    card = {
        "id": model_id, "trained": False, "architecture": architecture,
        "input_size": input_size, "normalization": "fixed_standardization", "threshold": 0.5,
        "uncertain_band": [0.4, 0.6], "weights_file": wfile.name,
        "weights_sha256": sha256_file(wfile),
    }
    path = folder / "untrained.json"
    path.write_text(json.dumps(card, indent=2))
    return path


def normalize_batch(crops: np.ndarray, normalization: str):
    """uint8 RGB (N, H, W, 3) -> float NCHW (channels_last) as the model card's normalisation says.

    Training and inference both call this, so the two can never disagree.
    """
    import torch

    x = torch.from_numpy(np.ascontiguousarray(crops)).permute(0, 3, 1, 2).float()
    if normalization == "unit":
        x = x / 255.0
    elif normalization == "fixed_standardization":
        x = (x - 127.5) / 128.0
    elif normalization == "vggface2_bgr_mean":
        x = x.flip(1) - torch.tensor(VGGFACE2_BGR_MEAN).view(1, 3, 1, 1)
    elif normalization == "clip":
        from app.core.models.clip_vit import CLIP_MEAN, CLIP_STD

        x = (x / 255.0 - torch.tensor(CLIP_MEAN).view(1, 3, 1, 1)) / torch.tensor(
            CLIP_STD).view(1, 3, 1, 1)
    else:
        raise ModelError(f"Unknown normalisation '{normalization}' in the model card.")
    return x.contiguous(memory_format=torch.channels_last)


def _check_sha(path: Path, expected: str | None) -> None:
    if expected and sha256_file(path) != expected:
        raise ModelError(
            f"The weights file {path.name} does not match its model card's SHA-256: "
            "damaged or replaced. Reinstall the app."
        )


def _backbone_state(card: ModelCard, path: Path) -> dict:
    """A frozen backbone stored in its own file, checked against the card, as float tensors."""
    if not path.exists():
        raise NoTrainedModelError(f"The detector's backbone file is missing: {path}")
    _check_sha(path, card.backbone_sha256)
    from safetensors.torch import load_file

    if card.architecture == ARCH_CLIP:
        from app.core.models.clip_vit import load_backbone_state

        state = load_backbone_state(load_file(str(path)))
    else:
        state = {k: v.float() for k, v in load_file(str(path)).items()}
    return {"backbone." + k: v for k, v in state.items()}


def _heatmap_method(raw: dict) -> str:
    method = str(raw.get("heatmap_method", HEATMAP_GRADCAM))
    if method not in HEATMAP_METHODS:
        raise ValueError(f"heatmap_method {method!r} (known: {', '.join(HEATMAP_METHODS)})")
    if method == HEATMAP_TOKEN_RELEVANCE and raw.get("architecture") != ARCH_CLIP:
        raise ValueError(f"heatmap_method {method!r} needs architecture {ARCH_CLIP}")
    return method


def cast_for_autocast(model) -> None:
    """Store the backbone's conv and linear weights in bfloat16, once.

    Under CPU bf16 autocast PyTorch casts every float32 conv/linear weight to bf16 on every call
    (a ViT-B/16 forward spent 73 of its 201 ms copying weights); a bf16 weight is used as is.
    The rounding is the same (float32 -> bf16 either way), so scores are bit-identical
    (tests/test_clip_conversion.py), and the float32 copy is not kept: ~170 MB less memory.
    Only `model.backbone`: a head that runs in float32 outside autocast stays float32.
    """
    import torch
    from torch import nn

    backbone = getattr(model, "backbone", None)
    if backbone is None:
        return
    for module in backbone.modules():
        if isinstance(module, (nn.Linear, nn.Conv2d)):
            for name in ("weight", "bias"):
                param = getattr(module, name)
                if param is not None:
                    param.data = param.data.to(torch.bfloat16)


def _load_state(model, state: dict, source: Path) -> None:
    try:
        missing, unexpected = model.load_state_dict(state, strict=False)
    except RuntimeError as exc:  # shape mismatch
        raise ModelError(f"{source.name} does not fit the detector architecture: {exc}") from exc
    if missing or unexpected:
        raise ModelError(
            f"{source.name} does not fit the detector architecture "
            f"(missing {len(missing)} tensors, e.g. {missing[:3]}; unexpected {unexpected[:3]})."
        )


def logit(p: float) -> float:
    p = min(max(p, 1e-7), 1 - 1e-7)
    return math.log(p / (1 - p))
