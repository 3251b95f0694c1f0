"""Face detection: dlib's HOG frontal face detector (the default), or MediaPipe's BlazeFace (:mod:`fer_core.blazeface`,
an option: faster, for faces that are not small in the frame)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from fer_core.blazeface import BlazeFace, hog_style_boxes, load_box_map
from fer_core.geometry import clip_boxes


# Side (pixels) of dlib's HOG detection window: the smallest face a search finds, in the searched image.
WINDOW = 80
# Width (pixels, in the searched image) that a face keeps when ``detect(min_face=...)`` searches a downscaled frame:
# dlib's HOG window is 80x80, and margin keeps a face seen a little smaller, or turned, findable.
SEARCH_FACE = 100
# Margin (a fraction of the box's width and height, on each side) around a face seen lately that a search near it
# covers (``detect(near=...)``): the face moves little between detections, and dlib needs context around its window.
NEAR_MARGIN = 0.5
# dlib's frontal face detector as dlib itself serialises it (``get_frontal_face_detector().save(...)``): loading this
# takes about a millisecond, building it from the copy compiled into dlib about a quarter of a second per process.
SAVED_DETECTOR = Path(__file__).resolve().parents[1] / "models" / "dlib" / "frontal_face_detector.svm"


@dataclass(frozen=True)
class Detections:
    """Faces found in one frame: ``boxes`` int64 (N, 4) as (x1, y1, x2, y2) full-resolution pixels, ``scores``
    float64 (N,) dlib's detection score (higher is surer; 0 is the detector's default threshold)."""

    boxes: np.ndarray
    scores: np.ndarray

    def __post_init__(self) -> None:
        if self.boxes.ndim != 2 or self.boxes.shape[1] != 4:
            raise ValueError(f"boxes must be (N, 4), got {self.boxes.shape}")
        if self.scores.shape != (len(self.boxes),):
            raise ValueError(f"scores must be ({len(self.boxes)},), got {self.scores.shape}")

    def __len__(self) -> int:
        return len(self.boxes)

    @classmethod
    def empty(cls) -> "Detections":
        return cls(np.zeros((0, 4), dtype=np.int64), np.zeros(0))


# The detectors a DetectorSettings can name.
DETECTORS = ("hog", "blazeface")


@dataclass(frozen=True)
class DetectorSettings:
    """``model``: ``"hog"`` (dlib's HOG detector, the default) or ``"blazeface"`` (MediaPipe's short-range BlazeFace:
    each search costs the same small time, the whole frame always; faces from about a tenth of the frame's longer
    side; ``upsample``, ``max_search_width`` and ``threshold`` are HOG's own and do not apply to it).
    ``upsample``: dlib's pyramid upsampling (1 finds faces half as large, at about 4x the cost).
    ``max_search_width``: a wider frame is searched downscaled to this width (0 = always full size); boxes are
    mapped back to full resolution. ``threshold``: dlib's score threshold (negative finds more, less sure faces).
    ``min_face``: boxes smaller than this (pixels, full resolution) are dropped."""

    upsample: int = 0
    max_search_width: int = 640
    threshold: float = 0.0
    min_face: int = 24
    model: str = "hog"

    def __post_init__(self) -> None:
        if self.model not in DETECTORS:
            raise ValueError(f"unknown face detector {self.model!r}: one of {', '.join(DETECTORS)}")
        if self.model == "blazeface" and self.upsample:
            raise ValueError("upsampling is the HOG detector's: BlazeFace finds faces from a tenth of the frame")

    @classmethod
    def small_faces(cls) -> "DetectorSettings":
        """Every frame searched at full size and upsampled once: faces from about 40 pixels wide (groups, wide
        shots), at about 4x (640-wide frames) to over 30x (1080p) the time of a full search with the defaults."""
        return cls(upsample=1, max_search_width=0)

    def smallest_face(self, frame_width: int, frame_height: int = 0) -> float:
        """About the narrowest face (pixels) a full search finds in a frame ``frame_width`` pixels wide: the
        detector's window, halved per upsampling, scaled back up when the frame is searched downscaled; for
        BlazeFace a tenth of the frame's longer side."""
        if self.model == "blazeface":
            return max(frame_width, frame_height) / 10
        scale = min(1.0, self.max_search_width / frame_width) if self.max_search_width and frame_width else 1.0
        return WINDOW / 2**self.upsample / scale


def make_detector(settings: DetectorSettings = DetectorSettings()) -> "FaceDetector | BlazeFaceDetector":
    """The detector ``settings.model`` names."""
    return BlazeFaceDetector(settings) if settings.model == "blazeface" else FaceDetector(settings)


class FaceDetector:
    """dlib HOG + linear SVM frontal face detector. ``detect(gray)`` takes uint8 (H, W) and returns Detections."""

    searches_near = True  # detect(near=...) searches only around those boxes

    def __init__(self, settings: DetectorSettings = DetectorSettings()) -> None:
        import dlib

        self.settings = settings
        self._detector = (
            dlib.fhog_object_detector(str(SAVED_DETECTOR))
            if SAVED_DETECTOR.is_file()
            else dlib.get_frontal_face_detector()
        )

    def detect(self, gray: np.ndarray, min_face: float | None = None, near: np.ndarray | None = None) -> Detections:
        """Faces in a uint8 (H, W) grayscale image, best score first.

        ``min_face`` (full-resolution pixels): only faces at least this wide are wanted, so the frame may be searched
        further downscaled, as long as such a face stays :data:`SEARCH_FACE` pixels wide (about 3x cheaper for a
        face half the frame's height; the pipeline uses it for the faces it is already following). Large faces are
        found as before: the detector's own image pyramid would have shrunk them to that size anyway.
        ``near``: boxes (M, 4) x1, y1, x2, y2 (full-resolution pixels) of faces seen lately: only the regions
        around them are searched (:func:`search_regions`), not the rest of the frame."""
        height, width = gray.shape[:2]
        scale = 1.0
        if self.settings.max_search_width and width > self.settings.max_search_width:
            scale = self.settings.max_search_width / width
        if min_face:
            wanted = SEARCH_FACE / 2**self.settings.upsample / min_face
            scale = wanted if wanted < 0.9 * scale else scale  # a smaller step would not pay for the resize
        if scale < 1.0:
            gray = cv2.resize(gray, (round(width * scale), round(height * scale)), interpolation=cv2.INTER_AREA)
        searched_height, searched_width = gray.shape[:2]
        regions = (
            [(0, 0, searched_width, searched_height)]
            if near is None
            else search_regions(np.asarray(near, dtype=np.float64) * scale, searched_width, searched_height)
        )
        found_boxes: list[list[int]] = []
        found_scores: list[float] = []
        for x1, y1, x2, y2 in regions:
            rects, scores, _ = self._detector.run(
                np.ascontiguousarray(gray[y1:y2, x1:x2]), self.settings.upsample, self.settings.threshold
            )
            found_boxes += [[r.left() + x1, r.top() + y1, r.right() + 1 + x1, r.bottom() + 1 + y1] for r in rects]
            found_scores += list(scores)
        if not found_boxes:
            return Detections.empty()
        boxes = clip_boxes((np.array(found_boxes, dtype=np.float64) / scale).round(), width, height)
        return _best_first(boxes, np.asarray(found_scores, dtype=np.float64), self.settings.min_face)


class BlazeFaceDetector:
    """MediaPipe's short-range BlazeFace (:mod:`fer_core.blazeface`), its boxes mapped onto dlib HOG's: the same
    ``detect`` as :class:`FaceDetector`, scores being BlazeFace's probabilities (0.5-1). Each call searches the
    whole frame (``min_face`` and ``near`` change nothing: the pass costs the same wherever the faces are)."""

    searches_near = False

    def __init__(self, settings: DetectorSettings = DetectorSettings(model="blazeface")) -> None:
        self.settings = settings
        self._model = BlazeFace()
        self._box_map = load_box_map()

    def detect(self, gray: np.ndarray, min_face: float | None = None, near: np.ndarray | None = None) -> Detections:
        """Faces in a uint8 (H, W) grayscale image, best score first."""
        height, width = gray.shape[:2]
        faces = self._model.run(gray)
        boxes = hog_style_boxes(faces, self._box_map, width, height)
        return _best_first(boxes, faces.scores.astype(np.float64), self.settings.min_face)


def _best_first(boxes: np.ndarray, scores: np.ndarray, min_face: int) -> Detections:
    """Clipped int64 ``boxes`` (N, 4) and their float64 ``scores`` (N,) as Detections: boxes narrower than
    ``min_face`` pixels or of no height dropped, best score first."""
    keep = ((boxes[:, 2] - boxes[:, 0]) >= min_face) & ((boxes[:, 3] - boxes[:, 1]) > 0)
    order = np.argsort(-scores[keep], kind="stable")
    return Detections(boxes[keep][order], scores[keep][order])


def search_regions(boxes: np.ndarray, width: int, height: int) -> list[tuple[int, int, int, int]]:
    """The parts of a ``width`` x ``height`` searched image to search for the faces last seen in ``boxes`` (M, 4)
    x1, y1, x2, y2 (that image's pixels): each box grown by :data:`NEAR_MARGIN` of its size on every side, its
    top-left corner moved onto dlib's 8-pixel HOG grid (so the region's cells are those of the whole image), clipped
    to the image, regions that overlap merged into one (so that no face is found twice); (x1, y1, x2, y2) int."""
    regions = []
    for x1, y1, x2, y2 in np.asarray(boxes, dtype=np.float64).reshape(-1, 4):
        mx, my = NEAR_MARGIN * (x2 - x1), NEAR_MARGIN * (y2 - y1)
        left, top = max(0, int(x1 - mx) // 8 * 8), max(0, int(y1 - my) // 8 * 8)
        right, bottom = min(width, int(np.ceil(x2 + mx))), min(height, int(np.ceil(y2 + my)))
        if right > left and bottom > top:
            regions.append((left, top, right, bottom))
    while True:
        pairs = ((i, j) for i in range(len(regions)) for j in range(i + 1, len(regions)))
        overlapping = next(((i, j) for i, j in pairs if _overlap(regions[i], regions[j])), None)
        if overlapping is None:
            return regions
        i, j = overlapping
        a, b = regions[i], regions.pop(j)
        regions[i] = (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]))


def _overlap(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]
