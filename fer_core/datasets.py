"""FER2013 readers: the project's ``.npz`` files, Kaggle's ``fer2013.csv`` and an image folder per class.

Every reader returns a :class:`LabelledFaces`: ``x`` uint8 (N, 48, 48) gray levels, ``y`` int64 (N,) in 0..6,
in FER2013's label order (:data:`fer_core.labels.EMOTIONS`).
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from fer_core.errors import DatasetError
from fer_core.labels import EMOTIONS

FACE_SIZE = 48
# The team's shared data folder (FER2013 as .npz in fer2013/, test media in media/): $FER_SHARED_DATA, by default
# ../shared/data beside the checkout.
SHARED_DATA = Path(os.environ.get("FER_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".pgm", ".tif", ".tiff"}
CSV_USAGES = ("Training", "PublicTest", "PrivateTest")


@dataclass(frozen=True)
class LabelledFaces:
    """A labelled split: ``x`` uint8 (N, 48, 48), ``y`` int64 (N,), ``source`` the file or folder read;
    ``crowd`` float32 (N, 7): the FER+ crowd's vote shares in FER2013's label order where the file has them
    (rows of zeros where it does not), else None."""

    x: np.ndarray
    y: np.ndarray
    source: str
    crowd: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.x.ndim != 3 or self.x.shape[1:] != (FACE_SIZE, FACE_SIZE) or self.x.dtype != np.uint8:
            raise DatasetError(f"{self.source}: faces must be uint8 (N, 48, 48), got {self.x.dtype} {self.x.shape}")
        if self.y.shape != (len(self.x),):
            raise DatasetError(f"{self.source}: expected {len(self.x)} labels, got shape {self.y.shape}")
        if self.crowd is not None and self.crowd.shape != (len(self.x), len(EMOTIONS)):
            raise DatasetError(f"{self.source}: expected crowd votes of shape {(len(self.x), len(EMOTIONS))}")
        if len(self.y) and (self.y.min() < 0 or self.y.max() >= len(EMOTIONS)):
            raise DatasetError(f"{self.source}: labels must lie in 0..{len(EMOTIONS) - 1}")

    def __len__(self) -> int:
        return len(self.y)


def load_faces(path: str | Path, usage: str = "Training") -> LabelledFaces:
    """Read a labelled split from ``path``: an ``.npz`` (keys ``x``, ``y``), a Kaggle ``fer2013.csv`` (rows whose
    ``Usage`` equals ``usage``), or a folder holding one sub-folder per emotion (``angry/``, ``happy/``, ...)."""
    path = Path(path)
    if not path.exists():
        raise DatasetError(f"{path}: no such file or folder")
    if path.is_dir():
        return _load_image_folder(path)
    if path.suffix == ".npz":
        return _load_npz(path)
    if path.suffix == ".csv":
        return _load_csv(path, usage)
    raise DatasetError(f"{path}: expected an .npz file, a fer2013 .csv or a folder of class folders")


# FER+ vote columns (neutral, happiness, surprise, sadness, anger, disgust, fear, contempt, unknown, NF) that
# name a FER2013 class, and that class's index; contempt, unknown and not-a-face have none.
FERPLUS_TO_FER = {"neutral": 6, "happiness": 3, "surprise": 5, "sadness": 4, "anger": 0, "disgust": 1, "fear": 2}


def crowd_shares(votes: np.ndarray, classes: list[str]) -> np.ndarray:
    """FER+ votes (N, 10), -1 where missing, to vote shares (N, 7) over the FER2013 classes; rows of zeros where no
    tagger chose one of those 7 classes."""
    counts = np.zeros((len(votes), len(EMOTIONS)), dtype=np.float32)
    for column, name in enumerate(classes):
        if name in FERPLUS_TO_FER:
            counts[:, FERPLUS_TO_FER[name]] = np.maximum(votes[:, column], 0)
    total = counts.sum(axis=1, keepdims=True)
    return np.divide(counts, total, out=np.zeros_like(counts), where=total > 0)


def _load_npz(path: Path) -> LabelledFaces:
    try:
        with np.load(path, allow_pickle=False) as data:
            x, y = data["x"], data["y"]
            crowd = (
                crowd_shares(data["ferplus_votes"], [str(c) for c in data["ferplus_classes"]])
                if "ferplus_votes" in data.files
                else None
            )
    except (OSError, ValueError, KeyError) as exc:
        raise DatasetError(f"{path}: not a FER2013 .npz with arrays 'x' and 'y' ({exc})") from exc
    return LabelledFaces(np.ascontiguousarray(x, dtype=np.uint8), y.astype(np.int64), str(path), crowd)


def _load_csv(path: Path, usage: str) -> LabelledFaces:
    if usage not in CSV_USAGES:
        raise DatasetError(f"usage must be one of {CSV_USAGES}, got {usage!r}")
    faces, labels = [], []
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        missing = {"emotion", "pixels"} - set(reader.fieldnames or ())
        if missing:
            raise DatasetError(f"{path}: missing column(s) {sorted(missing)}; expected Kaggle's fer2013.csv")
        for line, row in enumerate(reader, start=2):
            if "Usage" in row and row["Usage"] != usage:
                continue
            pixels = np.array(row["pixels"].split(), dtype=np.uint8)
            if pixels.size != FACE_SIZE * FACE_SIZE:
                raise DatasetError(f"{path}:{line}: expected {FACE_SIZE * FACE_SIZE} pixels, got {pixels.size}")
            faces.append(pixels.reshape(FACE_SIZE, FACE_SIZE))
            labels.append(int(row["emotion"]))
    if not faces:
        raise DatasetError(f"{path}: no rows with Usage == {usage!r}")
    return LabelledFaces(np.stack(faces), np.array(labels, dtype=np.int64), f"{path}[{usage}]")


def _load_image_folder(path: Path) -> LabelledFaces:
    folders = {p.name.lower(): p for p in path.iterdir() if p.is_dir()}
    known = [name for name in (e.lower() for e in EMOTIONS) if name in folders]
    if not known:
        raise DatasetError(f"{path}: no class folders; expected some of {[e.lower() for e in EMOTIONS]}")
    faces, labels = [], []
    for label, emotion in enumerate(EMOTIONS):
        folder = folders.get(emotion.lower())
        if folder is None:
            continue
        for file in sorted(folder.iterdir()):
            if file.suffix.lower() not in IMAGE_SUFFIXES:
                continue
            image = cv2.imread(str(file), cv2.IMREAD_GRAYSCALE)
            if image is None:
                raise DatasetError(f"{file}: not a readable image")
            if image.shape != (FACE_SIZE, FACE_SIZE):
                image = cv2.resize(image, (FACE_SIZE, FACE_SIZE), interpolation=cv2.INTER_AREA)
            faces.append(image)
            labels.append(label)
    if not faces:
        raise DatasetError(f"{path}: the class folders hold no images")
    return LabelledFaces(np.stack(faces), np.array(labels, dtype=np.int64), str(path))
