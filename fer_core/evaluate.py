"""Evaluate an emotion model on any labelled FER2013 split.

    python -m fer_core.evaluate --model models/emotion --data ../shared/data/fer2013/val.npz [--json]

``--model`` is ``fast``, ``accurate``, a model folder (``emotion.tflite`` + ``model.json``, served by LiteRT exactly
as the dashboard serves it) or a Keras ``.keras`` file. ``--data`` is an ``.npz``, a Kaggle ``fer2013.csv`` (with
``--usage``) or a folder of class folders. Prints accuracy, per-class precision/recall/F1 and the confusion matrix.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

import numpy as np

from fer_core.datasets import LabelledFaces, load_faces
from fer_core.errors import FerError
from fer_core.labels import EMOTIONS
from fer_core.metrics import classification_report
from fer_core.model_file import model_folder

log = logging.getLogger(__name__)


def predict_faces(model: Path, faces: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """Probabilities (N, 7) for uint8 (N, 48, 48) FER2013 faces, from a model folder or a ``.keras`` file."""
    return _predict(model, faces, batch_size)[0]


def predict_in_batches(classifier, faces: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """``classifier.predict`` (an :class:`~fer_core.classifier.EmotionClassifier`) over uint8 (N, 48, 48) faces,
    ``batch_size`` at a time: probabilities (N, 7)."""
    x = faces[..., None].astype(np.float32)
    return np.concatenate([classifier.predict(x[i : i + batch_size]) for i in range(0, len(x), batch_size)])


def _predict(model: Path, faces: np.ndarray, batch_size: int) -> tuple[np.ndarray, float | None]:
    """(probabilities (N, 7), the share of the faces read twice, None for a model that never does) for uint8
    (N, 48, 48) faces, from a model folder or a ``.keras`` file."""
    if model.suffix == ".keras":
        import keras

        x = faces[..., None].astype(np.float32)
        return keras.models.load_model(model).predict(x, batch_size=batch_size, verbose=0), None
    from fer_core.classifier import EmotionClassifier

    classifier = EmotionClassifier(model, num_threads=2)
    return predict_in_batches(classifier, faces, batch_size), classifier.read_twice_share


def not_in(faces: np.ndarray, other: np.ndarray) -> np.ndarray:
    """bool (N,): which of ``faces`` (N, 48, 48) have no pixel-identical copy in ``other`` (M, 48, 48)."""
    seen = {face.tobytes() for face in other}
    return np.array([face.tobytes() not in seen for face in faces], dtype=bool)


def evaluate(model: Path, data: LabelledFaces, training: LabelledFaces | None = None) -> dict:
    """The classification report (see :func:`fer_core.metrics.classification_report`) of ``model`` on ``data``.

    With ``training``, also the accuracy on the faces of ``data`` that have no pixel-identical copy in the training
    split (FER2013's PublicTest shares 280 images with Training), as ``unseen_faces``. For a model that reads unsure
    faces twice (``mirror_below``), the share of ``data`` it read twice, as ``read_twice``."""
    probabilities, share = _predict(model, data.x, 256)
    predicted = probabilities.argmax(1)
    report = {"model": str(model), "data": data.source, **classification_report(data.y, predicted)}
    if share is not None:
        report["read_twice"] = share
    if training is not None:
        keep = not_in(data.x, training.x)
        report["unseen_faces"] = {
            "n": int(keep.sum()),
            "accuracy": float((predicted[keep] == data.y[keep]).mean()),
            "excluded_copies_of": Path(training.source).name,
        }
    return report


def format_report(report: dict) -> str:
    lines = [
        f"{report['data']}: {report['n']} faces, accuracy {report['accuracy']:.4f}, macro F1 {report['macro_f1']:.4f}"
    ]
    if "read_twice" in report:
        lines.append(f"read a second time, mirrored (the model was unsure): {report['read_twice']:.1%} of the faces")
    if "unseen_faces" in report:
        unseen = report["unseen_faces"]
        lines.append(
            f"without copies of {unseen['excluded_copies_of']}: {unseen['n']} faces, accuracy {unseen['accuracy']:.4f}"
        )
    lines += ["", f"{'':10s} precision  recall      f1  support"]
    for label, row in report["per_class"].items():
        lines.append(f"{label:10s} {row['precision']:9.3f} {row['recall']:7.3f} {row['f1']:7.3f} {row['support']:8d}")
    lines += [
        "",
        "confusion matrix (rows true, columns predicted)",
        "      " + "".join(f"{e[:4]:>6s}" for e in EMOTIONS),
    ]
    lines += [f"{e[:4]:6s}" + "".join(f"{v:6d}" for v in row) for e, row in zip(EMOTIONS, report["confusion_matrix"])]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fer_core.evaluate", description=__doc__.split("\n")[0])
    parser.add_argument("--model", required=True, help="fast, accurate, a model folder or a .keras file")
    parser.add_argument("--data", type=Path, required=True, help=".npz, fer2013.csv or folder of class folders")
    parser.add_argument("--usage", default="PublicTest", help="rows of a fer2013.csv to use (default PublicTest)")
    parser.add_argument(
        "--exclude-copies-in",
        type=Path,
        default=None,
        metavar="TRAINING",
        help="also report accuracy on the faces with no pixel-identical copy in this split",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    try:
        training = load_faces(args.exclude_copies_in, usage="Training") if args.exclude_copies_in else None
        report = evaluate(model_folder(args.model), load_faces(args.data, usage=args.usage), training)
    except FerError as exc:
        log.error("%s", exc)
        return 2
    sys.stdout.write((json.dumps(report) if args.json else format_report(report)) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
