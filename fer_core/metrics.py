"""Classification metrics in plain NumPy, shared by training and evaluation."""

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
            label: {"precision": float(precision[i]), "recall": float(recall[i]), "f1": float(f1[i]),
                    "support": int(true_counts[i])}
            for i, label in enumerate(labels)
        },
        "confusion_matrix": confusion.tolist(),
    }
