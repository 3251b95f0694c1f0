"""What one refresh of the live panel costs the server (it runs every second in every live session, holding Python's
lock most of the time): a snapshot of a buffer of two faces, the records table, the current-faces table, the
timeline and blink-rate figures, and their JSON. Median of ``--repeats`` refreshes, ms.

``.venv/bin/python bench/live_panel.py [--seconds 100]``
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from dashboard import charts
from dashboard.components import current_faces_table
from fer_core.labels import EMOTIONS
from fer_core.live import LiveBuffer
from fer_core.records import FaceRecord

PARTS = ("snapshot", "table", "current faces", "timeline", "blink rate", "JSON")


def filled_buffer(seconds: float, fps: float = 30.0) -> LiveBuffer:
    """A live buffer after ``seconds`` of two faces at ``fps`` (random probabilities, a blink every ~3 s)."""
    buffer, rng = LiveBuffer(), np.random.default_rng(0)
    for i in range(int(seconds * fps)):
        t, records = i / fps, []
        for track_id in (1, 2):
            p = rng.dirichlet(np.ones(len(EMOTIONS)))
            emotion = EMOTIONS[int(p.argmax())]
            records.append(
                FaceRecord(
                    t, i, track_id, 10, 10, 100, 100, 1.0, tuple(map(float, p)), emotion, float(p.max()),
                    0.3, False, i % 97 == 0, i // 97,
                )
            )  # fmt: skip
        buffer.add(t, records)
    return buffer


def refresh(buffer: LiveBuffer) -> list[float]:
    """Milliseconds of each part of one refresh (:data:`PARTS`)."""
    marks = [time.perf_counter()]
    snapshot = buffer.snapshot()
    marks.append(time.perf_counter())
    table = snapshot.table()
    marks.append(time.perf_counter())
    current_faces_table(snapshot)
    marks.append(time.perf_counter())
    timeline = charts.emotion_timeline(table, 1, EMOTIONS)
    marks.append(time.perf_counter())
    blinks = charts.blink_rate_chart(table)
    marks.append(time.perf_counter())
    timeline.to_json(), blinks.to_json()
    marks.append(time.perf_counter())
    return [1000 * (b - a) for a, b in zip(marks, marks[1:])]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=100.0, help="length of the live session (two faces)")
    parser.add_argument("--repeats", type=int, default=9)
    args = parser.parse_args()
    buffer = filled_buffer(args.seconds)
    refresh(buffer)
    parts = np.median([refresh(buffer) for _ in range(args.repeats)], axis=0)
    print(", ".join(f"{name} {ms:.1f}" for name, ms in zip(PARTS, parts)) + f"; total {parts.sum():.1f} ms")


if __name__ == "__main__":
    main()
