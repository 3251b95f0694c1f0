"""Typed results: one :class:`FaceRecord` per face per analysed frame (one row of the exported table), and one
:class:`FaceSummary` per face track."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

import numpy as np

from fer_core.blink import blinks_per_minute
from fer_core.labels import EMOTIONS, SHARE_LABELS, UNCERTAIN, UNCERTAIN_BELOW, reading

PROBABILITY_COLUMNS: tuple[str, ...] = tuple(f"p_{e.lower()}" for e in EMOTIONS)


@dataclass(frozen=True)
class FaceRecord:
    """One face in one analysed frame. Box in full-frame pixels (x1, y1, x2, y2); ``probabilities`` in the order of
    :data:`EMOTIONS`; ``ear`` the mean eye aspect ratio of both eyes; ``blink`` True on the frame a blink ended;
    ``blink_count`` blinks of this track so far."""

    time_s: float
    frame_index: int
    track_id: int
    x1: int
    y1: int
    x2: int
    y2: int
    detection_score: float
    probabilities: tuple[float, ...]
    emotion: str
    emotion_probability: float
    ear: float
    eyes_closed: bool
    blink: bool
    blink_count: int

    def as_row(self) -> dict:
        """The flat table row: ``probabilities`` become the columns ``p_angry`` .. ``p_neutral``."""
        row = dict(vars(self))  # every field is a number, a string or a tuple of floats: no deep copy needed
        row.update(zip(PROBABILITY_COLUMNS, row.pop("probabilities")))
        return row

    @classmethod
    def from_row(cls, row: dict) -> FaceRecord:
        """The record of one table row (as :meth:`as_row` writes it, e.g. read back from the CSV or Parquet)."""
        return cls(
            time_s=float(row["time_s"]),
            frame_index=int(row["frame_index"]),
            track_id=int(row["track_id"]),
            x1=int(row["x1"]),
            y1=int(row["y1"]),
            x2=int(row["x2"]),
            y2=int(row["y2"]),
            detection_score=float(row["detection_score"]),
            probabilities=tuple(float(row[c]) for c in PROBABILITY_COLUMNS),
            emotion=str(row["emotion"]),
            emotion_probability=float(row["emotion_probability"]),
            ear=float(row["ear"]),
            eyes_closed=bool(row["eyes_closed"]),
            blink=bool(row["blink"]),
            blink_count=int(row["blink_count"]),
        )


TABLE_COLUMNS: tuple[str, ...] = tuple(
    c for c in (*FaceRecord.__dataclass_fields__, *PROBABILITY_COLUMNS) if c != "probabilities"
)


@dataclass(frozen=True)
class FaceSummary:
    """One face track over an analysis: first and last sighting, seconds on screen (between them, less the gaps
    when it left: :func:`seconds_on_screen`), analysed frames, share of analysed frames per reading (keys
    :data:`~fer_core.labels.SHARE_LABELS`: the top emotion, or ``Uncertain`` when its probability is under
    :data:`~fer_core.labels.UNCERTAIN_BELOW`; sums to 1), the emotion read most often (``Uncertain`` only when no
    frame was certain), mean probability per emotion, blinks and blinks per minute (None when the face was on
    screen under 5 s, too short for a rate), the reading of each whole second from ``int(first_seen_s)`` on
    (the top emotion of the second's mean probabilities, ``Uncertain`` under the level, ``""`` when away), and the
    name a user gave the face (``""`` until then; see :func:`with_face_names`)."""

    track_id: int
    first_seen_s: float
    last_seen_s: float
    time_on_screen_s: float
    frames: int
    dominant_emotion: str
    emotion_share: dict[str, float]
    mean_probabilities: dict[str, float]
    blink_count: int
    blinks_per_minute: float | None
    emotion_per_second: tuple[str, ...] = ()
    name: str = ""

    @property
    def label(self) -> str:
        """How the face is called on screen and in reports: ``#1``, or ``#1 Interviewer`` once named."""
        return f"#{self.track_id} {self.name}" if self.name else f"#{self.track_id}"

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> FaceSummary:
        """A summary as :meth:`as_dict` wrote it (read back from a JSON summary or the history); fields an older file
        lacks take empty values."""
        rate = data.get("blinks_per_minute")
        return cls(
            track_id=int(data["track_id"]),
            first_seen_s=float(data.get("first_seen_s", 0.0)),
            last_seen_s=float(data.get("last_seen_s", 0.0)),
            time_on_screen_s=float(data.get("time_on_screen_s", 0.0)),
            frames=int(data.get("frames", 0)),
            dominant_emotion=str(data.get("dominant_emotion", "")),
            emotion_share={str(k): float(v) for k, v in data.get("emotion_share", {}).items()},
            mean_probabilities={str(k): float(v) for k, v in data.get("mean_probabilities", {}).items()},
            blink_count=int(data.get("blink_count", 0)),
            blinks_per_minute=None if rate is None else float(rate),
            emotion_per_second=tuple(str(e) for e in data.get("emotion_per_second", ())),
            name=plain_face_name(data.get("name") or ""),
        )


def face_summaries(summary: dict) -> list[FaceSummary]:
    """The faces of a JSON summary (an analysis's, a live session's or a history entry's), typed."""
    return [FaceSummary.from_dict(face) for face in summary.get("faces", [])]


# Longest name a user can give a face (characters).
MAX_FACE_NAME = 40


def face_names(summary: dict) -> dict[int, str]:
    """Track id -> name of the faces of a JSON summary that a user has named."""
    return {face.track_id: face.name for face in face_summaries(summary) if face.name}


def plain_face_name(text: str) -> str:
    """A name as a face keeps it: letters, digits, spaces and ``. - '`` only (so that no chart, page or report can
    read it as markup: no HTML, Markdown link or emphasis), spaces collapsed, at most :data:`MAX_FACE_NAME`
    characters."""
    kept = re.sub(r"[^\w .'-]|_", "", str(text))
    return " ".join(kept.split())[:MAX_FACE_NAME].strip()


def with_face_names(summary: dict, names: dict[int, str]) -> dict:
    """A copy of a JSON summary whose faces carry ``names`` (track id -> name, as :func:`plain_face_name` keeps
    it; ``""`` unnames a face); faces not in ``names`` keep theirs."""
    faces = []
    for face in summary.get("faces", []):
        face = dict(face)
        track_id = int(face["track_id"])
        if track_id in names:
            face["name"] = plain_face_name(names[track_id])
        faces.append(face)
    return {**summary, "faces": faces}


MIN_SECONDS_FOR_RATE = 5.0
# Sightings of a face further apart than this (seconds) are two stays on screen; the time between is not counted
# (a face that leaves and is recognised when it returns keeps its identity).
MAX_GAP_S = 1.0


def seconds_on_screen(times: list[float], frame_interval_s: float = 0.0) -> float:
    """Time a face was on screen from its sighting times (seconds, ascending): the steps between sightings up to
    :data:`MAX_GAP_S`, plus ``frame_interval_s`` for the last frame of each stay."""
    steps = np.diff(np.asarray(times, dtype=np.float64))
    stays = 1 + int((steps > MAX_GAP_S).sum())
    return float(steps[steps <= MAX_GAP_S].sum()) + stays * frame_interval_s


class FaceTally:
    """Running totals of one face's records, added in time order: everything its :class:`FaceSummary` needs,
    without keeping the records. Files (:func:`summarize`) and live sessions (:class:`fer_core.live.FaceHistory`)
    both count with it, so the same records give the same summary."""

    def __init__(self, track_id: int) -> None:
        self.track_id = track_id
        self.frames = 0
        self.first_seen_s: float | None = None
        self.last_seen_s = 0.0
        self.steps_on_screen_s = 0.0  # steps between sightings up to MAX_GAP_S, as seconds_on_screen counts them
        self.stays = 0
        self.emotion_counts = dict.fromkeys(SHARE_LABELS, 0)
        self.probability_sum = np.zeros(len(EMOTIONS))
        self.blink_count = 0
        self.per_second: dict[int, list] = {}  # whole second -> [probability sum (7,), frames]

    def add(self, record: FaceRecord) -> None:
        if self.first_seen_s is None or record.time_s - self.last_seen_s > MAX_GAP_S:
            self.stays += 1
            self.first_seen_s = record.time_s if self.first_seen_s is None else self.first_seen_s
        else:
            self.steps_on_screen_s += record.time_s - self.last_seen_s
        self.last_seen_s = record.time_s
        self.frames += 1
        label = UNCERTAIN if record.emotion_probability < UNCERTAIN_BELOW else record.emotion
        if label in self.emotion_counts:
            self.emotion_counts[label] += 1
        probabilities = np.asarray(record.probabilities[: len(EMOTIONS)], dtype=np.float64)
        self.probability_sum += probabilities
        second = self.per_second.setdefault(int(record.time_s), [np.zeros(len(EMOTIONS)), 0])
        second[0] += probabilities
        second[1] += 1
        self.blink_count = max(self.blink_count, record.blink_count)

    def emotion_per_second(self) -> tuple[str, ...]:
        """The reading of each whole second from the first one seen, ``""`` for seconds without a sighting."""
        if not self.per_second:
            return ()
        first, last = min(self.per_second), max(self.per_second)
        seconds = (self.per_second.get(s) for s in range(first, last + 1))
        return tuple("" if s is None else reading(s[0] / s[1]) for s in seconds)

    def summary(self, frame_interval_s: float = 0.0) -> FaceSummary:
        """The face's summary; ``frame_interval_s`` (the time one analysed frame stands for) is added once per stay,
        so a face seen in one frame is on screen that long."""
        on_screen = self.steps_on_screen_s + self.stays * frame_interval_s
        share = {e: n / self.frames for e, n in self.emotion_counts.items()} if self.frames else {}
        mean = self.probability_sum / max(self.frames, 1)
        certain = {e: n for e, n in self.emotion_counts.items() if e != UNCERTAIN and n > 0}
        dominant = max(certain, key=lambda e: certain[e]) if certain else (UNCERTAIN if self.frames else "")
        return FaceSummary(
            track_id=self.track_id,
            first_seen_s=self.first_seen_s or 0.0,
            last_seen_s=self.last_seen_s,
            time_on_screen_s=on_screen,
            frames=self.frames,
            dominant_emotion=dominant,
            emotion_share=share,
            mean_probabilities={e: float(p) for e, p in zip(EMOTIONS, mean)},
            blink_count=self.blink_count,
            blinks_per_minute=blinks_per_minute(self.blink_count, on_screen, MIN_SECONDS_FOR_RATE),
            emotion_per_second=self.emotion_per_second(),
        )


def summarize(records: list[FaceRecord], frame_interval_s: float = 0.0) -> list[FaceSummary]:
    """Per-track summaries of ``records`` (in time order), ordered by track id; see :meth:`FaceTally.summary`."""
    tallies: dict[int, FaceTally] = {}
    for record in records:
        tallies.setdefault(record.track_id, FaceTally(record.track_id)).add(record)
    return [tallies[track_id].summary(frame_interval_s) for track_id in sorted(tallies)]


def blink_spans(records: list[FaceRecord]) -> dict[int, list[tuple[int, int]]]:
    """Per track id, the (first, last) frame index of every eye closure that counted as a blink: the run of
    ``eyes_closed`` records just before each record with ``blink`` set. ``records`` in frame order."""
    spans: dict[int, list[tuple[int, int]]] = {}
    closed_from: dict[int, int | None] = {}
    last_closed: dict[int, int] = {}
    for r in records:
        spans.setdefault(r.track_id, [])
        start = closed_from.get(r.track_id)
        if r.blink and start is not None:
            spans[r.track_id].append((start, last_closed[r.track_id]))
        if r.eyes_closed:
            if closed_from.get(r.track_id) is None:
                closed_from[r.track_id] = r.frame_index
            last_closed[r.track_id] = r.frame_index
        else:
            closed_from[r.track_id] = None
    return spans
