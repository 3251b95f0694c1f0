"""Live webcam sessions: one pipeline per browser session, and a bounded, thread-safe history of what it saw.

The frame thread calls :meth:`LiveSession.process` for every frame; the page polls :meth:`LiveSession.snapshot`.
Nothing here knows Streamlit. Shapes: images are BGR uint8 (H, W, 3); times are seconds since the stream started.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from fer_core.draw import annotate
from fer_core.export import Mp4Writer, export_table, records_table
from fer_core.labels import EMOTIONS
from fer_core.models import Classifier, Describer, LandmarkModel
from fer_core.pipeline import FramePipeline, PipelineSettings
from fer_core.records import FaceRecord, FaceSummary, FaceTally

log = logging.getLogger(__name__)


class Replay:
    """The annotated frames of a live session as an H.264 MP4, written as they come (only when the user asked for
    a replay before starting). Frames of another size than the first are scaled to it; a failure to write stops
    the replay (``error``), never the stream."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.frames = 0
        self.error: str | None = None
        self._writer: Mp4Writer | None = None
        self._size: tuple[int, int] | None = None

    def add(self, image: np.ndarray, time_s: float) -> None:
        """Append a BGR (H, W, 3) uint8 frame shown at ``time_s`` seconds since the stream started."""
        if self.error is not None:
            return
        try:
            if self._writer is None:
                self._writer, self._size = (
                    Mp4Writer(self.path, 30.0, preset="ultrafast"),  # least memory and CPU on the frame thread
                    (image.shape[1], image.shape[0]),
                )
            if (image.shape[1], image.shape[0]) != self._size:
                image = cv2.resize(image, self._size, interpolation=cv2.INTER_AREA)
            self._writer.write(image, time_s)
            self.frames += 1
        except Exception as exc:  # noqa: BLE001 - a replay that cannot be written must not end the stream
            log.exception("live replay stopped")
            self.error = f"the replay stopped after {self.frames} frames: {exc}"

    def close(self) -> Path | None:
        """Finish the file; returns its path, or None when no frame was written."""
        writer, self._writer = self._writer, None
        if writer is not None:
            try:
                writer.close()
            except Exception as exc:  # noqa: BLE001
                log.exception("closing the live replay failed")
                self.error = f"the replay could not be finished: {exc}"
                return None
        return self.path if self.frames and self.error is None else None


@dataclass(frozen=True)
class DisplaySettings:
    """What is drawn on the returned frame: probability bars for ``emotions``, and the 68 landmarks when
    ``landmarks``."""

    emotions: tuple[str, ...] = EMOTIONS
    landmarks: bool = False


class FaceHistory:
    """What one face track did. Keeps at most ``max_points`` records: when full, every second point of the older
    half is dropped (thinning), so the chart still spans the whole session at a coarser step. The totals
    (:class:`~fer_core.records.FaceTally`: frames, emotion counts, probability sums, blinks) count every frame,
    thinned or not."""

    def __init__(self, track_id: int, max_points: int) -> None:
        if max_points < 4:
            raise ValueError(f"max_points must be >= 4, got {max_points}")
        self.track_id = track_id
        self.max_points = max_points
        self.points: list[FaceRecord] = []
        self.thinned = 0
        self.tally = FaceTally(track_id)

    @property
    def last_seen_s(self) -> float:
        return self.tally.last_seen_s

    def add(self, record: FaceRecord) -> None:
        if len(self.points) >= self.max_points:
            half = len(self.points) // 2
            kept = self.points[:half:2]
            self.thinned += half - len(kept)
            self.points = kept + self.points[half:]
        self.points.append(record)
        self.tally.add(record)

    def summary(self, frame_interval_s: float = 0.0) -> FaceSummary:
        """The same summary :func:`fer_core.records.summarize` gives for the same records."""
        return self.tally.summary(frame_interval_s)


