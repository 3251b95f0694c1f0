"""The emotion classifier served through LiteRT (no TensorFlow import): face crops in, 7 probabilities out."""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np

from fer_core.calibration import apply_temperature
from fer_core.errors import ModelFileError
from fer_core.geometry import rotation, square_crop_box
from fer_core.labels import EMOTIONS
from fer_core.model_file import DEFAULT_MODEL_DIR, MODEL_FILE, ModelMeta, read_meta

_INTERPOLATION = {"area": cv2.INTER_AREA, "linear": cv2.INTER_LINEAR, "cubic": cv2.INTER_CUBIC}


def prepare_faces(gray: np.ndarray, boxes: np.ndarray, meta: ModelMeta, angles: np.ndarray | None = None) -> np.ndarray:
    """Crop each detector box (N, 4) of a uint8 (H, W) image as the model's metadata says (a square widened by
    ``crop_margin`` and moved by ``crop_shift``) and resize it as in training: float32 (N, size, size, 1), gray
    levels 0..255 (the network scales them itself). ``angles`` (N,) degrees: each square turned by its angle about
    the box's centre (clockwise on screen for positive; see :meth:`FaceLandmarks.roll_degrees`), so that a tilted
    face comes out upright."""
    size = meta.input_size
    out = np.empty((len(boxes), size, size, 1), dtype=np.float32)
    for i, box in enumerate(np.asarray(boxes).reshape(-1, 4)):
        angle = 0.0 if angles is None else float(angles[i])
        x1, y1, x2, y2 = square_crop_box(box, meta.crop_margin, meta.crop_shift)
        if angle:
            crop = _turned_square(gray, box, (x1, y1, x2, y2), angle, 4 * size)
        else:
            crop = _region(gray, x1, y1, x2, y2)
        if crop.size == 0:
            out[i] = 0.0
            continue
        out[i, :, :, 0] = cv2.resize(crop, (size, size), interpolation=_INTERPOLATION[meta.resize])
    return out


def _region(gray: np.ndarray, x1: int, y1: int, x2: int, y2: int) -> np.ndarray:
    """The pixels of gray[y1:y2, x1:x2], mirrored where they reach past the image's edge (as training augmentation
    fills); empty when none of it is inside the image."""
    height, width = gray.shape[:2]
    crop = gray[max(y1, 0) : min(y2, height), max(x1, 0) : min(x2, width)]
    pads = (max(-y1, 0), max(y2 - height, 0), max(-x1, 0), max(x2 - width, 0))
    if crop.size and any(pads):
        crop = cv2.copyMakeBorder(crop, *pads, cv2.BORDER_REFLECT)
    return crop


