"""The models a :class:`~fer_core.pipeline.FramePipeline` uses, as declared interfaces, and their thread-safe
wrappers for a server where many sessions share one loaded copy.

- :class:`Classifier`: 7 emotion probabilities per face (:class:`fer_core.classifier.EmotionClassifier`)
- :class:`LandmarkModel`: dlib's 68 points per face (:class:`fer_core.landmarks.LandmarkPredictor`)
- :class:`Describer`: aligned chips and 128-number descriptors (:class:`fer_core.identity.FaceDescriber`)

:class:`Models` holds one of each, loaded once (:meth:`Models.load`); :meth:`Models.shared` wraps them so that
several threads can call them: each model's calls are serialised by its own lock.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from fer_core.landmarks import FaceLandmarks
from fer_core.model_file import DEFAULT_MODEL_DIR, ModelMeta


class Classifier(Protocol):
    """Emotion probabilities; columns in the order of ``labels``."""

    @property
    def labels(self) -> tuple[str, ...]: ...

    @property
    def meta(self) -> ModelMeta: ...

    def classify(self, gray: np.ndarray, boxes: np.ndarray, angles: np.ndarray | None = None) -> np.ndarray:
        """(N, 7) float32 for boxes (N, 4) x1, y1, x2, y2 in a uint8 (H, W) image, each turned by its angle (N,)
        in degrees (clockwise on screen) about its centre when given."""
        ...

    def predict(self, faces: np.ndarray) -> np.ndarray:
        """(N, 7) float32 for prepared faces (N, size, size, 1)."""
        ...


class LandmarkModel(Protocol):
    def predict(self, gray: np.ndarray, boxes: np.ndarray) -> list[FaceLandmarks]:
        """68 points per box (N, 4) in a uint8 (H, W) image, in box order."""
        ...


class Describer(Protocol):
    def chip(self, image: np.ndarray, box: np.ndarray, landmarks: FaceLandmarks) -> np.ndarray:
        """The face aligned, uint8 (150, 150, 3) RGB."""
        ...

    def describe(self, chip: np.ndarray) -> np.ndarray:
        """float32 (128,); the same person nearer than :data:`fer_core.identity.SAME_PERSON`."""
        ...


class SharedClassifier:
    """A :class:`Classifier` for several threads: one LiteRT interpreter must not run two calls at once."""

    def __init__(self, inner: Classifier) -> None:
        self.inner = inner
        self._lock = threading.Lock()

    @property
    def labels(self) -> tuple[str, ...]:
        return self.inner.labels

    @property
    def meta(self) -> ModelMeta:
        return self.inner.meta

    def classify(self, gray: np.ndarray, boxes: np.ndarray, angles: np.ndarray | None = None) -> np.ndarray:
        with self._lock:
            return self.inner.classify(gray, boxes, angles)

    def predict(self, faces: np.ndarray) -> np.ndarray:
        with self._lock:
            return self.inner.predict(faces)


class SharedLandmarks:
    """A :class:`LandmarkModel` (about 100 MB) for several threads instead of one copy each."""

    def __init__(self, inner: LandmarkModel) -> None:
        self.inner = inner
        self._lock = threading.Lock()

    def predict(self, gray: np.ndarray, boxes: np.ndarray) -> list[FaceLandmarks]:
        with self._lock:
            return self.inner.predict(gray, boxes)


class SharedDescriber:
    """A :class:`Describer` for several threads. Only :meth:`describe` (the network, about 75 ms) takes the lock:
    cutting out a chip is a pure function of its inputs, so it never waits behind another session's descriptor."""

    def __init__(self, inner: Describer) -> None:
        self.inner = inner
        self._lock = threading.Lock()

    def chip(self, image: np.ndarray, box: np.ndarray, landmarks: FaceLandmarks) -> np.ndarray:
        return self.inner.chip(image, box, landmarks)

    def describe(self, chip: np.ndarray) -> np.ndarray:
        with self._lock:
            return self.inner.describe(chip)


@dataclass(frozen=True)
class Models:
    """One of each model; ``describer`` is None when faces are not recognised on return."""

    classifier: Classifier
    landmarks: LandmarkModel
    describer: Describer | None = None

    @classmethod
    def load(cls, model_dir: str | Path = DEFAULT_MODEL_DIR, describe: bool = True) -> Models:
        """Load the emotion model in ``model_dir``, the landmark model and (``describe``) the face describer;
        raises :class:`~fer_core.errors.ModelFileError` naming a missing or unreadable file."""
        from fer_core.classifier import EmotionClassifier
        from fer_core.identity import FaceDescriber
        from fer_core.landmarks import LandmarkPredictor

        return cls(EmotionClassifier(model_dir), LandmarkPredictor(), FaceDescriber() if describe else None)

    def shared(self) -> Models:
        """The same models wrapped for calls from several threads at once."""
        return Models(
            SharedClassifier(self.classifier),
            SharedLandmarks(self.landmarks),
            SharedDescriber(self.describer) if self.describer is not None else None,
        )
