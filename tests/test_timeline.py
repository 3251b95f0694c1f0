"""Emotion readings over time (fer_core.timeline): smoothing, per-second readings, Uncertain, stretches."""

from __future__ import annotations

import numpy as np
import pandas as pd

from fer_core import timeline
from fer_core.labels import EMOTIONS, UNCERTAIN, reading, readings
from fer_core.records import FaceRecord, FaceSummary, summarize
from fer_core.timeline import plain_summary


def face_rows(times, dominant, track_id=1, top=0.7) -> pd.DataFrame:
    """Records table of one face: at each time the named emotion has ``top``, the others share the rest equally."""
    rows = []
    for t, emotion in zip(times, dominant):
        p = {f"p_{e.lower()}": (1 - top) / 6 for e in EMOTIONS}
        p[f"p_{emotion.lower()}"] = top
        rows.append({"time_s": float(t), "track_id": track_id, "blink_count": 0, **p})
    return pd.DataFrame(rows)


def test_one_frame_flicker_is_averaged_away_but_a_stay_is_never_averaged_with_another():
    times = np.arange(60) / 30  # 2 s at 30 fps
    flicker = ["Happy"] * 30 + ["Sad"] + ["Happy"] * 29
    smooth = timeline.smoothed_probabilities(face_rows(times, flicker))
    assert (smooth[[f"p_{e.lower()}" for e in EMOTIONS]].to_numpy().argmax(axis=1) == EMOTIONS.index("Happy")).all()
    # two stays 5 s apart: the first second of the second stay is not pulled towards the first
    apart = face_rows(list(times) + list(times + 7), ["Sad"] * 60 + ["Happy"] * 60)
    smooth = timeline.smoothed_probabilities(apart)
    assert smooth["p_happy"].iloc[60] == 0.7 and smooth["p_sad"].iloc[59] == 0.7


def test_dominant_runs_follow_the_emotion_and_end_at_gaps():
    times = list(np.arange(30) / 10) + list(5 + np.arange(10) / 10)  # 0-2.9 s, away, 5-5.9 s
    dominant = ["Neutral"] * 10 + ["Happy"] * 20 + ["Happy"] * 10
    runs = timeline.dominant_runs(face_rows(times, dominant))
    assert list(runs["emotion"]) == ["Neutral", "Happy", "Happy"]  # the gap splits the two Happy stretches
    assert np.allclose(runs["start_s"], [0.0, 1.0, 5.0]) and np.allclose(runs["end_s"], [1.0, 3.0, 6.0])


def test_readings_say_uncertain_under_the_level():
    probabilities = np.array([[0.1, 0.0, 0.0, 0.7, 0.1, 0.0, 0.1], [0.3, 0.1, 0.1, 0.2, 0.1, 0.1, 0.1]])
    assert list(readings(probabilities)) == ["Happy", UNCERTAIN]
    assert list(readings(probabilities, level=0.25)) == ["Happy", "Angry"]
    assert list(readings(np.zeros((0, 7)))) == []
    assert [reading(p) for p in probabilities] == ["Happy", UNCERTAIN]  # one face at a time: the same rule


def test_a_stretch_of_low_confidence_shows_as_uncertain_on_the_band():
    times = np.arange(30) / 10
    table = pd.concat(
        [
            face_rows(times[:10], ["Happy"] * 10),
            face_rows(times[10:20], ["Sad"] * 10, top=0.3),
            face_rows(times[20:], ["Sad"] * 10),
        ]
    )
    runs = timeline.dominant_runs(table)
    assert list(runs["emotion"]) == ["Happy", UNCERTAIN, "Sad"]
    assert np.allclose(runs["start_s"], [0.0, 1.0, 2.0])


