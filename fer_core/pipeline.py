"""One frame flows one way: detect -> track -> landmarks -> blink -> classify (one batched call) -> records.

:class:`FramePipeline` holds every per-face state inside its tracks, so one instance serves one video or one
live session; use a new instance (or ``reset()``) for the next.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from fer_core.blink import BlinkDetector, BlinkSettings, eye_aspect_ratio
from fer_core.classifier import EmotionClassifier
from fer_core.detect import DetectorSettings, FaceDetector
from fer_core.geometry import clip_boxes
from fer_core.image import to_gray
from fer_core.landmarks import FaceLandmarks, LandmarkPredictor
from fer_core.model_file import DEFAULT_MODEL_DIR
from fer_core.records import FaceRecord
from fer_core.track import IouTracker, TrackerSettings


@dataclass(frozen=True)
class PipelineSettings:
    """``smoothing``: weight of the past in an exponential moving average of each face's probabilities
    (0 = raw per-frame output; 0.6 steadies a live view at the cost of about 3 frames of lag).
    ``detect_every``: run the face detector (the costly step) on every n-th frame only; in between, each face seen
    in the previous frame is followed by refitting its landmarks and moving its box with them. The detector also
    runs whenever no face is being followed. 1 detects on every frame.
    ``full_search_every``: while faces are followed, the detector searches a downscaled frame for faces at least
    3/4 as wide as the smallest followed one (about 3x cheaper for a large face); every n-th detection, and whenever
    no face is followed, it searches for faces of every size, so a new smaller face is found within
    ``detect_every * full_search_every`` frames. 1 always searches for every size."""

    detector: DetectorSettings = field(default_factory=DetectorSettings)
    tracker: TrackerSettings = field(default_factory=TrackerSettings)
    blink: BlinkSettings = field(default_factory=BlinkSettings)
    smoothing: float = 0.0
    detect_every: int = 3
    full_search_every: int = 4
    model_dir: str = str(DEFAULT_MODEL_DIR)


@dataclass(frozen=True)
class FrameResult:
    """Everything found in one frame: ``records`` (one per face, in track-id order), ``landmarks`` by track id."""

    records: list[FaceRecord]
    landmarks: dict[int, FaceLandmarks]


@dataclass(frozen=True)
class LocatedFaces:
    """The faces of one frame before classification: the uint8 (H, W) ``gray`` frame, its time in seconds, and
    per face (same order) its track, box (N, 4) int x1, y1, x2, y2 in pixels, detection score (N,) and landmarks."""

    gray: np.ndarray
    time_s: float
    tracks: list
    boxes: np.ndarray
    scores: np.ndarray
    shapes: list[FaceLandmarks]


class FramePipeline:
    """``process(image, time_s, frame_index)`` -> :class:`FrameResult`. Models load in the constructor.
    ``process`` is ``locate`` then the classifier then ``finish``; a video analysis overlaps the classifier of
    one frame with ``locate`` of the next (see :mod:`fer_core.video`)."""

    def __init__(self, settings: PipelineSettings = PipelineSettings(),
                 classifier: EmotionClassifier | None = None, landmarks: LandmarkPredictor | None = None) -> None:
        """``classifier`` and ``landmarks``: already loaded models to reuse (else loaded here)."""
        self.settings = settings
        self.classifier = classifier or EmotionClassifier(settings.model_dir)
        self.detector = FaceDetector(settings.detector)
        self.landmarks = landmarks or LandmarkPredictor()
        self.tracker = IouTracker(settings.tracker)
        self.reset()

    def reset(self) -> None:
        """Forget every face (identities restart at 1)."""
        self.tracker.reset()
        self._frames_since_detection = 0
        self._detections_since_full_search = 0
        self._last_time: float | None = None

    def process(self, image: np.ndarray, time_s: float, frame_index: int) -> FrameResult:
        """Find, follow and classify every face of one BGR/BGRA/gray frame shown at ``time_s`` seconds."""
        located = self.locate(image, time_s)
        return self.finish(located, self.classifier.classify(located.gray, located.boxes), frame_index)

    def locate(self, image: np.ndarray, time_s: float, gray: np.ndarray | None = None) -> LocatedFaces:
        """The first half of :meth:`process`: detect or follow the faces of a frame, with their landmarks.
        ``gray``: the frame as uint8 (H, W), when already converted. Frames must be located in order; each
        located frame is then finished (:meth:`finish`), in the same order, possibly one frame later."""
        gray = to_gray(image) if gray is None else gray
        followed = [t for t in self.tracker.tracks.values() if t.last_seen_s == self._last_time]
        if followed and self._frames_since_detection + 1 < self.settings.detect_every:
            self._frames_since_detection += 1
            tracks, boxes, scores, shapes = self._follow(gray, followed, time_s)
        else:
            self._frames_since_detection = 0
            detections = self.detector.detect(gray, self._wanted_face_size(followed))
            tracks, _ended = self.tracker.update(detections.boxes, time_s)
            boxes, scores = detections.boxes, detections.scores
            shapes = self.landmarks.predict(gray, boxes)
            for track, shape, score in zip(tracks, shapes, scores):
                track.state["landmark_centre"] = shape.points.mean(axis=0)
                track.state["detection_score"] = float(score)
        self._last_time = time_s
        return LocatedFaces(gray, float(time_s), tracks, boxes, scores, shapes)

    def finish(self, located: LocatedFaces, probabilities: np.ndarray, frame_index: int) -> FrameResult:
        """The second half of :meth:`process`: smoothing, blinks and records of a located frame, given its
        ``probabilities`` (N, 7) from ``self.classifier.classify(located.gray, located.boxes)``. Touches only the
        tracks' probability and blink state, which :meth:`locate` never reads."""
        labels = self.classifier.labels
        time_s, boxes, shapes, scores = located.time_s, located.boxes, located.shapes, located.scores
        records, landmarks = [], {}
        for i, track in enumerate(located.tracks):
            p = self._smooth(track.state, probabilities[i])
            ear = (eye_aspect_ratio(shapes[i].left_eye) + eye_aspect_ratio(shapes[i].right_eye)) / 2.0
            blinks = track.state.setdefault("blink", BlinkDetector(self.settings.blink))
            blink = blinks.update(ear, time_s)
            best = int(np.argmax(p))
            x1, y1, x2, y2 = (int(v) for v in boxes[i])
            records.append(FaceRecord(
                time_s=time_s, frame_index=int(frame_index), track_id=track.track_id,
                x1=x1, y1=y1, x2=x2, y2=y2, detection_score=float(scores[i]),
                probabilities=tuple(float(v) for v in p), emotion=labels[best], emotion_probability=float(p[best]),
                ear=ear, eyes_closed=blink.closed, blink=blink.blink, blink_count=blink.count))
            landmarks[track.track_id] = shapes[i]
        records.sort(key=lambda r: r.track_id)
        return FrameResult(records, landmarks)

    def _wanted_face_size(self, followed: list) -> float | None:
        """The smallest face width the detector must find now: None (every size) on a full search."""
        self._detections_since_full_search += 1
        if not followed or self._detections_since_full_search >= self.settings.full_search_every:
            self._detections_since_full_search = 0
            return None
        return 0.75 * min(float(t.box[2] - t.box[0]) for t in followed)

    def _follow(self, gray: np.ndarray, tracks: list, time_s: float):
        """Refit the landmarks of each followed face in its last box and move the box by the landmarks' shift."""
        height, width = gray.shape[:2]
        shapes = self.landmarks.predict(gray, np.stack([t.box for t in tracks]))
        boxes = []
        for track, shape in zip(tracks, shapes):
            centre = shape.points.mean(axis=0)
            dx, dy = np.round(centre - track.state.get("landmark_centre", centre)).astype(np.int64)
            box = clip_boxes(track.box + np.array([dx, dy, dx, dy]), width, height)[0]
            self.tracker.follow(track, box, time_s)
            track.state["landmark_centre"] = centre
            boxes.append(box)
        scores = np.array([t.state.get("detection_score", 0.0) for t in tracks])
        return tracks, np.stack(boxes), scores, shapes

    def _smooth(self, state: dict, p: np.ndarray) -> np.ndarray:
        alpha = self.settings.smoothing
        previous = state.get("probabilities")
        smoothed = p if previous is None or alpha <= 0 else alpha * previous + (1.0 - alpha) * p
        state["probabilities"] = smoothed
        return smoothed
