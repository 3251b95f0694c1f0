"""The dashboard's figures read as people read them: smoothed timelines, a dominant-emotion band, m:ss times, and
the time of a clicked point for seeking the video."""

from __future__ import annotations

import re

import numpy as np
import pytest
import pandas as pd

from dashboard import charts
from dashboard.components import summary_table
from fer_core.labels import EMOTIONS, SHARE_LABELS
from fer_core.records import FaceSummary
from fer_core.timeline import mm_ss
from test_timeline import face_rows as _face


def test_minutes_and_seconds():
    assert [mm_ss(s) for s in (0, 9.9, 83.4, 600, 3723)] == ["0:00", "0:09", "1:23", "10:00", "1:02:03"]


def test_the_timeline_hovers_in_words_and_carries_each_points_time():
    table = pd.concat([_face(np.arange(90) / 30, ["Happy"] * 90), _face(np.arange(30) / 30, ["Sad"] * 30, 2)])
    figure = charts.emotion_timeline(table, 1)
    happy = next(t for t in figure.data if t.name == "Happy" and t.type == "scatter")
    assert "Happy" in happy.hovertemplate and "customdata[1]" in happy.hovertemplate
    assert happy.customdata[45][1] == "0:01" and float(happy.customdata[45][0]) == 1.5
    band = [t for t in figure.data if t.type == "bar"]
    assert [t.name for t in band] == ["Happy"]  # face 1 only, one stretch
    assert figure.layout.xaxis.ticktext[0] == "0:00"
    raw = charts.emotion_timeline(table, 1, raw=True)
    assert "per frame" in raw.layout.title.text and "averaged" in figure.layout.title.text


def test_a_click_on_the_chart_gives_the_time_to_seek_to():
    state = {"selection": {"points": [{"x": 12.5, "y": 0.4, "customdata": ["12.5", "0:12"]}]}}
    assert charts.clicked_time(state) == 12.5
    assert charts.clicked_time({"selection": {"points": []}}) is None
    assert charts.clicked_time(None) is None


def test_the_summary_table_says_why_a_blink_rate_is_missing():
    faces = [
        {"track_id": 1, "time_on_screen_s": 83.0, "dominant_emotion": "Happy", "blink_count": 20,
         "blinks_per_minute": 14.5, "emotion_share": {"Happy": 0.6, "Neutral": 0.4}, "frames": 2490},
        {"track_id": 2, "time_on_screen_s": 3.0, "dominant_emotion": "Sad", "blink_count": 0,
         "blinks_per_minute": None, "emotion_share": {"Sad": 1.0}, "frames": 90},
    ]  # fmt: skip
    faces = [FaceSummary.from_dict(f) for f in faces]  # as read back from a JSON summary: older files lack some
    table = summary_table(faces)
    assert list(table["on screen"]) == ["1:23", "0:03"]
    assert list(table["blinks/min"]) == ["14.5", "needs 5 s on screen"] and "None" not in table.to_string()
    bars = charts.emotion_share_bars(faces)
    assert [t.name for t in bars.data] == list(SHARE_LABELS) and list(bars.data[3].x) == [0.6, 0.0]


def test_a_blink_verdict_waits_until_it_means_something():
    from fer_core.timeline import blink_verdict, plain_summary

    assert blink_verdict(8.0, 12.0) == "needs 30 s on screen (12 s so far)"
    assert blink_verdict(8.0, 45.0) == "below the usual range" and blink_verdict(None, 45.0).startswith("needs 30 s")
    face = {"track_id": 1, "dominant_emotion": "Neutral", "emotion_share": {"Neutral": 0.7, "Happy": 0.12, "Sad": 0.18},
            "blinks_per_minute": 18.2, "time_on_screen_s": 83.0, "blink_count": 25}  # fmt: skip
    assert plain_summary(FaceSummary.from_dict(face)) == (
        "Face #1: mostly Neutral, smiling 12% of the time, Sad 18%, 18 blinks a minute (within the usual range), "
        "1:23 on screen."
    )
    short = {**face, "blinks_per_minute": None, "time_on_screen_s": 3.0, "blink_count": 1}
    assert "1 blink (too short for a rate)" in plain_summary(FaceSummary.from_dict(short))


