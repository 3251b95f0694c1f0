"""The shipped models (models/emotion, the fast default, and models/emotion-accurate) reach their accuracy on
PublicTest as served (LiteRT), and their run records say what the served files do."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from fer_core.calibration import apply_temperature
from fer_core.classifier import EmotionClassifier
from fer_core.datasets import load_faces
from fer_core.evaluate import evaluate
from fer_core.model_file import NAMED_MODELS, read_meta

# the least PublicTest accuracy each must reach: above the 2013 winner's 71.2% for both, each just under its served
# figure (fast 72.53%, accurate 72.33% since session 25); the accurate one above the fast one is the xfail below
FLOORS = {"fast": 0.725, "accurate": 0.72}


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
    assert recorded.get("read_twice") == report.get("read_twice")
    assert "PublicTest" in recorded["split"]


def test_the_fast_model_reads_only_its_unsure_faces_a_second_time_mirrored(fer2013_dir):
    """Served probabilities: for a face whose top probability (before calibration) is below ``mirror_below``, the
    mean of the face's and its mirror image's readings; for the others, the face's alone; then the temperature."""
    faces = load_faces(fer2013_dir / "val.npz", usage="PublicTest").x[:300, ..., None].astype(np.float32)
    served = EmotionClassifier(NAMED_MODELS["fast"])
    below, temperature = served.meta.mirror_below, served.meta.temperature
    assert 0.3 <= below <= 0.9 and not served.meta.test_time_augmentation
    once = EmotionClassifier(NAMED_MODELS["fast"])
    once.meta = replace(once.meta, mirror_below=0.0, temperature=1.0)
    plain, mirrored = once.predict(faces), once.predict(faces[:, :, ::-1])
    unsure = plain.max(axis=1) < below
    assert 0.1 < unsure.mean() < 0.6
    expected = np.where(unsure[:, None], (plain + mirrored) / 2, plain)
    assert np.allclose(served.predict(faces), apply_temperature(expected, temperature), atol=1e-6)
    # one face at a time (as the Live page sends them) gives the same
    assert np.allclose(served.predict(faces[:8]), np.concatenate([served.predict(f[None]) for f in faces[:8]]))


@pytest.mark.xfail(
    strict=True,
    reason="issue 13: since the fast model reads its unsure faces a second time, mirrored (2026-12-07), it is as "
    "accurate as the accurate one, the same network reading every face twice (72.53 / 72.33% since session 25); a wider accurate "
    "network waits for a GPU run",
)
def test_accurate_model_is_more_accurate_than_the_fast_one():
    fast, accurate = (
        json.loads((NAMED_MODELS[n] / "metrics.json").read_text())["accuracy"] for n in ("fast", "accurate")
    )
    assert accurate >= fast + 0.005


def test_both_models_are_served_in_int8():
    assert {read_meta(folder).quantization for folder in NAMED_MODELS.values()} == {"int8"}
