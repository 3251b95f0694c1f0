"""The command line as a user runs it, process start and model loading included: ``fer analyze`` (tables and
summary only, the default since issue 15) against ``fer analyze --video`` (the annotated MP4 drawn while analysing),
alternating in the same run, median wall time, as a multiple of real time (video duration / wall time).

    .venv/bin/python bench/cli_throughput.py [--repeats 3] [--json OUT] [CLIP ...]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import frames as bench

from fer_core.decode import probe_video

CLIPS = ("wifs2018_demo_0001_blink.mp4", "liveportrait_d3_expressions.mp4", "composite_two_faces_d3_d18.mp4")


def run_once(clip: Path, video: bool) -> float:
    with tempfile.TemporaryDirectory() as out:
        command = [sys.executable, "-m", "fer_core", "analyze", str(clip), "--out", out, "--quiet"]
        started = time.perf_counter()
        subprocess.run([*command, *(["--video"] if video else [])], check=True, capture_output=True)
        return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("clips", nargs="*", default=list(CLIPS))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    rows = []
    for name in args.clips:
        clip = bench.video_path(name)
        duration = probe_video(clip).duration_s
        times: dict[str, list[float]] = {"tables": [], "with video": []}
        for _ in range(args.repeats):
            times["tables"].append(run_once(clip, video=False))
            times["with video"].append(run_once(clip, video=True))
        row = {"clip": name, "duration_s": duration}
        for kind, values in times.items():
            median = statistics.median(values)
            row[kind] = {"wall_s": round(median, 2), "x_real_time": round(duration / median, 2)}
        rows.append(row)
        print(
            f"{name:40s} {duration:5.1f} s of video: tables only {row['tables']['wall_s']:5.2f} s "
            f"({row['tables']['x_real_time']:.1f}x real time), with the video {row['with video']['wall_s']:5.2f} s "
            f"({row['with video']['x_real_time']:.1f}x)"
        )
    if args.json:
        args.json.write_text(json.dumps({"machine": bench.machine(), "repeats": args.repeats, "clips": rows}, indent=1))


if __name__ == "__main__":
    main()
