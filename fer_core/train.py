"""Train an Xception-family emotion network on FER2013 and write a run folder.

    python -m fer_core.train --out runs/xception-w32

Reads the Training split (``--data``: .npz, Kaggle csv or class folders), selects the best epoch on PublicTest
(``--val``), and writes to ``--out``:

- ``settings.json``   every setting of the run, the data files and the software versions
- ``history.json``    one row per epoch: loss, accuracy, val_loss, val_accuracy, learning_rate
- ``best.keras``      the checkpoint with the best validation accuracy (kept while training)
- ``final.keras``     what is served: ``best.keras`` with its batch-norm statistics recomputed on the un-augmented
                      Training faces (``--recalibrate-bn``, on by default)
- ``epochs/NNN.keras`` every epoch's weights, with ``--keep-epochs``
- ``emotion.tflite``  ``final.keras`` converted for LiteRT serving, with ``model.json`` (labels, preprocessing)
- ``metrics.json``    accuracy, per-class precision/recall/F1 and confusion matrix of the served model on ``--val``

The run is resumable: start the same command again and it continues from the last finished epoch
(``backup/`` holds that state and is removed when the run ends).

``--average-of A.keras B.keras ...`` trains nothing: ``best.keras`` is the mean of those checkpoints' weights (same
architecture, e.g. the best checkpoints of successive runs), finished as above.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import argparse
import json
import logging
import platform
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from fer_core.datasets import FACE_SIZE, SHARED_DATA, LabelledFaces, load_faces
from fer_core.labels import EMOTIONS
from fer_core.model_file import MODEL_FILE, MODEL_META, ModelMeta

log = logging.getLogger(__name__)

DEFAULT_DATA = str(SHARED_DATA / "fer2013")


@dataclass(frozen=True)
class TrainSettings:
    """Every knob of a training run; saved as ``settings.json``."""

    data: str = f"{DEFAULT_DATA}/train.npz"
    val: str = f"{DEFAULT_DATA}/val.npz"
    block_widths: tuple[int, ...] = (32, 64, 128, 256)  # (16, 32, 64, 128) with stem 8 is the mini-Xception
    stem_width: int = 8
    dense_blocks: int = 0  # the first blocks use plain 3x3 convolutions (see build_xception)
    l2: float = 1e-3  # weight decay on every kernel
    epochs: int = 80
    batch_size: int = 128
    learning_rate: float = 1e-3
    lr_factor: float = 0.5  # learning rate multiplied by this when val_loss stalls ...
    lr_patience: int = 4  # ... for this many epochs
    min_learning_rate: float = 1e-5
    early_stop_patience: int = 12  # epochs without a better val_accuracy before stopping
    class_weight_power: float = 0.5  # class weight = (n / (k * n_class)) ** power; 1 = fully balanced, 0 = none
    shift: float = 0.1  # augmentation: random shift, fraction of the image
    zoom: float = 0.1  # augmentation: random zoom in or out, fraction
    rotation_degrees: float = 10.0  # augmentation: random rotation, +- degrees
    horizontal_flip: bool = True
    crowd_weight: float = 0.0  # target = (1 - w) * FER2013 label + w * FER+ crowd vote shares (w < 0.5 keeps the
    #                            FER2013 label on top); faces without votes keep their one-hot label
    label_smoothing: float = 0.0
    teacher_probs: str = ""  # .npz whose ``train`` array (N, 7) holds teachers' probabilities for the Training faces
    teacher: str = ""  # a served model folder (e.g. models/emotion-accurate) run on every augmented Training batch:
    #                    online distillation, its probabilities mixed into the target by teacher_weight
    teacher_weight: float = 0.0  # target = (1 - w) * (label / crowd target) + w * teacher probabilities
    teacher_temperature: float = 1.0  # online teacher's probabilities softened as p ** (1 / T), renormalised
    flip_tta: bool = True  # serve the mean of each face and its mirror image
    init_from: str = ""  # start from the weights of this .keras checkpoint (same block widths), e.g. a warm restart
    keep_epochs: bool = False  # also keep every epoch's weights as epochs/NNN.keras (for --average-of later)
    average_of: tuple[str, ...] = ()  # no training: the model is the mean of these .keras checkpoints' weights
    recalibrate_bn: bool = True  # serve with batch-norm statistics recomputed on the un-augmented Training faces
    precision: str = "float32"  # "mixed_bfloat16": about 2x faster on CPUs with AVX512-BF16; served in float32
    seed: int = 1
    versions: dict = field(default_factory=dict)


def class_weights(y: np.ndarray, power: float) -> dict[int, float]:
    """Inverse-frequency class weights ``(n / (k * n_c)) ** power``; power 1 balances the classes fully."""
    counts = np.bincount(y, minlength=len(EMOTIONS)).astype(float)
    weights = (len(y) / (len(EMOTIONS) * np.maximum(counts, 1))) ** power
    return {i: float(w) for i, w in enumerate(weights)}


def training_targets(
    faces: LabelledFaces, crowd_weight: float, teacher: np.ndarray | None = None, teacher_weight: float = 0.0
) -> np.ndarray:
    """Targets (N, 7) float32: the one-hot FER2013 label, mixed with the FER+ crowd's vote shares where known,
    then with ``teacher`` probabilities (N, 7) by ``teacher_weight`` (offline knowledge distillation)."""
    y = np.eye(len(EMOTIONS), dtype=np.float32)[faces.y]
    if crowd_weight and faces.crowd is not None:
        known = faces.crowd.sum(axis=1) > 0
        y[known] = (1 - crowd_weight) * y[known] + crowd_weight * faces.crowd[known]
    if teacher is not None and teacher_weight:
        if teacher.shape != y.shape:
            raise ValueError(f"teacher probabilities {teacher.shape} do not match the {y.shape} training targets")
        y = (1 - teacher_weight) * y + teacher_weight * (teacher / teacher.sum(axis=1, keepdims=True))
    return y.astype(np.float32)


def read_teacher_probs(path: str) -> np.ndarray:
    """The ``train`` array (N, 7) of a teachers' probabilities file (see ``gpu/README.md``), float32."""
    with np.load(path) as data:
        return data["train"].astype(np.float32)


