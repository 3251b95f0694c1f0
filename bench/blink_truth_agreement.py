"""Blink counting against the team's own ground truth, marked by eye frame by frame (``bench/blink_truth``).

    .venv/bin/python bench/blink_truth_agreement.py [--tolerance 2] [--json OUT]

Every frame of each annotated clip goes through ``FramePipeline.process`` (the default settings, as ``fer analyze``
runs it); each eye closure counted as a blink (``fer_core.records.blink_spans``) within the clip's checked frames is
matched one to one with a marked blink it overlaps, ``--tolerance`` frames either side. A blink marked ambiguous
neither needs to be found nor counts against a detection that matches it. Precision = matched detections / all
detections; recall = matched certain blinks / certain blinks.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import frames as bench

from blink_agreement import our_blinks

from fer_core.metrics import event_agreement
from fer_core.pipeline import FramePipeline

TRUTH = Path(__file__).resolve().parent / "blink_truth" / "blinks.json"


def score(ours: list[tuple[int, int]], clip: dict, tolerance: int) -> dict:
    """Matched / extra / missed of our spans against one clip's marked blinks (see the module's docstring)."""
    first, last = clip["checked_frames"]
    ours = [s for s in ours if first <= s[0] <= last]
    certain = [(b["first"], b["last"]) for b in clip["blinks"] if not b["ambiguous"]]
    ambiguous = [(b["first"], b["last"]) for b in clip["blinks"] if b["ambiguous"]]
    on_certain = event_agreement(ours, certain, tolerance)
    # detections left over may be an ambiguous blink: not counted against us
    left = [s for s in ours if not any(s[0] <= c[1] + tolerance and s[1] >= c[0] - tolerance for c in certain)]
    on_ambiguous = event_agreement(left, ambiguous, tolerance)
    extra = on_ambiguous["extra"]
    matched = len(ours) - extra
    return {
        "ours": ours,
        "certain": len(certain),
        "ambiguous": len(ambiguous),
        "found_certain": on_certain["matched"],
        "missed": on_certain["missed"],
        "extra": extra,
        "precision": matched / len(ours) if ours else 1.0,
        "recall": on_certain["matched"] / len(certain) if certain else 1.0,
    }


def agreement(pipeline: FramePipeline, tolerance: int) -> list[dict]:
    truth = json.loads(TRUTH.read_text())["clips"]
    rows = []
    for name, clip in truth.items():
        if clip.get("excluded"):
            continue
        rows.append({"clip": name, **score(our_blinks(pipeline, name), clip, tolerance)})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tolerance", type=int, default=2, help="frames either side of a marked blink")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--detect-every", type=int, default=3, help="as fer analyze --detect-every")
    parser.add_argument("--detector", choices=("hog", "blazeface"), default="hog", help="as fer analyze --detector")
    args = parser.parse_args()
    rows = agreement(FramePipeline(bench.pipeline_settings(args.detect_every, args.detector)), args.tolerance)
    print(
        f"{'clip':45s} {'marked':>6s} {'(amb.)':>6s} {'ours':>5s} {'missed':>6s} {'extra':>5s} {'prec.':>6s} {'recall':>6s}"
    )
    for r in rows:
        print(
            f"{r['clip']:45s} {r['certain']:6d} {r['ambiguous']:6d} {len(r['ours']):5d} {r['missed']:6d} "
            f"{r['extra']:5d} {r['precision']:6.2f} {r['recall']:6.2f}"
        )
    ours = sum(len(r["ours"]) for r in rows)
    certain = sum(r["certain"] for r in rows)
    found = sum(r["found_certain"] for r in rows)
    extra = sum(r["extra"] for r in rows)
    total = {"precision": (ours - extra) / ours if ours else 1.0, "recall": found / certain if certain else 1.0}
    print(f"all: {certain} certain blinks, {found} found, {extra} extra of {ours} detections; "
          f"precision {total['precision']:.2f}, recall {total['recall']:.2f}")  # fmt: skip
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(
            json.dumps(
                {"machine": bench.machine(), "tolerance": args.tolerance, "clips": rows, "total": total}, indent=1
            )
        )


if __name__ == "__main__":
    main()
