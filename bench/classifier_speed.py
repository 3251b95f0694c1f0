"""Serving time of the emotion classifier per face, on one CPU core, through LiteRT (as the dashboard serves it).

    python bench/classifier_speed.py [--model fast|accurate|FOLDER] [--repeats 600]

Times ``EmotionClassifier.predict`` on the first 600 real FER2013 PublicTest faces in batches of 1, 2 and 4 faces
(one call per frame), and prints the median, the mean and the 10th-90th percentile per face in milliseconds. For a
model that reads its unsure faces a second time (``mirror_below``), the mean is what a face costs on average, and
the share of the timed faces read twice is printed.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

from fer_core.classifier import EmotionClassifier
from fer_core.model_file import model_folder

FACES = 600  # cycled through, in FER2013's order
DEFAULT_FACES = Path(os.environ.get("FER_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared/data"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="fast", help="fast, accurate or a model folder")
    parser.add_argument("--faces", type=Path, default=DEFAULT_FACES / "fer2013" / "val.npz")
    parser.add_argument("--repeats", type=int, default=600)
    args = parser.parse_args()
    faces = np.load(args.faces)["x"][:FACES, ..., None].astype(np.float32)
    folder = model_folder(args.model)
    classifier = EmotionClassifier(folder, num_threads=1)
    print(f"model {args.model} ({classifier.meta.weights} weights), LiteRT, 1 thread")
    for batch in (1, 2, 4):
        times = []
        for i in range(args.repeats + 10):
            x = faces[(i * batch) % FACES : (i * batch) % FACES + batch]
            started = time.perf_counter()
            classifier.predict(x)
            if i >= 10:  # warm-up calls excluded
                times.append((time.perf_counter() - started) / batch * 1000)
        p10, p50, p90 = np.percentile(times, [10, 50, 90])
        print(
            f"{batch} face(s) per call: {p50:.3f} ms per face, mean {np.mean(times):.3f} (p10 {p10:.3f}, p90 {p90:.3f})"
        )
    if (twice := classifier.read_twice_share) is not None:
        print(f"{twice:.1%} of the faces timed were read twice")


if __name__ == "__main__":
    main()
