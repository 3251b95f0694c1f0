"""A part of a recorded video analysed (from / to a time), as a researcher analyses the interview's questions and
not the small talk: only that part's frames, at the video's own times, by the library, the command line, the
background jobs and the Recorded page, in one process or two; parts that hold no frame are refused up front."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from fer_core import segments
from fer_core.decode import iter_frames, probe_video
from fer_core.errors import VideoPartError
from fer_core.jobs import analysis_runner
from fer_core.pipeline import FramePipeline
from fer_core.timeline import parse_time
from fer_core.video import analyze_video

ROOT = Path(__file__).resolve().parents[1]
CLIP = "liveportrait_d18_surprise.mp4"  # 216 frames at 30 fps (7.2 s), one face, with sound


def test_times_are_read_as_seconds_minutes_or_hours():
    assert [parse_time(t) for t in ("83.4", "1:23", "1:23.5", "1:02:03", " 2:00 ")] == [83.4, 83, 83.5, 3723, 120]
    for bad in ("-1", "1:60", "1:2:3:4", "a", "", "nan", "inf", "1::2"):
        with pytest.raises(ValueError, match="m:ss"):
            parse_time(bad)


def test_the_stated_length_is_read_from_an_open_file_left_at_its_start(video_path, tmp_path):
    import io

    from fer_core.decode import stated_length

    with open(video_path(CLIP), "rb") as file:
        assert abs(stated_length(file) - 7.2) < 0.05 and file.tell() == 0
    assert stated_length(io.BytesIO(b"not a video at all")) is None


def test_decoding_stops_where_the_part_ends(video_path):
    frames = list(iter_frames(video_path(CLIP), every=2, start=31, stop=61))
    assert [f.index for f in frames] == list(range(32, 61, 2))  # no TruncatedVideoError for stopping early


def test_a_part_holds_only_its_frames_at_the_videos_own_times(video_path, tmp_path):
    clip = video_path(CLIP)
    fps = probe_video(clip).fps
    part = analyze_video(clip, tmp_path, write_video=False, start_s=2.5, end_s=5.0)
    whole = analyze_video(clip, write_video=False)
    first, stop = math.ceil(2.5 * fps), math.ceil(5.0 * fps)
    indices = sorted({r.frame_index for r in part.records})
    assert indices[0] == first and indices[-1] == stop - 1 and part.frames_analysed == stop - first
    assert part.frames_decoded == stop - first and abs(part.duration_s - 2.5) < 1.5 / fps
    times = {r.frame_index: r.time_s for r in whole.records}
    assert all(r.time_s == times[r.frame_index] for r in part.records)  # the video's clock, not the part's
    assert part.faces[0].time_on_screen_s <= 2.5 + 1e-6 < whole.faces[0].time_on_screen_s
    summary = json.loads((tmp_path / "liveportrait_d18_surprise.summary.json").read_text())
    assert (summary["start_s"], summary["end_s"]) == (2.5, 5.0)
    table = pd.read_parquet(tmp_path / "liveportrait_d18_surprise.parquet")
    assert table["time_s"].between(2.5 - 1e-9, 5.0).all()


def test_the_split_of_a_part_lies_within_it():
    plan = segments.plan_segments(108_000, 3, start=30_000, stop=60_000)  # an hour at 30 fps: 16:40 to 33:20
    assert plan is not None and plan.stop == 60_000
    assert 10_000 < plan.start < plan.checkpoints[0] <= plan.checkpoints[-1] < 20_000
    assert segments.plan_segments(108_000, 3, start=30_000, stop=31_000) is None  # too short a part to split


def test_a_part_past_the_end_goes_to_the_end(video_path):
    part = analyze_video(video_path(CLIP), write_video=False, every=6, start_s=6.0, end_s=600.0)
    assert (part.start_s, part.end_s) == (6.0, None) and max(r.frame_index for r in part.records) == 210


def test_a_part_in_two_processes_gives_the_records_of_one(video_path, monkeypatch):
    """The split of issue 15 within the part: the worker starts in the part's second half and stops at its end."""
    monkeypatch.setattr(segments, "MIN_FRAMES", 100)
    monkeypatch.setattr(segments, "HEAD_START", 0)
    clip = video_path("fer_woman2.mp4")  # 15.5 s
    one = analyze_video(clip, write_video=False, start_s=3.0, end_s=13.0)
    two = analyze_video(clip, write_video=False, start_s=3.0, end_s=13.0, processes=2)
    assert two.second_process_from is not None
    assert two.records == one.records and max(r.time_s for r in one.records) < 13.0
    assert (two.frames_decoded, two.frames_analysed, two.duration_s) == (
        one.frames_decoded,
        one.frames_analysed,
        one.duration_s,
    )


@pytest.mark.parametrize(
    ("start", "end", "words"),
    [
        (8.0, None, "7.2 s long"),
        (3.0, 3.0, "end after it starts"),
        (-1.0, 2.0, "0 s or later"),
        (2.01, 2.02, "one frame"),
    ],
)
def test_a_part_that_holds_no_frame_is_refused_before_anything_is_written(video_path, tmp_path, start, end, words):
    with pytest.raises(VideoPartError, match=words):
        analyze_video(video_path(CLIP), tmp_path / "out", write_video=False, start_s=start, end_s=end)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_a_part_is_not_drawn_while_analysed(video_path, tmp_path):
    with pytest.raises(ValueError, match="fer render"):
        analyze_video(video_path(CLIP), tmp_path, write_video=True, start_s=1.0)


def fer(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "fer_core", *args], cwd=ROOT, capture_output=True, text=True, timeout=600
    )


