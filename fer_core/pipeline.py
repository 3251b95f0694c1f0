"""One frame flows one way: detect -> track -> landmarks -> blink -> classify (one batched call) -> records.

:class:`FramePipeline` holds every per-face state inside its tracks, so one instance serves one video or one
live session; use a new instance (or ``reset()``) for the next.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property, partial

import cv2
import numpy as np

from fer_core.blink import BlinkDetector, BlinkSettings, eye_aspect_ratio
from fer_core.detect import DetectorSettings, make_detector
from fer_core.geometry import clip_boxes
from fer_core.identity import SAME_PERSON, closest
from fer_core.image import check_frame, to_gray
from fer_core.landmarks import FaceLandmarks
from fer_core.model_file import DEFAULT_MODEL_DIR
from fer_core.models import Classifier, Describer, LandmarkModel
from fer_core.records import FaceRecord
from fer_core.track import IouTracker, Track, TrackerSettings

# Scene cuts are looked for only between frames this close (seconds): every frame of a video of 20 fps or more.
CUT_FRAME_GAP_S = 0.05
# Only a face followed at least this long (seconds) can be recognised when it returns: a passing glimpse or a false
# detection is not worth the 75 ms descriptors (a busy scene could otherwise stall a live stream for seconds).
KNOWN_AFTER_S = 1.0
# How often (seconds) the pipeline keeps a new aligned chip of each face it follows, for recognising it on return.
LOOK_EVERY_S = 1.0
# A followed face's box whose gray levels vary less than this (standard deviation) holds no face any more: the
# picture went black, blank or frozen gray (a real face, even dim or blurred, varies far more).
MIN_FACE_CONTRAST = 4.0


# Frames from one search for faces of every size to the next with the default settings (detect_every x
# full_search_every).
FULL_SEARCH_FRAMES = 12


@dataclass(frozen=True)
class PipelineSettings:
    """``smoothing``: weight of the past in an exponential moving average of each face's probabilities
    (0 = raw per-frame output; 0.6 steadies a live view at the cost of about 3 frames of lag).
    ``detect_every``: run the face detector (the costly step) on every n-th frame only; in between, each face seen
    in the previous frame is followed by refitting its landmarks and moving its box with them. The detector also
    runs whenever no face is being followed. 1 detects on every frame.
    ``full_search_every``: while faces are followed, the detector searches only the regions around them
    (:func:`~fer_core.detect.search_regions`), downscaled for faces at least 3/4 as wide as the smallest followed
    one (the whole frame, downscaled alike, when that finds fewer faces than are followed); every n-th detection,
    and whenever no face is followed, it searches the whole frame for faces of every size, so a new face is found
    within ``detect_every * full_search_every`` frames. 1 always searches it all.
    Both cadences count frames from the start of the video (the frame index, not the frames since the last
    detection), so that an analysis started anywhere in a video detects on the same frames once it follows the
    same faces (:mod:`fer_core.segments` relies on it).
    ``same_person``: a face that appears is described (:mod:`fer_core.identity`) and takes back the identity of a
    face that left if their descriptors are closer than this; 0 never does (every return is a new identity).
    A descriptor takes about 75 ms during which dlib holds Python's lock: every other thread of the process waits.
    ``scene_cut``: a frame whose 32x32 thumbnail differs from the previous frame's by more than this many gray
    levels on average is a new shot: no face is followed into it, every face ends there and the detector searches
    it at full size (faces after the cut may still be recognised). 0 never cuts. Judged only between consecutive
    frames of 20 fps or more. Cuts in the shared media measure 26-30, motion from one frame to the next at most 13.
    ``solo_hold_s``: without face recognition (``same_person`` 0 or no describer), a face that appears alone takes
    back the identity of the last face that left, if that face was alone when it left at most this many seconds
    ago: one person looking away or covering the camera stays one face. Two people taking turns alone would be
    merged, so 0 (off) unless a caller knows the scene holds one person at a time (the Live page)."""

    detector: DetectorSettings = field(default_factory=DetectorSettings)
    tracker: TrackerSettings = field(default_factory=TrackerSettings)
    blink: BlinkSettings = field(default_factory=BlinkSettings)
    smoothing: float = 0.0
    detect_every: int = 3
    full_search_every: int = 4
    same_person: float = SAME_PERSON
    scene_cut: float = 20.0
    solo_hold_s: float = 0.0
    model_dir: str = str(DEFAULT_MODEL_DIR)

    @classmethod
    def detecting_every(cls, frames: int, **kwargs) -> PipelineSettings:
        """Settings with the detector on every ``frames``-th frame (at most :data:`FULL_SEARCH_FRAMES`) and the
        search for faces of every size still every :data:`FULL_SEARCH_FRAMES` frames, so that a new face is found
        as soon as with the defaults; ``kwargs``: the other settings."""
        return cls(detect_every=frames, full_search_every=max(1, FULL_SEARCH_FRAMES // frames), **kwargs)


@dataclass
class FaceState:
    """What the pipeline keeps about one followed face, inside its track.

    ``landmark_centre``: mean of the 68 points (2,) x, y in pixels, when last fitted (a followed box moves by its
    shift). ``detection_score``: the detector's score when last detected. ``probabilities``: the smoothed (7,)
    output. ``blink``: the face's blink detector. ``first_look`` / ``last_look``: aligned chips (see
    :class:`~fer_core.models.Describer`) when first seen and lately, ``looked_at`` the time of the last one (s);
    ``descriptors``: theirs, computed only when the face may be coming back."""

    landmark_centre: np.ndarray | None = None
    detection_score: float = 0.0
    probabilities: np.ndarray | None = None
    blink: BlinkDetector | None = None
    first_look: np.ndarray | None = None
    last_look: np.ndarray | None = None
    looked_at: float = -np.inf
    descriptors: list[np.ndarray] | None = None


FaceTrack = Track[FaceState]
# A frame as the pipeline takes it: the image, or a function that makes it (see FramePipeline.locate).
Picture = np.ndarray | Callable[[], np.ndarray]


@dataclass(frozen=True)
class FrameResult:
    """Everything found in one frame: ``records`` (one per face, in track-id order), ``landmarks`` by track id."""

    records: list[FaceRecord]
    landmarks: dict[int, FaceLandmarks]


@dataclass(frozen=True)
class LocatedFaces:
    """The faces of one frame before classification: the uint8 (H, W) ``gray`` frame, its time in seconds and
    index in the video or stream, and per face (same order) its track, box (N, 4) int x1, y1, x2, y2 in pixels,
    detection score (N,) and landmarks."""

    gray: np.ndarray
    time_s: float
    frame_index: int
    tracks: list[FaceTrack]
    boxes: np.ndarray
    scores: np.ndarray
    shapes: list[FaceLandmarks]

    @cached_property
    def crop_boxes(self) -> np.ndarray:
        """(N, 4) int x1, y1, x2, y2: what the classifier crops, from each face's landmarks
        (:meth:`FaceLandmarks.crop_box`): steadier from frame to frame than the detector's boxes. Each square is
        turned by its :attr:`crop_angles` about its centre."""
        if not self.shapes:
            return np.zeros((0, 4), dtype=np.int64)
        boxes = [shape.crop_box(angle) for shape, angle in zip(self.shapes, self.crop_angles)]
        return np.round(np.stack(boxes)).astype(np.int64)

    @cached_property
    def crop_angles(self) -> np.ndarray:
        """(N,) float degrees by which each face's crop is turned about its centre, so that a tilted head reaches
        the classifier nearly upright, as FER2013's faces are (:meth:`FaceLandmarks.crop_angle`)."""
        return np.array([shape.crop_angle() for shape in self.shapes], dtype=np.float64)


