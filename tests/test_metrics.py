import numpy as np
import pytest

from fer_core.metrics import classification_report, event_agreement


def test_classification_report_exact():
    y_true = np.array([0, 0, 1, 1, 2])
    y_pred = np.array([0, 1, 1, 1, 0])
    report = classification_report(y_true, y_pred, labels=("a", "b", "c"))
    assert report["accuracy"] == pytest.approx(3 / 5)
    assert report["confusion_matrix"] == [[1, 1, 0], [0, 2, 0], [1, 0, 0]]
    assert report["per_class"]["a"] == {"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2}
    assert report["per_class"]["b"]["precision"] == pytest.approx(2 / 3)
    assert report["per_class"]["b"]["recall"] == 1.0
    assert report["per_class"]["c"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}
    assert report["macro_f1"] == pytest.approx((0.5 + 0.8 + 0.0) / 3)


def test_event_agreement_matches_overlapping_spans_one_to_one():
    expected = [(10, 14), (30, 32), (60, 61)]
    found = [(15, 16), (29, 29), (31, 33), (90, 95)]  # touches the first with tolerance 1; two overlap the second
    assert event_agreement(found, expected, tolerance=1) == {"matched": 2, "extra": 2, "missed": 1}
    assert event_agreement(found, expected, tolerance=0) == {"matched": 1, "extra": 3, "missed": 2}
    assert event_agreement([], expected) == {"matched": 0, "extra": 0, "missed": 3}
