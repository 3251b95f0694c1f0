"""One video analysed by two processes (fer_core.segments) gives exactly the records of one process, on real video:
stitched where the two pipelines' states meet, and the sequential result whenever they do not or the worker fails."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from video_files import remux, splice, truncate

from fer_core import segments
from fer_core.segments import plan_segments
from fer_core.video import analyze_video


def both(path, **kwargs):
    one = analyze_video(path, write_video=False, **kwargs)
    two = analyze_video(path, write_video=False, processes=2, **kwargs)
    return one, two


def same_analysis(one, two) -> None:
    assert two.records == one.records  # every field of every record, floats bit for bit
    assert [f.as_dict() for f in two.faces] == [f.as_dict() for f in one.faces]
    assert (two.frames_decoded, two.frames_analysed, two.duration_s, two.warnings) == (
        one.frames_decoded,
        one.frames_analysed,
        one.duration_s,
        one.warnings,
    )


def test_two_faces_looped_are_stitched_exactly(video_path, tmp_path):
    """Two faces side by side, 36 s (the shared clip five times): the default split, ids mapped (the worker
    meets the faces in another order) and blink counts continued."""
    clip = video_path("composite_two_faces_d3_d18.mp4")
    long = splice(tmp_path / "two_faces_x5.mp4", [(clip, 0, 216)] * 5)
    one, two = both(long)
    plan = plan_segments(1080, 1)
    assert plan is not None and two.second_process_from in plan.checkpoints
    assert {r.track_id for r in one.records} == {1, 2}
    assert one.faces[0].blink_count > 0
    same_analysis(one, two)


def test_one_face_every_second_frame(video_path, monkeypatch):
    """A shorter split (what a long video gets, scaled down to this 15.5 s clip), analysing every 2nd frame."""
    monkeypatch.setattr(segments, "MIN_FRAMES", 100)
    monkeypatch.setattr(segments, "HEAD_START", 0)
    one, two = both(video_path("fer_woman2.mp4"), every=2)
    assert two.second_process_from is not None
    same_analysis(one, two)


def test_states_that_never_meet_give_the_sequential_records(video_path, monkeypatch):
    """One checkpoint, on the worker's first frame, before it has seen any face: its state never equals the
    caller's (which follows one), and the caller analyses the whole video itself."""
    monkeypatch.setattr(segments, "MIN_FRAMES", 100)
    monkeypatch.setattr(segments, "WARM_UP", 0)
    monkeypatch.setattr(segments, "CHECKPOINTS", 1)
    one, two = both(video_path("fer_woman2.mp4"))
    assert two.second_process_from is None
    same_analysis(one, two)


@pytest.mark.parametrize("gone_before_its_task", [False, True])
def test_a_failed_worker_gives_the_sequential_records(video_path, monkeypatch, gone_before_its_task):
    monkeypatch.setattr(segments, "MIN_FRAMES", 100)
    monkeypatch.setattr(sys, "executable", "/bin/false")  # the worker's interpreter exits at once
    if gone_before_its_task:  # exited before the task is written to it (a broken pipe; seen once in CI)
        start = subprocess.Popen

        def started_and_gone(*args, **kwargs):
            process = start(*args, **kwargs)
            process.wait()
            return process

        monkeypatch.setattr(segments.subprocess, "Popen", started_and_gone)
    one, two = both(video_path("fer_woman2.mp4"))
    assert two.second_process_from is None
    same_analysis(one, two)


def test_short_videos_and_unknown_lengths_stay_in_one_process():
    assert plan_segments(0, 1) is None  # length unknown
    assert plan_segments(segments.MIN_FRAMES - 1, 1) is None
    plan = plan_segments(3600, 3)
    assert plan is not None and plan.start >= 0 and plan.checkpoints[0] - plan.start == segments.WARM_UP
    assert plan.checkpoints[-1] < 1200


@pytest.mark.parametrize("every", [1, 3])
def test_the_detector_runs_on_the_same_frames_wherever_the_analysis_starts(video_path, every):
    """The cadence counts frames from the video's start: an analysis from frame 90 detects on the frames the whole
    one does once it follows the face."""
    from fer_core.decode import iter_frames
    from fer_core.pipeline import FramePipeline

    clip = video_path("wifs2018_demo_0001_blink.mp4")
    detected = []
    for start in (0, 90):
        pipeline = FramePipeline()
        pipeline.reset(frame_step=every)
        calls = []
        detect = pipeline.detector.detect
        pipeline.detector.detect = lambda gray, min_face=None, near=None: (
            calls.append(frame) or detect(gray, min_face, near)
        )  # type: ignore[method-assign]
        for frame in iter_frames(clip, every, start=start):
            pipeline.process(frame.image, frame.time_s, frame.index, frame.gray)
        detected.append([f.index for f in calls])
    whole, later = detected
    assert later[0] == 90 + (-90 % every)  # nothing followed yet: the first frame is searched
    assert [i for i in whole if i > later[1]] == [i for i in later if i > later[1]]


def _segment_workers() -> list[str]:
    """This process's children running the segment worker (``python -m fer_core.segments``); another test run on the
    same machine has its own."""
    found = []
    for folder in Path("/proc").glob("[0-9]*"):
        try:
            parent = int((folder / "stat").read_text().rsplit(")", 1)[1].split()[1])
            if parent == os.getpid() and b"fer_core.segments" in (folder / "cmdline").read_bytes():
                found.append(folder.name)
        except (OSError, IndexError, ValueError):  # ended meanwhile
            pass
    return found


def test_a_truncated_file_gives_the_sequential_records(video_path, tmp_path, monkeypatch):
    """The worker reaches the break and fails there; the caller analyses up to the break itself and says so."""
    monkeypatch.setattr(segments, "MIN_FRAMES", 100)
    monkeypatch.setattr(segments, "HEAD_START", 0)
    path = truncate(remux(video_path("fer_woman2.mp4"), tmp_path / "cut.mp4", "mp4", {"movflags": "faststart"}), 0.8)
    one, two = both(path)
    assert one.truncated and two.truncated and two.second_process_from is None
    same_analysis(one, two)
    assert not _segment_workers()


def test_cancelling_stops_the_second_process(video_path, tmp_path):
    from fer_core.video import Cancelled

    clip = video_path("composite_two_faces_d3_d18.mp4")
    long = splice(tmp_path / "two_faces_x5.mp4", [(clip, 0, 216)] * 5)
    asked = []

    def should_stop() -> bool:
        asked.append(1)
        return len(asked) > 200  # after about 200 frames, the worker analysing its half meanwhile

    with pytest.raises(Cancelled):
        analyze_video(long, write_video=False, processes=2, should_stop=should_stop)
    assert not _segment_workers()
