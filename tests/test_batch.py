"""Folders of videos (issue 15): a pool of processes, one row per video, a broken file reported while the batch
goes on, finished videos skipped when the batch runs again, shards for job arrays."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from fer_core.batch import list_videos, take_shard
from fer_core.errors import OutputError

ROOT = Path(__file__).resolve().parents[1]
CLIPS = ("liveportrait_d18_surprise.mp4", "wifs2018_demo_0001_blink.mp4")


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
