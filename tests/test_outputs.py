"""Results are never overwritten by accident, never written twice at once, never left half-written (issue 18, items
1 and 7): fer_core.outputs through analyze_video and the command line."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from pathlib import Path

import pytest

from fer_core import video as video_module
from fer_core.errors import OutputError
from fer_core.outputs import OutputFiles
from fer_core.video import Cancelled, analyze_video

ROOT = Path(__file__).resolve().parents[1]
CLIP = "wifs2018_demo_0001_blink.mp4"


def _visible(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_a_second_run_into_the_same_folder_is_refused_unless_asked(video_path, tmp_path):
    out = tmp_path / "out"
    first = analyze_video(video_path(CLIP), out, every=8, write_video=False)
    before = first.outputs.summary_json.read_bytes()
    with pytest.raises(OutputError, match="already holds results for wifs2018_demo_0001_blink.*--overwrite"):
        analyze_video(video_path(CLIP), out, every=4, write_video=False)
    assert first.outputs.summary_json.read_bytes() == before
    again = analyze_video(video_path(CLIP), out, every=4, write_video=False, overwrite=True)
    assert again.outputs.summary_json.read_bytes() != before  # every 4th frame now
    assert _visible(out) == [
        "wifs2018_demo_0001_blink.csv",
        "wifs2018_demo_0001_blink.parquet",
        "wifs2018_demo_0001_blink.summary.json",
    ]  # no temporary or lock file left


def test_names_held_by_a_running_analysis_are_refused_and_a_dead_ones_taken_over(video_path, tmp_path):
    (tmp_path / ".wifs2018_demo_0001_blink.analysing").write_text(str(os.getpid()))  # a live process holds them
    with pytest.raises(OutputError, match=r"another analysis \(process \d+\) is writing"):
        analyze_video(video_path(CLIP), tmp_path, every=8, write_video=False)
    (tmp_path / ".wifs2018_demo_0001_blink.analysing").write_text("999999999")  # killed long ago
    analysis = analyze_video(video_path(CLIP), tmp_path, every=8, write_video=False)
    assert analysis.outputs.summary_json.exists()
    assert not (tmp_path / ".wifs2018_demo_0001_blink.analysing").exists()


def test_a_full_disk_keeps_the_earlier_results_and_says_so(video_path, tmp_path, monkeypatch):
    out = tmp_path / "out"
    first = analyze_video(video_path(CLIP), out, every=8, write_video=False)
    before = {name: (out / name).read_bytes() for name in _visible(out)}

    def full(records, path):
        Path(path).write_bytes(b"half a table")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(video_module, "write_table", full)
    with pytest.raises(OutputError, match="could not be written \\(the disk is full\\); earlier results"):
        analyze_video(video_path(CLIP), out, every=4, write_video=False, overwrite=True)
    assert {name: (out / name).read_bytes() for name in _visible(out)} == before
    assert first.outputs.table_csv.exists()


def test_a_cancelled_analysis_leaves_nothing(video_path, tmp_path):
    calls = iter(range(1000))
    with pytest.raises(Cancelled):
        analyze_video(video_path(CLIP), tmp_path, should_stop=lambda: next(calls) > 5)
    assert _visible(tmp_path) == []


def test_an_output_folder_that_cannot_be_used_gets_a_message(tmp_path):
    (tmp_path / "a_file").write_text("x")
    for bad in (tmp_path / "a_file", tmp_path / "a_file" / "below"):
        with pytest.raises(OutputError, match="cannot be used as the output folder"):
            OutputFiles(bad, "clip")


def test_the_command_line_refuses_to_overwrite_and_names_the_fix(video_path, tmp_path):
    def run(*extra):
        return subprocess.run(
            [
                sys.executable,
                "-m",
                "fer_core",
                "analyze",
                str(video_path(CLIP)),
                "--out",
                str(tmp_path / "out"),
                "--every",
                "8",
                "--no-video",
                "--quiet",
                *extra,
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=300,
        )

    assert run().returncode == 0
    refused = run()
    assert refused.returncode == 2 and "--overwrite" in refused.stderr and "Traceback" not in refused.stderr
    assert run("--overwrite").returncode == 0
    (tmp_path / "file").write_text("x")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "fer_core",
            "analyze",
            str(video_path(CLIP)),
            "--out",
            str(tmp_path / "file"),
            "--quiet",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 2 and "cannot be used as the output folder" in done.stderr
    assert "Traceback" not in done.stderr
