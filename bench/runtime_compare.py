"""The served emotion model on LiteRT (what fer_core serves) against onnxruntime, same network, same weights, one
core: PublicTest accuracy and milliseconds per face, alternating in one run (issue 13: "measure both").

    python bench/runtime_compare.py [--model models/emotion] [--arch xception-d4-32] [--rounds 2]

Needs PyTorch, onnx, onnxruntime and ai-edge-litert (not the project's dependencies: a separate environment, e.g.
``python -m venv /tmp/ortenv && /tmp/ortenv/bin/pip install torch onnx onnxruntime ai-edge-litert==2.3.0``). The network comes back from the served 8-bit file (``gpu/student_from_tflite.py``) into its PyTorch
twin (``gpu/train_torch.py``), is exported to ONNX with the mirror-image average inside (as the served file has it),
and quantized by onnxruntime to 8 bits, calibrated on 500 Training faces: QDQ and QOperator formats, uint8
activations, int8 weights per channel. Run it under ``taskset -c 0`` on an idle machine.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "gpu"))
DATA = Path(os.environ.get("FER_SHARED_DATA", ROOT.parent / "shared" / "data")) / "fer2013"


def onnx_files(model_dir: Path, arch: str, folder: Path, calibration: np.ndarray) -> dict[str, Path]:
    """float32, QDQ int8 and QOperator int8 ONNX files of the served model's network: (B, 48, 48, 1) 0..255 in,
    (B, 7) probabilities out (mean of the face and its mirror image)."""
    import student_from_tflite
    import torch
    import torch.nn.functional as F
    import train_torch
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    widths, _, _ = student_from_tflite.STUDENTS[arch]
    state = student_from_tflite.student_state(
        student_from_tflite.folded_convolutions(model_dir / "emotion.tflite"), len(widths)
    )
    np.savez(folder / "recovered.npz", **state)
    network = train_torch.build_student(arch)
    train_torch.read_state(folder / "recovered.npz", network)
    network.eval()

    class MirrorAverage(torch.nn.Module):
        def __init__(self, net: torch.nn.Module) -> None:
            super().__init__()
            self.net = net

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            x = x.permute(0, 3, 1, 2)
            return (F.softmax(self.net(x), -1) + F.softmax(self.net(torch.flip(x, [3])), -1)) / 2

    files = {"float32": folder / "f32.onnx", "QDQ": folder / "qdq.onnx", "QOperator": folder / "qop.onnx"}
    torch.onnx.export(
        MirrorAverage(network).eval(),
        torch.from_numpy(calibration[:1]),
        str(files["float32"]),
        input_names=["x"],
        output_names=["p"],
        dynamic_axes={"x": {0: "batch"}, "p": {0: "batch"}},
        opset_version=17,
        dynamo=False,
    )
    prepared = folder / "f32_prepared.onnx"
    quant_pre_process(str(files["float32"]), str(prepared))

    class Faces(CalibrationDataReader):
        def __init__(self) -> None:
            self.faces = iter(calibration[i : i + 1] for i in range(len(calibration)))

        def get_next(self):
            face = next(self.faces, None)
            return None if face is None else {"x": face}

    for name, layout in (("QDQ", QuantFormat.QDQ), ("QOperator", QuantFormat.QOperator)):
        quantize_static(
            str(prepared),
            str(files[name]),
            Faces(),
            quant_format=layout,
            per_channel=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
        )
    return files


def onnx_runner(path: Path):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    return lambda x: session.run(None, {"x": x})[0]


def litert_runner(model_dir: Path):
    """The served file as fer_core.classifier runs it (one thread; its network output, before the temperature)."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(model_dir / "emotion.tflite"), num_threads=1)
    index, output = interpreter.get_input_details()[0]["index"], interpreter.get_output_details()[0]["index"]
    batch = [0]

    def run(x: np.ndarray) -> np.ndarray:
        if batch[0] != len(x):
            interpreter.resize_tensor_input(index, list(x.shape), strict=False)
            interpreter.allocate_tensors()
            batch[0] = len(x)
        interpreter.set_tensor(index, x)
        interpreter.invoke()
        return interpreter.get_tensor(output)

    return run


def ms_per_face(run, faces: np.ndarray, batch: int, repeats: int = 300) -> float:
    for i in range(20):
        run(faces[:batch].copy())
    times = []
    for i in range(repeats):
        x = faces[(i * batch) % 3000 : (i * batch) % 3000 + batch].copy()
        started = time.perf_counter()
        run(x)
        times.append((time.perf_counter() - started) / batch * 1000)
    return float(np.median(times))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, default=ROOT / "models" / "emotion")
    parser.add_argument("--arch", default="xception-d4-32")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    val = np.load(DATA / "val.npz")
    faces, labels = val["x"][..., None].astype(np.float32), val["y"]
    calibration = np.load(DATA / "train.npz")["x"][:500, ..., None].astype(np.float32)
    with tempfile.TemporaryDirectory() as folder:
        files = onnx_files(args.model, args.arch, Path(folder), calibration)
        runners = {"LiteRT int8 (served)": litert_runner(args.model)}
        runners.update({f"onnxruntime {name}": onnx_runner(path) for name, path in files.items()})
        for name, run in runners.items():
            probabilities = np.concatenate([run(faces[i : i + 1]) for i in range(len(faces))])
            print(f"{name:26s} PublicTest {(probabilities.argmax(1) == labels).mean():.2%}")
        for _ in range(args.rounds):
            for name, run in runners.items():
                print(
                    f"{name:26s} " + ", ".join(f"{ms_per_face(run, faces, b):.3f}" for b in (1, 2)),
                    "ms a face (1, 2 a call)",
                )


if __name__ == "__main__":
    main()
