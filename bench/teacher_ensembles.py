"""PublicTest accuracy of the kept teachers alone and averaged together, from their stored probabilities.

Reads ``models/teachers/<name>/probs.npz`` (``val``: (3589, 7) float16, the mean over 10 crops, in the order of
PublicTest in ``val.npz``) and prints each teacher's accuracy and recall, the mean of all of them, and the best
ensemble of each size. The best ensembles are chosen on PublicTest itself: figures to compare teachers by, not to
quote as a model's accuracy.

    .venv/bin/python bench/teacher_ensembles.py [--teachers vgg-1d vgg-1e vgg-6] [--sizes 2 3]
"""

from __future__ import annotations

import argparse
import itertools
from pathlib import Path

import numpy as np

from fer_core.datasets import SHARED_DATA, load_faces
from fer_core.labels import EMOTIONS
from fer_core.metrics import classification_report

ROOT = Path(__file__).resolve().parents[1]


def read_probs(folder: Path) -> dict[str, np.ndarray]:
    """name -> PublicTest probabilities (3589, 7) float32, for each ``folder/<name>/probs.npz``."""
    return {p.parent.name: np.load(p)["val"].astype(np.float32) for p in sorted(folder.glob("*/probs.npz"))}


def describe(probs: np.ndarray, y: np.ndarray) -> str:
    report = classification_report(y, probs.argmax(1))
    recall = " / ".join(f"{report['per_class'][e]['recall'] * 100:.0f}" for e in EMOTIONS)
    return f"{report['accuracy'] * 100:6.2f}%   recall {recall}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--folder", type=Path, default=ROOT / "models" / "teachers")
    parser.add_argument("--data", type=Path, default=SHARED_DATA / "fer2013" / "val.npz")
    parser.add_argument("--teachers", nargs="*", default=None, help="only these (folder names)")
    parser.add_argument("--sizes", nargs="*", type=int, default=[2, 3], help="best ensemble of each size")
    args = parser.parse_args()
    y = load_faces(args.data, "PublicTest").y
    probs = read_probs(args.folder)
    if args.teachers:
        probs = {k: probs[k] for k in args.teachers}
    print(f"PublicTest ({len(y)} faces), 10 crops each; recall {' / '.join(EMOTIONS)}")
    for name, p in probs.items():
        print(f"{name:28s} {describe(p, y)}")
    print(f"{'mean of all ' + str(len(probs)):28s} {describe(sum(probs.values()), y)}")
    for size in args.sizes:
        if size >= len(probs):
            continue
        best = max(
            itertools.combinations(probs, size),
            key=lambda names: (sum(probs[n] for n in names).argmax(1) == y).mean(),
        )
        print(f"best {size} (chosen on PublicTest): {' + '.join(best)}: {describe(sum(probs[n] for n in best), y)}")


if __name__ == "__main__":
    main()
