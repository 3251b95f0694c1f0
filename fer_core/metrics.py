"""Classification metrics in plain NumPy, shared by training and evaluation, and agreement of detected events."""

from __future__ import annotations

import numpy as np

from fer_core.labels import EMOTIONS


def classification_report(y_true: np.ndarray, y_pred: np.ndarray, labels: tuple[str, ...] = EMOTIONS) -> dict:
    """Accuracy, per-class precision/recall/F1/support and the confusion matrix (rows true, columns predicted).

    ``y_true`` and ``y_pred`` are int arrays (N,) of class indices. Returns plain JSON-ready types.
    """
    k = len(labels)
    confusion = np.zeros((k, k), dtype=np.int64)
    np.add.at(confusion, (y_true, y_pred), 1)
    true_counts, pred_counts, hits = confusion.sum(1), confusion.sum(0), np.diag(confusion)
    precision = np.divide(hits, pred_counts, out=np.zeros(k), where=pred_counts > 0)
    recall = np.divide(hits, true_counts, out=np.zeros(k), where=true_counts > 0)
    f1 = np.divide(2 * precision * recall, precision + recall, out=np.zeros(k), where=(precision + recall) > 0)
    return {
        "n": int(len(y_true)),
        "accuracy": float(hits.sum() / max(len(y_true), 1)),
        "macro_f1": float(f1.mean()),
        "labels": list(labels),
        "per_class": {
            label: {
                "precision": float(precision[i]),
                "recall": float(recall[i]),
                "f1": float(f1[i]),
                "support": int(true_counts[i]),
            }
            for i, label in enumerate(labels)
        },
        "confusion_matrix": confusion.tolist(),
    }


def event_agreement(found: list[tuple[int, int]], expected: list[tuple[int, int]], tolerance: int = 0) -> dict:
    """How many ``found`` events (first, last) frame spans, inclusive, overlap an ``expected`` span widened by
    ``tolerance`` frames on each side, one to one in time order: ``matched``, ``extra`` (found, matching nothing),
    ``missed`` (expected, matched by nothing)."""
    unmatched = sorted(expected)
    matched = 0
    for first, last in sorted(found):
        hit = next((e for e in unmatched if first <= e[1] + tolerance and last >= e[0] - tolerance), None)
        if hit is not None:
            unmatched.remove(hit)
            matched += 1
    return {"matched": matched, "extra": len(found) - matched, "missed": len(unmatched)}