def _turned_square(
    gray: np.ndarray, box: np.ndarray, square: tuple[int, int, int, int], angle: float, most: int
) -> np.ndarray:
    """The pixels of ``square`` (x1, y1, x2, y2, made from ``box`` as in :func:`prepare_faces`) turned by ``angle``
    degrees about ``box``'s centre, as an upright uint8 square image of at most ``most`` pixels a side (larger
    squares are first area-shrunk, then sampled bilinearly; mirrored past the image's edges). Empty when the square
    lies outside the image."""
    turn = rotation(angle)
    cos, sin = turn[0, 0], turn[1, 0]
    side = square[2] - square[0]
    half = side / 2.0
    # the square's centre (pixel-index coordinates), its offset from the box's centre turned with the face
    box_centre = np.array([box[0] + box[2], box[1] + box[3]]) / 2.0
    cx, cy = box_centre + turn @ (np.array(square[:2]) + half - box_centre)
    reach = half * (abs(cos) + abs(sin)) + 2.0  # half the side of the turned square's bounding box
    x1, y1 = math.floor(cx - reach), math.floor(cy - reach)
    x2, y2 = math.ceil(cx + reach) + 1, math.ceil(cy + reach) + 1
    region = _region(gray, x1, y1, x2, y2)
    if region.size == 0:
        return region
    sx = sy = 1.0
    if side > most:
        shrunk = max(1, round((x2 - x1) * most / side)), max(1, round((y2 - y1) * most / side))
        region = cv2.resize(region, shrunk, interpolation=cv2.INTER_AREA)
        sx, sy = shrunk[0] / (x2 - x1), shrunk[1] / (y2 - y1)
    out = min(side, most)
    step = side / out  # square pixels per output pixel
    # output pixel (u, v) -> square offset d = ((u, v) + 0.5) * step - 0.5 - half -> image point centre + turn d
    # -> region pixel ((point - (x1, y1)) + 0.5) * scale - 0.5 (pixel centres as cv2.resize maps them)
    d = 0.5 * step - 0.5 - half
    to_region = np.array(
        [
            [sx * cos * step, -sx * sin * step, sx * (cx - x1 + (cos - sin) * d + 0.5) - 0.5],
            [sy * sin * step, sy * cos * step, sy * (cy - y1 + (sin + cos) * d + 0.5) - 0.5],
        ]
    )
    return cv2.warpAffine(
        region, to_region, (out, out), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REFLECT
    )


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
        self._faces_read = self._faces_read_twice = 0  # by predict, so far

    @property
    def labels(self) -> tuple[str, ...]:
        """The names of :meth:`predict`'s columns: always :data:`~fer_core.labels.EMOTIONS`."""
        return EMOTIONS

    @property
    def read_twice_share(self) -> float | None:
        """The share (0..1) of the faces given to :meth:`predict` so far that it read a second time, mirrored; None
        for a model without ``mirror_below`` or before any face."""
        if not self.meta.mirror_below or not self._faces_read:
            return None
        return self._faces_read_twice / self._faces_read

    def prepare(self, gray: np.ndarray, boxes: np.ndarray, angles: np.ndarray | None = None) -> np.ndarray:
        """See :func:`prepare_faces`: (N, size, size, 1) float32 crops of ``boxes`` in ``gray``."""
        return prepare_faces(gray, boxes, self.meta, angles)

    def predict(self, faces: np.ndarray) -> np.ndarray:
        """Calibrated probabilities float32 (N, len(labels)) for prepared faces (N, size, size, 1): the network's
        output at the model's ``temperature`` (see :mod:`fer_core.calibration`), in one call. Where the model has
        ``mirror_below``, the faces whose top probability (before calibration) is below it are read a second time
        mirrored, in a second call, and get the mean of their two readings."""
        if len(faces) == 0:
            return np.zeros((0, len(self.labels)), dtype=np.float32)
        probabilities = self._read(faces)
        unsure = probabilities.max(axis=1) < self.meta.mirror_below
        self._faces_read += len(faces)
        self._faces_read_twice += int(unsure.sum())
        if unsure.any():
            probabilities[unsure] = (probabilities[unsure] + self._read(faces[unsure, :, ::-1])) / 2
        return apply_temperature(probabilities, self.meta.temperature)

    def _read(self, faces: np.ndarray) -> np.ndarray:
        """One interpreter call: the network's probabilities float32 (N, len(labels)), columns in the order of
        :data:`EMOTIONS`, for faces (N, size, size, 1)."""
        if len(faces) != self._batch:
            self._interpreter.resize_tensor_input(self._input, list(faces.shape), strict=False)
            self._interpreter.allocate_tensors()
            self._batch = len(faces)
        self._interpreter.set_tensor(self._input, np.ascontiguousarray(faces, dtype=np.float32))
        self._interpreter.invoke()
        return self._interpreter.get_tensor(self._output)[:, self._order]

    def classify(self, gray: np.ndarray, boxes: np.ndarray, angles: np.ndarray | None = None) -> np.ndarray:
        """Probabilities (N, len(labels)) for the faces at ``boxes`` (N, 4) in a uint8 (H, W) image, each turned
        by its angle (N,) in degrees when given (see :func:`prepare_faces`)."""
        return self.predict(self.prepare(gray, boxes, angles))
