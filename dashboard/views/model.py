"""Model page: the shipped model's run record (training curves, confusion matrix, per-class scores) and a short
model card, read from ``models/emotion``; the serving time per face is measured here, on this machine."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

from dashboard import charts
from dashboard.common import load_classifier, model_dir, model_stamp
from fer_core.errors import ModelFileError
from fer_core.labels import UNCERTAIN_BELOW

log = logging.getLogger(__name__)

RUN_FILES = ("model.json", "settings.json", "history.json", "metrics.json")


def read_run_record(folder: Path) -> tuple[dict, dict[str, str]]:
    """The JSON files of the model folder by name, and a problem message per file that is missing or broken."""
    record, problems = {}, {}
    for name in RUN_FILES:
        path = folder / name
        try:
            record[name] = json.loads(path.read_text())
        except FileNotFoundError:
            problems[name] = f"{path} is missing"
        except (OSError, ValueError) as exc:
            problems[name] = f"{path} cannot be read ({exc})"
    return record, problems


def measure_serving_ms(classifier, batch: int, repeats: int = 30, rounds: int = 3) -> float:
    """Milliseconds per face of one batched LiteRT call on ``batch`` random faces (gray levels 0..255): the lowest of
    ``rounds`` medians of ``repeats`` calls, so that a moment of load from elsewhere (another session, the browser
    on the same machine) does not stand for the model's time."""
    size = classifier.meta.input_size
    faces = np.random.default_rng(0).uniform(0, 255, (batch, size, size, 1)).astype(np.float32)
    classifier.predict(faces)  # warm-up (allocates tensors for this batch size)
    medians = []
    for _ in range(rounds):
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            classifier.predict(faces)
            times.append(time.perf_counter() - start)
        medians.append(float(np.median(times)))
    return 1000.0 * min(medians) / batch


def augmentation_words(meta: dict, metrics: dict) -> str:
    """What the model does at test time, from its ``model.json``: the mirror inside the graph, or only for faces
    read below ``mirror_below`` (with the share of the validation faces read twice, from ``metrics.json``), or
    nothing."""
    if meta.get("test_time_augmentation"):
        return f"{meta['test_time_augmentation']}: every face read twice, the two readings averaged"
    if meta.get("mirror_below"):
        share = f" ({metrics['read_twice']:.0%} of the validation faces)" if "read_twice" in metrics else ""
        return (
            f"horizontal flip where unsure: a face whose top probability is below {meta['mirror_below']:.0%} (before "
            f"calibration) is read again mirrored{share} and the two readings averaged"
        )
    return "none: each face read once"


def model_card_ui(record: dict, folder: Path) -> None:
    meta, settings = record.get("model.json", {}), record.get("settings.json", {})
    metrics, history = record.get("metrics.json", {}), record.get("history.json", [])
    split = metrics.get("split", "not recorded")
    rows = [
        ("Network", meta.get("name") or "not recorded"),
        ("Weights", f"{meta['weights']:,}" if meta.get("weights") else "not recorded"),
        (
            "Input",
            f"{meta.get('input_size', '?')}x{meta.get('input_size', '?')} {meta.get('color', 'gray')}, "
            f"gray levels {meta.get('value_range', '?')}",
        ),
        ("Classes", ", ".join(meta.get("labels", []))),
        ("Training data", f"{settings.get('data', 'not recorded')} (FER2013 Training split)"),
        ("Validation data", f"{settings.get('val', 'not recorded')}"),
        *([("Started from", settings["init"])] if settings.get("init") else []),
        ("Epochs run", str(len(history)) if history else "not recorded"),
        *(
            [
                (
                    "Trained by",
                    f"{settings['trained_by']} on {settings.get('device', '?')}, "
                    f"{settings.get('train_seconds', '?')} s",
                )
            ]
            if settings.get("trained_by")
            else []
        ),
        *([("Distilled from", ", ".join(settings["teachers"]))] if isinstance(settings.get("teachers"), list) else []),
        ("Test-time augmentation", augmentation_words(meta, metrics)),
        *([("Quantisation", f"{meta['quantization']} weights and activations")] if meta.get("quantization") else []),
        *(
            [
                (
                    "Weights from",
                    f"the mean of {len(settings['average_of'])} checkpoints: " + ", ".join(settings["average_of"]),
                )
            ]
            if settings.get("average_of")
            else []
        ),
        *(
            [("Batch-norm statistics", "recomputed over one pass of the un-augmented Training faces")]
            if settings.get("recalibrate_bn")
            else []
        ),
        (
            "Training curves",
            (
                f"loss on the augmented Training split, per epoch; accuracy on {settings['val_logged']}, where logged"
                if settings.get("val_logged")
                else "train: the augmented Training split, per epoch; validation: the validation file above"
            )
            + (
                "; both with the batch-norm statistics of training, so the validation curve sits below the served "
                "model's accuracy"
                if settings.get("recalibrate_bn")
                else ""
            ),
        ),
        ("Confusion matrix, per-class scores", f"{split}; n = {metrics.get('n', '?')}"),
        (
            "Accuracy / macro F1",
            f"{metrics['accuracy']:.1%} / {metrics.get('macro_f1', float('nan')):.3f}"
            if "accuracy" in metrics
            else "not recorded",
        ),
        *(
            [
                (
                    "Accuracy without training copies",
                    f"{unseen['accuracy']:.1%} on the {unseen['n']} faces with no pixel-identical copy in "
                    f"{unseen['excluded_copies_of']}",
                )
            ]
            if (unseen := metrics.get("unseen_faces"))
            else []
        ),
        ("Files", str(folder)),
    ]
    st.table(pd.DataFrame(rows, columns=["", "value"]).set_index(""))


