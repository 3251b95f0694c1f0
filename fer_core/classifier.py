"""The emotion classifier served through LiteRT (no TensorFlow import): face crops in, 7 probabilities out."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from fer_core.errors import ModelFileError
from fer_core.geometry import square_crop_box
from fer_core.model_file import DEFAULT_MODEL_DIR, MODEL_FILE, ModelMeta, read_meta

_INTERPOLATION = {"area": cv2.INTER_AREA, "linear": cv2.INTER_LINEAR, "cubic": cv2.INTER_CUBIC}


def prepare_faces(gray: np.ndarray, boxes: np.ndarray, meta: ModelMeta, margin: float) -> np.ndarray:
    """Crop each box (N, 4) of a uint8 (H, W) image as a square widened by ``margin`` on each side, resize it as in
    training: float32 (N, size, size, 1), gray levels 0..255 (the network scales them itself)."""
    size = meta.input_size
    out = np.empty((len(boxes), size, size, 1), dtype=np.float32)
    height, width = gray.shape[:2]
    for i, box in enumerate(np.asarray(boxes).reshape(-1, 4)):
        x1, y1, x2, y2 = square_crop_box(box, margin, width, height)
        crop = gray[y1:y2, x1:x2]
        if crop.size == 0:
            out[i] = 0.0
            continue
        out[i, :, :, 0] = cv2.resize(crop, (size, size), interpolation=_INTERPOLATION[meta.resize])
    return out


class EmotionClassifier:
    """LiteRT interpreter over ``model_dir/emotion.tflite``. ``predict(faces)`` runs one batched call.

    ``margin``: the face box is widened by this fraction of its side before cropping, so that the crop frames
    the face like FER2013's images do.
    """

    def __init__(self, model_dir: str | Path = DEFAULT_MODEL_DIR, num_threads: int = 1, margin: float = 0.1):
        from ai_edge_litert.interpreter import Interpreter

        model_dir = Path(model_dir)
        self.meta = read_meta(model_dir)
        self.margin = margin
        path = model_dir / MODEL_FILE
        if not path.is_file():
            raise ModelFileError(f"{path} is missing: restore it with `git checkout models/` or train a model with "
                                 "`python -m fer_core.train`")
        try:
            self._interpreter = Interpreter(model_path=str(path), num_threads=num_threads)
        except (ValueError, RuntimeError) as exc:
            raise ModelFileError(f"{path} is not a valid LiteRT model ({exc}); restore it with "
                                 "`git checkout models/`") from exc
        self._input = self._interpreter.get_input_details()[0]["index"]
        self._output = self._interpreter.get_output_details()[0]["index"]
        self._batch = 0
        size = self.meta.input_size
        expected = (size, size, 1)
        got = tuple(self._interpreter.get_input_details()[0]["shape"][1:])
        if got != expected:
            raise ModelFileError(f"{path} takes input {got}, but {model_dir}/model.json says {expected}")

    @property
    def labels(self) -> tuple[str, ...]:
        return self.meta.labels

    def prepare(self, gray: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        """See :func:`prepare_faces`: (N, size, size, 1) float32 crops of ``boxes`` in ``gray``."""
        return prepare_faces(gray, boxes, self.meta, self.margin)

    def predict(self, faces: np.ndarray) -> np.ndarray:
        """Probabilities float32 (N, len(labels)) for prepared faces (N, size, size, 1), in one call."""
        if len(faces) == 0:
            return np.zeros((0, len(self.labels)), dtype=np.float32)
        if len(faces) != self._batch:
            self._interpreter.resize_tensor_input(self._input, list(faces.shape), strict=False)
            self._interpreter.allocate_tensors()
            self._batch = len(faces)
        self._interpreter.set_tensor(self._input, np.ascontiguousarray(faces, dtype=np.float32))
        self._interpreter.invoke()
        return self._interpreter.get_tensor(self._output).copy()

    def classify(self, gray: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        """Probabilities (N, len(labels)) for the faces at ``boxes`` (N, 4) in a uint8 (H, W) image."""
        return self.predict(self.prepare(gray, boxes))
