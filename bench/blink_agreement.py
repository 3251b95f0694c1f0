"""Blink counting against the shared media's automatic annotations (MediaPipe FaceMesh blink candidates).

    .venv/bin/python bench/blink_agreement.py [--tolerance 2] [--json OUT]

For every video of ``$FER_SHARED_DATA/media/auto_annotations.json`` with exactly one face, every frame goes through
``FramePipeline.process`` (the default settings, as the dashboard and ``analyze_video`` run it); each eye closure
that counted as a blink (``fer_core.records.blink_spans``) is matched one to one with a candidate span it overlaps,
``--tolerance`` frames either side (``fer_core.metrics.event_agreement``).

The candidates are automatic, not ground truth: runs of frames whose FaceMesh eye aspect ratio is under 0.65 x the
video's median, at most 0.5 s long; spot-checked by eye, nearly all are real closures. So "missed" is the number to
watch; an "extra" closure may be real (a wink, eyes closed while looking down, a closure longer than 0.5 s).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import frames as bench

from fer_core.decode import iter_frames
from fer_core.metrics import event_agreement
from fer_core.pipeline import FramePipeline
from fer_core.records import blink_spans

ANNOTATIONS = bench.SHARED_DATA / "media" / "auto_annotations.json"


def one_face_clips() -> dict[str, list[tuple[int, int]]]:
    """Video name -> its blink candidate spans (first, last frame, inclusive), for the videos with one face."""
    if not ANNOTATIONS.is_file():
        raise SystemExit(f"{ANNOTATIONS} is absent: set FER_SHARED_DATA to the shared data folder")
    notes = json.loads(ANNOTATIONS.read_text())
    return {
        name: [tuple(span) for span in clip["blink_candidates_frames"]]
        for name, clip in notes.items()
        if name != "_about" and clip["faces_per_frame_max"] == 1
    }


def our_blinks(pipeline: FramePipeline, name: str) -> list[tuple[int, int]]:
    """Every eye closure counted as a blink in a shared clip, all faces, as (first, last) frame spans in time order,
    every frame through ``pipeline`` from a fresh state."""
    pipeline.reset()
    records = [
        r
        for f in iter_frames(bench.video_path(name))
        for r in pipeline.process(f.image, f.time_s, f.index, f.gray).records
    ]
    return sorted(span for spans in blink_spans(records).values() for span in spans)


def agreement(pipeline: FramePipeline, tolerance: int) -> list[dict]:
    """One row per clip: our blink spans, the candidates, and matched / extra / missed."""
    rows = []
    for name, candidates in one_face_clips().items():
        ours = our_blinks(pipeline, name)
        rows.append(
            {"clip": name, "ours": ours, "candidates": candidates, **event_agreement(ours, candidates, tolerance)}
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tolerance", type=int, default=2, help="frames either side of a candidate span")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--detect-every", type=int, default=3, help="as fer analyze --detect-every")
    args = parser.parse_args()
    rows = agreement(FramePipeline(bench.pipeline_settings(args.detect_every)), args.tolerance)
    print(f"{'clip':45s} {'candidates':>10s} {'ours':>5s} {'matched':>7s} {'extra':>5s} {'missed':>6s}")
    for r in rows:
        print(
            f"{r['clip']:45s} {len(r['candidates']):10d} {len(r['ours']):5d} {r['matched']:7d} {r['extra']:5d} "
            f"{r['missed']:6d}"
        )
    total = {k: sum(r[k] for r in rows) for k in ("matched", "extra", "missed")}
    candidates = sum(len(r["candidates"]) for r in rows)
    print(
        f"all: {candidates} candidates, {total['matched']} matched ({total['matched'] / candidates:.0%}), "
        f"{total['missed']} missed, {total['extra']} extra closures"
    )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(
            json.dumps(
                {"machine": bench.machine(), "tolerance": args.tolerance, "clips": rows, "total": total}, indent=1
            )
        )


if __name__ == "__main__":
    main()
