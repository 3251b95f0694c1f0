"""Face identities across frames: greedy IoU association; a track ends after it is unseen for a while, and may
come back. The tracker hands the faces that continue no live track back to its caller, which decides whether one
is a face that left (see :mod:`fer_core.identity`) or a new identity."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

import numpy as np

from fer_core.geometry import box_iou

S = TypeVar("S")  # what the caller keeps per face inside its track


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
class Track(Generic[S]):
    """One face identity: ``track_id`` (1, 2, ...), last ``box`` (4,) int x1, y1, x2, y2 in pixels, times first and
    last seen (seconds), frames seen, and the caller's per-face ``state`` (made by the tracker's ``new_state``)."""

    track_id: int
    box: np.ndarray
    first_seen_s: float
    last_seen_s: float
    state: S
    hits: int = 1


class IouTracker(Generic[S]):
    """One frame's detections are tracked in three steps: :meth:`match` continues live tracks with the boxes that
    overlap them and hands back the boxes that continue none; the caller gives each of those a track with
    :meth:`start` (a new identity, or an ended one that came back); :meth:`expire` ends the tracks unseen too long.
    :meth:`update` does all three, every unmatched box a new identity.
    ``self.tracks``: live tracks by id; ``self.ended``: recently ended ones, oldest first, which may come back."""

    def __init__(self, settings: TrackerSettings = TrackerSettings(), new_state: Callable[[], S] = dict) -> None:  # type: ignore[assignment]
        self.settings = settings
        self._new_state = new_state
        self.reset()

    def reset(self) -> None:
        self.tracks: dict[int, Track[S]] = {}
        self.ended: dict[int, Track[S]] = {}
        self._next_id = 1

    def match(self, boxes: np.ndarray, time_s: float) -> list[Track[S] | None]:
        """Continue live tracks with ``boxes`` (N, 4), best overlaps first: the track of each box, in box order, or
        None for a box that continues no live track (give it one with :meth:`start`)."""
        boxes = np.asarray(boxes, dtype=np.int64).reshape(-1, 4)
        live: list[Track[S] | None] = list(self.tracks.values())  # None once matched
        assigned: list[Track[S] | None] = [None] * len(boxes)
        if live and len(boxes):
            iou = box_iou(boxes, np.stack([t.box for t in live if t is not None]))
            for flat in np.argsort(-iou, axis=None, kind="stable"):
                i, j = divmod(int(flat), len(live))
                if iou[i, j] < self.settings.min_iou:
                    break
                if assigned[i] is None and live[j] is not None:
                    assigned[i], live[j] = live[j], None
        for box, track in zip(boxes, assigned):
            if track is not None:
                self._see(track, box, time_s)
        return assigned

    def start(self, box: np.ndarray, time_s: float, returning: int | None = None) -> Track[S]:
        """The track of a box that :meth:`match` left unmatched: the ended track ``returning`` (a key of
        ``self.ended``: this face is that one, back), or a new identity."""
        box = np.asarray(box, dtype=np.int64)
        if returning is not None:
            track = self.ended.pop(returning)
        else:
            track = Track(self._next_id, box, time_s, time_s, self._new_state(), hits=0)
            self._next_id += 1
        self.tracks[track.track_id] = track
        self._see(track, box, time_s)
        return track

    def expire(self, time_s: float) -> list[Track[S]]:
        """End the live tracks unseen for longer than ``max_unseen_s`` at ``time_s``; returns them."""
        ended = [t for t in self.tracks.values() if time_s - t.last_seen_s > self.settings.max_unseen_s]
        self._end(ended)
        return ended

    def update(self, boxes: np.ndarray, time_s: float) -> tuple[list[Track[S]], list[Track[S]]]:
        """:meth:`match`, a new identity for every unmatched box, :meth:`expire`: (the track of each box, in box
        order; the tracks that ended now)."""
        boxes = np.asarray(boxes, dtype=np.int64).reshape(-1, 4)
        tracks = [track or self.start(box, time_s) for box, track in zip(boxes, self.match(boxes, time_s))]
        return tracks, self.expire(time_s)

    def follow(self, track: Track[S], box: np.ndarray, time_s: float) -> None:
        """Move a live track to ``box`` (4,) found without the detector (by following its landmarks)."""
        track.box, track.last_seen_s = np.asarray(box, dtype=np.int64), time_s

    def end_all(self) -> list[Track[S]]:
        """End every live track now (a scene cut: the faces after it continue none of the boxes before it, though
        they may be recognised as one of them). Returns the tracks ended."""
        ended = list(self.tracks.values())
        self._end(ended)
        return ended

    @staticmethod
    def _see(track: Track[S], box: np.ndarray, time_s: float) -> None:
        track.box, track.last_seen_s, track.hits = box, time_s, track.hits + 1

    def _end(self, tracks: list[Track[S]]) -> None:
        for track in tracks:
            del self.tracks[track.track_id]
            self.ended[track.track_id] = track
        while len(self.ended) > self.settings.max_ended:
            del self.ended[next(iter(self.ended))]