def test_the_command_line_analyses_a_part(video_path, tmp_path):
    clip = str(video_path(CLIP))
    done = fer("analyze", clip, "--out", str(tmp_path), "--start", "0:02", "--end", "4.5", "--quiet")
    assert done.returncode == 0, done.stderr
    summary = json.loads((tmp_path / "liveportrait_d18_surprise.summary.json").read_text())
    assert (summary["start_s"], summary["end_s"], summary["frames_analysed"]) == (2.0, 4.5, 75)
    assert "75 frames analysed (0:02 to 0:04)" in done.stderr
    for args, words in (
        (("--start", "5", "--end", "0:03"), "must come after"),
        (("--start", "1", "--video"), "fer render"),
        (("--start", "1:75"), "m:ss"),
        (("--start", "9"), "7.2 s long"),
    ):
        refused = fer("analyze", clip, "--out", str(tmp_path / "refused"), "--quiet", *args)
        assert refused.returncode == 2 and words in refused.stderr, (args, refused.stderr)
        assert "Traceback" not in refused.stderr


def test_a_batch_analyses_the_same_part_of_each_video(video_path, tmp_path):
    """``fer batch --start --end``: each video's part; a video shorter than the start fails alone, saying why."""
    folder = tmp_path / "videos"
    folder.mkdir()
    for name in (CLIP, "liveportrait_d0_smile.mp4"):  # 7.2 s and 3.1 s
        (folder / name).symlink_to(video_path(name))
    done = fer("batch", str(folder), "--out", str(tmp_path / "out"), "--start", "0:04", "--end", "6", "--quiet")
    assert done.returncode == 1, done.stderr  # one video failed
    table = pd.read_csv(tmp_path / "out" / "batch.csv").set_index("status")
    assert "3.1 s long" in table.loc["failed", "error"]
    summary = json.loads((tmp_path / "out" / "liveportrait_d18_surprise.summary.json").read_text())
    assert (summary["start_s"], summary["end_s"], summary["frames_analysed"]) == (4.0, 6.0, 60)
    assert table.loc["analysed", ["start_s", "end_s", "frames_analysed"]].tolist() == [4.0, 6.0, 60]
    refused = fer("batch", str(folder), "--out", str(tmp_path / "refused"), "--start", "5", "--end", "0:03")
    assert refused.returncode == 2 and "must come after" in refused.stderr


def test_a_background_job_on_a_part_draws_the_whole_video_afterwards(video_path, tmp_path):
    """The Recorded page's job: the part analysed, then its records drawn over every frame of the video."""
    import av

    video = tmp_path / "input.mp4"
    video.write_bytes(Path(video_path(CLIP)).read_bytes())
    steps: list[tuple[int, int]] = []
    run = analysis_runner(lambda options: FramePipeline())
    run(video, tmp_path / "out", {"every": 3, "start_s": 3.0, "video": True}, lambda *p: steps.append(p), lambda: False)
    table = pd.read_parquet(tmp_path / "out" / "input.parquet")
    assert table["time_s"].min() >= 3.0 and table["frame_index"].max() == 213
    with av.open(str(tmp_path / "out" / "input.annotated.mp4")) as drawn:
        assert sum(1 for _ in drawn.decode(video=0)) == 216
    done = [d for d, _ in steps]
    assert done == sorted(done) and {t for _, t in steps} == {126 + 216} and steps[-1] == (342, 342)  # one bar


def test_the_recorded_page_analyses_the_part_asked_for(video_path, tmp_path, monkeypatch):
    monkeypatch.setenv("FER_DATA_DIR", str(tmp_path / "data"))
    at = AppTest.from_file(str(ROOT / "dashboard" / "app.py"), default_timeout=120).run()
    at.switch_page("views/recorded.py").run()
    at.file_uploader(key="rec_upload").upload("d18.mp4", Path(video_path(CLIP)).read_bytes(), "video/mp4")
    at.run()
    assert any(c.value == "The video lasts 0:07 (7.2 s)." for c in at.caption)
    at.text_input(key="rec_to").input("1:0x").run()
    assert "m:ss" in at.error[0].value and at.button(key="rec_analyse").disabled
    at.text_input(key="rec_from").input("0:05").run()
    at.text_input(key="rec_to").input("3").run()
    assert "ends (0:03) before it starts (0:05)" in at.error[0].value
    at.text_input(key="rec_to").input("").run()
    at.text_input(key="rec_from").input("10:00").run()
    at.button(key="rec_analyse").click().run(timeout=300)
    said = at.error[0].value.replace("\\", "")  # markdown escapes out
    assert "d18.mp4 is 7.2 s long: a part starting at 600 s holds no frame" in said
    at.text_input(key="rec_from").input("2").run()
    at.text_input(key="rec_to").input("0:04").run()
    at.checkbox(key="rec_video").uncheck().run()
    at.button(key="rec_analyse").click().run(timeout=300)
    assert not at.exception and not at.error
    result = at.session_state["recorded_result"]
    assert result.table["time_s"].between(2.0, 4.0).all() and len(result.table) == 60
    assert any("from 0:02 to 0:04" in c.value for c in at.caption)
    next(b for b in at.button if b.label == "Save to history").click().run()
    at.switch_page("views/history.py").run()  # the saved entry (the newest, opened first) says its part
    assert not at.exception and any("2.0 s (0:02 to 0:04)" in c.value for c in at.caption)
    from dashboard.report import report_html

    assert "<th>part of the video</th><td>0:02 to 0:04</td>" in report_html("d18.mp4", result.summary, result.table)
