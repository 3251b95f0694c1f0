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


def test_time_on_screen_leaves_out_the_gaps():
    from fer_core.records import seconds_on_screen

    times = [0.0, 0.5, 1.0, 4.0, 4.5]  # gone between 1 s and 4 s
    assert seconds_on_screen(times) == 1.5
    assert seconds_on_screen(times, frame_interval_s=0.5) == 2.5  # each of the two stays lasts one frame longer
    assert seconds_on_screen([3.0]) == 0.0


def test_closest_identity_is_the_nearest_within_the_limit():
    from fer_core.identity import closest

    known = {1: [np.zeros(128)], 2: [np.full(128, 0.1), np.full(128, 0.02)], 3: []}
    assert closest(np.full(128, 0.018), known, limit=0.45) == 2  # 0.023 from its second descriptor, 0.2 from 1
    assert closest(np.full(128, 1.0), known, limit=0.45) is None
