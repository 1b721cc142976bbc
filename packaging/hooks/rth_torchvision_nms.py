"""PyInstaller runtime hook for the CPU-only build: a pure-torch `torchvision::nms`.

torchvision's compiled ops (_C.so / _C_stable.so) from PyPI link against CUDA torch, so a bundle
built on CPU-only torch has none. facenet-pytorch's MTCNN needs exactly one of them, `nms` (through
`batched_nms`). This hook defines `torchvision::nms` in pure torch/numpy, with torchvision's exact
semantics (boxes sorted by score, stable; a box is dropped when its IoU with a kept box is
> threshold), and marks torchvision's ops as present. It does so lazily, when torchvision is first
imported, so the window still opens before torch loads. The spec adds it only to CPU builds;
tests/test_packaging.py checks that it agrees with torchvision's own nms.
"""

import importlib.abc
import importlib.util
import sys
from pathlib import Path

_LIBS = []  # torch.library.Library objects must stay alive for their ops to stay registered


def nms(boxes, scores, iou_threshold):
    """Indices of the boxes kept, by decreasing score (torchvision.ops.nms semantics)."""
    import numpy as np
    import torch

    b = boxes.detach().cpu().numpy()
    s = scores.detach().cpu().numpy()
    if b.shape[0] == 0:
        return torch.empty((0,), dtype=torch.int64, device=boxes.device)
    x1, y1, x2, y2 = b[:, 0], b[:, 1], b[:, 2], b[:, 3]
    areas = (x2 - x1) * (y2 - y1)
    order = np.argsort(-s, kind="stable")
    keep = []
    while order.size:
        i = order[0]
        keep.append(i)
        rest = order[1:]
        w = np.maximum(np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]), 0)
        h = np.maximum(np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]), 0)
        inter = w * h
        iou = inter / (areas[i] + areas[rest] - inter)
        order = rest[~(iou > iou_threshold)]
    return torch.as_tensor(np.asarray(keep, dtype=np.int64), device=boxes.device)


def register_ops():
    """Define torchvision::nms (and qnms's schema, which torchvision's import expects)."""
    import torch

    lib = torch.library.Library("torchvision", "DEF")
    lib.define("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    lib.define("qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    lib.impl("nms", nms, "CompositeExplicitAutograd")
    _LIBS.append(lib)


class _Loader(importlib.abc.Loader):
    def __init__(self, inner):
        self.inner = inner

    def create_module(self, spec):
        return self.inner.create_module(spec)

    def exec_module(self, module):
        import torch

        # Only where torchvision's compiled ops are absent (the spec leaves them out of CPU
        # builds): where they exist they register torchvision::nms themselves.
        locations = module.__spec__.submodule_search_locations or []
        compiled = any(f.name.startswith("_C") for loc in locations
                       for f in Path(loc).glob("_C*") if f.suffix in (".so", ".pyd"))
        if not compiled and not hasattr(torch.ops.torchvision, "nms"):
            register_ops()
        self.inner.exec_module(module)
        ext = sys.modules.get("torchvision.extension")
        if ext is not None and not ext._has_ops():
            ext._has_ops = lambda: True  # nms is there now; other ops fail when called, clearly


class _Finder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path=None, target=None):
        if fullname != "torchvision":
            return None
        sys.meta_path.remove(self)  # once; the other finders locate the real package
        spec = importlib.util.find_spec(fullname)
        if spec is not None and spec.loader is not None:
            spec.loader = _Loader(spec.loader)
        return spec


if "torchvision" not in sys.modules:
    sys.meta_path.insert(0, _Finder())
