"""The shipped model (models/emotion) reaches its accuracy on PublicTest as served (LiteRT), and its run record
says what the model does."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fer_core.datasets import load_faces
from fer_core.evaluate import evaluate

MODEL = Path(__file__).resolve().parents[1] / "models" / "emotion"


@pytest.fixture(scope="module")
def report(fer2013_dir):
    return evaluate(MODEL, load_faces(fer2013_dir / "val.npz", usage="PublicTest"))


def test_shipped_model_reaches_66_percent_on_public_test(report):
    assert report["n"] == 3589
    assert report["accuracy"] >= 0.66  # the published mini-Xception figure (issue 3)


def test_run_record_matches_the_served_model(report):
    recorded = json.loads((MODEL / "metrics.json").read_text())
    assert recorded["accuracy"] == pytest.approx(report["accuracy"], abs=1e-9)
    assert recorded["confusion_matrix"] == report["confusion_matrix"]
