"""Annotations drawn on a frame. Reads records only; never changes them, and draws on a copy unless asked."""

from __future__ import annotations

import functools

import cv2
import numpy as np

from fer_core.labels import EMOTIONS
from fer_core.landmarks import FaceLandmarks
from fer_core.records import FaceRecord

# A colour per track (BGR), cycled by track id; chosen to stay readable on faces.
TRACK_COLOURS: tuple[tuple[int, int, int], ...] = (
    (60, 200, 60),
    (255, 140, 0),
    (40, 40, 230),
    (0, 200, 230),
    (220, 0, 220),
    (230, 230, 0),
    (130, 0, 255),
)
FONT = cv2.FONT_HERSHEY_SIMPLEX


def track_colour(track_id: int) -> tuple[int, int, int]:
    return TRACK_COLOURS[(track_id - 1) % len(TRACK_COLOURS)]


def _text(image: np.ndarray, text: str, org: tuple[int, int], scale: float, colour, thickness: int = 1) -> None:
    (w, h), base = cv2.getTextSize(text, FONT, scale, thickness)
    x, y = org
    cv2.rectangle(image, (x, y - h - base), (x + w + 2, y + base // 2), (0, 0, 0), -1)
    cv2.putText(image, text, (x + 1, y - base // 2), FONT, scale, colour, thickness, cv2.LINE_AA)


def annotate(
    image: np.ndarray,
    records: list[FaceRecord],
    landmarks: dict[int, FaceLandmarks] | None = None,
    show_bars: bool = True,
    emotions: tuple[str, ...] = EMOTIONS,
    in_place: bool = False,
) -> np.ndarray:
    """Draw each face's box, ``#id Emotion 87%``, blink count and (``show_bars``) a probability bar per emotion in
    ``emotions`` onto a BGR (H, W, 3) uint8 image; ``landmarks`` by track id are drawn as dots when given."""
    out = image if in_place else image.copy()
    height, width = out.shape[:2]
    scale = max(0.4, min(1.0, width / 1280.0 * 1.2))
    line = max(1, round(width / 640))
    panels: list[tuple[int, int, int, int]] = []  # the probability panels drawn so far
    for r in records:
        colour = track_colour(r.track_id)
        cv2.rectangle(out, (r.x1, r.y1), (r.x2 - 1, r.y2 - 1), colour, line)
        _text(
            out,
            f"#{r.track_id} {r.emotion} {r.emotion_probability:.0%}",
            (r.x1, max(r.y1 - 4, 14)),
            scale,
            colour,
            line,
        )
        _text(
            out,
            f"blinks {r.blink_count}" + (" (closed)" if r.eyes_closed else ""),
            (r.x1, min(r.y2 + round(18 * scale), height - 2)),
            scale * 0.8,
            colour,
            1,
        )
        if show_bars:
            faces = [(o.x1, o.y1, o.x2, o.y2) for o in records if o is not r]
            panels.append(_draw_bars(out, r, emotions, scale, colour, faces, panels))
        if landmarks and r.track_id in landmarks:
            for x, y in landmarks[r.track_id].points.round().astype(int):
                cv2.circle(out, (int(x), int(y)), max(1, line), (0, 255, 255), -1)
    return out


@functools.lru_cache(maxsize=64)
def _label_width(emotions: tuple[str, ...], font_scale: float) -> int:
    """Pixels of the panel's label column: the widest name at ``font_scale``, and a margin."""
    return 4 + max(cv2.getTextSize(emotion, FONT, font_scale, 1)[0][0] for emotion in emotions)


def _draw_bars(
    image: np.ndarray,
    record: FaceRecord,
    emotions: tuple[str, ...],
    scale: float,
    colour,
    faces: list[tuple[int, int, int, int]],
    panels: list[tuple[int, int, int, int]],
) -> tuple[int, int, int, int]:
    """The probability panel beside the face's box: on its right, else its left, where it fits in the frame without
    covering another face (``faces``: their boxes) or a panel drawn before (``panels``); where neither side does, on
    the side away from the nearest other face, kept inside the frame (over the edge of this face's own box rather
    than over a neighbour). Returns the panel's x1, y1, x2, y2."""
    height, width = image.shape[:2]
    bar_h, bar_w = max(8, round(14 * scale)), max(40, round(70 * scale))
    font_scale = scale * 0.4 + 0.05
    label_w = _label_width(tuple(emotions), font_scale)
    panel_w = label_w + bar_w
    top, bottom = record.y1, record.y1 + len(emotions) * (bar_h + 2)

    def free(x: int) -> bool:
        inside = 0 <= x and x + panel_w <= width
        return inside and not any(
            x < x2 and x1 < x + panel_w and top < y2 and y1 < bottom for x1, y1, x2, y2 in faces + panels
        )

    right, left = record.x2 + 4, record.x1 - 4 - panel_w
    if free(right):
        x = right
    elif free(left):
        x = left
    else:
        centre = (record.x1 + record.x2) / 2
        nearest = min(faces, key=lambda o: abs((o[0] + o[2]) / 2 - centre), default=None)
        away_right = nearest is not None and (nearest[0] + nearest[2]) / 2 < centre
        x = min(max(right if away_right else left, 0), max(width - panel_w, 0))
    for k, emotion in enumerate(emotions):
        y = record.y1 + k * (bar_h + 2)
        if y + bar_h > height:
            break
        p = record.probabilities[EMOTIONS.index(emotion)]
        cv2.rectangle(image, (x, y), (x + label_w + bar_w, y + bar_h), (0, 0, 0), -1)
        cv2.putText(image, emotion, (x + 2, y + bar_h - 2), FONT, font_scale, (255, 255, 255), 1, cv2.LINE_AA)
        cv2.rectangle(image, (x + label_w, y + 2), (x + label_w + round(bar_w * p), y + bar_h - 2), colour, -1)
    return x, top, x + panel_w, bottom
