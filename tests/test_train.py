"""A short real training run (TensorFlow) writes the whole run folder, and the served model matches Keras."""

from __future__ import annotations

import json

import numpy as np
import pytest

from fer_core.calibration import apply_temperature
from fer_core.classifier import EmotionClassifier
from fer_core.evaluate import main as evaluate_main
from fer_core.network import build_xception
from fer_core.train import TrainSettings, average_weights, class_weights, recalibrate_batch_norm, train


def test_not_in_finds_pixel_identical_copies():
    from fer_core.evaluate import not_in

    faces = (np.arange(4 * 48 * 48).reshape(4, 48, 48) % 251).astype(np.uint8)
    faces[3] = 7
    assert not_in(faces, faces[[1, 3]]).tolist() == [True, False, True, False]


def test_class_weights_balance_and_soften():
    y = np.array([0] * 80 + [1] * 20 + list(range(2, 7)) * 20)
    full = class_weights(y, power=1.0)
    assert full[0] * 80 == pytest.approx(full[1] * 20)  # each class weighs the same in total
    soft = class_weights(y, power=0.5)
    assert soft[1] / soft[0] == pytest.approx(2.0)
    assert class_weights(y, power=0.0) == {i: 1.0 for i in range(7)}


def test_one_function_builds_the_mini_xception_and_wider_variants():
    mini = build_xception(block_widths=(16, 32, 64, 128), stem_width=8)
    assert 55_000 < mini.count_params() < 65_000  # the published mini-Xception has about 60k weights
    wider = build_xception(block_widths=(32, 64, 128, 256), stem_width=8)
    assert wider.count_params() > 3 * mini.count_params()
    assert mini.output_shape == (None, 7)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory, fer2013_dir):
    data = tmp_path_factory.mktemp("data")
    for name, n in (("train", 600), ("val", 200)):
        with np.load(fer2013_dir / f"{name}.npz") as split:
            np.savez(data / f"{name}.npz", x=split["x"][:n], y=split["y"][:n])
    out = tmp_path_factory.mktemp("run")
    settings = TrainSettings(
        data=str(data / "train.npz"),
        val=str(data / "val.npz"),
        epochs=2,
        batch_size=64,
        block_widths=(8, 16),
        stem_width=8,
        keep_epochs=True,
    )
    metrics = train(settings, out)
    return out, data, metrics


def test_training_writes_a_complete_run_folder(tiny_run):
    out, _, metrics = tiny_run
    for name in (
        "settings.json",
        "history.json",
        "metrics.json",
        "best.keras",
        "final.keras",
        "emotion.tflite",
        "model.json",
    ):
        assert (out / name).is_file(), name
    assert not (out / "backup").exists()
    assert sorted(p.name for p in (out / "epochs").iterdir()) == ["001.keras", "002.keras"]
    history = json.loads((out / "history.json").read_text())
    assert [row["epoch"] for row in history] == [1, 2]
    assert {"loss", "accuracy", "val_loss", "val_accuracy", "learning_rate"} <= set(history[0])
    assert metrics["n"] == 200 and len(metrics["confusion_matrix"]) == 7 and "PublicTest" in metrics["split"]
    assert 0 < metrics["unseen_faces"]["n"] <= 200
    settings = json.loads((out / "settings.json").read_text())
    assert settings["block_widths"] == [8, 16] and settings["versions"]["tensorflow"]


def test_served_model_matches_keras_and_evaluate_cli(tiny_run, capsys):
    import keras

    out, data, metrics = tiny_run
    x = np.load(data / "val.npz")["x"][..., None].astype(np.float32)
    classifier = EmotionClassifier(out)
    assert classifier.meta.test_time_augmentation == "horizontal flip"
    served = classifier.predict(x)
    model = keras.models.load_model(out / "final.keras")  # best.keras with recomputed batch-norm statistics
    reference = (model.predict(x, verbose=0) + model.predict(x[:, :, ::-1], verbose=0)) / 2  # face and mirror
    assert classifier.meta.temperature != 1.0  # fitted on the validation faces when the run was served
    reference = apply_temperature(reference, classifier.meta.temperature)
    assert np.abs(served - reference).max() < 1e-4
    assert evaluate_main(["--model", str(out), "--data", str(data / "val.npz"), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["accuracy"] == pytest.approx(metrics["accuracy"], abs=1e-6)


def _norm_model(width: int = 3):
    import keras

    inputs = keras.Input(shape=(48, 48, 1))
    x = keras.layers.Conv2D(width, 1, use_bias=False, kernel_initializer="ones")(inputs)
    return keras.Model(inputs, keras.layers.BatchNormalization(name="bn")(x))


def test_recalibrated_batch_norm_holds_the_mean_of_the_batch_statistics():
    rng = np.random.default_rng(0)
    faces = rng.integers(0, 256, (1000, 48, 48)).astype(np.uint8)
    faces[::2] //= 4  # batches differ, so a moving average would not land on the plain mean
    model = _norm_model()
    recalibrate_batch_norm(model, faces, batch_size=100, seed=3)
    x = faces[np.random.default_rng(3).permutation(1000)].astype(np.float64).reshape(10, -1)
    mean, var = model.get_layer("bn").moving_mean.numpy(), model.get_layer("bn").moving_variance.numpy()
    assert mean == pytest.approx(np.full(3, x.mean()), rel=1e-5)
    assert var == pytest.approx(np.full(3, x.var(axis=1).mean()), rel=1e-4)
    assert model.get_layer("bn").momentum == 0.99  # the layer's own setting is restored


def test_average_weights_of_checkpoints(tmp_path):
    paths = []
    for i, value in enumerate((1.0, 4.0)):
        model = _norm_model()
        model.set_weights([np.full_like(w, value) for w in model.get_weights()])
        paths.append(tmp_path / f"{i}.keras")
        model.save(paths[-1])
    averaged = average_weights(paths)
    assert all(np.allclose(w, 2.5) for w in averaged)
    _norm_model(width=5).save(tmp_path / "other.keras")
    with pytest.raises(ValueError, match="different architectures"):
        average_weights([paths[0], tmp_path / "other.keras"])


def test_average_of_checkpoints_run_from_the_command_line(tiny_run, tmp_path):
    import keras

    from fer_core.train import main

    out, data, _ = tiny_run
    epochs = [str(out / "epochs" / name) for name in ("001.keras", "002.keras")]
    main(
        [
            "--out",
            str(tmp_path),
            "--average-of",
            *epochs,
            "--data",
            str(data / "train.npz"),
            "--val",
            str(data / "val.npz"),
            "--block-widths",
            "8",
            "16",
        ]
    )
    for name in ("best.keras", "final.keras", "emotion.tflite", "metrics.json"):
        assert (tmp_path / name).is_file(), name
    assert json.loads((tmp_path / "settings.json").read_text())["average_of"] == epochs
    first, second = (keras.models.load_model(p).get_weights() for p in epochs)
    averaged = keras.models.load_model(tmp_path / "best.keras").get_weights()
    kernel = next(i for i, w in enumerate(first) if w.ndim == 4)  # the first convolution's kernel
    assert np.allclose(averaged[kernel], (first[kernel] + second[kernel]) / 2, atol=1e-6)
