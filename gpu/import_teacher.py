"""Bring a VGG teacher trained by ``gpu/train_torch.py`` into the serving format (Keras -> LiteRT), e.g. as the
"accurate" model.

    .venv/bin/python gpu/import_teacher.py teachers/vgg-1/teacher.npz --out runs/vgg-1-int8 [--int8] [--flip-tta] \
        [--record teachers/vgg-1/record.json]

``teacher.npz`` holds the PyTorch state dict as numpy arrays (float16) and ``arch``. The weights are copied into
``fer_core.network.build_vgg`` (which takes the whole 48x48 face and crops its centre 44x44 as the teacher was
evaluated), converted for LiteRT (``--int8``: integer quantisation calibrated on 500 Training faces), and the served
file is evaluated on PublicTest into ``metrics.json``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np


def read_teacher(path: Path) -> tuple[str, dict[str, np.ndarray]]:
    """``arch`` and the float32 state dict of a ``teacher.npz``: float16 as a GPU run writes it, or with weights in
    8 bits and a ``::scale`` per output channel as ``gpu/pack_data.py`` keeps it (``models/teachers``)."""
    with np.load(path, allow_pickle=False) as data:
        state = {}
        for k in data.files:
            if k == "arch" or k.endswith("::scale"):
                continue
            value = data[k].astype(np.float32)
            if f"{k}::scale" in data.files:
                value *= data[f"{k}::scale"].reshape((-1,) + (1,) * (value.ndim - 1))
            state[k] = value
        return str(data["arch"]), state


def vgg_keras_weights(model, state: dict[str, np.ndarray]) -> None:
    """Copy the state dict of ``train_torch.VGG`` (``features.N`` conv / batch-norm layers in order, ``head.3``
    the linear layer) into ``build_vgg``'s layers, in place."""
    convs = sorted({int(k.split(".")[1]) for k in state if k.startswith("features.") and state[k].ndim == 4})
    norms = sorted({int(k.split(".")[1]) for k in state if k.startswith("features.") and k.endswith("running_var")})
    keras_convs = [layer for layer in model.layers if layer.name.startswith("stage") and "_conv" in layer.name]
    keras_norms = [layer for layer in model.layers if layer.name.startswith("stage") and "_bn" in layer.name]
    if len(convs) != len(keras_convs) or len(norms) != len(keras_norms):
        raise ValueError(f"layouts differ: {len(convs)} convolutions in the weights, {len(keras_convs)} in Keras")
    for index, layer in zip(convs, keras_convs):
        layer.set_weights([np.transpose(state[f"features.{index}.weight"], (2, 3, 1, 0))])
    for index, layer in zip(norms, keras_norms):
        p = f"features.{index}"
        layer.set_weights(
            [state[f"{p}.weight"], state[f"{p}.bias"], state[f"{p}.running_mean"], state[f"{p}.running_var"]]
        )
    model.get_layer("logits").set_weights([state["head.3.weight"].T, state["head.3.bias"]])


def import_teacher(path: Path, out: Path, int8: bool, flip_tta: bool) -> dict:
    from fer_core.datasets import load_faces
    from fer_core.network import build_vgg
    from fer_core.train import DEFAULT_DATA, serve

    arch, state = read_teacher(path)
    if arch != "vgg":
        raise ValueError(f"{path}: only VGG teachers have a Keras twin, this is {arch!r}")
    width = state["features.0.weight"].shape[0]
    model = build_vgg((width, width * 2, width * 4, width * 8), name=f"vgg_{width}-{width * 8}")
    vgg_keras_weights(model, state)
    train_faces = load_faces(Path(DEFAULT_DATA) / "train.npz")
    val_faces = load_faces(Path(DEFAULT_DATA) / "val.npz", "PublicTest")
    out.mkdir(parents=True, exist_ok=True)
    model.save(out / "final.keras")
    return serve(model, out, train_faces, val_faces, flip_tta, int8)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("teacher", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--int8", action="store_true")
    parser.add_argument("--flip-tta", action=argparse.BooleanOptionalAction, default=False)
    parser.add_argument("--record", type=Path, help="the teacher's record.json from the GPU run")
    args = parser.parse_args()
    metrics = import_teacher(args.teacher, args.out, args.int8, args.flip_tta)
    if args.record:
        from fer_core.train import write_gpu_run_record

        write_gpu_run_record(json.loads(args.record.read_text()), args.out, "gpu/train_torch.py teacher (PyTorch)")
    print(f"{args.out}: PublicTest accuracy {metrics['accuracy']:.4f}")


if __name__ == "__main__":
    main()
