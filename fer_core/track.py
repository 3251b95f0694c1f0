"""Face identities across frames: greedy IoU association; a track ends after it is unseen for a while, and may
come back when a new face is recognised as it (the caller decides how: see :mod:`fer_core.identity`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from fer_core.geometry import box_iou


@dataclass(frozen=True)
class TrackerSettings:
    """``min_iou``: a detection continues a track when their boxes overlap at least this much (lower follows faster
    motion but may swap close faces). ``max_unseen_s``: a track unseen for longer than this ends; a face that comes
    back later gets a new identity unless it is recognised as an ended one. ``max_ended``: how many ended tracks
    are kept for that (the most recent)."""

    min_iou: float = 0.2
    max_unseen_s: float = 1.0
    max_ended: int = 32


@dataclass
class Track:
    """One face identity: ``track_id`` (1, 2, ...), last ``box`` (4,), times first and last seen (seconds)."""

    track_id: int
    box: np.ndarray
    first_seen_s: float
    last_seen_s: float
    hits: int = 1
    state: dict = field(default_factory=dict)  # per-face state owned by the track (blink detector, smoothing)


class IouTracker:
    """``update(boxes, time_s)`` assigns a track id to each box (N, 4); ``ended`` lists tracks closed by it.
    ``self.tracks``: live tracks by id; ``self.ended``: recently ended ones, oldest first, which may come back."""

    def __init__(self, settings: TrackerSettings = TrackerSettings()) -> None:
        self.settings = settings
        self.reset()

    def reset(self) -> None:
        self.tracks: dict[int, Track] = {}
        self.ended: dict[int, Track] = {}
        self._next_id = 1

    def follow(self, track: Track, box: np.ndarray, time_s: float) -> None:
        """Move a live track to ``box`` (4,) found without the detector (by following its landmarks)."""
        track.box, track.last_seen_s = np.asarray(box, dtype=np.int64), time_s

    def update(self, boxes: np.ndarray, time_s: float,
               recognise: Callable[[int], int | None] | None = None) -> tuple[list[Track], list[Track]]:
        """Match boxes to live tracks; returns (the track of each box, in box order; tracks that ended now).
        ``recognise(i)``, asked for each box ``i`` that continues no live track: the id of an ended track (a key of
        ``self.ended``) that this face is, which then comes back, or None for a new identity."""
        boxes = np.asarray(boxes, dtype=np.int64).reshape(-1, 4)
        live: list[Track | None] = list(self.tracks.values())  # None once matched
        assigned: list[Track | None] = [None] * len(boxes)
        if live and len(boxes):
            iou = box_iou(boxes, np.stack([t.box for t in live if t is not None]))
            for flat in np.argsort(-iou, axis=None, kind="stable"):
                i, j = divmod(int(flat), len(live))
                if iou[i, j] < self.settings.min_iou:
                    break
                if assigned[i] is None and live[j] is not None:
                    assigned[i], live[j] = live[j], None
        result = []
        for i, (box, track) in enumerate(zip(boxes, assigned)):
            if track is None:
                known = recognise(i) if recognise is not None else None
                if known is not None:
                    track = self.ended.pop(known)
                    self.tracks[known] = track
                else:
                    track = Track(self._next_id, box, time_s, time_s, hits=0)
                    self.tracks[track.track_id] = track
                    self._next_id += 1
            track.box, track.last_seen_s, track.hits = box, time_s, track.hits + 1
            result.append(track)
        ended = [t for t in self.tracks.values() if time_s - t.last_seen_s > self.settings.max_unseen_s]
        self._end(ended)
        return result, ended

    def end_all(self) -> list[Track]:
        """End every live track now (a scene cut: the faces after it continue none of the boxes before it, though
        they may be recognised as one of them). Returns the tracks ended."""
        ended = list(self.tracks.values())
        self._end(ended)
        return ended

    def _end(self, tracks: list[Track]) -> None:
        for track in tracks:
            del self.tracks[track.track_id]
            self.ended[track.track_id] = track
        while len(self.ended) > self.settings.max_ended:
            del self.ended[next(iter(self.ended))]