def _dataset(faces: LabelledFaces, settings: TrainSettings, training: bool):
    import keras
    import tensorflow as tf

    x = faces.x[..., None].astype("float32")
    teacher = read_teacher_probs(settings.teacher_probs) if training and settings.teacher_probs else None
    y = training_targets(faces, settings.crowd_weight if training else 0.0, teacher, settings.teacher_weight)
    ds = tf.data.Dataset.from_tensor_slices((x, y))
    if training:
        weights = class_weights(faces.y, settings.class_weight_power)
        w = np.array([weights[int(c)] for c in faces.y], dtype="float32")
        ds = tf.data.Dataset.from_tensor_slices((x, y, w)).shuffle(
            len(x), seed=settings.seed, reshuffle_each_iteration=True
        )
    ds = ds.batch(settings.batch_size)
    if training:
        augment = keras.Sequential(
            [
                *([keras.layers.RandomFlip("horizontal", seed=settings.seed)] if settings.horizontal_flip else []),
                keras.layers.RandomRotation(settings.rotation_degrees / 360.0, fill_mode="reflect", seed=settings.seed),
                keras.layers.RandomZoom(settings.zoom, settings.zoom, fill_mode="reflect", seed=settings.seed),
                keras.layers.RandomTranslation(settings.shift, settings.shift, fill_mode="reflect", seed=settings.seed),
            ],
            name="augment",
        )
        ds = ds.map(lambda a, b, c: (augment(a, training=True), b, c), num_parallel_calls=tf.data.AUTOTUNE)
        if settings.teacher:
            ds = ds.map(_online_teacher(settings), num_parallel_calls=2)
    return ds.prefetch(tf.data.AUTOTUNE)


