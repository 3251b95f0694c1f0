"""Typed results: one :class:`FaceRecord` per face per analysed frame (one row of the exported table), and one
:class:`FaceSummary` per face track."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from fer_core.blink import blinks_per_minute
from fer_core.labels import EMOTIONS

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
        row = asdict(self)
        row.update(zip(PROBABILITY_COLUMNS, row.pop("probabilities")))
        return row


TABLE_COLUMNS: tuple[str, ...] = tuple(
    c for c in (*FaceRecord.__dataclass_fields__, *PROBABILITY_COLUMNS) if c != "probabilities")


@dataclass(frozen=True)
class FaceSummary:
    """One face track over an analysis: first and last sighting, seconds on screen (between them, less the gaps
    when it left: :func:`seconds_on_screen`), analysed frames, share of analysed frames per dominant emotion (sums
    to 1), mean probability per emotion, blinks and blinks per minute (None when the face was on screen under 5 s,
    too short for a rate)."""

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

    def as_dict(self) -> dict:
        return asdict(self)


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


def summarize(records: list[FaceRecord], frame_interval_s: float = 0.0) -> list[FaceSummary]:
    """Per-track summaries of ``records``, ordered by track id. ``frame_interval_s`` (the time one analysed frame
    stands for) is added to each face's time on screen, so a face seen in one frame is on screen that long."""
    by_track: dict[int, list[FaceRecord]] = {}
    for record in records:
        by_track.setdefault(record.track_id, []).append(record)
    summaries = []
    for track_id in sorted(by_track):
        rows = by_track[track_id]
        first, last = rows[0].time_s, rows[-1].time_s
        on_screen = seconds_on_screen([r.time_s for r in rows], frame_interval_s)
        emotions = [r.emotion for r in rows]
        share = {e: emotions.count(e) / len(rows) for e in EMOTIONS}
        mean = np.mean([r.probabilities for r in rows], axis=0)
        blinks = max(r.blink_count for r in rows)
        summaries.append(FaceSummary(
            track_id=track_id, first_seen_s=first, last_seen_s=last, time_on_screen_s=on_screen, frames=len(rows),
            dominant_emotion=max(share, key=share.get), emotion_share=share,
            mean_probabilities={e: float(p) for e, p in zip(EMOTIONS, mean)}, blink_count=blinks,
            blinks_per_minute=blinks_per_minute(blinks, on_screen, MIN_SECONDS_FOR_RATE)))
    return summaries


def blink_spans(records: list[FaceRecord]) -> dict[int, list[tuple[int, int]]]:
    """Per track id, the (first, last) frame index of every eye closure that counted as a blink: the run of
    ``eyes_closed`` records just before each record with ``blink`` set. ``records`` in frame order."""
    spans: dict[int, list[tuple[int, int]]] = {}
    closed_from: dict[int, int | None] = {}
    last_closed: dict[int, int] = {}
    for r in records:
        spans.setdefault(r.track_id, [])
        if r.blink and closed_from.get(r.track_id) is not None:
            spans[r.track_id].append((closed_from[r.track_id], last_closed[r.track_id]))
        if r.eyes_closed:
            if closed_from.get(r.track_id) is None:
                closed_from[r.track_id] = r.frame_index
            last_closed[r.track_id] = r.frame_index
        else:
            closed_from[r.track_id] = None
    return spans
