"""The GPU students (gpu/train_torch.py, PyTorch) port to the served Keras/LiteRT network exactly: a small random
student's probabilities, computed by PyTorch when the fixture was made (gpu/make_port_fixture.py), are reproduced
by the Keras twin that gpu/import_student.py builds and by its LiteRT conversion."""

import json
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]

FIXTURE = ROOT / "tests" / "data" / "student_port.npz"


def test_keras_twin_reproduces_pytorch(tmp_path):
    pytest.importorskip("keras")
    from gpu.import_student import build_from_record, keras_weights, read_student

    from fer_core.classifier import EmotionClassifier
    from fer_core.train import convert_to_tflite

    record, state = read_student(FIXTURE)
    with np.load(FIXTURE) as data:
        faces, expected = data["fixture_faces"], data["fixture_probs"]
    model = build_from_record(record)
    keras_weights(model, state, record["dense_blocks"])
    got = model.predict(faces[..., None].astype(np.float32), verbose=0)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, atol=2e-5)
    assert not np.allclose(expected, expected[:1])  # the faces give different answers: the check can fail

    convert_to_tflite(model, tmp_path, flip_tta=False)
    served = EmotionClassifier(tmp_path, num_threads=1).predict(faces[..., None].astype(np.float32))
    np.testing.assert_allclose(served, expected, atol=2e-5)


def test_layout_mismatch_is_refused():
    pytest.importorskip("keras")
    from gpu.import_student import build_from_record, keras_weights, read_student

    record, state = read_student(FIXTURE)
    model = build_from_record({**record, "dense_blocks": 1})  # block 1 separable here, dense in the weights
    with pytest.raises((ValueError, KeyError)):
        keras_weights(model, state, 1)


@pytest.mark.parametrize("folder", sorted(p.parent.name for p in (ROOT / "models" / "teachers").glob("*/teacher.npz")))
def test_each_teacher_kept_in_8_bits_answers_as_recorded(fer2013_dir, folder):
    """models/teachers/*/teacher.npz (the teachers kept in 8 bits, carried by the next GPU run, which distils the
    students from them) rebuilds in Keras and is right on PublicTest as often as its record says the float16 teacher
    was (centre crop), within a point."""
    pytest.importorskip("keras")
    from gpu.import_teacher import read_teacher, vgg_keras_weights

    from fer_core.datasets import load_faces
    from fer_core.network import build_vgg

    kept = ROOT / "models" / "teachers" / folder
    arch, state = read_teacher(kept / "teacher.npz")
    assert arch == "vgg"
    model = build_vgg()
    vgg_keras_weights(model, state)
    faces = load_faces(fer2013_dir / "val.npz", "PublicTest")
    right = model.predict(faces.x[..., None].astype(np.float32), batch_size=256, verbose=0).argmax(1) == faces.y
    recorded = json.loads((kept / "record.json").read_text())["val_accuracy_centre"]
    assert right.mean() == pytest.approx(recorded, abs=0.01)


def test_the_served_accurate_model_comes_back_as_a_student_to_start_from(fer2013_dir):
    """gpu/student_from_tflite.py turns the served 8-bit accurate model back into a student (what the next training
    starts from): its Keras twin, with the mirror average, gives what the served file gives on PublicTest faces."""
    pytest.importorskip("keras")
    from gpu.import_student import build_from_record, keras_weights
    from gpu.student_from_tflite import STUDENTS, folded_convolutions, student_state

    from fer_core.classifier import EmotionClassifier
    from fer_core.datasets import load_faces

    model_dir = ROOT / "models" / "emotion-accurate"
    widths, stem, dense = STUDENTS["xception-d4-48"]
    packed = student_state(folded_convolutions(model_dir / "emotion.tflite"), len(widths))
    state = {
        k: v.astype(np.float32) * packed[f"{k}::scale"].reshape(-1, 1, 1, 1) if f"{k}::scale" in packed else v
        for k, v in packed.items()
        if not k.endswith("::scale")
    }
    model = build_from_record({"block_widths": widths, "stem_width": stem, "dense_blocks": dense})
    keras_weights(model, state, dense)
    faces = load_faces(fer2013_dir / "val.npz", "PublicTest").x[:300, ..., None].astype(np.float32)
    twin = (model.predict(faces, verbose=0) + model.predict(faces[:, :, ::-1], verbose=0)) / 2
    served = EmotionClassifier(model_dir, num_threads=1)
    served_probs = served.predict(faces)
    # the served file's temperature and 8-bit activations aside, the same network: the same answer on nearly all
    assert (twin.argmax(1) == served_probs.argmax(1)).mean() >= 0.97
    assert len(set(twin.argmax(1))) >= 5  # real, varied answers: the check can fail