def _online_teacher(settings: TrainSettings):
    """A tf.data map (faces, targets, weights) -> (faces, mixed targets, weights): the served model in
    ``settings.teacher`` (LiteRT, one interpreter per worker thread) classifies each augmented batch."""
    import threading

    import tensorflow as tf

    from fer_core.classifier import EmotionClassifier

    local = threading.local()
    w, inverse_t = settings.teacher_weight, 1.0 / settings.teacher_temperature

    def teach(faces: np.ndarray, targets: np.ndarray) -> np.ndarray:
        if not hasattr(local, "classifier"):
            local.classifier = EmotionClassifier(settings.teacher)
        p = local.classifier.predict(np.clip(faces, 0, 255)) ** inverse_t
        p /= p.sum(axis=1, keepdims=True)
        return ((1 - w) * targets + w * p).astype(np.float32)

    def mix(faces, targets, weights):
        mixed = tf.numpy_function(teach, [faces, targets], tf.float32)
        return faces, tf.ensure_shape(mixed, targets.shape), weights

    return mix


def _history_callback(path: Path):
    import keras

    class HistoryFile(keras.callbacks.Callback):
        """Writes history.json after every epoch; on resume, rows of epochs being redone are replaced."""

        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            rows = json.loads(path.read_text()) if path.exists() else []
            rows = [r for r in rows if r["epoch"] < epoch + 1]
            row = {"epoch": epoch + 1, **{k: float(v) for k, v in (logs or {}).items()}}
            row["learning_rate"] = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
            rows.append(row)
            path.write_text(json.dumps(rows, indent=1))

    return HistoryFile()


def convert_to_tflite(
    model, out_dir: Path, flip_tta: bool = True, int8_faces: np.ndarray | None = None, mirror_below: float = 0.0
) -> Path:
    """Convert a Keras model to ``out_dir/emotion.tflite`` and write ``model.json`` beside it.
    ``flip_tta``: the served graph averages the face and its mirror image (see :func:`with_flip_average`).
    ``mirror_below`` (without ``flip_tta``): serving reads the faces whose top probability is below it a second
    time, mirrored (see :meth:`fer_core.classifier.EmotionClassifier.predict`).
    ``int8_faces``: uint8 (N, 48, 48) faces to calibrate integer quantisation of weights and activations (input and
    output stay float32); float32 throughout when None."""
    import tensorflow as tf

    from fer_core.network import with_flip_average

    if flip_tta and mirror_below:
        raise ValueError("mirror_below is for a graph without the mirror average (flip_tta=False)")
    served = with_flip_average(model) if flip_tta else model
    converter = tf.lite.TFLiteConverter.from_keras_model(served)
    if int8_faces is not None:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: ([face[None, ..., None].astype(np.float32)] for face in int8_faces)
    target = out_dir / MODEL_FILE
    target.write_bytes(converter.convert())
    meta = ModelMeta(
        labels=EMOTIONS,
        input_size=FACE_SIZE,
        weights=int(model.count_params()),
        name=model.name,
        test_time_augmentation="horizontal flip" if flip_tta else "",
        mirror_below=mirror_below,
        quantization="int8" if int8_faces is not None else "",
    )
    (out_dir / MODEL_META).write_text(json.dumps(asdict(meta), indent=1))
    return target


def serve(
    model,
    out_dir: Path,
    train_faces: LabelledFaces,
    val_faces: LabelledFaces,
    flip_tta: bool = True,
    int8: bool = False,
    split: str = "PublicTest (val.npz); never trained on",
    mirror_below: float = 0.0,
) -> dict:
    """Convert ``model`` for serving into ``out_dir`` (``int8``: calibrated on 500 random Training faces), evaluate
    the served file on ``val_faces`` (``split`` says what that split was used for), write ``metrics.json`` and fit
    the served probabilities' temperature on the same faces (:mod:`fer_core.calibration`); returns the metrics."""
    from fer_core.calibration import calibrate_model
    from fer_core.evaluate import evaluate

    calibration = train_faces.x[np.random.default_rng(0).permutation(len(train_faces))[:500]] if int8 else None
    convert_to_tflite(model, out_dir, flip_tta, calibration, mirror_below)
    metrics = {"split": split, **evaluate(out_dir, val_faces, train_faces)}
    (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=1))
    metrics["calibration"] = calibrate_model(out_dir, val_faces, f"FER2013 {split.split(' ')[0]}")
    return metrics


