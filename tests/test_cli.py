"""The command line, run as a user runs it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from fer_core.model_file import NAMED_MODELS, model_identity

ROOT = Path(__file__).resolve().parents[1]


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "fer_core", *args], cwd=ROOT, capture_output=True, text=True, timeout=600
    )


def test_analyze_writes_the_files_it_names(video_path, tmp_path):
    done = run(
        "analyze",
        str(video_path("wifs2018_demo_0001_blink.mp4")),
        "--out",
        str(tmp_path / "out"),
        "--every",
        "2",
        "--quiet",
    )
    assert done.returncode == 0, done.stderr
    names = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert names == [
        "wifs2018_demo_0001_blink.csv",
        "wifs2018_demo_0001_blink.parquet",
        "wifs2018_demo_0001_blink.summary.json",
    ]  # the annotated video only on request (issue 15)
    summary = json.loads((tmp_path / "out" / "wifs2018_demo_0001_blink.summary.json").read_text())
    assert summary["every"] == 2 and summary["frames_analysed"] == 96 and len(summary["faces"]) == 1
    assert summary["model"] == model_identity(NAMED_MODELS["fast"]) and summary["detector"]["model"] == "hog"
    assert "face #1" in done.stderr and "fer render" in done.stderr


def test_render_draws_the_analysis_over_every_frame_with_the_sound(video_path, tmp_path):
    """Issue 15: the annotated video apart from the analysis, every frame, with the source's audio track."""
    import av

    clip = str(video_path("liveportrait_d18_surprise.mp4"))  # 216 frames at 30 fps, with AAC sound
    assert run("analyze", clip, "--out", str(tmp_path), "--every", "3", "--quiet").returncode == 0
    done = run("render", clip, "--results", str(tmp_path), "--quiet")
    assert done.returncode == 0, done.stderr
    with av.open(str(tmp_path / "liveportrait_d18_surprise.annotated.mp4")) as out:
        kinds = sorted(s.type for s in out.streams)
        audio_s = float(out.streams.audio[0].duration * out.streams.audio[0].time_base)
        frames = sum(1 for _ in out.decode(video=0))
    assert kinds == ["audio", "video"] and frames == 216 and abs(audio_s - 7.2) < 0.1
    again = run("render", clip, "--results", str(tmp_path), "--quiet")
    assert again.returncode == 2 and "--overwrite" in again.stderr  # never replaced without asking
    missing = run("render", clip, "--results", str(tmp_path / "elsewhere"), "--quiet")
    assert missing.returncode == 2 and "fer analyze" in missing.stderr


def test_analyze_can_draw_the_video_while_it_runs_with_the_sound(video_path, tmp_path):
    import av

    clip = str(video_path("liveportrait_d18_surprise.mp4"))
    assert run("analyze", clip, "--out", str(tmp_path), "--every", "2", "--video", "--quiet").returncode == 0
    with av.open(str(tmp_path / "liveportrait_d18_surprise.annotated.mp4")) as out:
        assert sorted(s.type for s in out.streams) == ["audio", "video"]


def test_analyze_refuses_a_text_file_with_a_message(tmp_path):
    (tmp_path / "notes.mp4").write_text("not a video\n")
    done = run("analyze", str(tmp_path / "notes.mp4"), "--out", str(tmp_path / "out"), "--quiet")
    assert done.returncode == 2
    assert "notes.mp4: not a readable video" in done.stderr
    assert "Traceback" not in done.stderr


def test_analyze_with_the_accurate_model(video_path, tmp_path):
    """--model accurate serves models/emotion-accurate: same frames and face, its own probabilities."""
    clip = str(video_path("wifs2018_demo_0001_blink.mp4"))
    tables = {}
    for model in ("fast", "accurate"):
        done = run(
            "analyze", clip, "--out", str(tmp_path / model), "--every", "6", "--no-video", "--quiet", "--model", model
        )
        assert done.returncode == 0, done.stderr
        tables[model] = (tmp_path / model / "wifs2018_demo_0001_blink.csv").read_text().splitlines()
    assert len(tables["fast"]) == len(tables["accurate"]) > 10
    assert tables["fast"][1:] != tables["accurate"][1:]  # the probabilities differ


def test_analyze_names_a_missing_model_folder(video_path, tmp_path):
    done = run(
        "analyze",
        str(video_path("wifs2018_demo_0001_blink.mp4")),
        "--out",
        str(tmp_path / "out"),
        "--quiet",
        "--model",
        str(tmp_path / "nowhere"),
    )
    assert done.returncode == 2
    assert "nowhere" in done.stderr and "Traceback" not in done.stderr


def test_the_fer_command_is_installed():
    """`pip install -e .` (what ./dev does) puts a `fer` command beside the Python it installed into."""
    fer = Path(sys.executable).parent / "fer"
    done = subprocess.run([str(fer), "analyze", "--help"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "--model" in done.stdout


def test_out_of_range_arguments_are_refused_with_a_message(tmp_path):
    for flag, value, message in (
        ("--every", "0", "must be 1 or more"),
        ("--every", "-3", "must be 1 or more"),
        ("--upsample", "5", "must be from 0 to 2"),
        ("--every", "two", "whole number"),
        ("--max-search-width", "-1", "must be 0 or more"),
        ("--detect-every", "0", "must be from 1 to 12"),
        ("--processes", "0", "must be 1 or more"),
    ):
        done = run("analyze", "video.mp4", "--out", str(tmp_path), flag, value)
        assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr, flag


def test_a_huge_every_never_counts_more_time_than_the_video_has(video_path, tmp_path):
    done = run(
        "analyze",
        str(video_path("wifs2018_demo_0001_blink.mp4")),
        "--out",
        str(tmp_path / "out"),
        "--every",
        "100000",
        "--no-video",
        "--quiet",
    )
    assert done.returncode == 0, done.stderr
    summary = json.loads((tmp_path / "out" / "wifs2018_demo_0001_blink.summary.json").read_text())
    (face,) = summary["faces"]
    assert summary["frames_analysed"] == 1
    assert 0 < face["time_on_screen_s"] <= 6.5  # the clip lasts 6.4 s


def test_evaluate_and_train_are_commands_of_fer_too(fer2013_dir):
    done = run("evaluate", "--model", "models/emotion", "--data", str(fer2013_dir / "val.npz"), "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["n"] == 3589 and report["accuracy"] > 0.6
    assert "--teacher" in run("train", "--help").stdout
    assert "evaluate" in run("--help").stdout


def test_detect_every_runs_the_detector_less_often(video_path, tmp_path, monkeypatch):
    """--detect-every 12: a quarter of the default's detections, the full searches as often as by default."""
    from fer_core.__main__ import main
    from fer_core.detect import FaceDetector

    searches: list[float | None] = []
    detect = FaceDetector.detect

    def counted(self, gray, min_face=None, near=None):
        searches.append(min_face)
        return detect(self, gray, min_face, near)

    monkeypatch.setattr(FaceDetector, "detect", counted)
    clip = str(video_path("wifs2018_demo_0001_blink.mp4"))  # 192 frames, one face throughout
    counts = {}
    for every in ("3", "12"):
        searches.clear()
        assert main(["analyze", clip, "--out", str(tmp_path / every), "--quiet", "--detect-every", every]) == 0
        counts[every] = (len(searches), sum(s is None for s in searches))
    assert counts["3"] == (64, 16) and counts["12"] == (16, 16)