def test_a_gpu_record_becomes_the_run_files_the_model_page_reads(tmp_path):
    """A student's record: epochs apart from the evaluation after training; its logged accuracy is the mirror
    average on the packed faces, its training time the last epoch's; a teacher's logged accuracy is the centre crop."""
    from fer_core.train import write_gpu_run_record

    student = {
        "arch": "xception-d4-32",
        "teachers": ["vgg-1"],
        "settings": {"lr": 0.05, "out": "/root/out/x.npz", "teachers": "/tmp/t"},
        "history": [
            {"epoch": 1, "seconds": 4.0, "loss": 1.2, "learning_rate": 0.05},
            {
                "epoch": 2,
                "seconds": 8.5,
                "loss": 0.9,
                "learning_rate": 0.0,
                "val_accuracy": 0.6,
                "val_accuracy_flip": 0.7,
            },
            {"after_training": {"val_accuracy": 0.7}},
        ],
    }
    write_gpu_run_record(student, tmp_path, "gpu/train_torch.py student", recalibrate_bn=True)
    settings = json.loads((tmp_path / "settings.json").read_text())
    assert settings["train_seconds"] == 8.5 and settings["teachers"] == ["vgg-1"] and settings["recalibrate_bn"]
    assert "out" not in settings and "mirror" in settings["val_logged"] and settings["lr"] == 0.05
    assert "init" not in settings  # from scratch
    history = json.loads((tmp_path / "history.json").read_text())
    assert [h.get("val_accuracy") for h in history] == [None, 0.7]
    record = json.loads((tmp_path / "gpu_record.json").read_text())
    assert len(record["history"]) == 2 and record["final_evaluation"] == [{"after_training": {"val_accuracy": 0.7}}]
    teacher = {"arch": "vgg", "train_seconds": 260.0, "settings": {}, "history": [
        {"epoch": 1, "loss": 1.0, "learning_rate": 0.1, "val_accuracy_centre": 0.65}]}  # fmt: skip
    write_gpu_run_record(teacher, tmp_path, "gpu/train_torch.py teacher")
    settings = json.loads((tmp_path / "settings.json").read_text())
    assert settings["train_seconds"] == 260.0 and "centre" in settings["val_logged"]
    assert json.loads((tmp_path / "history.json").read_text())[0]["val_accuracy"] == 0.65
    assert "init" not in settings
    student["settings"]["init"] = ".gpu/init/xception-d4-32.npz"
    write_gpu_run_record(student, tmp_path, "gpu/train_torch.py student")
    assert "served model before" in json.loads((tmp_path / "settings.json").read_text())["init"]


def test_packed_pixels_come_back_exactly(fer2013_dir):
    """gpu/pixels.py (the data packed for the GPU as JPEG-LS prediction errors) restores every pixel: real faces,
    noise, and flat black and white ones."""
    from gpu.pixels import decode, encode

    from fer_core.datasets import load_faces

    faces = load_faces(fer2013_dir / "val.npz", "PublicTest").x[:500]
    noise = np.random.default_rng(0).integers(0, 256, (20, 48, 48), dtype=np.uint8)
    flat = np.stack([np.zeros((48, 48), np.uint8), np.full((48, 48), 255, np.uint8)])
    for x in (faces, noise, flat):
        errors = encode(x)
        assert errors.dtype == np.uint8 and errors.shape == x.shape
        assert (decode(errors) == x).all()
    assert np.abs(encode(faces).astype(int)).mean() < np.abs(faces.astype(int)).mean() / 4  # mostly small errors