def train(settings: TrainSettings, out_dir: Path) -> dict:
    """Train, keep the best checkpoint, evaluate it on ``settings.val`` and convert it. Returns the metrics."""
    import keras
    import tensorflow as tf

    out_dir.mkdir(parents=True, exist_ok=True)
    settings = TrainSettings(
        **{
            **asdict(settings),
            "versions": {
                "python": platform.python_version(),
                "tensorflow": tf.__version__,
                "keras": keras.__version__,
                "numpy": np.__version__,
            },
        }
    )
    record = asdict(settings)
    previous = out_dir / "settings.json"
    history = out_dir / "history.json"
    best_so_far = None
    if (out_dir / "backup").exists() and previous.exists():  # resuming: keep what the earlier epochs ran with
        old = json.loads(previous.read_text())
        rows = json.loads(history.read_text()) if history.exists() else []
        record["earlier_settings"] = [*old.pop("earlier_settings", []), {**old, "until_epoch": len(rows)}]
        best_so_far = max((r["val_accuracy"] for r in rows), default=None)  # best.keras must not regress
    previous.write_text(json.dumps(record, indent=1))
    keras.utils.set_random_seed(settings.seed)
    keras.mixed_precision.set_global_policy(settings.precision)

    train_faces = load_faces(settings.data, usage="Training")
    val_faces = load_faces(settings.val, usage="PublicTest")
    log.info(
        "training on %d faces from %s, selecting on %d faces from %s",
        len(train_faces),
        train_faces.source,
        len(val_faces),
        val_faces.source,
    )
    log.info("class weights: %s", class_weights(train_faces.y, settings.class_weight_power))
    if settings.crowd_weight and train_faces.crowd is None:
        log.warning("crowd_weight %.2f ignored: %s has no FER+ votes", settings.crowd_weight, train_faces.source)

    if settings.teacher and settings.teacher_probs:
        raise ValueError("choose one teacher: --teacher (online) or --teacher-probs (offline), not both")
    if (settings.teacher or settings.teacher_probs) and not settings.teacher_weight:
        log.warning("a teacher is set but --teacher-weight is 0: the teacher changes nothing")
    model = _build(settings)
    if settings.average_of:
        model.set_weights(average_weights(settings.average_of))
        model.save(out_dir / "best.keras")
        log.info("no training: best.keras is the mean of %d checkpoints", len(settings.average_of))
        return finish_run(out_dir, train_faces, val_faces, settings)
    if settings.init_from:
        model.set_weights(keras.models.load_model(settings.init_from).get_weights())
        log.info("weights from %s", settings.init_from)
    model.compile(
        optimizer=keras.optimizers.Adam(settings.learning_rate),
        loss=keras.losses.CategoricalCrossentropy(label_smoothing=settings.label_smoothing),
        metrics=["accuracy"],
        jit_compile=False,
    )
    log.info("%s: %d weights", model.name, model.count_params())
    best = out_dir / "best.keras"
    callbacks = [
        keras.callbacks.BackupAndRestore(str(out_dir / "backup")),
        keras.callbacks.ModelCheckpoint(
            str(best), monitor="val_accuracy", mode="max", save_best_only=True, initial_value_threshold=best_so_far
        ),
        keras.callbacks.ReduceLROnPlateau(
            monitor="val_loss",
            factor=settings.lr_factor,
            patience=settings.lr_patience,
            min_lr=settings.min_learning_rate,
        ),
        keras.callbacks.EarlyStopping(monitor="val_accuracy", mode="max", patience=settings.early_stop_patience),
        _history_callback(out_dir / "history.json"),
        *(
            [keras.callbacks.ModelCheckpoint(str(out_dir / "epochs" / "{epoch:03d}.keras"))]
            if settings.keep_epochs
            else []
        ),
    ]
    started = time.time()
    model.fit(
        _dataset(train_faces, settings, training=True),
        epochs=settings.epochs,
        validation_data=_dataset(val_faces, settings, training=False),
        callbacks=callbacks,
        verbose=2,
    )
    log.info("training took %.0f s", time.time() - started)

    return finish_run(out_dir, train_faces, val_faces, settings)


