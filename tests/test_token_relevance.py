"""The CLIP detector's heatmap (ClipDetector.relevance): what it attributes, and that it costs
no second score. Small random towers are enough: these are properties of the method."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from app.core.models.clip_vit import CENTER, GRID, WIDTH, ClipDetector, pool_tokens  # noqa: E402


def _detector(layers, pools, seed: int = 0) -> ClipDetector:
    torch.manual_seed(seed)
    det = ClipDetector(feature_layers=layers, pools=pools).eval()
    with torch.no_grad():
        det.feat_mean.normal_()
        det.feat_std.uniform_(0.5, 2.0)
        det.head.weight.normal_(std=0.05)
    return det


def _images(n: int = 2) -> torch.Tensor:
    return torch.randn(n, 3, 224, 224, generator=torch.Generator().manual_seed(1))


def test_relevance_returns_the_forward_logits_exactly():
    det = _detector((1, 3), ("cls", "mean", "center", "std"))
    x = _images()
    with torch.no_grad():
        want = det(x).reshape(-1)
    got, rel = det.relevance(x)
    torch.testing.assert_close(got, want, rtol=0, atol=0)
    assert rel.shape == (2, GRID, GRID) and (rel >= 0).all()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        with torch.no_grad():
            want16 = det(x).reshape(-1)
        got16, _ = det.relevance(x)
    torch.testing.assert_close(got16, want16, rtol=0, atol=0)


def _autograd_relevance(det: ClipDetector, x: torch.Tensor, paths) -> torch.Tensor:
    """The definition, by autograd: the decision's gradient along each feature layer's direct
    path to the head through the poolings `paths`, times the token's deviation from the layer's
    mean patch token (the decision's sign from the whole head)."""
    with torch.no_grad():
        hidden = list(det.backbone.hidden_states(x, upto=max(det.feature_layers)))
    for i in det.feature_layers:
        hidden[i] = hidden[i].detach().requires_grad_()
    z = (pool_tokens(hidden, det.feature_layers, det.pools) - det.feat_mean) / det.feat_std
    keep = torch.tensor([p in paths for _ in det.feature_layers for p in det.pools])
    keep = keep.repeat_interleave(WIDTH)
    out = det.head(z).reshape(-1)
    partial = (z * det.head.weight[0] * keep).sum(dim=1)
    decision = (torch.where(out >= 0, 1.0, -1.0).detach() * partial).sum()
    grads = torch.autograd.grad(decision, [hidden[i] for i in det.feature_layers])
    rel = 0
    for i, g in zip(det.feature_layers, grads, strict=True):
        a = hidden[i].detach()[:, 1:]
        rel = rel + (g[:, 1:] * (a - a.mean(dim=1, keepdim=True))).sum(dim=2)
    return torch.relu(rel).reshape(-1, GRID, GRID)


@pytest.mark.parametrize("pools", [("cls", "mean", "center", "std"), ("cls", "mean", "center"),
                                   ("mean",), ("center", "cls")])
def test_the_written_out_gradients_match_autograd(pools):
    det = _detector((0, 6, 11), pools, seed=3)
    x = _images(3)
    _, rel = det.relevance(x)
    paths = det.relevance_paths()
    assert paths == {4: ("std",), 3: ("mean", "center")}.get(len(pools), pools[:1])
    torch.testing.assert_close(rel, _autograd_relevance(det, x, paths), rtol=1e-4, atol=1e-6)


def test_a_head_that_reads_only_the_inner_face_lights_only_the_inner_face():
    det = _detector((2,), ("mean", "center"))
    with torch.no_grad():
        det.head.weight[:, :WIDTH] = 0.0  # the 'mean' pooling carries no weight
    _, rel = det.relevance(_images())
    a, b = CENTER
    inside = torch.zeros(GRID, GRID, dtype=torch.bool)
    inside[a:b, a:b] = True
    assert rel[:, inside].sum() > 0
    assert rel[:, ~inside].abs().max() == 0


def test_relevance_of_a_mean_pooled_layer_is_gradient_times_deviation():
    """One layer, mean pooling: the decision's gradient is the same for every patch token
    (w / (196 std)), so a token's relevance is that gradient times its deviation from the mean
    token, ReLU'd; the map explains the decision taken (p < 0.5: the real logit)."""
    det = _detector((4,), ("mean",))
    x = _images(1)
    logit, rel = det.relevance(x)
    with torch.no_grad():
        h = det.backbone.hidden_states(x, upto=4)[4][0, 1:]
    g = det.head.weight[0] / det.feat_std / (GRID * GRID)
    sign = 1.0 if logit.item() >= 0 else -1.0
    want = torch.relu(sign * ((h - h.mean(0)) @ g)).reshape(GRID, GRID)
    torch.testing.assert_close(rel[0], want.detach(), rtol=1e-4, atol=1e-6)


def test_the_card_chooses_the_method_and_refuses_unknown_ones(tmp_path):
    import json

    from app.core.detector import ARCH_CLIP, HEATMAP_GRADCAM, ModelCard, ModelError

    base = {"id": "t", "architecture": ARCH_CLIP, "input_size": 224, "normalization": "clip"}
    for extra, want in (({}, HEATMAP_GRADCAM), ({"heatmap_method": "token_relevance"},
                                                 "token_relevance")):
        (tmp_path / "c.json").write_text(json.dumps({**base, **extra}))
        assert ModelCard.from_file(tmp_path / "c.json").heatmap_method == want
    for bad in ({"heatmap_method": "saliency"},
                {"heatmap_method": "token_relevance", "architecture": "faceres_mobilenet_v1"}):
        (tmp_path / "c.json").write_text(json.dumps({**base, **bad}))
        with pytest.raises(ModelError, match="heatmap_method"):
            ModelCard.from_file(tmp_path / "c.json")


def test_maps_come_out_scaled_like_gradcam():
    from app.core.detector import Detector, ModelCard

    card = ModelCard(id="t", architecture="clip_vit_b16_multilayer", input_size=224,
                     normalization="clip", heatmap_method="token_relevance")
    det = Detector(card, _detector((0, 5), ("cls", "mean")))
    from app.core.explain import Explainer

    crops = np.random.default_rng(0).integers(0, 255, (2, 224, 224, 3), dtype=np.uint8)
    logits, probs, maps = Explainer(det).explain(crops)
    assert maps.shape == (2, 224, 224) and maps.dtype == np.float32
    # scaled to [0, 1] per face on the 14 x 14 grid, then resized (the peak may soften)
    assert maps.min() >= 0.0 and 0.5 < maps.max() <= 1.0
    np.testing.assert_array_equal(logits, det.predict(crops)[0])
