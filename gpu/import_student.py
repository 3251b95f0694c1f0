"""Bring a student trained by ``gpu/train_torch.py`` into the project's serving format (Keras -> LiteRT).

    .venv/bin/python gpu/import_student.py STUDENT.npz --out runs/gpu-xception-d2-32 [--no-recalibrate-bn] [--int8]

The student file holds the PyTorch state dict as numpy arrays and its record (``record``: JSON with the block
widths, stem width and dense blocks). The weights are copied into ``fer_core.network.build_xception`` of the same
layout (kernels from (out, in, kh, kw) to Keras' (kh, kw, in, out)), batch-norm statistics are recomputed on the
un-augmented Training faces (as ``fer_core.train`` does), and the run folder is finished like any other run:
``final.keras``, ``emotion.tflite``, ``model.json``, ``metrics.json`` (PublicTest, the served file), plus the GPU
run's record as ``settings.json``, ``history.json`` and ``gpu_record.json``.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

import numpy as np


def read_student(path: Path) -> tuple[dict, dict[str, np.ndarray]]:
    """(record, state) of a student file."""
    with np.load(path, allow_pickle=False) as data:
        record = json.loads(str(data["record"]))
        state = {
            k: data[k].astype(np.float32) for k in data.files if k != "record" and not k.startswith("fixture_")
        }  # saved in float16 since 2026-12-07
    return record, state


def keras_weights(model, state: dict[str, np.ndarray], dense_blocks: int) -> None:
    """Copy a ``XceptionStudent`` state dict into the Keras twin ``model`` (same layout), in place."""

    def conv(w: np.ndarray) -> np.ndarray:
        return np.transpose(w, (2, 3, 1, 0))  # (out, in, kh, kw) -> (kh, kw, in, out)

    def norm(p: str) -> list[np.ndarray]:
        return [state[f"{p}.weight"], state[f"{p}.bias"], state[f"{p}.running_mean"], state[f"{p}.running_var"]]

    n_blocks = len({k.split(".")[1] for k in state if k.startswith("blocks.")})
    assign = {f"stem{i}_conv": [conv(state[f"stem.{i}.weight"])] for i in range(2)}
    assign.update({f"stem{i}_bn": norm(f"stem_bn.{i}") for i in range(2)})
    for i in range(n_blocks):
        b = f"blocks.{i}"
        assign[f"block{i}_res_conv"] = [conv(state[f"{b}.res_conv.weight"])]
        assign[f"block{i}_res_bn"] = norm(f"{b}.res_bn")
        for j in range(2):
            if i < dense_blocks:
                assign[f"block{i}_sep{j}"] = [conv(state[f"{b}.sep{j}.weight"])]
            else:  # depthwise (in, 1, kh, kw) -> (kh, kw, in, 1); pointwise as a 1x1 kernel
                assign[f"block{i}_sep{j}"] = [
                    np.transpose(state[f"{b}.sep{j}.depthwise.weight"], (2, 3, 0, 1)),
                    conv(state[f"{b}.sep{j}.pointwise.weight"]),
                ]
            assign[f"block{i}_sep{j}_bn"] = norm(f"{b}.sep{j}_bn")
    assign["head_conv"] = [conv(state["head.weight"]), state["head.bias"]]
    weighted = {layer.name for layer in model.layers if layer.weights}
    if weighted != set(assign):
        raise ValueError(f"layouts differ: Keras has {sorted(weighted ^ set(assign))} unmatched")
    for name, values in assign.items():
        model.get_layer(name).set_weights([v.astype(np.float32) for v in values])


def build_from_record(record: dict):
    from fer_core.network import build_xception

    widths = tuple(record["block_widths"])
    return build_xception(
        48,
        7,
        widths,
        record["stem_width"],
        l2=0.0,
        dense_blocks=record["dense_blocks"],
        name="xception_"
        + ("d%d_" % record["dense_blocks"] if record["dense_blocks"] else "")
        + "-".join(map(str, widths)),
    )


def import_student(
    student: Path,
    out: Path,
    recalibrate_bn: bool = True,
    flip_tta: bool = True,
    int8: bool = False,
    mirror_below: float = 0.0,
) -> dict:
    from fer_core.datasets import load_faces
    from fer_core.train import DEFAULT_DATA, recalibrate_batch_norm, serve, write_gpu_run_record

    record, state = read_student(student)
    model = build_from_record(record)
    keras_weights(model, state, record["dense_blocks"])
    out.mkdir(parents=True, exist_ok=True)
    train_faces = load_faces(Path(DEFAULT_DATA) / "train.npz")
    val_faces = load_faces(Path(DEFAULT_DATA) / "val.npz", "PublicTest")
    if recalibrate_bn:
        recalibrate_batch_norm(model, train_faces.x)
    model.save(out / "final.keras")
    metrics = serve(model, out, train_faces, val_faces, flip_tta, int8, mirror_below=mirror_below)
    write_gpu_run_record(record, out, "gpu/train_torch.py student (PyTorch), distilled", recalibrate_bn=recalibrate_bn)
    return metrics


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("student", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--recalibrate-bn", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--flip-tta", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--int8", action="store_true", help="integer quantisation calibrated on 500 Training faces")
    parser.add_argument(
        "--mirror-below",
        type=float,
        default=0.0,
        help="with --no-flip-tta: serve a second, mirrored reading of the faces read below this top probability "
        "(choose it on Training: bench/mirror_gate.py)",
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    metrics = import_student(args.student, args.out, args.recalibrate_bn, args.flip_tta, args.int8, args.mirror_below)
    print(f"{args.out}: PublicTest accuracy {metrics['accuracy']:.4f}")


if __name__ == "__main__":
    main()
