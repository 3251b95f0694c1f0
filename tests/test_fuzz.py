"""Fuzz: corrupted copies of a real video through decoding and analysis find no crash and no hang.

Each corrupted file must either analyse (perhaps flagged truncated) or raise one of fer_core's typed errors. The
cases run in a child process with a time limit, so a crash (a segfault in FFmpeg or dlib) or a hang fails the test
instead of taking pytest down.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from video_files import remux

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import json, sys
import numpy as np
from fer_core.errors import FerError
from fer_core.pipeline import FramePipeline
from fer_core.video import analyze_video

source, folder = sys.argv[1], sys.argv[2]
data = open(source, "rb").read()
pipeline = FramePipeline()
outcomes = []
for seed in range(int(sys.argv[3])):
    rng = np.random.default_rng(seed)
    broken = bytearray(data)
    kind = ("flip", "zero", "cut", "head")[seed % 4]
    if kind == "flip":      # scattered random bytes
        at = rng.integers(0, len(broken), 64)
        broken_values = rng.integers(0, 256, 64)
        for i, v in zip(at, broken_values):
            broken[i] = int(v)
    elif kind == "zero":    # a block of zeros somewhere
        start = int(rng.integers(0, len(broken) - 4096))
        broken[start:start + 4096] = bytes(4096)
    elif kind == "cut":     # cut anywhere
        broken = broken[: int(rng.integers(1, len(broken)))]
    else:                   # damage the first kilobyte (container headers)
        at = rng.integers(0, 1024, 16)
        for i in at:
            broken[i] = int(rng.integers(0, 256))
    path = f"{folder}/case{seed}" + source[source.rfind("."):]
    open(path, "wb").write(bytes(broken))
    try:
        analysis = analyze_video(path, f"{folder}/out{seed}", every=6, pipeline=pipeline, write_video=seed % 2 == 0)
        outcomes.append([seed, kind, "ok", analysis.frames_analysed, analysis.truncated])
    except FerError as exc:
        outcomes.append([seed, kind, type(exc).__name__, str(exc)[:120], None])
print(json.dumps(outcomes))
"""


@pytest.mark.parametrize(
    "container, options, cases",
    [
        ("mp4", {"movflags": "faststart"}, 24),
        ("matroska", {}, 12),  # the stream choice, Matroska's duration tags, timestamps re-based (issue 18)
    ],
)
def test_corrupted_videos_give_results_or_typed_errors(video_path, tmp_path, container, options, cases):
    source = remux(video_path("wifs2018_demo_0001_blink.mp4"), tmp_path / f"source.{container}", container, options)
    try:
        done = subprocess.run(
            [sys.executable, "-c", CHILD, str(source), str(tmp_path), str(cases)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=300,
        )
    except subprocess.TimeoutExpired:
        pytest.fail("a corrupted video made the analysis hang (no result within 300 s)")
    assert done.returncode == 0, f"the analysis crashed on a corrupted video:\n{done.stderr[-3000:]}"
    outcomes = json.loads(done.stdout.strip().splitlines()[-1])
    assert [o[0] for o in outcomes] == list(range(cases))
    assert any(o[2] == "ok" for o in outcomes)  # most damage leaves a readable, analysable video
    for seed, kind, result, detail, truncated in outcomes:
        assert result in ("ok", "DecodeError", "TruncatedVideoError", "NoFaceError"), (seed, kind, result, detail)
