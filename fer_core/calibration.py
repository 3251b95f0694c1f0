"""Calibrated probabilities: one temperature per model, fitted on labelled faces, and the reliability of the result.

    fer calibrate --model models/emotion [--data ../shared/data/fer2013/val.npz]

A model's served probabilities ``p`` (7 per face, summing to 1) become ``p ** (1 / T)``, renormalised: for a network
ending in a softmax this is temperature scaling (Guo et al. 2017, "On Calibration of Modern Neural Networks"),
which changes no face's top emotion. ``T`` is fitted by minimising the negative log-likelihood of the labels and is
kept in the model's ``model.json`` (``temperature``), so every reader of the model gets calibrated probabilities;
the fit and the reliability before and after go to ``metrics.json`` (``calibration``), shown on the Model page.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

import numpy as np

from fer_core.datasets import SHARED_DATA, LabelledFaces, load_faces
from fer_core.errors import FerError
from fer_core.model_file import MODEL_META, model_folder, read_meta

log = logging.getLogger(__name__)

RELIABILITY_BINS = 10


def apply_temperature(probabilities: np.ndarray, temperature: float) -> np.ndarray:
    """(N, K) probabilities (rows summing to 1) at ``temperature``: ``p ** (1 / T)`` renormalised, float32."""
    if temperature == 1.0 or len(probabilities) == 0:
        return probabilities
    logs = np.log(np.clip(probabilities.astype(np.float64), 1e-12, 1.0)) / temperature
    logs -= logs.max(axis=1, keepdims=True)
    scaled = np.exp(logs)
    return (scaled / scaled.sum(axis=1, keepdims=True)).astype(np.float32)


def negative_log_likelihood(probabilities: np.ndarray, labels: np.ndarray) -> float:
    """Mean -log p(label) over (N, K) probabilities and int labels (N,)."""
    picked = probabilities[np.arange(len(labels)), labels]
    return float(-np.log(np.clip(picked, 1e-12, 1.0)).mean())


def fit_temperature(probabilities: np.ndarray, labels: np.ndarray, low: float = 0.2, high: float = 10.0) -> float:
    """The temperature in [``low``, ``high``] that minimises the negative log-likelihood (golden-section search on
    log T; the likelihood is unimodal in it)."""
    a, b = np.log(low), np.log(high)
    ratio = (np.sqrt(5.0) - 1.0) / 2.0

    def loss(log_t: float) -> float:
        return negative_log_likelihood(apply_temperature(probabilities, float(np.exp(log_t))), labels)

    c, d = b - ratio * (b - a), a + ratio * (b - a)
    fc, fd = loss(c), loss(d)
    while b - a > 1e-4:
        if fc < fd:
            b, d, fd = d, c, fc
            c = b - ratio * (b - a)
            fc = loss(c)
        else:
            a, c, fc = c, d, fd
            d = a + ratio * (b - a)
            fd = loss(d)
    return float(np.exp((a + b) / 2.0))


def reliability(probabilities: np.ndarray, labels: np.ndarray, bins: int = RELIABILITY_BINS) -> dict:
    """How far the top probability is from the accuracy: faces grouped by top probability into ``bins`` equal
    ranges of 0..1; per bin ``low``, ``high``, ``faces``, mean ``confidence`` and ``accuracy`` (None when empty);
    ``ece`` the expected calibration error (the faces-weighted mean gap, 0..1)."""
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == labels
    which = np.minimum((confidence * bins).astype(int), bins - 1)
    rows, gap = [], 0.0
    for i in range(bins):
        inside = which == i
        n = int(inside.sum())
        conf = float(confidence[inside].mean()) if n else None
        acc = float(correct[inside].mean()) if n else None
        if n:
            gap += n * abs(acc - conf)  # type: ignore[operator]
        rows.append({"low": i / bins, "high": (i + 1) / bins, "faces": n, "confidence": conf, "accuracy": acc})
    return {"bins": rows, "ece": gap / max(len(labels), 1)}


def calibration_record(probabilities: np.ndarray, labels: np.ndarray, seed: int = 0) -> dict:
    """Fit a temperature on (N, 7) ``probabilities`` (the network's own, at temperature 1) and say what it does:
    the ``temperature``, negative log-likelihood and reliability before and after, and a two-fold check (fitted on
    one random half, measured on the other, both ways) that the gain is not an artefact of fitting and measuring on
    the same faces."""
    fitted = fit_temperature(probabilities, labels)
    after = apply_temperature(probabilities, fitted)
    order = np.random.default_rng(seed).permutation(len(labels))
    halves = (order[: len(order) // 2], order[len(order) // 2 :])
    held_out = []
    for fit_on, test_on in (halves, halves[::-1]):
        t = fit_temperature(probabilities[fit_on], labels[fit_on])
        held_out.append(reliability(apply_temperature(probabilities[test_on], t), labels[test_on])["ece"])
    return {
        "temperature": fitted,
        "faces": int(len(labels)),
        "nll_before": negative_log_likelihood(probabilities, labels),
        "nll_after": negative_log_likelihood(after, labels),
        "before": reliability(probabilities, labels),
        "after": reliability(after, labels),
        "two_fold_ece_after": float(np.mean(held_out)),
    }


def calibrate_model(folder: Path, data: LabelledFaces, split: str = "FER2013 PublicTest") -> dict:
    """Fit ``folder``'s temperature on the labelled faces ``data`` (``split`` names them in the record), write it
    into ``model.json`` and the record into ``metrics.json`` (``calibration``); returns the record."""
    from fer_core.evaluate import predict_faces

    meta = read_meta(folder)
    served = predict_faces(folder, data.x)  # at the model's current temperature: undone, so refitting is the same
    if not np.isfinite(served).all():
        raise FerError(f"{folder}: the model gives non-finite probabilities (a broken network); not calibrated")
    probabilities = apply_temperature(served, 1.0 / meta.temperature)
    record = {"data": Path(data.source).name, "split": split, **calibration_record(probabilities, data.y)}
    meta_path, metrics_path = folder / MODEL_META, folder / "metrics.json"
    raw_meta = json.loads(meta_path.read_text())
    raw_meta["temperature"] = round(record["temperature"], 4)
    meta_path.write_text(json.dumps(raw_meta, indent=1) + "\n")
    metrics = json.loads(metrics_path.read_text()) if metrics_path.exists() else {}
    metrics["calibration"] = record
    metrics_path.write_text(json.dumps(metrics, indent=1) + "\n")
    read_meta(folder)  # still valid
    return record


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="fer calibrate", description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="fast", help="fast (default), accurate, or a model folder")
    parser.add_argument("--data", type=Path, default=SHARED_DATA / "fer2013" / "val.npz", help="labelled faces")
    parser.add_argument("--usage", default="PublicTest", help="rows of a fer2013.csv to use (default PublicTest)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s: %(message)s")
    try:
        data = load_faces(args.data, usage=args.usage)
        record = calibrate_model(model_folder(args.model), data, f"FER2013 {args.usage}")
    except FerError as exc:
        log.error("%s", exc)
        return 2
    print(
        f"temperature {record['temperature']:.3f} on {record['faces']} faces: negative log-likelihood "
        f"{record['nll_before']:.4f} -> {record['nll_after']:.4f}, calibration error {record['before']['ece']:.2%} "
        f"-> {record['after']['ece']:.2%} ({record['two_fold_ece_after']:.2%} fitted and measured on different halves)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
