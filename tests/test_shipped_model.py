"""The shipped models (models/emotion, the fast default, and models/emotion-accurate) reach their accuracy on
PublicTest as served (LiteRT), and their run records say what the served files do."""

from __future__ import annotations

import json

import pytest

from fer_core.datasets import load_faces
from fer_core.evaluate import evaluate
from fer_core.model_file import NAMED_MODELS, read_meta

# the least PublicTest accuracy each must reach: above the 2013 winner's 71.2% (less int8's rounding) for the fast
# model, the accurate one above the fast one
FLOORS = {"fast": 0.71, "accurate": 0.715}


@pytest.fixture(scope="module", params=sorted(NAMED_MODELS))
def shipped(request, fer2013_dir):
    folder = NAMED_MODELS[request.param]
    return request.param, folder, evaluate(folder, load_faces(fer2013_dir / "val.npz", usage="PublicTest"))


def test_shipped_model_reaches_its_accuracy_on_public_test(shipped):
    name, _, report = shipped
    assert report["n"] == 3589
    assert report["accuracy"] >= FLOORS[name]


def test_run_record_matches_the_served_model(shipped):
    _, folder, report = shipped
    recorded = json.loads((folder / "metrics.json").read_text())
    assert recorded["accuracy"] == pytest.approx(report["accuracy"], abs=1e-9)
    assert recorded["confusion_matrix"] == report["confusion_matrix"]
    assert "PublicTest" in recorded["split"]


def test_accurate_model_is_more_accurate_than_the_fast_one():
    fast, accurate = (
        json.loads((NAMED_MODELS[n] / "metrics.json").read_text())["accuracy"] for n in ("fast", "accurate")
    )
    assert accurate >= fast + 0.005
    assert {read_meta(folder).quantization for folder in NAMED_MODELS.values()} == {"int8"}
