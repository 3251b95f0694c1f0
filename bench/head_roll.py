"""Does a tilted head change the emotion reading? FER2013 faces enlarged 4x, turned by a roll angle, found by dlib's
HOG, their 68 landmarks fitted, then classified on the landmark crop as it is (level) and turned back by the eye
line's angle less a tolerance (the crop turned only for the part of the roll beyond ``--tolerance`` degrees either
way; 0 turns every face fully upright; the pipeline serves ``fer_core.landmarks.ROLL_KEPT``). Prints accuracy per
roll angle on the faces found at that angle (about 2.5 minutes for PublicTest's 3,589 faces and five angles).

    .venv/bin/python bench/head_roll.py --model fast --angles 0 15 -15 30 -30
    .venv/bin/python bench/head_roll.py --split train --limit 3000 --tolerance 0 4 8 12   # 3,000 Training faces
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fer_core.classifier import EmotionClassifier  # noqa: E402
from fer_core.detect import FaceDetector  # noqa: E402
from fer_core.landmarks import ROLL_KEPT, LandmarkPredictor  # noqa: E402
from fer_core.model_file import NAMED_MODELS  # noqa: E402

SCALE = 4
PAD = 48


def enlarged(face: np.ndarray, angle: float) -> np.ndarray:
    """A 48x48 uint8 face enlarged 4x (cubic) inside a replicated border, turned by ``angle`` degrees
    (counter-clockwise on screen) about its centre."""
    big = cv2.resize(face, None, fx=SCALE, fy=SCALE, interpolation=cv2.INTER_CUBIC)
    big = cv2.copyMakeBorder(big, PAD, PAD, PAD, PAD, cv2.BORDER_REPLICATE)
    if angle:
        h, w = big.shape
        rotation = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
        big = cv2.warpAffine(big, rotation, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return big


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=os.path.join(os.environ.get("FER_SHARED_DATA", "../shared/data"), "fer2013"))
    parser.add_argument("--split", choices=("train", "val"), default="val", help="Training or PublicTest")
    parser.add_argument("--model", default="fast", choices=sorted(NAMED_MODELS))
    parser.add_argument("--angles", type=float, nargs="+", default=[0, 15, -15, 30, -30])
    parser.add_argument(
        "--tolerance", type=float, nargs="+", default=[0.0, ROLL_KEPT], help="degrees left unturned (served: ROLL_KEPT)"
    )
    parser.add_argument("--limit", type=int, default=0, help="this many faces drawn at random (seed 0)")
    args = parser.parse_args()

    data = np.load(Path(args.data) / f"{args.split}.npz")
    x, y = data["x"], data["y"]
    if args.limit:
        pick = np.random.default_rng(0).choice(len(x), args.limit, replace=False)
        x, y = x[pick], y[pick]
    classifier = EmotionClassifier(NAMED_MODELS[args.model])
    detector, landmarks = FaceDetector(), LandmarkPredictor()
    print(f"{len(x)} faces of {'Training' if args.split == 'train' else 'PublicTest'}, {args.model} model")
    turned = " | ".join(f"turned, tolerance {t:g}" for t in args.tolerance)
    print(f"| roll | found | level | {turned} | measured roll (median, p90 of abs) |")
    print("|---:|---:|---:|" + "---:|" * len(args.tolerance) + "---:|")
    for angle in args.angles:
        started = time.perf_counter()
        right = np.zeros(1 + len(args.tolerance))
        rolls: list[float] = []
        for face, label in zip(x, y):
            big = enlarged(face, angle)
            detections = detector.detect(big)
            if not len(detections):
                continue
            (shape,) = landmarks.predict(big, detections.boxes[:1])
            roll = shape.roll_degrees()
            rolls.append(abs(roll))
            turns = [0.0] + [shape.crop_angle(kept) for kept in args.tolerance]
            boxes = np.round(np.stack([shape.crop_box(turn) for turn in turns])).astype(np.int64)
            right += classifier.predict(classifier.prepare(big, boxes, np.array(turns))).argmax(1) == label
        found = len(rolls)
        cells = " | ".join(f"{100 * r / found:.2f}%" for r in right)
        print(
            f"| {angle:+.0f} | {found} | {cells} | {np.median(rolls):.1f}, {np.percentile(rolls, 90):.1f} deg |"
            f"  ({time.perf_counter() - started:.0f} s)",
            flush=True,
        )


if __name__ == "__main__":
    main()
