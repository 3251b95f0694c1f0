"""Folders of videos (issue 15): a pool of processes, one row per video, a broken file reported while the batch
goes on, finished videos skipped when the batch runs again, shards for job arrays."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from fer_core.batch import BatchSettings, list_videos, settings_differences, take_shard, wanted_settings
from fer_core.errors import OutputError
from fer_core.model_file import NAMED_MODELS

ROOT = Path(__file__).resolve().parents[1]
CLIPS = ("liveportrait_d18_surprise.mp4", "wifs2018_demo_0001_blink.mp4")
WANTED = ("model", "detector")


def fer(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "fer_core", *args], capture_output=True, text=True, timeout=600)


def _ray_missing() -> bool:
    try:
        import ray  # noqa: F401
    except ImportError:
        return True
    return False


@pytest.mark.parametrize(
    "engine",
    [
        "local",
        pytest.param("ray", marks=pytest.mark.skipif(_ray_missing(), reason="Ray is not installed (pip install ray)")),
    ],
)
def test_a_batch_with_a_broken_file_analyses_the_rest_and_resumes(video_path, tmp_path, engine):
    folder = tmp_path / "interviews"
    (folder / "day2").mkdir(parents=True)
    shutil.copy(video_path(CLIPS[0]), folder)
    shutil.copy(video_path(CLIPS[1]), folder / "day2")
    (folder / "day2" / "broken.mp4").write_text("not a video\n")
    (folder / "notes.txt").write_text("not listed: not a video suffix\n")
    done = fer(
        "batch",
        str(folder),
        "--out",
        str(tmp_path / "out"),
        "--every",
        "6",
        "--workers",
        "2",
        "--quiet",
        "--engine",
        engine,
    )
    assert done.returncode == 1, done.stderr  # one video failed: said in the exit status too
    table = pd.read_csv(tmp_path / "out" / "batch.csv")
    status = dict(zip(table["video"].map(lambda v: Path(v).name), table["status"]))
    assert status == {CLIPS[0]: "analysed", "broken.mp4": "failed", CLIPS[1]: "analysed"}
    broken = table[table["status"] == "failed"].iloc[0]
    assert "not a readable video" in broken["error"]
    good = table[table["status"] == "analysed"]
    assert (good["faces"] == 1).all() and (good["duration_s"] > 6).all()
    shares = good[[c for c in table.columns if c.startswith("share_")]].sum(axis=1)
    assert shares.round(6).eq(1.0).all()
    for clip in CLIPS:
        assert (tmp_path / "out" / clip.replace(".mp4", ".summary.json")).is_file()
    again = fer("batch", str(folder), "--out", str(tmp_path / "out"), "--every", "6", "--quiet", "--engine", engine)
    table = pd.read_csv(tmp_path / "out" / "batch.csv")
    assert sorted(table["status"]) == ["done earlier", "done earlier", "failed"], again.stderr
    if engine == "local":  # the same folder with another model: stopped before anything runs, nothing changed
        other = fer("batch", str(folder), "--out", str(tmp_path / "out"), "--every", "6", "--model", "accurate")
        assert other.returncode != 0 and "other settings" in other.stderr and "video/s" not in other.stderr  # no bar
        assert "model emotion " in other.stderr and "not emotion-accurate" in other.stderr
        assert pd.read_csv(tmp_path / "out" / "batch.csv").equals(table)


def test_a_finished_analysis_is_compared_with_the_batch_settings():
    wanted = wanted_settings(BatchSettings(every=6))
    summary = {"every": 6, "start_s": 0.0, "end_s": None, "duration_s": 7.2, **{k: wanted[k] for k in WANTED}}
    assert settings_differences(summary, wanted) == []
    assert settings_differences({k: summary[k] for k in ("every", "start_s", "end_s")}, wanted) == []  # older files
    assert settings_differences(summary, wanted_settings(BatchSettings(every=6, end_s=30.0))) == []  # past the end: all
    assert settings_differences(summary, wanted_settings(BatchSettings(every=6, end_s=3.0))) == ["to the end, not 3.0"]
    assert settings_differences(summary, wanted_settings(BatchSettings(every=3))) == ["a frame step of 6, not 3"]
    (detector,) = settings_differences(summary, wanted_settings(BatchSettings(every=6, detector="blazeface")))
    assert detector == "detector hog, not blazeface"
    (model,) = settings_differences(
        summary, wanted_settings(BatchSettings(every=6, model_dir=str(NAMED_MODELS["accurate"])))
    )
    assert model.startswith("model emotion ") and "not emotion-accurate" in model


def test_listing_and_sharding(tmp_path):
    for name in ("b.mp4", "a.MOV", "c.mkv", "d.txt"):
        (tmp_path / name).write_bytes(b"")
    videos = list_videos(tmp_path)
    assert [v.name for v in videos] == ["a.MOV", "b.mp4", "c.mkv"]
    (tmp_path / "list.txt").write_text("# interviews\nb.mp4\n\nc.mkv\n")
    assert list_videos(tmp_path / "list.txt") == [tmp_path / "b.mp4", tmp_path / "c.mkv"]
    assert take_shard(videos, "1/2") == ([videos[1]], "batch.shard-1-of-2.csv")
    assert take_shard(videos, None) == (videos, "batch.csv")
    with pytest.raises(OutputError, match="I/N"):
        take_shard(videos, "half")
    with pytest.raises(OutputError, match="from 0 to N-1"):
        take_shard(videos, "2/2")