def test_the_table_gets_a_smoothed_and_a_per_second_reading_per_row():
    times = np.arange(90) / 30  # 3 s at 30 fps
    one = face_rows(times, ["Happy"] * 40 + ["Sad"] + ["Happy"] * 19 + ["Surprise"] * 30)
    two = face_rows(times, ["Neutral"] * 90, track_id=2, top=0.35)
    table = timeline.with_readings(pd.concat([one, two], ignore_index=True))
    face_one = table[table["track_id"] == 1]
    assert face_one["emotion_smoothed"].iloc[40] == "Happy"  # the one-frame Sad is averaged away
    assert list(face_one["emotion_of_second"].iloc[[0, 45, 89]]) == ["Happy", "Happy", "Surprise"]
    assert set(table[table["track_id"] == 2]["emotion_smoothed"]) == {UNCERTAIN}  # never mixed with face 1
    assert set(table[table["track_id"] == 2]["emotion_of_second"]) == {UNCERTAIN}
    assert list(table.columns[:3]) == list(one.columns[:3])  # the per-frame columns stay as they were
    empty = timeline.with_readings(one.iloc[:0])
    assert {"emotion_smoothed", "emotion_of_second"} <= set(empty.columns)


def _record(time_s: float, emotion: str, top: float, track_id: int = 1) -> FaceRecord:
    probabilities = [(1 - top) / 6] * 7
    probabilities[EMOTIONS.index(emotion)] = top
    return FaceRecord(
        time_s, int(time_s * 10), track_id, 0, 0, 10, 10, 1.0, tuple(probabilities), emotion, top, 0.3, False, False, 0
    )


def test_uncertain_frames_do_not_inflate_an_emotions_share():
    # 1 s of clear Happy, then 2 s where Surprise wins with 0.3 only (a grimace), then 1 s away, then 1 s Happy
    records = [_record(i / 10, "Happy", 0.8) for i in range(10)]
    records += [_record(1 + i / 10, "Surprise", 0.3) for i in range(20)]
    records += [_record(4 + i / 10, "Happy", 0.8) for i in range(10)]
    (face,) = summarize(records, 0.1)
    assert face.emotion_share[UNCERTAIN] == 0.5 and face.emotion_share["Happy"] == 0.5
    assert face.emotion_share["Surprise"] == 0.0 and abs(sum(face.emotion_share.values()) - 1) < 1e-9
    assert face.dominant_emotion == "Happy"
    assert face.emotion_per_second == ("Happy", UNCERTAIN, UNCERTAIN, "", "Happy")
    assert FaceSummary.from_dict(face.as_dict()) == face
    (unsure,) = summarize(records[10:30], 0.1)
    assert unsure.dominant_emotion == UNCERTAIN
    assert "uncertain 100% of the time" in plain_summary(unsure)
    assert "uncertain 50% of the time" in plain_summary(face)


def test_named_faces_keep_their_names_through_the_summary_the_sentence_and_the_faces_table():
    from fer_core.export import faces_table
    from fer_core.records import face_names, face_summaries, with_face_names

    face = {"track_id": 3, "time_on_screen_s": 40.0, "frames": 10, "dominant_emotion": "Happy", "blink_count": 12}
    summary = {"source": "x.mp4", "faces": [dict(face, emotion_share={"Happy": 1.0}, blinks_per_minute=18.0)]}
    named = with_face_names(summary, {3: "  Dr.  O'Brien <i>x</i> [link](http://example.org) ", 9: "nobody"})
    assert "name" not in summary["faces"][0]  # a copy: the summary given is left as it was
    (typed,) = face_summaries(named)
    assert typed.name == "Dr. O'Brien ixi linkhttpexample.org"[:40] and typed.label == f"#3 {typed.name}"
    assert face_names(named) == {3: typed.name}
    assert plain_summary(typed).startswith(f"Face #3 {typed.name}: mostly Happy")
    assert faces_table([typed])["name"].tolist() == [typed.name]
    assert FaceSummary.from_dict(typed.as_dict()) == typed  # through the JSON summary and back
    unnamed = with_face_names(named, {3: "<>"})
    assert face_names(unnamed) == {} and face_summaries(unnamed)[0].label == "#3"
