"""The emotion classifier served through LiteRT (no TensorFlow import): face crops in, 7 probabilities out."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from fer_core.calibration import apply_temperature
from fer_core.errors import ModelFileError
from fer_core.geometry import square_crop_box
from fer_core.labels import EMOTIONS
from fer_core.model_file import DEFAULT_MODEL_DIR, MODEL_FILE, ModelMeta, read_meta

_INTERPOLATION = {"area": cv2.INTER_AREA, "linear": cv2.INTER_LINEAR, "cubic": cv2.INTER_CUBIC}


def prepare_faces(gray: np.ndarray, boxes: np.ndarray, meta: ModelMeta) -> np.ndarray:
    """Crop each detector box (N, 4) of a uint8 (H, W) image as the model's metadata says (a square widened by
    ``crop_margin`` and moved by ``crop_shift``) and resize it as in training: float32 (N, size, size, 1), gray
    levels 0..255 (the network scales them itself)."""
    size = meta.input_size
    out = np.empty((len(boxes), size, size, 1), dtype=np.float32)
    height, width = gray.shape[:2]
    for i, box in enumerate(np.asarray(boxes).reshape(-1, 4)):
        x1, y1, x2, y2 = square_crop_box(box, meta.crop_margin, meta.crop_shift)
        crop = gray[max(y1, 0) : min(y2, height), max(x1, 0) : min(x2, width)]
        if crop.size == 0:
            out[i] = 0.0
            continue
        pads = (max(-y1, 0), max(y2 - height, 0), max(-x1, 0), max(x2 - width, 0))
        if any(pads):  # the square reaches past the image edge: mirror, as training augmentation fills
            crop = cv2.copyMakeBorder(crop, *pads, cv2.BORDER_REFLECT)
        out[i, :, :, 0] = cv2.resize(crop, (size, size), interpolation=_INTERPOLATION[meta.resize])
    return out


class EmotionClassifier:
    """LiteRT interpreter over ``model_dir/emotion.tflite`` (with ``model.json``). ``predict(faces)`` runs one
    batched call; ``num_threads`` LiteRT threads (1 leaves the other core to detection and decoding)."""

    def __init__(self, model_dir: str | Path = DEFAULT_MODEL_DIR, num_threads: int = 1):
        from ai_edge_litert.interpreter import Interpreter

        model_dir = Path(model_dir)
        self.meta = read_meta(model_dir)
        path = model_dir / MODEL_FILE
        if not path.is_file():
            raise ModelFileError(
                f"{path} is missing: restore it with `git checkout models/` or train a model with "
                "`python -m fer_core.train`"
            )
        try:
            self._interpreter = Interpreter(model_path=str(path), num_threads=num_threads)
        except (ValueError, RuntimeError) as exc:
            raise ModelFileError(
                f"{path} is not a valid LiteRT model ({exc}); restore it with `git checkout models/`"
            ) from exc
        self._input = self._interpreter.get_input_details()[0]["index"]
        self._output = self._interpreter.get_output_details()[0]["index"]
        self._batch = 0
        size = self.meta.input_size
        expected = (size, size, 1)
        got = tuple(self._interpreter.get_input_details()[0]["shape"][1:])
        if got != expected:
            raise ModelFileError(f"{path} takes input {got}, but {model_dir}/model.json says {expected}")
        outputs = int(self._interpreter.get_output_details()[0]["shape"][-1])
        if outputs != len(self.meta.labels):
            raise ModelFileError(
                f"{path} gives {outputs} probabilities, but {model_dir}/model.json names {len(self.meta.labels)} labels"
            )
        if sorted(self.meta.labels) != sorted(EMOTIONS):
            raise ModelFileError(
                f"{model_dir}/model.json labels {list(self.meta.labels)} are not the 7 emotions {list(EMOTIONS)}"
            )
        # the model's outputs in the order of EMOTIONS, whatever order the model file uses
        self._order = np.array([self.meta.labels.index(name) for name in EMOTIONS])

    @property
    def labels(self) -> tuple[str, ...]:
        """The names of :meth:`predict`'s columns: always :data:`~fer_core.labels.EMOTIONS`."""
        return EMOTIONS

    def prepare(self, gray: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        """See :func:`prepare_faces`: (N, size, size, 1) float32 crops of ``boxes`` in ``gray``."""
        return prepare_faces(gray, boxes, self.meta)

    def predict(self, faces: np.ndarray) -> np.ndarray:
        """Calibrated probabilities float32 (N, len(labels)) for prepared faces (N, size, size, 1), in one call (the
        network's output at the model's ``temperature``, see :mod:`fer_core.calibration`)."""
        if len(faces) == 0:
            return np.zeros((0, len(self.labels)), dtype=np.float32)
        if len(faces) != self._batch:
            self._interpreter.resize_tensor_input(self._input, list(faces.shape), strict=False)
            self._interpreter.allocate_tensors()
            self._batch = len(faces)
        self._interpreter.set_tensor(self._input, np.ascontiguousarray(faces, dtype=np.float32))
        self._interpreter.invoke()
        probabilities = self._interpreter.get_tensor(self._output)[:, self._order]
        return apply_temperature(probabilities, self.meta.temperature)

    def classify(self, gray: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        """Probabilities (N, len(labels)) for the faces at ``boxes`` (N, 4) in a uint8 (H, W) image."""
        return self.predict(self.prepare(gray, boxes))
