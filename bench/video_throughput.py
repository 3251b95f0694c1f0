"""Whole-video analysis throughput: ``fer_core.video.analyze_video`` against the `fer` package's ``Video`` analysis.

    .venv/bin/python bench/video_throughput.py [--quick] [--repeats 2] [--no-fer] [--model accurate] [--json OUT] \
        [CLIP ...]

For each 30 fps clip (default: liveportrait_d3_expressions, wifs2018_demo_0001_blink, composite_two_faces_d3_d18;
``--quick``: the blink clip only), every frame at the file's own resolution: frames per second and multiple of real
time (video duration / analysis time) of

* ours: ``analyze_video(FILE, OUT, pipeline=...)`` writing the CSV, Parquet, summary JSON and the annotated H.264 MP4;
  the pipeline (models) is built once beforehand, as the dashboard does;
* fer: ``bench/fer_peer.py video FILE`` in .venv-fer (see bench/setup_fer_env.sh), skipped when that environment is
  absent: ``Video.analyze`` writing its annotated video, imports and model loading excluded likewise.

Both use the whole machine (no pinning). The two alternate run by run (``--repeats``, median reported), so the ratio
ours/fer is measured in the same run, on the same file, under the same background load. CPU time (all threads of the
process) is given too: it moves far less than wall time when another job shares the machine.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import time
from pathlib import Path

import frames as bench
import numpy as np

from fer_core.model_file import model_folder
from fer_core.pipeline import FramePipeline, PipelineSettings
from fer_core.video import analyze_video

FER_PYTHON = bench.ROOT / ".venv-fer" / "bin" / "python"


def time_ours(path: Path, pipeline: FramePipeline) -> dict:
    """One whole analysis with every output written: wall and CPU seconds (all threads of this process)."""
    with tempfile.TemporaryDirectory() as out:
        started, started_cpu = time.perf_counter(), time.process_time()
        analysis = analyze_video(path, out, pipeline=pipeline)
        seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - started_cpu
        mp4_bytes = analysis.outputs.annotated_mp4.stat().st_size
    return {
        "frames": analysis.frames_analysed,
        "duration_s": analysis.duration_s,
        "seconds": seconds,
        "cpu_seconds": cpu_seconds,
        "faces": len(analysis.faces),
        "mp4_bytes": mp4_bytes,
    }


def summarise(runs: list[dict], frames: int, duration_s: float) -> dict:
    seconds = float(np.median([r["seconds"] for r in runs]))
    cpu = float(np.median([r["cpu_seconds"] for r in runs]))
    return {
        "runs_s": [round(r["seconds"], 3) for r in runs],
        "seconds": seconds,
        "cpu_seconds": cpu,
        "frames_per_second": frames / seconds,
        "real_time": duration_s / seconds,
    }


def time_fer(path: Path) -> dict | None:
    if not FER_PYTHON.is_file():
        return None
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        done = subprocess.run(
            [str(FER_PYTHON), str(Path(__file__).with_name("fer_peer.py")), "video", str(path), "--json", out.name],
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            print(f"  fer failed ({done.returncode}): {done.stderr[-800:]}")
            return None
        return json.loads(Path(out.name).read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("clips", nargs="*", help="shared video names, paths, or the interviews of frames.INTERVIEWS")
    parser.add_argument("--quick", action="store_true", help="the blink clip only, one repeat")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--no-fer", action="store_true", help="skip the fer peer")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--model", default="fast", help="emotion model: fast, accurate or a folder")
    args = parser.parse_args()
    clips = args.clips or (["wifs2018_demo_0001_blink.mp4"] if args.quick else list(bench.CLIPS))
    repeats = 1 if args.quick else args.repeats

    print(f"machine: {bench.machine()}")
    pipeline = FramePipeline(PipelineSettings(model_dir=str(model_folder(args.model))))
    analyze_video(bench.clip_path(clips[0]), None, pipeline=pipeline, write_video=False)  # warm-up
    results = {"machine": bench.machine(), "clips": {}}
    for name in clips:
        path = bench.clip_path(name)
        ours_runs, fer_runs = [], []
        for _ in range(repeats):  # alternate, so that a change in background load hits both
            ours_runs.append(time_ours(path, pipeline))
            fer = None if args.no_fer else time_fer(path)
            if fer is not None:
                fer_runs.append(fer)
        frames, duration = ours_runs[0]["frames"], ours_runs[0]["duration_s"]
        ours = summarise(ours_runs, frames, duration)
        print(f"\n{name}: {frames} frames, {duration:.1f} s of video")
        print(
            f"  ours  {ours['frames_per_second']:6.1f} frames/s  {ours['real_time']:5.2f}x real time  "
            f"CPU {ours['cpu_seconds'] / frames * 1000:.1f} ms/frame  (runs {ours['runs_s']} s; "
            f"{ours_runs[0]['faces']} face(s), MP4 {ours_runs[0]['mp4_bytes'] / 1e6:.2f} MB)"
        )
        entry = {"frames": frames, "duration_s": duration, "ours": ours, "fer": None}
        if fer_runs:
            fer = summarise(fer_runs, fer_runs[0]["frames"], fer_runs[0]["frames"] / fer_runs[0]["fps_video"])
            print(
                f"  fer   {fer['frames_per_second']:6.1f} frames/s  {fer['real_time']:5.2f}x real time  "
                f"CPU {fer['cpu_seconds'] / frames * 1000:.1f} ms/frame  (runs {fer['runs_s']} s)"
            )
            entry["fer"] = fer
            entry["ours_vs_fer_wall"] = ours["frames_per_second"] / fer["frames_per_second"]
            entry["ours_vs_fer_cpu"] = fer["cpu_seconds"] / ours["cpu_seconds"]
            print(
                f"  ours / fer: {entry['ours_vs_fer_wall']:.1f}x by wall time, {entry['ours_vs_fer_cpu']:.1f}x by "
                "CPU time"
            )
        elif not args.no_fer:
            print(f"  fer: skipped ({FER_PYTHON} absent: bash bench/setup_fer_env.sh)")
        results["clips"][name] = entry
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