@st.cache_data(show_spinner="Measuring the serving time...", max_entries=8)
def _serving_ms(choice: str, stamp: tuple) -> tuple[float, float, str]:
    """(ms per face with 1 and with 16 faces per call, when measured) for the model files ``stamp`` describes:
    measured once per model file and server, not on every visit."""
    classifier = load_classifier(choice)
    return (
        measure_serving_ms(classifier, 1),
        measure_serving_ms(classifier, 16),
        time.strftime("%Y-%m-%d %H:%M", time.localtime()),
    )


def serving_ui(choice: str, metrics: dict) -> None:
    """The serving time measured here; for a model that reads unsure faces twice, what that adds, from its
    ``metrics.json`` (``metrics``)."""
    try:
        one, many, when = _serving_ms(choice, model_stamp(model_dir(choice)))
    except ModelFileError as exc:
        st.error(f"The emotion model cannot be loaded, so its serving time cannot be measured: {exc}")
        return
    left, right = st.columns(2)
    left.metric("Serving time per face, one face per call", f"{one:.2f} ms")
    right.metric("Serving time per face, 16 faces per call", f"{many:.2f} ms")
    twice = (
        f" The model is sure of these and reads them once; a face it is unsure of is read a second time, mirrored: "
        f"{metrics['read_twice']:.0%} of the validation faces, about {one * (1 + metrics['read_twice']):.2f} ms a "
        "face on average there."
        if "read_twice" in metrics
        else ""
    )
    st.caption(
        f"Measured on this server ({when}, once per model file) with the LiteRT interpreter (1 thread) on "
        f"random 48x48 inputs.{twice} On a video, finding and following each face (the "
        "detector, the 68 landmarks) takes several times longer than classifying it (docs/speed.md)."
    )


st.title("Model")
choice = st.radio(
    "Model",
    ["fast", "accurate"],
    horizontal=True,
    key="model_choice",
    format_func={"fast": "Fast (the default)", "accurate": "Accurate"}.get,
    help="Fast: an Xception-family network, served everywhere by default; it reads a face a second time, mirrored, "
    "only when unsure of it. Accurate: the same network reading every face also mirrored, about 1.5x the time per "
    "face, that the Recorded page and the command line (--model accurate) can use.",
)
folder = model_dir(choice)
record, problems = read_run_record(folder)
for name, problem in problems.items():
    st.warning(
        f"{problem}. The figures that need it are left out; restore the model folder with "
        "`git checkout models/` or train one with `python -m fer_core.train`."
    )
st.subheader("Model card")
model_card_ui(record, folder)
serving_ui(choice, record.get("metrics.json", {}))
teachers = folder.parent / "teachers" / "README.md"
if teachers.exists():
    with st.expander("The teachers (each model's card above names the ones it learnt from)"):
        st.markdown(teachers.read_text().split("\n", 1)[1])

history = record.get("history.json")
if history:
    st.subheader("Training")
    acc, loss, lr = st.columns(3)
    acc.plotly_chart(charts.training_curve(history, "accuracy", "Accuracy per epoch"), width="stretch")
    loss.plotly_chart(charts.training_curve(history, "loss", "Loss per epoch"), width="stretch")
    lr.plotly_chart(
        charts.training_curve(history, "learning_rate", "Learning rate per epoch", log_y=True), width="stretch"
    )

metrics = record.get("metrics.json")
if metrics:
    st.subheader("Validation")
    st.caption(f"Split: {metrics.get('split', 'not recorded')}")
    labels = metrics.get("labels", [])
    heatmap, scores = st.columns([3, 2])
    with heatmap:
        if "confusion_matrix" in metrics:
            normalise = st.toggle("Share of each true class", value=True, key="cm_normalise")
            st.plotly_chart(charts.confusion_heatmap(metrics["confusion_matrix"], labels, normalise), width="stretch")
    with scores:
        per_class = metrics.get("per_class", {})
        if per_class:
            table = pd.DataFrame(per_class).T[["precision", "recall", "f1", "support"]]
            table["support"] = table["support"].astype(int)
            st.dataframe(
                table.style.format({"precision": "{:.3f}", "recall": "{:.3f}", "f1": "{:.3f}"}), width="stretch"
            )
    calibration = metrics.get("calibration")
    if calibration:
        st.subheader("Saying not sure")
        diagram, words = st.columns([3, 2])
        diagram.plotly_chart(charts.reliability_diagram(calibration), width="stretch")
        words.markdown(
            f"The served probabilities are the network's at temperature **{calibration['temperature']:.2f}**, "
            f"fitted on the {calibration['faces']} faces of {calibration.get('split', 'a split not recorded')} "
            f"(`fer calibrate`): calibration error {calibration['before']['ece']:.1%} before, "
            f"{calibration['after']['ece']:.1%} after ({calibration['two_fold_ece_after']:.1%} when fitted on one "
            "half and measured on the other). Where the top probability is under "
            f"{UNCERTAIN_BELOW:.0%}, a face is read as *Uncertain* in shares, timelines and per-second readings."
        )
