"""Minimal NumPy reference executor for TF.js *graph models* (``model.json`` + ``.bin`` shards).

Used only to verify that a hand-written PyTorch port reproduces the original graph: it reads
the GraphDef stored as JSON in ``modelTopology``, loads the weights listed in
``weightsManifest`` and evaluates the nodes with plain NumPy. It deliberately implements only
the ops that occur in the models we convert or compare against (``faceres-deep``, and the
``antispoof`` peer: ``_FusedConv2D``, ``MaxPool``, ``Reshape``, float16-quantised weights); any
other op raises ``NotImplementedError`` rather than being guessed at.

No TensorFlow, no torch: this module must stay independent of the code it verifies.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

_DTYPES = {"float32": np.float32, "int32": np.int32}
# Storage types of quantised weights (``quantization.dtype`` in the manifest).
_QUANT_DTYPES = {"float16": np.float16, "uint8": np.uint8, "uint16": np.uint16}


@dataclass
class TfjsGraph:
    """A parsed TF.js graph model: nodes by name, weights by name and the declared outputs."""

    nodes: dict[str, dict]
    weights: dict[str, np.ndarray]
    outputs: list[str] = field(default_factory=list)
    meta: dict = field(default_factory=dict)

    def node_op(self, name: str) -> str:
        """Return the op type of node ``name``."""
        return self.nodes[name]["op"]

    def inputs_of(self, name: str) -> list[str]:
        """Data inputs of a node, with ``:0`` suffixes and control inputs stripped."""
        return [_strip(i) for i in self.nodes[name].get("input", []) if not i.startswith("^")]

    def run(
        self,
        feeds: Mapping[str, np.ndarray],
        fetches: Iterable[str] | None = None,
        dtype: type = np.float64,
    ) -> dict[str, np.ndarray]:
        """Evaluate ``fetches`` (default: the signature outputs) given placeholder ``feeds``.

        Computation runs in ``dtype`` (float64 by default) so the result is a tighter reference
        than TF's own float32 kernels; integer constants keep their integer type.
        """
        wanted = [_strip(f) for f in (fetches or self.outputs)]
        cache: dict[str, np.ndarray] = {k: np.asarray(v, dtype) for k, v in feeds.items()}
        for name in self._topo_order(wanted):
            if name not in cache:
                cache[name] = self._eval(name, cache, dtype)
        return {name: cache[name] for name in wanted}

    def _topo_order(self, wanted: list[str]) -> list[str]:
        # Iterative DFS: the graph is a deep chain, recursion could hit Python's limit.
        order: list[str] = []
        seen: set[str] = set()
        for root in wanted:
            stack: list[tuple[str, bool]] = [(root, False)]
            while stack:
                name, expanded = stack.pop()
                if expanded:
                    order.append(name)
                    continue
                if name in seen:
                    continue
                seen.add(name)
                stack.append((name, True))
                stack.extend((i, False) for i in self.inputs_of(name) if i not in seen)
        return order

    def _eval(self, name: str, cache: dict[str, np.ndarray], dtype: type) -> np.ndarray:
        node = self.nodes[name]
        op = node["op"]
        if op == "Const":
            if name not in self.weights:
                raise KeyError(f"Const node {name!r} has no weight in the manifest")
            w = self.weights[name]
            return w.astype(dtype) if w.dtype.kind == "f" else w
        if op == "Placeholder":
            raise KeyError(f"placeholder {name!r} was not fed")
        fn = _OPS.get(op)
        if fn is None:
            raise NotImplementedError(f"op {op!r} (node {name!r}) is not implemented")
        args = [cache[i] for i in self.inputs_of(name)]
        return fn(args, node.get("attr", {}))


def _strip(name: str) -> str:
    return name.split(":")[0]


def load_tfjs_graph(model_json: str | Path) -> TfjsGraph:
    """Parse ``model.json`` and its weight shards (looked up next to the JSON file)."""
    model_json = Path(model_json)
    spec = json.loads(model_json.read_text(encoding="utf-8"))
    if spec.get("format") != "graph-model":
        raise ValueError(f"{model_json} is not a TF.js graph model (format={spec.get('format')})")
    weights: dict[str, np.ndarray] = {}
    for group in spec["weightsManifest"]:
        blob = b"".join((model_json.parent / p).read_bytes() for p in group["paths"])
        offset = 0
        # Shards are one byte stream; each weight occupies prod(shape) items in manifest order.
        for entry in group["weights"]:
            count = int(np.prod(entry["shape"], dtype=np.int64))
            out_dt = np.dtype(_DTYPES[entry["dtype"]])
            quant = entry.get("quantization")
            if quant is None:
                dt = out_dt.newbyteorder("<")
            elif quant.get("dtype") in _QUANT_DTYPES:
                dt = np.dtype(_QUANT_DTYPES[quant["dtype"]]).newbyteorder("<")
            else:
                raise NotImplementedError(
                    f"quantization {quant!r} of weight {entry['name']!r} not supported")
            arr = np.frombuffer(blob, dtype=dt, count=count, offset=offset)
            arr = arr.astype(dt.newbyteorder("="))
            if quant is not None and quant["dtype"] != "float16":
                # Affine (u)int quantisation: value = q * scale + min.
                arr = arr.astype(np.float64) * float(quant["scale"]) + float(quant["min"])
            weights[entry["name"]] = arr.reshape(entry["shape"]).astype(out_dt)
            offset += count * dt.itemsize
        if offset != len(blob):
            raise ValueError(f"weight shards hold {len(blob)} bytes, manifest uses {offset}")
    nodes = {n["name"]: n for n in spec["modelTopology"]["node"]}
    # Signature outputs map an alias to the tensor (``{"activation_4": {"name": "Identity:0"}}``).
    sig_outputs = spec.get("signature", {}).get("outputs", {})
    outputs = [_strip(v.get("name", k)) for k, v in sig_outputs.items()]
    meta = {k: v for k, v in spec.items() if k not in ("modelTopology", "weightsManifest")}
    return TfjsGraph(nodes=nodes, weights=weights, outputs=outputs, meta=meta)


# --- attribute helpers -------------------------------------------------------------------------


def attr_str(attr: Mapping, key: str, default: str = "") -> str:
    """Decode a bytes attribute (JSON GraphDef stores them base64-encoded)."""
    if key not in attr:
        return default
    return base64.b64decode(attr[key]["s"]).decode("ascii")


def attr_ints(attr: Mapping, key: str, default: tuple[int, ...] = ()) -> tuple[int, ...]:
    """Decode an int-list attribute (stored as a list of decimal strings)."""
    if key not in attr:
        return default
    return tuple(int(v) for v in attr[key].get("list", {}).get("i", []))


def attr_strs(attr: Mapping, key: str) -> list[str]:
    """Decode a list-of-bytes attribute such as ``fused_ops``."""
    values = attr.get(key, {}).get("list", {}).get("s", [])
    return [base64.b64decode(v).decode("ascii") for v in values]


def same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow 'SAME' padding (before, after): the extra pixel goes *after* when odd."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def _check_conv_attrs(attr: Mapping) -> tuple[int, int, str]:
    if attr_str(attr, "data_format", "NHWC") != "NHWC":
        raise NotImplementedError("only NHWC convolutions are supported")
    if any(d != 1 for d in attr_ints(attr, "dilations", (1, 1, 1, 1))):
        raise NotImplementedError("dilated convolutions are not supported")
    strides = attr_ints(attr, "strides", (1, 1, 1, 1))
    padding = attr_str(attr, "padding")
    if padding not in ("SAME", "VALID"):
        raise NotImplementedError(f"padding {padding!r} not supported")
    return strides[1], strides[2], padding


def _pad_for_conv(x: np.ndarray, kh: int, kw: int, sh: int, sw: int, padding: str) -> np.ndarray:
    if padding == "VALID":
        return x
    pt, pb = same_padding(x.shape[1], kh, sh)
    pl, pr = same_padding(x.shape[2], kw, sw)
    return np.pad(x, ((0, 0), (pt, pb), (pl, pr), (0, 0)))


def _taps(x: np.ndarray, kh: int, kw: int, sh: int, sw: int):
    """Yield (i, j, strided window) for every kernel tap of a padded NHWC input."""
    oh = (x.shape[1] - kh) // sh + 1
    ow = (x.shape[2] - kw) // sw + 1
    for i in range(kh):
        for j in range(kw):
            yield i, j, x[:, i : i + sh * (oh - 1) + 1 : sh, j : j + sw * (ow - 1) + 1 : sw, :]


# --- op kernels --------------------------------------------------------------------------------


def _conv2d(args: list[np.ndarray], attr: Mapping) -> np.ndarray:
    x, w = args  # w: [kh, kw, in, out] (HWIO)
    sh, sw, padding = _check_conv_attrs(attr)
    kh, kw = w.shape[:2]
    x = _pad_for_conv(x, kh, kw, sh, sw, padding)
    out = None
    for i, j, win in _taps(x, kh, kw, sh, sw):
        term = win @ w[i, j]
        out = term if out is None else out + term
    return out


def _depthwise(args: list[np.ndarray], attr: Mapping) -> np.ndarray:
    x, w = args  # w: [kh, kw, in, multiplier]
    sh, sw, padding = _check_conv_attrs(attr)
    kh, kw, cin, mult = w.shape
    x = _pad_for_conv(x, kh, kw, sh, sw, padding)
    out = None
    for i, j, win in _taps(x, kh, kw, sh, sw):
        # Output channel c*mult+m reads input channel c, as in TF.
        term = (win[..., :, None] * w[i, j]).reshape(*win.shape[:3], cin * mult)
        out = term if out is None else out + term
    return out


def _apply_fused(y: np.ndarray, ops: list[str], extra: list[np.ndarray], kind: str) -> np.ndarray:
    """Apply a fused op list such as ``["BiasAdd", "Relu"]`` (extra holds the bias)."""
    extra = list(extra)
    for op in ops:
        if op == "BiasAdd":
            y = y + extra.pop(0)
        elif op == "Relu":
            y = np.maximum(y, 0)
        elif op == "Relu6":
            y = np.clip(y, 0, 6)
        else:
            raise NotImplementedError(f"{kind} fused op {op!r} not supported")
    return y


def _fused_conv2d(args: list[np.ndarray], attr: Mapping) -> np.ndarray:
    x, w, *extra = args
    return _apply_fused(_conv2d([x, w], attr), attr_strs(attr, "fused_ops"), extra, "_FusedConv2D")


def _max_pool(args: list[np.ndarray], attr: Mapping) -> np.ndarray:
    x = args[0]
    if attr_str(attr, "data_format", "NHWC") != "NHWC":
        raise NotImplementedError("only NHWC pooling is supported")
    _, kh, kw, _ = attr_ints(attr, "ksize")
    _, sh, sw, _ = attr_ints(attr, "strides")
    padding = attr_str(attr, "padding")
    if padding == "SAME":
        pt, pb = same_padding(x.shape[1], kh, sh)
        pl, pr = same_padding(x.shape[2], kw, sw)
        fill = -np.inf if x.dtype.kind == "f" else np.iinfo(x.dtype).min
        x = np.pad(x, ((0, 0), (pt, pb), (pl, pr), (0, 0)), constant_values=fill)
    elif padding != "VALID":
        raise NotImplementedError(f"padding {padding!r} not supported")
    out = None
    for _, _, win in _taps(x, kh, kw, sh, sw):
        out = win if out is None else np.maximum(out, win)
    return out


def _reshape(args: list[np.ndarray], attr: Mapping) -> np.ndarray:
    x, shape = args
    return x.reshape(tuple(int(v) for v in np.ravel(shape)))


def _fused_matmul(args: list[np.ndarray], attr: Mapping) -> np.ndarray:
    a, b, *extra = args
    if attr.get("transpose_a", {}).get("b") or attr.get("transpose_b", {}).get("b"):
        raise NotImplementedError("transposed _FusedMatMul not supported")
    return _apply_fused(a @ b, attr_strs(attr, "fused_ops"), extra, "_FusedMatMul")


def _mean(args: list[np.ndarray], attr: Mapping) -> np.ndarray:
    x, axes = args
    keep = bool(attr.get("keep_dims", {}).get("b", False))
    return x.mean(axis=tuple(int(a) for a in np.ravel(axes)), keepdims=keep)


def _softmax(args: list[np.ndarray], attr: Mapping) -> np.ndarray:
    z = args[0] - args[0].max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


_OPS: dict[str, Callable[[list[np.ndarray], Mapping], np.ndarray]] = {
    "Conv2D": _conv2d,
    "_FusedConv2D": _fused_conv2d,
    "MaxPool": _max_pool,
    "Reshape": _reshape,
    "Identity": lambda a, _: a[0],
    "DepthwiseConv2dNative": _depthwise,
    "Add": lambda a, _: a[0] + a[1],
    "Mul": lambda a, _: a[0] * a[1],
    "Relu": lambda a, _: np.maximum(a[0], 0),
    "Minimum": lambda a, _: np.minimum(a[0], a[1]),
    "Maximum": lambda a, _: np.maximum(a[0], a[1]),
    "Mean": _mean,
    "_FusedMatMul": _fused_matmul,
    "Sigmoid": lambda a, _: 0.5 * (1.0 + np.tanh(0.5 * a[0])),  # = 1/(1+e^-x), no overflow
    "Softmax": _softmax,
}
