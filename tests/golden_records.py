"""The records of the shared media as the code gives them now, kept as a reference that later changes are compared
with (``tests/test_golden_records.py``): a refactoring must not move them; a change meant to move them (a new
model, a better tracker) rewrites the file and says in its commit what moved, as this script prints it.

    .venv/bin/python tests/golden_records.py            # compare the code with tests/data/golden_records.csv.gz
    .venv/bin/python tests/golden_records.py --write    # rewrite it (after a change meant to move the records)
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "tests" / "data" / "golden_records.csv.gz"
MEDIA = Path(os.environ.get("FER_SHARED_DATA", ROOT.parent / "shared" / "data")) / "media" / "videos"
# two faces with a cut between shots, a 1080p street with faces coming and going, a face that turns away and back
# (recognition), an eye-blink clip and a face pulling expressions (blinks, emotions)
CLIPS = (
    "composite_two_faces_d3_d18.mp4",
    "facenet_pytorch_multiface_street.mp4",
    "face_recognition_short_hamilton_clip.mp4",
    "wifs2018_demo_0001_blink.mp4",
    "liveportrait_d3_expressions.mp4",
)
EXACT = ("clip", "frame_index", "track_id", "x1", "y1", "x2", "y2", "emotion", "eyes_closed", "blink", "blink_count")
PROBABILITY_TOLERANCE = 1e-3  # LiteRT's float kernels may round differently on another CPU


def current_records(media: Path = MEDIA) -> pd.DataFrame:
    """The records of every clip of :data:`CLIPS` analysed with the default settings, one table."""
    from fer_core.export import records_table
    from fer_core.video import analyze_video

    tables = []
    for name in CLIPS:
        table = records_table(analyze_video(media / name, write_video=False).records)
        tables.append(table.assign(clip=name))
    return pd.concat(tables, ignore_index=True)


def differences(golden: pd.DataFrame, now: pd.DataFrame) -> list[str]:
    """What moved between two record tables, in words (empty when nothing did)."""
    said = []
    for clip in sorted(set(golden["clip"]) | set(now["clip"])):
        a, b = golden[golden["clip"] == clip].reset_index(drop=True), now[now["clip"] == clip].reset_index(drop=True)
        if len(a) != len(b):
            said.append(f"{clip}: {len(a)} records before, {len(b)} now")
            continue
        for column in EXACT:
            moved = int((a[column].astype(str) != b[column].astype(str)).sum())
            if moved:
                said.append(f"{clip}: {column} differs on {moved} of {len(a)} records")
        numeric = [c for c in a.columns if c not in EXACT and pd.api.types.is_float_dtype(a[c])]
        worst = max((float(np.abs(a[c] - b[c]).max()) for c in numeric), default=0.0)
        if worst > PROBABILITY_TOLERANCE:
            said.append(f"{clip}: numbers moved by up to {worst:.4f}")
    return said


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--write", action="store_true", help="rewrite the reference with today's records")
    args = parser.parse_args()
    now = current_records()
    if GOLDEN.exists():
        moved = differences(pd.read_csv(GOLDEN), now)
        print("\n".join(moved) if moved else "the records are the same as the reference")
    if args.write:
        GOLDEN.parent.mkdir(parents=True, exist_ok=True)
        now.round(6).to_csv(GOLDEN, index=False)
        print(f"wrote {GOLDEN.relative_to(ROOT)}: {len(now)} records")
    elif not GOLDEN.exists():
        sys.exit(f"{GOLDEN} is missing: --write makes it")


if __name__ == "__main__":
    main()
