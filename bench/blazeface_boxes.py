"""BlazeFace against dlib's HOG detector on the shared videos, and the map from BlazeFace's boxes to HOG's.

Every ``--step``-th frame of each shared video (gray, as an analysis decodes it) is searched by HOG (a full search,
the default settings) and by BlazeFace. BlazeFace faces are paired with HOG faces (intersection over union of the
raw boxes at least 0.3); the linear map from :func:`fer_core.blazeface.box_features` to HOG's box (centre, width,
height) is fitted by least squares on all pairs and written to ``models/blazeface/hog_box_map.json``
(``--write``), with how well it does on each video when fitted on the others (the corner furthest off, as a
fraction of the HOG box's width). Also prints the faces each detector found and its median time a frame.

    .venv/bin/python bench/blazeface_boxes.py [--step 6] [--write]
"""

from __future__ import annotations

import argparse
import datetime
import json
import statistics
import time

import frames as bench
import numpy as np

from fer_core.blazeface import BOX_MAP_FILE, BlazeFace, RawFaces, box_features, boxes_from_centres
from fer_core.decode import iter_frames
from fer_core.detect import FaceDetector
from fer_core.geometry import box_iou


def centres(boxes: np.ndarray) -> np.ndarray:
    """(N, 4) x1, y1, x2, y2 -> (N, 4) centre x, centre y, width, height."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    return np.column_stack([(boxes[:, :2] + boxes[:, 2:]) / 2, boxes[:, 2:] - boxes[:, :2]])


def corner_error(predicted: np.ndarray, hog: np.ndarray) -> np.ndarray:
    """(N,) the corner furthest from HOG's, as a fraction of HOG's box width."""
    return np.abs(predicted - hog).max(axis=1) / (hog[:, 2] - hog[:, 0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--step", type=int, default=6, help="every n-th frame of each video")
    parser.add_argument("--write", action="store_true", help=f"write the fitted map to {BOX_MAP_FILE}")
    args = parser.parse_args()
    print(bench.machine())
    hog, blazeface = FaceDetector(), BlazeFace()
    features, targets, videos = [], [], []
    counts: dict[str, list[int]] = {}
    hog_ms, blazeface_ms = [], []
    for path in sorted((bench.SHARED_DATA / "media" / "videos").glob("*.mp4")):
        found = counts.setdefault(path.name, [0, 0, 0, 0])  # frames, HOG faces, BlazeFace faces, paired
        for frame in iter_frames(path, every=args.step, bgr=False):
            started = time.perf_counter()
            hog_boxes = hog.detect(frame.gray).boxes
            middle = time.perf_counter()
            faces = blazeface.run(frame.gray)
            hog_ms.append((middle - started) * 1e3)
            blazeface_ms.append((time.perf_counter() - middle) * 1e3)
            found[0] += 1
            found[1] += len(hog_boxes)
            found[2] += len(faces.scores)
            for box, overlaps in zip(hog_boxes, box_iou(hog_boxes, faces.boxes)):
                if overlaps.size and overlaps.max() >= 0.3:
                    j = int(np.argmax(overlaps))
                    one = RawFaces(faces.boxes[j : j + 1], faces.scores[j : j + 1], faces.points[j : j + 1])
                    features.append(box_features(one)[0])
                    targets.append(centres(box)[0])
                    videos.append(path.name)
                    found[3] += 1
    print("| video | frames | HOG faces | BlazeFace faces | paired |\n|---|---:|---:|---:|---:|")
    for name, (n, h, b, p) in counts.items():
        print(f"| {name} | {n} | {h} | {b} | {p} |")
    print(
        f"median ms a frame: HOG full search {statistics.median(hog_ms):.2f}, BlazeFace {statistics.median(blazeface_ms):.2f}"
    )
    x, y, names = np.array(features), np.array(targets), np.array(videos)
    hog_corners = boxes_from_centres(y)
    errors = []
    for name in sorted(set(videos)):
        out = names == name
        matrix = np.linalg.lstsq(x[~out], y[~out], rcond=None)[0]
        errors.append(corner_error(boxes_from_centres(x[out] @ matrix), hog_corners[out]))
    held_out = np.concatenate(errors)
    matrix = np.linalg.lstsq(x, y, rcond=None)[0]
    fitted = corner_error(boxes_from_centres(x @ matrix), hog_corners)
    summary = {
        "pairs": len(y),
        "videos": len(set(videos)),
        "corner_error_held_out": {"median": float(np.median(held_out)), "p90": float(np.percentile(held_out, 90))},
        "corner_error_fitted": {"median": float(np.median(fitted)), "p90": float(np.percentile(fitted, 90))},
    }
    print(json.dumps(summary))
    if args.write:
        record = {
            "about": "BlazeFace box and key points (fer_core.blazeface.box_features, 11) -> dlib HOG box centre x, "
            "centre y, width, height (4); least squares fitted by bench/blazeface_boxes.py",
            "fitted": datetime.date.today().isoformat(),
            "step": args.step,
            **summary,
            "matrix": matrix.round(6).tolist(),
        }
        BOX_MAP_FILE.write_text(json.dumps(record, indent=1) + "\n")
        print(f"wrote {BOX_MAP_FILE}")


if __name__ == "__main__":
    main()