@dataclass(frozen=True)
class LiveSnapshot:
    """A consistent copy of a live buffer: frames processed, frames per second over the last few seconds,
    seconds since the stream started, kept records per face (time order), the faces of the latest frame, one
    summary per face, points merged away by thinning, faces forgotten because too many were seen, the last
    error of the frame thread (with traceback) or None, and the seconds since the last frame arrived (0 before the
    first; a growing value while the stream is on means the camera stopped sending)."""

    frames: int
    fps: float
    duration_s: float
    faces: dict[int, list[FaceRecord]]
    current: list[FaceRecord]
    summaries: list[FaceSummary]
    thinned_points: int = 0
    dropped_faces: int = 0
    error: str | None = None
    seconds_since_frame: float = 0.0

    @property
    def empty(self) -> bool:
        return not self.faces

    def table(self, readings: bool = False) -> pd.DataFrame:
        """The kept records in time order (columns :data:`fer_core.records.TABLE_COLUMNS`); ``readings``: as users
        download it, with the readings over time (:func:`fer_core.export.export_table`)."""
        records = sorted((r for rs in self.faces.values() for r in rs), key=lambda r: (r.time_s, r.track_id))
        return export_table(records) if readings else records_table(records)

    def summary(self) -> dict:
        """A JSON summary shaped like a video analysis summary (``faces`` holds one entry per face)."""
        return {
            "source": "webcam",
            "frames_analysed": self.frames,
            "duration_s": self.duration_s,
            "fps": self.fps,
            "thinned_points": self.thinned_points,
            "dropped_faces": self.dropped_faces,
            "faces": [s.as_dict() for s in self.summaries],
        }


class LiveBuffer:
    """Thread-safe history of a live stream. The frame thread calls :meth:`add` once per frame; readers call
    :meth:`snapshot`. Bounded: ``max_points_per_face`` records per face (older points thinned, see
    :class:`FaceHistory`) and ``max_faces`` faces (the face unseen the longest is forgotten first, and counted)."""

    def __init__(self, max_points_per_face: int = 600, max_faces: int = 12, fps_window: int = 90) -> None:
        self.max_points_per_face = max_points_per_face
        self.max_faces = max_faces
        self._lock = threading.Lock()
        self._frame_times: deque[float] = deque(maxlen=fps_window)
        self.clear()

    def clear(self) -> None:
        with self._lock:
            self._faces: dict[int, FaceHistory] = {}
            self._current: list[FaceRecord] = []
            self._frames = 0
            self._last_time = 0.0
            self._dropped_faces = 0
            self._error: str | None = None
            self._frame_times.clear()

    def add(self, time_s: float, records: list[FaceRecord]) -> None:
        """Record one processed frame at ``time_s`` and the faces found in it (possibly none)."""
        with self._lock:
            self._frames += 1
            self._last_time = time_s
            self._frame_times.append(time_s)
            self._current = list(records)
            for record in records:
                face = self._faces.get(record.track_id)
                if face is None:
                    if len(self._faces) >= self.max_faces:
                        oldest = min(self._faces.values(), key=lambda f: f.last_seen_s)
                        del self._faces[oldest.track_id]
                        self._dropped_faces += 1
                    face = self._faces[record.track_id] = FaceHistory(record.track_id, self.max_points_per_face)
                face.add(record)

    def set_error(self, message: str | None) -> None:
        with self._lock:
            self._error = message

    def snapshot(self) -> LiveSnapshot:
        with self._lock:
            times = self._frame_times
            span = times[-1] - times[0] if len(times) > 1 else 0.0
            fps = (len(times) - 1) / span if span > 0 else 0.0  # each frame stands for 1 / fps, as in a file
            return LiveSnapshot(
                frames=self._frames,
                fps=fps,
                duration_s=self._last_time,
                faces={k: list(f.points) for k, f in sorted(self._faces.items())},
                current=list(self._current),
                summaries=[f.summary(1.0 / fps if fps > 0 else 0.0) for _, f in sorted(self._faces.items())],
                thinned_points=sum(f.thinned for f in self._faces.values()),
                dropped_faces=self._dropped_faces,
                error=self._error,
            )


def shared_turns(analyses: int = 1) -> threading.BoundedSemaphore:
    """Turns for every live session of one server process: at most ``analyses`` frames analysed at once.

    dlib's landmark predictor and the pipeline's own Python code hold Python's global lock (its HOG detector and
    LiteRT do not), so sessions analysing side by side mostly queue for that lock, together with the threads that
    serve the pages and code the video streams. Taking turns here, with one core left over (``analyses`` = cores - 1,
    at least 1), keeps the pages answering however many cameras stream."""
    return threading.BoundedSemaphore(max(1, analyses))


