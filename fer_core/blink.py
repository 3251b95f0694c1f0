"""Blinks from the eye aspect ratio (EAR) of Soukupova & Cech (2016), one detector per face track."""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import numpy as np


def eye_aspect_ratio(eye: np.ndarray) -> float:
    """EAR of one eye from its 6 landmarks (6, 2) in the 68-point order p1..p6 (p1, p4 the corners):
    ``(|p2 - p6| + |p3 - p5|) / (2 |p1 - p4|)``. About 0.25-0.35 open, near 0 closed; 0 for a degenerate eye."""
    p1, p2, p3, p4, p5, p6 = np.asarray(eye, dtype=np.float64).reshape(6, 2).tolist()  # plain floats: 10x faster
    vertical = _distance(p2, p6) + _distance(p3, p5)
    horizontal = _distance(p1, p4)
    return vertical / (2.0 * horizontal) if horizontal > 0 else 0.0


def _distance(a: list[float], b: list[float]) -> float:
    dx, dy = a[0] - b[0], a[1] - b[1]
    return math.sqrt(dx * dx + dy * dy)


def blinks_per_minute(blinks: int, seconds: float, min_seconds: float) -> float | None:
    """Blinks per minute over ``seconds`` of observation; None when fewer than ``min_seconds`` were observed."""
    return 60.0 * blinks / seconds if seconds >= min_seconds and seconds > 0 else None


@dataclass(frozen=True)
class BlinkSettings:
    """``closed_ratio``: eyes count as closed when EAR < closed_ratio x the person's open-eye baseline (the median
    EAR of the last ``baseline_window`` samples of open eyes: samples under the closed level join it only once the
    eyes have stayed closed ``baseline_hold_s`` seconds, so eyes kept shut or downcast for a second or two cannot
    drag it down), so narrow eyes are not always "closed". Nothing is judged during the first
    ``baseline_min_samples`` samples (a third of a second at 30 fps), while the baseline forms.
    ``reopen_ratio`` > closed_ratio gives hysteresis against flicker. A closure counts as a blink when it lasts at
    least ``min_closed_frames`` samples (one: at 30 fps a quick blink can be shut on one frame only, and analysing
    every n-th frame sees most blinks once) and at most ``max_closed_s`` seconds (longer: eyes shut or looking down),
    and its lowest EAR falls to ``deepest_ratio`` or less of the eye open just before it (the highest of the
    ``recent_samples`` before the closure, or the baseline): lids that only narrow (a squint) do not."""

    closed_ratio: float = 0.7
    reopen_ratio: float = 0.8
    baseline_window: int = 150
    baseline_min_samples: int = 10
    min_closed_frames: int = 1
    max_closed_s: float = 0.8
    baseline_hold_s: float = 3.0
    deepest_ratio: float = 0.5
    recent_samples: int = 10


@dataclass(frozen=True)
class BlinkState:
    """After one sample: ``closed`` eyes closed now, ``blink`` a blink ended on this sample, ``count`` blinks so far,
    ``threshold`` the EAR under which eyes count as closed (0 while the baseline forms)."""

    closed: bool
    blink: bool
    count: int
    threshold: float


class BlinkDetector:
    """Counts blinks of one face. Feed ``update(ear, time_s)`` once per analysed frame, in time order."""

    def __init__(self, settings: BlinkSettings = BlinkSettings()) -> None:
        self.settings = settings
        self.reset()

    def reset(self) -> None:
        self.count = 0
        self._samples: deque[float] = deque(maxlen=self.settings.baseline_window)
        self._closed_since: float | None = None
        self._closed_frames = 0
        self._deepest = 0.0  # the lowest EAR of the closure under way, as a fraction of the eye open just before
        self._open_before = 0.0
        self._recent: deque[float] = deque(maxlen=self.settings.recent_samples)
        self._first_time: float | None = None
        self._last_time: float | None = None

    @property
    def baseline(self) -> float | None:
        """Median recent EAR (the open eye), or None while fewer than ``baseline_min_samples`` are known."""
        if len(self._samples) < self.settings.baseline_min_samples:
            return None
        ordered = sorted(self._samples)  # as np.median, without making an array of the deque on every frame
        middle = len(ordered) // 2
        return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2.0

    def update(self, ear: float, time_s: float) -> BlinkState:
        if self._first_time is None:
            self._first_time = time_s
        self._last_time = time_s
        baseline = self.baseline
        if baseline is None:
            self._samples.append(ear)
            self._recent.append(ear)
            return BlinkState(False, False, self.count, 0.0)
        close_below = baseline * self.settings.closed_ratio
        reopen_above = baseline * self.settings.reopen_ratio
        shut_for = 0.0 if self._closed_since is None else time_s - self._closed_since
        if ear >= close_below or shut_for >= self.settings.baseline_hold_s:
            self._samples.append(ear)  # closed eyes join the open-eye baseline only once closed for a long time
        blink = False
        if self._closed_since is None:
            if ear < close_below:
                self._open_before = max(max(self._recent, default=baseline), baseline)  # before this sample
                self._closed_since, self._closed_frames, self._deepest = time_s, 1, ear / self._open_before
        elif ear < reopen_above:
            self._closed_frames += 1
            self._deepest = min(self._deepest, ear / self._open_before)
        else:
            duration = time_s - self._closed_since
            blink = (
                self._closed_frames >= self.settings.min_closed_frames
                and duration <= self.settings.max_closed_s
                and self._deepest <= self.settings.deepest_ratio
            )
            self.count += int(blink)
            self._closed_since, self._closed_frames = None, 0
        self._recent.append(ear)
        return BlinkState(self._closed_since is not None, blink, self.count, close_below)

    def rate_per_minute(self) -> float | None:
        """Blinks per minute over the time this face was followed; None before one second has passed."""
        if self._first_time is None or self._last_time is None:
            return None
        return blinks_per_minute(self.count, self._last_time - self._first_time, min_seconds=1.0)
