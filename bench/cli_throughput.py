"""The command line as a user runs it, process start and model loading included: ``fer analyze`` (tables and
summary) in one process and in two (``--processes 2``: the second half of the video analysed at once by a second
process, records unchanged), in two with the BlazeFace detector (``--detector blazeface``), and ``fer analyze
--video`` (the annotated MP4 drawn while analysing, one process), alternating in the same run; median wall time and CPU time (all processes), as a multiple of real time (video
duration / wall time). Beside them, when .venv-fer exists (``bash bench/setup_fer_env.sh``), the `fer` package on
the same file, process start included as for ours: ``bench/fer_peer.py video FILE --tables-only`` (its table only,
nothing drawn, as ``fer analyze`` by default) and ``bench/fer_peer.py video FILE`` (its annotated video, as ``fer
analyze --video``); the ratios fer / ours are printed (``--no-fer``: skip it).

    .venv/bin/python bench/cli_throughput.py [--repeats 3] [--no-fer] [--json OUT] [CLIP ...]

Default clips: issue 15's 60 s interviews at 640x480, one face and two (``frames.INTERVIEWS``, made from the shared
videos on first use in ``--cache``); a CLIP is a shared video's name or a path.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import frames as bench

from fer_core.decode import probe_video

MODES = {
    "one process": ["--processes", "1"],
    "two processes": ["--processes", "2"],
    "two processes, BlazeFace": ["--processes", "2", "--detector", "blazeface"],
    "with the video": ["--processes", "1", "--video"],
}
FER_PYTHON = bench.ROOT / ".venv-fer" / "bin" / "python"
FER_MODES = {"fer, table only": ["--tables-only"], "fer, with its video": []}
# ours -> the fer run it is compared with: tables with a table, an annotated video with one
COMPARED = {"two processes": "fer, table only", "with the video": "fer, with its video"}


def run_once(clip: Path, options: list[str], peer: bool = False) -> tuple[float, float]:
    """Wall and CPU seconds (the command and its children) of one ``fer analyze``, or with ``peer`` of one
    ``bench/fer_peer.py video`` in .venv-fer."""
    with tempfile.TemporaryDirectory() as out:
        if peer:
            command = [str(FER_PYTHON), str(bench.ROOT / "bench" / "fer_peer.py"), "video", str(clip), *options]
        else:
            command = [sys.executable, "-m", "fer_core", "analyze", str(clip), "--out", out, "--quiet", *options]
        before = os.times()
        started = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        wall = time.perf_counter() - started
        after = os.times()
        return wall, (after.children_user - before.children_user) + (after.children_system - before.children_system)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("clips", nargs="*", default=list(bench.INTERVIEWS))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "fer-bench")
    parser.add_argument("--no-fer", action="store_true", help="skip the fer package")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    print(bench.machine())
    peers = {} if args.no_fer or not FER_PYTHON.exists() else FER_MODES
    if not peers and not args.no_fer:
        print("fer skipped: no .venv-fer (bash bench/setup_fer_env.sh)")
    rows = []
    for name in args.clips:
        clip = bench.clip_path(name, args.cache)
        duration = probe_video(clip).duration_s
        runs: dict[str, list[tuple[float, float]]] = {mode: [] for mode in [*MODES, *peers]}
        for _ in range(args.repeats):  # alternating: every mode once a round
            for mode, options in MODES.items():
                runs[mode].append(run_once(clip, options))
            for mode, options in peers.items():
                runs[mode].append(run_once(clip, options, peer=True))
        row: dict = {"clip": clip.name, "duration_s": round(duration, 2)}
        for mode, values in runs.items():
            wall = statistics.median(v[0] for v in values)
            row[mode] = {
                "wall_s": round(wall, 2),
                "cpu_s": round(statistics.median(v[1] for v in values), 2),
                "x_real_time": round(duration / wall, 2),
                "runs_wall_s": [round(v[0], 2) for v in values],
            }
        rows.append(row)
        print(f"{clip.name} ({duration:.1f} s of video):")
        for mode in runs:
            r = row[mode]
            print(f"  {mode:25s} {r['wall_s']:6.2f} s wall ({r['x_real_time']:.1f}x real time), {r['cpu_s']:.1f} s CPU")
        for ours, theirs in COMPARED.items():
            if theirs in row:
                ratio = row[theirs]["wall_s"] / row[ours]["wall_s"]
                cpu_ratio = row[theirs]["cpu_s"] / row[ours]["cpu_s"]
                row[f"{theirs} / {ours}"] = {"wall": round(ratio, 2), "cpu": round(cpu_ratio, 2)}
                print(f"  {theirs} / {ours}: {ratio:.1f}x the wall time, {cpu_ratio:.1f}x the CPU time")
    if args.json:
        args.json.write_text(json.dumps({"machine": bench.machine(), "repeats": args.repeats, "clips": rows}, indent=1))


if __name__ == "__main__":
    main()