class LiveSession:
    """One browser session's live analysis: :meth:`process` runs the pipeline on a frame, stores the records in
    :attr:`buffer` and returns the annotated frame. The pipeline is built on the first frame (about 1.5 s when
    the landmark model loads) and rebuilt, keeping face identities, when :meth:`configure` changes its settings.
    Sessions given the same ``turns`` (:func:`shared_turns`) take turns analysing frames.

    An exception in :meth:`process` is logged with its traceback, kept for the page (``snapshot().error``), and
    the frame goes back unannotated, so a bad frame never ends the stream."""

    def __init__(
        self,
        classifier: Classifier,
        settings: PipelineSettings = PipelineSettings(),
        display: DisplaySettings = DisplaySettings(),
        buffer: LiveBuffer | None = None,
        clock: Callable[[], float] = time.monotonic,
        pipeline_factory: Callable[..., FramePipeline] = FramePipeline,
        landmarks: LandmarkModel | None = None,
        describer: Describer | None = None,
        turns: threading.BoundedSemaphore | None = None,
    ) -> None:
        """``classifier``, ``landmarks``, ``describer``: loaded models, shared with other sessions (None: this
        session loads its own on the first frame). ``turns``: held while a frame is analysed (None: no turns)."""
        self.classifier = classifier
        self._turns = turns if turns is not None else contextlib.nullcontext()
        self.landmarks = landmarks
        self.describer = describer
        self.buffer = buffer or LiveBuffer()
        self._clock = clock
        self._factory = pipeline_factory
        self._lock = threading.Lock()
        self._settings = settings
        self._display = display
        self._pipeline: FramePipeline | None = None
        self._start: float | None = None
        self._last_frame_at: float | None = None
        self._frame_index = 0
        self._replay: Replay | None = None

    def start_replay(self, path: str | Path) -> None:
        """Also write the annotated frames to the MP4 ``path`` from now on (see :class:`Replay`)."""
        with self._lock:
            self._replay = Replay(path)

    def finish_replay(self) -> Replay | None:
        """Stop writing the replay and finish its file; returns it (its ``close()`` result is in ``path`` when it
        holds frames), or None when none was asked for."""
        with self._lock:
            replay, self._replay = self._replay, None
        if replay is not None:
            replay.close()
        return replay

    def configure(self, settings: PipelineSettings | None = None, display: DisplaySettings | None = None) -> None:
        """New settings, applied from the next frame (safe to call while frames are processed)."""
        with self._lock:
            if settings is not None:
                self._settings = settings
            if display is not None:
                self._display = display

    @property
    def settings(self) -> PipelineSettings:
        return self._settings

    @property
    def display(self) -> DisplaySettings:
        return self._display

    def reset(self) -> None:
        """Start a new recording: clear the buffer, forget faces and restart the clock."""
        with self._lock:
            if self._pipeline is not None:
                self._pipeline.reset()
            self._start = None
            self._last_frame_at = None
            self._frame_index = 0
            replay, self._replay = self._replay, None
        if replay is not None:
            replay.close()
        self.buffer.clear()

    def process(self, image: np.ndarray) -> np.ndarray:
        """Analyse one BGR (H, W, 3) uint8 frame; returns the annotated frame (same shape), never raises."""
        try:
            with self._turns, self._lock:  # the turn first: settings can change while this session waits for it
                settings, display = self._settings, self._display
                pipeline = self._current_pipeline(settings)
                now = self._clock()
                if self._start is None:
                    self._start = now
                self._last_frame_at = now
                time_s, index = now - self._start, self._frame_index
                self._frame_index += 1
                result = pipeline.process(image, time_s, index)
            self.buffer.add(time_s, result.records)
            annotated = annotate(
                image, result.records, result.landmarks if display.landmarks else None, emotions=display.emotions
            )
            with self._lock:
                if self._replay is not None:
                    self._replay.add(annotated, time_s)
            return annotated
        except Exception:  # noqa: BLE001 - the frame thread must survive; the error is shown on the page
            message = traceback.format_exc()
            log.exception("live frame failed")
            self.buffer.set_error(message)
            return image

    def _current_pipeline(self, settings: PipelineSettings) -> FramePipeline:
        old = self._pipeline
        if old is None or old.settings != settings:
            new = self._factory(
                settings, classifier=self.classifier, landmarks=self.landmarks, describer=self.describer
            )
            self.landmarks = new.landmarks  # loaded once, kept across settings changes
            self.describer = new.describer or self.describer
            if old is not None:
                new.tracker = old.tracker  # keep identities (and per-face state) across a settings change
            self._pipeline = old = new
        return old

    def snapshot(self) -> LiveSnapshot:
        last = self._last_frame_at
        return replace(self.buffer.snapshot(), seconds_since_frame=0.0 if last is None else self._clock() - last)


def with_detector(settings: PipelineSettings, **changes) -> PipelineSettings:
    """``settings`` with some :class:`fer_core.detect.DetectorSettings` fields changed."""
    return replace(settings, detector=replace(settings.detector, **changes))
