"""What reading the mirror image only for unsure faces buys: accuracy and the share of faces read twice, per threshold.

    .venv/bin/python bench/mirror_gate.py [--model fast] [--json OUT]

A model served without the mirror in its graph can set ``mirror_below`` in its ``model.json``: the faces whose top
probability (before calibration) is below it are read again mirrored and get the mean of the two readings
(``EmotionClassifier.predict``). For no face (0), thresholds 0.3-0.9 and every face (1.0), this prints the share of
faces read twice and the accuracy on FER2013 Training (all faces) and PublicTest, and on PublicTest's faces with no
copy in Training. The threshold is chosen on Training: the lowest whose accuracy is within ``--tolerance`` of
reading every face twice. PublicTest only reports it.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path

import numpy as np

from fer_core.classifier import EmotionClassifier
from fer_core.datasets import SHARED_DATA, load_faces
from fer_core.evaluate import not_in, predict_in_batches
from fer_core.model_file import model_folder

THRESHOLDS = (0.0, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)


def both_readings(classifier: EmotionClassifier, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The network's probabilities (N, 7) for uint8 (N, 48, 48) faces and for their mirror images."""
    return predict_in_batches(classifier, faces), predict_in_batches(classifier, faces[:, :, ::-1])


def gated_correct(
    plain: np.ndarray, mirrored: np.ndarray, labels: np.ndarray, below: float
) -> tuple[float, np.ndarray]:
    """(share of faces read twice, bool (N,) correct) when faces whose top probability is below ``below`` (every
    face for 1.0) get the mean of both readings."""
    twice = plain.max(axis=1) < below if below < 1.0 else np.ones(len(plain), dtype=bool)
    served = np.where(twice[:, None], (plain + mirrored) / 2, plain)
    return float(twice.mean()), served.argmax(axis=1) == labels


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="fast", help="fast, accurate or a model folder (read without its gate)")
    parser.add_argument("--data", type=Path, default=SHARED_DATA / "fer2013")
    parser.add_argument("--tolerance", type=float, default=0.0005, help="accuracy (0..1) the chosen gate may lose")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    classifier = EmotionClassifier(model_folder(args.model), num_threads=2)
    if classifier.meta.test_time_augmentation:
        parser.error(f"{args.model} reads every face mirrored inside its graph: give a model served without it")
    classifier.meta = replace(classifier.meta, temperature=1.0, mirror_below=0.0)
    training = load_faces(args.data / "train.npz")
    public = load_faces(args.data / "val.npz", "PublicTest")
    unseen = not_in(public.x, training.x)
    train_readings, public_readings = both_readings(classifier, training.x), both_readings(classifier, public.x)
    rows = []
    for below in THRESHOLDS:
        twice_train, train_ok = gated_correct(*train_readings, training.y, below)
        twice, public_ok = gated_correct(*public_readings, public.y, below)
        rows.append(
            {
                "below": below,
                "training_read_twice": twice_train,
                "training_accuracy": float(train_ok.mean()),
                "public_test_read_twice": twice,
                "public_test_accuracy": float(public_ok.mean()),
                "unseen_accuracy": float(public_ok[unseen].mean()),
            }
        )
    every = rows[-1]["training_accuracy"]
    chosen = next(r["below"] for r in rows if r["training_accuracy"] >= every - args.tolerance)
    print(f"model {args.model}; faces read twice and accuracy (Training {len(training)}, PublicTest {len(public)})")
    print("below  twice(Train)  Training  twice(PublicTest)  PublicTest  unseen")
    for r in rows:
        print(
            f"{r['below']:5.1f}  {r['training_read_twice']:12.1%}  {r['training_accuracy']:8.2%}  "
            f"{r['public_test_read_twice']:17.1%}  {r['public_test_accuracy']:10.2%}  {r['unseen_accuracy']:6.2%}"
        )
    print(f"chosen on Training (within {args.tolerance:.2%} of reading every face twice): mirror_below {chosen}")
    if args.json:
        args.json.write_text(json.dumps({"model": args.model, "rows": rows, "chosen": chosen}, indent=1) + "\n")


if __name__ == "__main__":
    main()
