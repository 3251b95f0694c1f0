"""The annotations drawn on a frame stay readable."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from fer_core.draw import FONT, annotate, track_colour
from fer_core.labels import EMOTIONS
from fer_core.records import FaceRecord


def _record(x1: int, y1: int, x2: int, y2: int) -> FaceRecord:
    return FaceRecord(0.0, 0, 1, x1, y1, x2, y2, 1.0, (1.0,) * 7, "Surprise", 1.0, 0.3, False, False, 0)


@pytest.mark.parametrize("width", [640, 960, 1920])
def test_every_emotion_label_beside_the_bars_is_whole(width):
    """Each bar's label is drawn in full, left of its bar (full bars, so a bar drawn over a label would hide it)."""
    frame = np.full((width // 2, width, 3), 128, np.uint8)
    face = width // 5
    top = face // 2
    drawn = annotate(frame, [_record(face, top, 2 * face, face + top)])[top:]  # below the box's top: the bars
    bar = np.all(drawn == track_colour(1), axis=2)
    white = np.all(drawn > 200, axis=2)
    panel = slice(2 * face + 4, None)  # right of the box
    font_scale = max(0.4, min(1.0, width / 1280.0 * 1.2)) * 0.4 + 0.05
    rows = np.flatnonzero(bar[:, panel].any(axis=1))
    assert len(rows) > 7 * 4  # seven bars a few pixels high
    bar_left = np.flatnonzero(bar[rows[0], panel])[0]
    for emotion in EMOTIONS:
        text_width = cv2.getTextSize(emotion, FONT, font_scale, 1)[0][0]
        assert text_width < bar_left, (emotion, text_width, bar_left)
    # the widest label's ink reaches past most of its drawn width, and never into the bars
    ink = np.flatnonzero(white[:, panel].any(axis=0))
    assert ink.max() < bar_left and ink.max() >= 0.8 * max(
        cv2.getTextSize(e, FONT, font_scale, 1)[0][0] for e in EMOTIONS
    )


def test_two_faces_side_by_side_keep_their_panels_apart():
    """Two faces with little room between them (the two-face clip's boxes): each face's bars stay whole, as when drawn
    alone (before, the second panel was drawn over the first between the faces)."""
    frame = np.full((480, 960, 3), 128, np.uint8)
    left = FaceRecord(0.0, 0, 1, 140, 170, 410, 440, 1.0, (1.0,) * 7, "Sad", 1.0, 0.3, False, False, 0)
    right = FaceRecord(0.0, 0, 2, 615, 170, 840, 390, 1.0, (1.0,) * 7, "Neutral", 1.0, 0.3, False, False, 0)

    bar_w = round(70 * min(1.0, 960 / 1280.0 * 1.2))  # annotate's bar length at this width (full bars: p = 1)

    def bar_rows(drawn, track_id):
        """Rows of the track's colour holding a run as long as a full bar: 7 bars a few rows high when whole."""
        found = 0
        for row in np.all(drawn == track_colour(track_id), axis=2):
            edges = np.flatnonzero(np.diff(np.concatenate([[0], row.astype(np.int8), [0]])))
            found += int((np.abs(edges[1::2] - edges[::2] - bar_w) <= 1).sum())
        return found

    together = annotate(frame, [left, right])
    for record in (left, right):
        alone = bar_rows(annotate(frame, [record]), record.track_id)
        assert alone >= 7 * 4 and bar_rows(together, record.track_id) == alone, record.track_id
