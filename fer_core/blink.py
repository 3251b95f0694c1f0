"""Blinks from the eye aspect ratio (EAR) of Soukupova & Cech (2016), one detector per face track."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np


def eye_aspect_ratio(eye: np.ndarray) -> float:
    """EAR of one eye from its 6 landmarks (6, 2) in the 68-point order p1..p6 (p1, p4 the corners):
    ``(|p2 - p6| + |p3 - p5|) / (2 |p1 - p4|)``. About 0.25-0.35 open, near 0 closed; 0 for a degenerate eye."""
    eye = np.asarray(eye, dtype=np.float64).reshape(6, 2)
    vertical = np.linalg.norm(eye[1] - eye[5]) + np.linalg.norm(eye[2] - eye[4])
    horizontal = np.linalg.norm(eye[0] - eye[3])
    return float(vertical / (2.0 * horizontal)) if horizontal > 0 else 0.0


def blinks_per_minute(blinks: int, seconds: float, min_seconds: float) -> float | None:
    """Blinks per minute over ``seconds`` of observation; None when fewer than ``min_seconds`` were observed."""
    return 60.0 * blinks / seconds if seconds >= min_seconds and seconds > 0 else None


@dataclass(frozen=True)
class BlinkSettings:
    """``closed_ratio``: eyes count as closed when EAR < closed_ratio x the person's open-eye baseline (the median
    EAR of the last ``baseline_window`` samples; blinks are a few percent of frames, so the median is the open
    eye), so narrow eyes are not always "closed". Nothing is judged during the first ``baseline_min_samples``
    samples (a third of a second at 30 fps), while the baseline forms.
    ``reopen_ratio`` > closed_ratio gives hysteresis against flicker. A closure counts as a blink when it lasts at
    least ``min_closed_frames`` samples and at most ``max_closed_s`` seconds (longer: eyes shut or looking down)."""

    closed_ratio: float = 0.7
    reopen_ratio: float = 0.8
    baseline_window: int = 150
    baseline_min_samples: int = 10
    min_closed_frames: int = 2
    max_closed_s: float = 0.8


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
        self._first_time: float | None = None
        self._last_time: float | None = None

    @property
    def baseline(self) -> float | None:
        """Median recent EAR (the open eye), or None while fewer than ``baseline_min_samples`` are known."""
        if len(self._samples) < self.settings.baseline_min_samples:
            return None
        return float(np.median(self._samples))

    def update(self, ear: float, time_s: float) -> BlinkState:
        if self._first_time is None:
            self._first_time = time_s
        self._last_time = time_s
        baseline = self.baseline
        self._samples.append(ear)
        if baseline is None:
            return BlinkState(False, False, self.count, 0.0)
        close_below = baseline * self.settings.closed_ratio
        reopen_above = baseline * self.settings.reopen_ratio
        blink = False
        if self._closed_since is None:
            if ear < close_below:
                self._closed_since, self._closed_frames = time_s, 1
        elif ear < reopen_above:
            self._closed_frames += 1
        else:
            duration = time_s - self._closed_since
            blink = self._closed_frames >= self.settings.min_closed_frames and duration <= self.settings.max_closed_s
            self.count += int(blink)
            self._closed_since, self._closed_frames = None, 0
        return BlinkState(self._closed_since is not None, blink, self.count, close_below)

    def rate_per_minute(self) -> float | None:
        """Blinks per minute over the time this face was followed; None before one second has passed."""
        if self._first_time is None or self._last_time is None:
            return None
        return blinks_per_minute(self.count, self._last_time - self._first_time, min_seconds=1.0)