class FramePipeline:
    """``process(image, time_s, frame_index)`` -> :class:`FrameResult`. Models load in the constructor.
    ``process`` is ``locate`` then the classifier then ``finish``; a video analysis overlaps the classifier of
    one frame with ``locate`` of the next (see :mod:`fer_core.video`)."""

    def __init__(
        self,
        settings: PipelineSettings = PipelineSettings(),
        classifier: Classifier | None = None,
        landmarks: LandmarkModel | None = None,
        describer: Describer | None = None,
    ) -> None:
        """``classifier``, ``landmarks`` and ``describer``: already loaded models to reuse, e.g. from
        :class:`fer_core.models.Models` (else loaded here; no describer is used when ``settings.same_person``
        is 0)."""
        from fer_core.classifier import EmotionClassifier
        from fer_core.identity import FaceDescriber
        from fer_core.landmarks import LandmarkPredictor

        self.settings = settings
        self.classifier: Classifier = classifier or EmotionClassifier(settings.model_dir)
        self.detector = make_detector(settings.detector)
        self.landmarks: LandmarkModel = landmarks or LandmarkPredictor()
        self.describer: Describer | None = (describer or FaceDescriber()) if settings.same_person > 0 else None
        self.tracker: IouTracker[FaceState] = IouTracker(settings.tracker, FaceState)
        self.reset()

    def reset(self, frame_step: int = 1) -> None:
        """Forget every face (identities restart at 1). ``frame_step``: the frames given to :meth:`locate` are every
        n-th of the video (their ``frame_index`` goes up by n): the detector's cadence counts analysed frames."""
        self.tracker.reset()
        self.scene_cuts = 0
        self._frame_step = frame_step
        self._thumbnail: np.ndarray | None = None
        # analysed-frame numbers (frame_index // frame_step) of the last detection and of the last full search
        self._last_detection: int | None = None
        self._last_full_search: int | None = None
        self._last_time: float | None = None
        self._solo_exit: tuple[int, float] | None = None  # (id, time) of a face that left while alone

    def process(self, image: Picture, time_s: float, frame_index: int, gray: np.ndarray | None = None) -> FrameResult:
        """Find, follow and classify every face of one BGR/BGRA/gray frame shown at ``time_s`` seconds
        (``image`` and ``gray`` as for :meth:`locate`)."""
        located = self.locate(image, time_s, frame_index, gray)
        return self.finish(located, self.classifier.classify(located.gray, located.crop_boxes, located.crop_angles))

    def locate(self, image: Picture, time_s: float, frame_index: int, gray: np.ndarray | None = None) -> LocatedFaces:
        """The first half of :meth:`process`: detect or follow the faces of a frame, with their landmarks.
        ``image``: the BGR/BGRA/gray frame, or (with ``gray``) a function returning it, called only for a face to
        be recognised or remembered by its looks (about once a second), so that a decoder can leave most frames
        unconverted. ``gray``: the frame as uint8 (H, W), when already made (from ``image``, or a video's luma).
        Frames must be located in order; each located frame is then finished (:meth:`finish`), in the same order,
        possibly a few frames later."""
        if callable(image):
            if gray is None:
                raise ValueError("a frame given as a function needs its gray picture (gray=...)")
            colour, size = image, gray.shape[:2]
        else:
            check_frame(image)
            colour, size = partial(np.asarray, image), image.shape[:2]  # the image itself
            gray = to_gray(image) if gray is None else gray
        if gray.ndim != 2 or gray.shape != size or gray.dtype != np.uint8 or min(size) < 1:
            raise ValueError(f"gray must be the frame as uint8 (H, W) = {size}; got {gray.dtype} {gray.shape}")
        if self._is_scene_cut(gray, time_s):
            self.scene_cuts += 1
            self.tracker.end_all()  # so nothing is followed: the detector searches this frame at full size
        followed = [t for t in self.tracker.tracks.values() if t.last_seen_s == self._last_time]
        analysed = frame_index // self._frame_step
        if followed and not self._due(analysed, self._last_detection, self.settings.detect_every):
            tracks, boxes, scores, shapes = self._follow(gray, followed, time_s)
        else:
            self._last_detection = analysed
            if self._full_search_due(followed, analysed):
                detections = self.detector.detect(gray)
            else:  # near the faces followed, for faces at least 3/4 as wide as the smallest
                near = np.stack([t.box for t in followed])
                min_face = 0.75 * float((near[:, 2] - near[:, 0]).min())
                detections = self.detector.detect(gray, min_face, near)
                # one moved away, or far (frames far apart): the whole frame (a BlazeFace search was the whole frame)
                if len(detections) < len(followed) and self.detector.searches_near:
                    detections = self.detector.detect(gray, min_face)
            boxes, scores = detections.boxes, detections.scores
            shapes = self.landmarks.predict(gray, boxes)
            tracks = self._identify(colour, boxes, shapes, time_s)
            for track, box, shape, score in zip(tracks, boxes, shapes, scores):
                track.state.landmark_centre = shape.points.mean(axis=0)
                track.state.detection_score = float(score)
                self._remember_looks(track, colour, box, shape, time_s)
        self._last_time = time_s
        return LocatedFaces(gray, float(time_s), int(frame_index), tracks, boxes, scores, shapes)

    def followed_key(self) -> tuple[list[int], tuple]:
        """(the live tracks' ids, a key): two pipelines with equal keys give equal records for the same following
        frames, up to track ids and the blink fields, until a new face appears (who that is depends on the faces
        that left earlier, which the key leaves out). The blink fields come from each face's
        :meth:`blink_detector` fed the records' ``ear``, which the key leaves out too (:mod:`fer_core.segments`
        replays them)."""
        # by box, not in the tracker's order, which depends on who was seen first: that order only breaks exact ties
        # of overlap when matching, and the classifier's outputs do not depend on a face's place in the batch
        tracks = sorted(self.tracker.tracks.values(), key=lambda t: (tuple(int(v) for v in t.box), t.last_seen_s))
        faces = []
        for t in tracks:
            state = t.state
            faces.append(
                (
                    tuple(int(v) for v in t.box),
                    t.last_seen_s,
                    None if state.landmark_centre is None else state.landmark_centre.tobytes(),
                    state.detection_score,
                    None if state.probabilities is None else state.probabilities.tobytes(),
                )
            )
        thumbnail = None if self._thumbnail is None else self._thumbnail.tobytes()
        key = (self._last_time, self._last_detection, self._last_full_search, thumbnail, tuple(faces))
        return [t.track_id for t in tracks], key

    def blink_detector(self, track: FaceTrack) -> BlinkDetector:
        """The blink detector of a face, made on first use: :meth:`finish` feeds it each record's ``ear`` and
        ``time_s``."""
        if track.state.blink is None:
            track.state.blink = BlinkDetector(self.settings.blink)
        return track.state.blink

    def _identify(
        self, image: Callable[[], np.ndarray], boxes: np.ndarray, shapes: list[FaceLandmarks], time_s: float
    ) -> list[FaceTrack]:
        """The track of each detected face: the live track it continues, else the ended one it is recognised as
        (or the solo hold's), else a new identity; then the tracks unseen too long end."""
        tracks = self.tracker.match(boxes, time_s)
        identified = []
        for i, track in enumerate(tracks):
            if track is None:
                returning = self._recognise(image, boxes[i], shapes[i], time_s, alone=len(boxes) == 1)
                track = self.tracker.start(boxes[i], time_s, returning)
            identified.append(track)
        self._note_solo_exit(self.tracker.expire(time_s), time_s)
        return identified

    def finish(self, located: LocatedFaces, probabilities: np.ndarray) -> FrameResult:
        """The second half of :meth:`process`: smoothing, blinks and records of a located frame, given its
        ``probabilities`` (N, 7) from ``self.classifier.classify(located.gray, located.crop_boxes,
        located.crop_angles)``. Touches only the tracks' probability and blink state, which :meth:`locate` never
        reads."""
        labels = self.classifier.labels
        time_s, boxes, shapes, scores = located.time_s, located.boxes, located.shapes, located.scores
        records, landmarks = [], {}
        for i, track in enumerate(located.tracks):
            p = self._smooth(track.state, probabilities[i])
            ear = (eye_aspect_ratio(shapes[i].left_eye) + eye_aspect_ratio(shapes[i].right_eye)) / 2.0
            blink = self.blink_detector(track).update(ear, time_s)
            best = int(np.argmax(p))
            x1, y1, x2, y2 = (int(v) for v in boxes[i])
            records.append(
                FaceRecord(
                    time_s=time_s,
                    frame_index=located.frame_index,
                    track_id=track.track_id,
                    x1=x1,
                    y1=y1,
                    x2=x2,
                    y2=y2,
                    detection_score=float(scores[i]),
                    probabilities=tuple(float(v) for v in p),
                    emotion=labels[best],
                    emotion_probability=float(p[best]),
                    ear=ear,
                    eyes_closed=blink.closed,
                    blink=blink.blink,
                    blink_count=blink.count,
                )
            )
            landmarks[track.track_id] = shapes[i]
        records.sort(key=lambda r: r.track_id)
        return FrameResult(records, landmarks)

    def _is_scene_cut(self, gray: np.ndarray, time_s: float) -> bool:
        """Whether ``gray`` starts a new shot (see ``PipelineSettings.scene_cut``); remembers its thumbnail. Only
        judged between frames at most :data:`CUT_FRAME_GAP_S` apart: further apart, motion alone changes a frame
        that much (measured: every 3rd frame of a talking head)."""
        if self.settings.scene_cut <= 0:
            return False
        height, width = gray.shape[:2]  # cropped to multiples of 32: OpenCV's area resize takes its fast path
        thumbnail = cv2.resize(
            gray[: height - height % 32 or height, : width - width % 32 or width],
            (32, 32),
            interpolation=cv2.INTER_AREA,
        ).astype(np.float32)
        previous, self._thumbnail = self._thumbnail, thumbnail
        if previous is None or self._last_time is None or time_s - self._last_time > CUT_FRAME_GAP_S:
            return False
        return float(np.abs(thumbnail - previous).mean()) > self.settings.scene_cut

    def _remember_looks(
        self, track: FaceTrack, image: Callable[[], np.ndarray], box: np.ndarray, shape: FaceLandmarks, time_s: float
    ) -> None:
        """Keep how a face looked when first seen and lately (aligned chips, refreshed every
        :data:`LOOK_EVERY_S`), to recognise it should it leave and come back."""
        state = track.state
        if self.describer is None or time_s - state.looked_at < LOOK_EVERY_S:
            return
        state.last_look = self.describer.chip(image(), box, shape)
        if state.first_look is None:
            state.first_look = state.last_look
        state.looked_at = time_s
        state.descriptors = None  # described again from the new chips if it is ever needed

    def _note_solo_exit(self, ended: list[FaceTrack], time_s: float) -> None:
        """Remember a face that just left while no other face was there (for ``solo_hold_s``); forget it once two
        faces are seen together."""
        if len(self.tracker.tracks) > 1:
            self._solo_exit = None
        elif len(ended) == 1 and not self.tracker.tracks:
            self._solo_exit = (ended[0].track_id, time_s)

    def _recognise(
        self,
        image: Callable[[], np.ndarray],
        box: np.ndarray,
        shape: FaceLandmarks,
        time_s: float = 0.0,
        alone: bool = False,
    ) -> int | None:
        """For the tracker, about a face that continues no live track: the id of the ended track it is, if any
        (among those followed :data:`KNOWN_AFTER_S` or longer). Descriptors are computed only here: the new face's,
        and once for each candidate's kept chips. Without recognition, ``solo_hold_s`` may give it the id of the
        face that left alone (``alone``: this is the only face of the frame)."""
        if self.describer is None or self.settings.same_person <= 0:
            held = self._solo_exit
            if (
                alone
                and held is not None
                and not self.tracker.tracks
                and held[0] in self.tracker.ended
                and time_s - held[1] <= self.settings.solo_hold_s
            ):
                self._solo_exit = None
                return held[0]
            return None
        candidates = [t for t in self.tracker.ended.values() if t.last_seen_s - t.first_seen_s >= KNOWN_AFTER_S]
        if not candidates:
            return None
        known = {}
        for track in candidates:
            state = track.state
            if state.descriptors is None:
                first, last = state.first_look, state.last_look
                chips = [c for c in (first, None if last is first else last) if c is not None]
                state.descriptors = [self.describer.describe(c) for c in chips]
            known[track.track_id] = state.descriptors
        descriptor = self.describer.describe(self.describer.chip(image(), box, shape))
        return closest(descriptor, known, self.settings.same_person)

    @staticmethod
    def _due(analysed: int, last: int | None, every: int) -> bool:
        """Whether analysed frame number ``analysed`` starts a new run of ``every`` frames (counted from the video's
        first frame) since the frame ``last`` (None: never): with consecutive frames, every ``every``-th one."""
        return last is None or analysed // every != last // every

    def _full_search_due(self, followed: list[FaceTrack], analysed: int) -> bool:
        """Whether the detection on analysed frame ``analysed`` searches the whole frame for faces of every size
        (else only near the faces followed)."""
        every = self.settings.detect_every * self.settings.full_search_every
        if not followed or self._due(analysed, self._last_full_search, every):
            self._last_full_search = analysed
            return True
        return False

    def _follow(
        self, gray: np.ndarray, tracks: list[FaceTrack], time_s: float
    ) -> tuple[list[FaceTrack], np.ndarray, np.ndarray, list[FaceLandmarks]]:
        """Refit the landmarks of each followed face in its last box and move the box by the landmarks' shift."""
        height, width = gray.shape[:2]
        shapes = self.landmarks.predict(gray, np.stack([t.box for t in tracks]))
        kept, boxes, kept_shapes = [], [], []
        for track, shape in zip(tracks, shapes):
            centre = shape.points.mean(axis=0)
            previous = track.state.landmark_centre
            dx, dy = np.round(centre - (centre if previous is None else previous)).astype(np.int64)
            box = clip_boxes(track.box + np.array([dx, dy, dx, dy]), width, height)[0]
            if not self._still_there(gray, track.box, box):
                continue  # not seen in this frame: the detector looks again in the next one
            self.tracker.follow(track, box, time_s)
            track.state.landmark_centre = centre
            kept.append(track)
            boxes.append(box)
            kept_shapes.append(shape)
        scores = np.array([t.state.detection_score for t in kept])
        return kept, np.stack(boxes) if boxes else np.zeros((0, 4), np.int64), scores, kept_shapes

    @staticmethod
    def _still_there(gray: np.ndarray, previous: np.ndarray, box: np.ndarray) -> bool:
        """Whether a followed face can still be in ``box`` (x1, y1, x2, y2): the box kept most of its size inside
        the frame, and its pixels are not flat (a black, blank or frozen-gray frame holds no face)."""
        (x1, y1, x2, y2), (px1, py1, px2, py2) = box, previous
        if (x2 - x1) < 0.5 * (px2 - px1) or (y2 - y1) < 0.5 * (py2 - py1):
            return False
        return float(gray[y1:y2, x1:x2].std()) >= MIN_FACE_CONTRAST

    def _smooth(self, state: FaceState, p: np.ndarray) -> np.ndarray:
        alpha = self.settings.smoothing
        previous = state.probabilities
        smoothed = p if previous is None or alpha <= 0 else alpha * previous + (1.0 - alpha) * p
        state.probabilities = smoothed
        return smoothed