def _build(settings: TrainSettings):
    from fer_core.network import build_xception

    prefix = f"xception_d{settings.dense_blocks}_" if settings.dense_blocks else "xception_"
    return build_xception(
        FACE_SIZE,
        len(EMOTIONS),
        tuple(settings.block_widths),
        settings.stem_width,
        settings.l2,
        name=prefix + "-".join(map(str, settings.block_widths)),
        dense_blocks=settings.dense_blocks,
    )


def average_weights(checkpoints: tuple[str, ...] | list[str]) -> list[np.ndarray]:
    """The element-wise mean of the weights of ``.keras`` checkpoints of one architecture (batch-norm statistics
    included; recompute those afterwards with :func:`recalibrate_batch_norm`)."""
    import keras

    weights = [keras.models.load_model(path).get_weights() for path in checkpoints]
    if len({len(w) for w in weights}) != 1 or any(a.shape != b.shape for w in weights for a, b in zip(weights[0], w)):
        raise ValueError(f"checkpoints of different architectures cannot be averaged: {list(checkpoints)}")
    return [
        np.mean([w[i] for w in weights], axis=0, dtype=np.float64).astype(weights[0][i].dtype)
        for i in range(len(weights[0]))
    ]


def recalibrate_batch_norm(model, faces: np.ndarray, batch_size: int = 256, seed: int = 1) -> None:
    """Recompute every batch-norm layer's moving mean and variance as the average over one pass of ``faces``
    ((N, 48, 48) gray 0..255, un-augmented) in batches ("precise BN"), in place. Training leaves statistics of
    augmented faces (reflect-filled rotations, zooms, shifts) averaged over moving weights; served faces are
    neither."""
    import keras

    norms = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    momenta = [layer.momentum for layer in norms]
    x = faces[np.random.default_rng(seed).permutation(len(faces))][..., None].astype("float32")
    try:
        for k, start in enumerate(range(0, len(x) - batch_size + 1, batch_size)):  # full batches only
            for layer in norms:
                layer.momentum = k / (k + 1)  # moving = running mean of the batch statistics
            model(x[start : start + batch_size], training=True)
    finally:
        for layer, momentum in zip(norms, momenta):
            layer.momentum = momentum


def _started_from(init: str | None) -> dict[str, str]:
    """``{"init": ...}`` naming the weights a GPU run started from (none: from scratch)."""
    if not init:
        return {}
    if ".gpu/init" in init:  # gpu/prepare.sh puts the served models there
        return {"init": f"{init}: the served model before, recovered by gpu/student_from_tflite.py"}
    return {"init": init}


def write_gpu_run_record(record: dict, out: Path, trained_by: str, **settings_too: Any) -> None:
    """A GPU run's record (``gpu/train_torch.py``: a teacher's ``record.json`` or a student file's ``record``) as the
    run files the Model page reads: ``settings.json`` (data, recipe, device) and ``history.json`` (per epoch: loss,
    learning rate and, where measured, the PublicTest accuracy the run logged: a teacher's centre crop on all of it, a
    student's mirror average on the packed subset), plus the record as ``gpu_record.json`` (a student's evaluation
    after training apart from its epochs, as ``final_evaluation``). ``settings_too`` go into ``settings.json``
    (what the import did, such as ``recalibrate_bn``)."""
    epochs = [r for r in record.get("history", []) if "epoch" in r]
    after = [r for r in record.get("history", []) if "epoch" not in r]
    record = {**record, "history": epochs, **({"final_evaluation": after} if after else {})}
    settings = {
        "data": f"{DEFAULT_DATA}/train.npz",
        "val": f"{DEFAULT_DATA}/val.npz",
        "trained_by": trained_by,
        **{
            k: record[k]
            for k in ("arch", "seed", "epochs", "train_seconds", "teachers", "device", "torch")
            if k in record
        },
        **({} if "train_seconds" in record or not epochs else {"train_seconds": epochs[-1].get("seconds")}),
        "val_logged": "all of PublicTest, the centre crop"
        if any("val_accuracy_centre" in r for r in epochs)
        else "the PublicTest faces packed with the training data (600 for the GPU runs, all 3,589 for CPU runs), "
        "mirror average",
        **_started_from(record["settings"].get("init")),
        **{
            k: v
            for k, v in record["settings"].items()
            if k not in ("data", "out", "deadline", "limit", "teachers", "init")
        },
        **settings_too,
    }
    history = []
    for r in epochs:
        row = {"epoch": r["epoch"], "loss": r["loss"], "learning_rate": r["learning_rate"]}
        logged = r.get("val_accuracy_centre", r.get("val_accuracy_flip"))
        history.append({**row, "val_accuracy": logged} if logged is not None else row)
    (out / "settings.json").write_text(json.dumps(settings, indent=1))
    (out / "history.json").write_text(json.dumps(history, indent=1))
    (out / "gpu_record.json").write_text(json.dumps(record, indent=1))


