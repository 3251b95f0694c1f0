"""MediaPipe's short-range BlazeFace face detector (``models/blazeface``), run by LiteRT on the gray frame, its boxes
mapped onto the boxes dlib's HOG detector draws (which dlib's 68-point model and the emotion crops expect).

An option beside the default HOG detector (:class:`fer_core.detect.FaceDetector`): one pass over a 128x128
letterboxed copy of the frame costs the same wherever the faces are, a fraction of a HOG search of a 640x480 frame;
it finds faces from about a tenth of the frame's longer side (HOG's default search: 80 pixels), not small faces in a
wide shot. Its scores are probabilities (0.5-1), not HOG's SVM margins.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from fer_core.geometry import box_iou, clip_boxes

MODEL_DIR = Path(__file__).resolve().parents[1] / "models" / "blazeface"
MODEL_FILE = MODEL_DIR / "face_detection_short_range.tflite"
# The linear map from BlazeFace's box and key points to the box dlib's HOG detector draws around the same face,
# fitted by bench/blazeface_boxes.py on the shared videos.
BOX_MAP_FILE = MODEL_DIR / "hog_box_map.json"
SIDE = 128  # the network's input: SIDE x SIDE x 3, values in [-1, 1]
MIN_SCORE = 0.5  # MediaPipe's threshold for this model
NMS_OVERLAP = 0.3  # detections overlapping more than this (intersection over union) are merged, score-weighted
RAW_SCORE_LIMIT = 80.0
# A face is kept only while its nose tip lies between these fractions of the way from one ear's tragion to the
# other (0.5: facing the camera): turned further, dlib's 68-point model misplaces the eyes (false blinks), and HOG's
# frontal detector does not find such faces either. On the shared videos: 98% of the faces HOG also found lie
# within, 5 of the 9 it did not find outside (bench/RESULTS.md, session 14).
FACING = (0.1, 0.9)


def anchors() -> np.ndarray:
    """The model's 896 SSD anchor centres (896, 2) x, y in [0, 1]: 16x16 cells of 8 pixels with 2 anchors each,
    then 8x8 cells of 16 pixels with 6 (MediaPipe's ``ssd_anchors_calculator`` for this model)."""
    centres = []
    for stride, per_cell in ((8, 2), (16, 6)):
        cells = SIDE // stride
        for y in range(cells):
            for x in range(cells):
                centres += [((x + 0.5) / cells, (y + 0.5) / cells)] * per_cell
    return np.array(centres, dtype=np.float32)


@dataclass(frozen=True)
class RawFaces:
    """BlazeFace's faces in one frame (those facing the camera, see :data:`FACING`), in full-resolution pixels:
    ``boxes`` (N, 4) float x1, y1, x2, y2,
    ``scores`` (N,) in (0.5, 1], ``points`` (N, 6, 2) x, y: right eye, left eye (as seen), nose tip, mouth centre,
    right ear tragion, left ear tragion."""

    boxes: np.ndarray
    scores: np.ndarray
    points: np.ndarray


def box_features(faces: RawFaces) -> np.ndarray:
    """(N, 11) what the map to HOG boxes reads: box centre x, y and width, the eyes' midpoint x, y, nose x, y,
    mouth x, y, the distance between the eyes, and 1."""
    boxes, points = faces.boxes, faces.points
    eyes = points[:, :2].mean(axis=1)
    return np.column_stack(
        [
            (boxes[:, 0] + boxes[:, 2]) / 2,
            (boxes[:, 1] + boxes[:, 3]) / 2,
            boxes[:, 2] - boxes[:, 0],
            eyes,
            points[:, 2],
            points[:, 3],
            np.linalg.norm(points[:, 0] - points[:, 1], axis=1),
            np.ones(len(boxes)),
        ]
    )


def boxes_from_centres(centres: np.ndarray) -> np.ndarray:
    """(N, 4) x1, y1, x2, y2 from (N, 4) centre x, centre y, width, height."""
    half = centres[:, 2:4] / 2
    return np.column_stack([centres[:, :2] - half, centres[:, :2] + half])


class BlazeFace:
    """``run(gray)``: uint8 (H, W) -> :class:`RawFaces`. One LiteRT interpreter, one thread; not thread-safe."""

    def __init__(self, path: Path = MODEL_FILE) -> None:
        from ai_edge_litert.interpreter import Interpreter

        self._interpreter = Interpreter(model_path=str(path), num_threads=1)
        self._interpreter.allocate_tensors()
        self._input = self._interpreter.get_input_details()[0]["index"]
        outputs = {d["shape"][-1]: d["index"] for d in self._interpreter.get_output_details()}
        self._regressors, self._scores = outputs[16], outputs[1]
        self._anchors = anchors()
        self._canvas = np.full((1, SIDE, SIDE, 3), -1.0, dtype=np.float32)  # black letterbox bars

    def run(self, gray: np.ndarray) -> RawFaces:
        height, width = gray.shape[:2]
        scale = SIDE / max(height, width)
        fit_w, fit_h = max(1, round(width * scale)), max(1, round(height * scale))
        pad_x, pad_y = (SIDE - fit_w) // 2, (SIDE - fit_h) // 2
        small = cv2.resize(gray, (fit_w, fit_h), interpolation=cv2.INTER_AREA).astype(np.float32)
        self._canvas[0, pad_y : pad_y + fit_h, pad_x : pad_x + fit_w, :] = (small * (2.0 / 255.0) - 1.0)[:, :, None]
        self._interpreter.set_tensor(self._input, self._canvas)
        self._interpreter.invoke()
        logits = np.clip(self._interpreter.get_tensor(self._scores)[0, :, 0], -RAW_SCORE_LIMIT, RAW_SCORE_LIMIT)
        keep = logits > np.log(MIN_SCORE / (1.0 - MIN_SCORE))
        if not keep.any():
            return RawFaces(np.zeros((0, 4)), np.zeros(0), np.zeros((0, 6, 2)))
        raw = self._interpreter.get_tensor(self._regressors)[0][keep].astype(np.float64) / SIDE
        at = self._anchors[keep].astype(np.float64)
        scores = 1.0 / (1.0 + np.exp(-logits[keep].astype(np.float64)))
        centres = np.column_stack([raw[:, :2] + at, raw[:, 2:4]])
        points = raw[:, 4:].reshape(-1, 6, 2) + at[:, None, :]
        boxes, scores, points = _weighted_nms(boxes_from_centres(centres), scores, points)
        ears = points[:, 5, 0] - points[:, 4, 0]
        nose = (points[:, 2, 0] - np.minimum(points[:, 4, 0], points[:, 5, 0])) / np.maximum(np.abs(ears), 1e-9)
        facing = (nose >= FACING[0]) & (nose <= FACING[1])
        boxes, scores, points = boxes[facing], scores[facing], points[facing]
        # from the letterboxed unit square back to the frame's pixels
        offset = np.array([pad_x, pad_y])
        boxes = (boxes.reshape(-1, 2, 2) * SIDE - offset) / scale
        points = (points * SIDE - offset) / scale
        return RawFaces(boxes.reshape(-1, 4), scores, points)


def _weighted_nms(
    boxes: np.ndarray, scores: np.ndarray, points: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """MediaPipe's weighted non-maximum suppression: the best remaining detection and every one overlapping it by
    more than :data:`NMS_OVERLAP` become one, their boxes and points averaged by score, the best one's score kept."""
    order = np.argsort(-scores, kind="stable")
    boxes, scores, points = boxes[order], scores[order], points[order]
    left = np.ones(len(scores), dtype=bool)
    kept_boxes, kept_scores, kept_points = [], [], []
    while left.any():
        best = int(np.flatnonzero(left)[0])
        group = left & (box_iou(boxes[best], boxes)[0] > NMS_OVERLAP)
        group[best] = True
        weights = scores[group] / scores[group].sum()
        kept_boxes.append(weights @ boxes[group])
        kept_points.append(np.tensordot(weights, points[group], axes=1))
        kept_scores.append(scores[best])
        left &= ~group
    return np.array(kept_boxes), np.array(kept_scores), np.array(kept_points)


def load_box_map(path: Path = BOX_MAP_FILE) -> np.ndarray:
    """The (11, 4) matrix from :func:`box_features` to HOG boxes as centre x, centre y, width, height."""
    matrix = np.asarray(json.loads(path.read_text())["matrix"], dtype=np.float64)
    if matrix.shape != (11, 4):
        raise ValueError(f"{path}: the box map must be 11 x 4, got {matrix.shape}")
    return matrix


def hog_style_boxes(faces: RawFaces, box_map: np.ndarray, width: int, height: int) -> np.ndarray:
    """int64 (N, 4) x1, y1, x2, y2: BlazeFace's faces as dlib's HOG detector would box them, clipped to the frame."""
    if not len(faces.scores):
        return np.zeros((0, 4), dtype=np.int64)
    return clip_boxes(boxes_from_centres(box_features(faces) @ box_map).round(), width, height)
