"""The original project's per-frame pipeline, rebuilt as the baseline of bench/pipeline_latency.py.

What the original did on every frame, and so does this: dlib's HOG detector with upsample 1 on the full frame, the
68 landmarks of each face, the face crop resized to 48x48 with ``scipy.ndimage.zoom``, and one Keras
``model.predict`` per face, then a box and a label drawn with OpenCV. No tracking, no skipped detections.

The network is an Xception of ours (``fer_core.network.build_xception``, widths 32-256 and a stem of 8: the model
served here until 2026-11-28, float32, about a tenth of the original's per-frame time at most). Weights come from a
``.keras`` file when one is given, else they stay random: the time of ``predict`` does not depend on the weights.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from fer_core.landmarks import default_predictor_path
from fer_core.model_file import DEFAULT_MODEL_DIR, read_meta


def build_keras_classifier(keras_file: Path | None = None):
    """(model, description): the served architecture, with trained weights when a .keras file is found."""
    import keras

    from fer_core.network import build_xception

    if keras_file is not None:
        return keras.models.load_model(keras_file, compile=False), f"weights from {keras_file}"
    meta = read_meta(DEFAULT_MODEL_DIR)
    model = build_xception(
        input_size=meta.input_size, num_classes=len(meta.labels), block_widths=(32, 64, 128, 256), stem_width=8
    )
    return model, f"random weights (the time of predict does not depend on them), {model.count_params()} parameters"


class OriginalPipeline:
    """``process(bgr)`` -> list of (box, 68 points, probabilities) for every face in one frame."""

    def __init__(self, model, size: int = 48, labels: tuple[str, ...] = ()) -> None:
        import dlib

        self._dlib = dlib
        self._detector = dlib.get_frontal_face_detector()
        self._predictor = dlib.shape_predictor(str(default_predictor_path()))
        self._model = model
        self._size = size
        self._labels = labels or read_meta(DEFAULT_MODEL_DIR).labels

    def process(self, bgr: np.ndarray) -> list[tuple[tuple[int, int, int, int], np.ndarray, np.ndarray]]:
        from scipy.ndimage import zoom

        gray = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
        faces = []
        for rect in self._detector(gray, 1):
            shape = self._predictor(gray, rect)
            points = np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float64)
            x1, y1 = max(rect.left(), 0), max(rect.top(), 0)
            x2, y2 = min(rect.right() + 1, gray.shape[1]), min(rect.bottom() + 1, gray.shape[0])
            crop = gray[y1:y2, x1:x2].astype(np.float32)
            face = zoom(crop, (self._size / crop.shape[0], self._size / crop.shape[1]))
            probabilities = self._model.predict(face[None, :, :, None], verbose=0)[0]
            faces.append(((x1, y1, x2, y2), points, probabilities))
        return faces

    def draw(self, bgr: np.ndarray, faces) -> np.ndarray:
        for (x1, y1, x2, y2), _points, p in faces:
            k = int(np.argmax(p))
            cv2.rectangle(bgr, (x1, y1), (x2, y2), (0, 255, 0), 2)
            cv2.putText(
                bgr,
                f"{self._labels[k]} {p[k]:.0%}",
                (x1, max(y1 - 5, 12)),
                cv2.FONT_HERSHEY_SIMPLEX,
                0.6,
                (0, 255, 0),
                1,
                cv2.LINE_AA,
            )
        return bgr
