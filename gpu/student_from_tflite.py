"""A served 8-bit student (``emotion.tflite`` made by ``gpu/import_student.py --int8``) back into a student file
that ``gpu/train_torch.py student --init`` starts from: the float weights the GPU run made are not kept, the served
file is.

    .venv/bin/python gpu/student_from_tflite.py models/emotion-accurate --arch xception-d4-48 \
        --out .gpu/init/xception-d4-48.npz

LiteRT folded each batch norm into the convolution before it and stored the kernels in 8 bits with one scale per
output channel and the biases in 32 bits (scale: input scale x kernel scale). Each convolution comes back as its
8-bit kernel and scales (2.4 MB for d4-48, small enough to travel to the GPU beside the data); its batch norm as the
identity plus the folded bias (running mean 0, running variance 1 - eps,
weight 1, bias b), so the network in eval mode computes what the served file computes, up to the 8-bit activations.
``train_torch.py`` then moves each batch norm's running statistics onto its input's real statistics without changing
that function (``reseat_batch_norm``), so that training-mode batch norm starts where the served model is.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

KERAS_BN_EPS = 1e-3  # keras.layers.BatchNormalization's epsilon, as gpu/train_torch.py's KERAS_BN

#: student name -> (block widths, stem width, dense blocks), as gpu/train_torch.py's STUDENTS
STUDENTS = {
    "xception-d4-32": ((32, 64, 128, 256), 16, 4),
    "xception-d4-48": ((48, 96, 192, 384), 24, 4),
    "xception-d4-64": ((64, 128, 256, 512), 32, 4),
}


def _layer(tensor_name: str) -> str:
    """The Keras layer an 8-bit convolution's output is named after: 'stem0', 'block2_sep1', 'head', ..."""
    first = tensor_name.split(";")[0].split("/")
    for part in reversed(first):
        for suffix in ("_relu_1", "_bn_1", "_conv_1"):
            if part.endswith(suffix):
                return part[: -len(suffix)]
    raise ValueError(f"no layer in {tensor_name!r}")


def folded_convolutions(tflite: Path) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Layer name -> (kernel (out, in, kh, kw) int8, its scale per output channel (out,) float32, bias (out,)
    float32) of the first copy of the network in the served graph (the mirror-image copy shares its weights)."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(str(tflite))
    tensors = {d["index"]: d for d in interpreter.get_tensor_details()}
    found: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for op in interpreter._get_ops_details():
        if op["op_name"] != "CONV_2D":
            continue
        source, kernel_i, bias_i = (int(i) for i in op["inputs"])
        name = _layer(tensors[int(op["outputs"][0])]["name"])
        if name in found:
            continue
        kernel = tensors[kernel_i]
        w_scale = kernel["quantization_parameters"]["scales"]
        in_scale = tensors[source]["quantization_parameters"]["scales"]
        if np.any(kernel["quantization_parameters"]["zero_points"]):
            raise ValueError(f"{name}: kernel not symmetric")
        w = np.transpose(interpreter.get_tensor(kernel_i), (0, 3, 1, 2))  # (out, kh, kw, in) -> (out, in, kh, kw)
        b = interpreter.get_tensor(bias_i).astype(np.float32) * (in_scale[0] * w_scale)
        found[name] = (w.astype(np.int8), w_scale.astype(np.float32), b.astype(np.float32))
    return found


def student_state(folded: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]], n_blocks: int) -> dict[str, np.ndarray]:
    """The ``XceptionStudent`` state dict (dense blocks only) with identity batch norms carrying the biases; kernels
    in 8 bits as served: ``name`` int8 and ``name::scale`` (``train_torch.read_state`` multiplies back)."""
    state: dict[str, np.ndarray] = {}

    def put(conv_key: str, norm_key: str, layer: str) -> None:
        w, scale, b = folded[layer]
        state[f"{conv_key}.weight"], state[f"{conv_key}.weight::scale"] = w, scale
        state[f"{norm_key}.weight"] = np.ones_like(b)
        state[f"{norm_key}.bias"] = b
        state[f"{norm_key}.running_mean"] = np.zeros_like(b)
        state[f"{norm_key}.running_var"] = np.full_like(b, 1.0 - KERAS_BN_EPS)

    for i in range(2):
        put(f"stem.{i}", f"stem_bn.{i}", f"stem{i}")
    for i in range(n_blocks):
        put(f"blocks.{i}.res_conv", f"blocks.{i}.res_bn", f"block{i}_res")
        for j in range(2):
            put(f"blocks.{i}.sep{j}", f"blocks.{i}.sep{j}_bn", f"block{i}_sep{j}")
    state["head.weight"], state["head.weight::scale"], state["head.bias"] = folded["head"]
    unused = (
        set(folded)
        - {"stem0", "stem1", "head"}
        - {f"block{i}_{p}" for i in range(n_blocks) for p in ("res", "sep0", "sep1")}
    )
    if unused:
        raise ValueError(f"convolutions left over: {sorted(unused)}")
    return state


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("model_dir", type=Path, help="a served model folder (emotion.tflite, model.json)")
    parser.add_argument("--arch", choices=sorted(STUDENTS), required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    widths, stem, dense = STUDENTS[args.arch]
    if dense != len(widths):
        raise SystemExit("only students with dense blocks throughout can be recovered")
    state = student_state(folded_convolutions(args.model_dir / "emotion.tflite"), len(widths))
    record = {
        "arch": args.arch,
        "block_widths": widths,
        "stem_width": stem,
        "dense_blocks": dense,
        "recovered_from": str(args.model_dir / "emotion.tflite"),
        "folded_batch_norm": True,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, record=np.array(json.dumps(record)), **state)
    print(f"{args.out}: {args.out.stat().st_size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