def finish_run(out_dir: Path, train_faces: LabelledFaces, val_faces: LabelledFaces, settings: TrainSettings) -> dict:
    """Rebuild ``out_dir/best.keras`` in float32, recompute its batch-norm statistics on the Training faces (unless
    ``settings.recalibrate_bn`` is off) into ``final.keras``, convert that for serving, evaluate the served model
    (LiteRT, as the dashboard runs it) on the validation split, write ``metrics.json``, remove the resume state."""
    import keras

    keras.mixed_precision.set_global_policy("float32")
    model = _build(settings)
    model.set_weights(keras.models.load_model(out_dir / "best.keras").get_weights())
    if settings.recalibrate_bn:
        recalibrate_batch_norm(model, train_faces.x, seed=settings.seed)
        log.info("batch-norm statistics recomputed on %d un-augmented Training faces", len(train_faces))
    model.save(out_dir / "final.keras")
    metrics = serve(
        model,
        out_dir,
        train_faces,
        val_faces,
        settings.flip_tta,
        split=f"PublicTest ({Path(val_faces.source).name}); used for checkpoint selection and early "
        "stopping, never trained on",
    )
    shutil.rmtree(out_dir / "backup", ignore_errors=True)
    log.info(
        "best checkpoint: accuracy %.4f on %s (%.4f on the %d faces with no copy in the training split)",
        metrics["accuracy"],
        val_faces.source,
        metrics["unseen_faces"]["accuracy"],
        metrics["unseen_faces"]["n"],
    )
    return metrics


def main(argv: list[str] | None = None) -> None:
    defaults = TrainSettings()
    parser = argparse.ArgumentParser(prog="python -m fer_core.train", description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="run folder (resumes if it holds a backup)")
    parser.add_argument(
        "--finish",
        action="store_true",
        help="do not train: evaluate and convert the best checkpoint of a stopped run, with the "
        "settings recorded in its settings.json",
    )
    for name, value in asdict(defaults).items():
        if name == "versions":
            continue
        flag = "--" + name.replace("_", "-")
        if isinstance(value, bool):
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=value)
        elif name == "average_of":
            parser.add_argument(flag, nargs="+", default=[], metavar="CHECKPOINT")
        elif isinstance(value, tuple):
            parser.add_argument(flag, type=int, nargs="+", default=list(value))
        else:
            parser.add_argument(flag, type=type(value), default=value)
    args = vars(parser.parse_args(argv))
    out, finish = args.pop("out"), args.pop("finish")
    args["block_widths"], args["average_of"] = tuple(args["block_widths"]), tuple(args["average_of"])
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if finish:
        recorded = json.loads((out / "settings.json").read_text())
        fields = set(TrainSettings.__dataclass_fields__)
        known: dict[str, Any] = {
            k: tuple(v) if k in ("block_widths", "average_of") else v for k, v in recorded.items() if k in fields
        }
        settings = TrainSettings(**known)
        finish_run(
            out, load_faces(settings.data, usage="Training"), load_faces(settings.val, usage="PublicTest"), settings
        )
    else:
        train(TrainSettings(**args), out)


if __name__ == "__main__":
    main()