def test_the_report_is_one_self_contained_file_and_the_faces_table_one_row_per_face():
    from dashboard.report import report_html
    from fer_core.export import faces_table

    table = pd.concat([_face(np.arange(90) / 30, ["Happy"] * 90), _face(np.arange(30) / 30, ["Sad"] * 30, 2)])
    faces = [
        {"track_id": 1, "first_seen_s": 0.0, "last_seen_s": 2.97, "time_on_screen_s": 3.0, "frames": 90,
         "dominant_emotion": "Happy", "emotion_share": {"Happy": 1.0}, "mean_probabilities": {"Happy": 0.7},
         "blink_count": 0, "blinks_per_minute": None},
        {"track_id": 2, "first_seen_s": 0.0, "last_seen_s": 0.97, "time_on_screen_s": 1.0, "frames": 30,
         "dominant_emotion": "Sad", "emotion_share": {"Sad": 1.0}, "mean_probabilities": {"Sad": 0.7},
         "blink_count": 0, "blinks_per_minute": None},
    ]  # fmt: skip
    summary = {"source": "<interview>.mp4", "frames_analysed": 120, "every": 1, "duration_s": 3.0, "faces": faces}
    page = report_html("<interview>.mp4", summary, table, {"name": "fast", "accuracy": 0.669})
    assert page.startswith("<!DOCTYPE html>") and "&lt;interview&gt;.mp4" in page and "<interview>" not in page
    assert "66.9% on FER2013 PublicTest" in page and "Face #1: mostly Happy" in page
    assert page.count('class="plotly-graph-div"') == 4  # shares, two timelines, blink rates
    assert not re.search(r"<script[^>]*\ssrc=", page)  # plotly.js inlined: the file opens offline
    rows = faces_table([FaceSummary.from_dict(f) for f in faces])
    assert list(rows["track_id"]) == [1, 2] and rows.loc[0, "share_happy"] == 1.0 and rows.loc[1, "mean_p_sad"] == 0.7


def test_a_portrait_video_gets_a_narrower_player(tmp_path):
    """Issue 16: a portrait phone video no longer makes a page-tall player."""
    import av

    from dashboard.components import PLAYER_MAX_HEIGHT, player_width

    def video(path, width, height):
        with av.open(str(path), "w") as out:
            stream = out.add_stream("mpeg4", rate=10)
            stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
            for _ in range(3):
                for packet in stream.encode(av.VideoFrame.from_ndarray(np.zeros((height, width, 3), np.uint8))):
                    out.mux(packet)
            for packet in stream.encode():
                out.mux(packet)
        return path

    assert player_width(video(tmp_path / "portrait.mp4", 360, 640)) == int(PLAYER_MAX_HEIGHT * 360 / 640)
    assert player_width(video(tmp_path / "landscape.mp4", 640, 360)) == "stretch"
    assert player_width(tmp_path / "missing.mp4") == "stretch"


def test_the_live_panel_shows_the_last_seconds_not_an_older_frames_numbers():
    """Issue 16: the panel no longer prints a probability that disagrees with the one on the video."""
    from dashboard.components import current_faces_table
    from fer_core.live import LiveSnapshot
    from fer_core.records import FaceRecord

    def record(t, emotion):
        p = tuple(0.7 if e == emotion else 0.05 for e in EMOTIONS)
        return FaceRecord(t, int(t * 10), 1, 0, 0, 10, 10, 1.0, p, emotion, 0.7, 0.3, False, False, 2)

    points = [record(t / 10, "Happy" if t < 25 else "Neutral") for t in range(30)]  # 3 s: Neutral only at the end
    snapshot = LiveSnapshot(frames=30, fps=10.0, duration_s=2.9, faces={1: points}, current=[points[-1]], summaries=[])
    table = current_faces_table(snapshot)
    assert list(table.columns) == ["face", "mostly, last 2 s", "share", "eyes", "blinks"]
    assert table.iloc[0]["blinks"] == "2"  # no rate before 5 s on screen
    assert table.iloc[0]["mostly, last 2 s"] == "Happy" and round(table.iloc[0]["share"]) == 76  # 16 of 21 frames


def test_a_face_summary_reads_back_from_its_json(video_path):
    """Issue 17: the UI gets typed summaries: what a JSON summary or the history holds reads back to the same."""
    import json

    from fer_core.records import face_summaries
    from fer_core.video import analyze_video

    analysis = analyze_video(video_path("liveportrait_d18_surprise.mp4"), every=6, write_video=False)
    assert face_summaries(json.loads(json.dumps(analysis.summary()))) == list(analysis.faces)


def test_learning_rate_chart_keeps_four_decades_when_the_schedule_ends_at_zero():
    history = [{"epoch": i + 1, "learning_rate": 0.05 * 0.5 * (1 + np.cos(np.pi * i / 99))} for i in range(100)]
    assert history[-1]["learning_rate"] < 1e-9
    low, high = charts.training_curve(history, "learning_rate", "lr", log_y=True).layout.yaxis.range
    assert low == pytest.approx(np.log10(0.05) - 4) and high > np.log10(0.05)
