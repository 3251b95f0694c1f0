"""dlib's 68-point facial landmarks (iBUG 300-W layout), from the ``face-recognition-models`` package."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fer_core.errors import ModelFileError

# Index ranges of the 68-point layout. "left"/"right" are the person's own: right_eye is on the image's left.
REGIONS: dict[str, slice] = {
    "jaw": slice(0, 17),
    "right_eyebrow": slice(17, 22),
    "left_eyebrow": slice(22, 27),
    "nose": slice(27, 36),
    "right_eye": slice(36, 42),
    "left_eye": slice(42, 48),
    "mouth": slice(48, 68),
}


@dataclass(frozen=True)
class FaceLandmarks:
    """68 points, float (68, 2) as (x, y) pixels of the full frame."""

    points: np.ndarray

    def region(self, name: str) -> np.ndarray:
        """Points of one named region (see :data:`REGIONS`), (k, 2)."""
        return self.points[REGIONS[name]]

    @property
    def left_eye(self) -> np.ndarray:
        return self.region("left_eye")

    @property
    def right_eye(self) -> np.ndarray:
        return self.region("right_eye")

    @property
    def mouth(self) -> np.ndarray:
        return self.region("mouth")

    def regions(self) -> dict[str, np.ndarray]:
        return {name: self.points[s] for name, s in REGIONS.items()}


def default_predictor_path() -> Path:
    """Where ``face-recognition-models`` keeps ``shape_predictor_68_face_landmarks.dat`` (its helper module
    imports ``pkg_resources``, gone from recent setuptools, so the file is found without importing it)."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise ModelFileError(
            "the package face-recognition-models is not installed; it ships dlib's 68-point "
            "landmark model (pip install -r requirements.txt)"
        )
    return Path(spec.submodule_search_locations[0]) / "models" / "shape_predictor_68_face_landmarks.dat"


class LandmarkPredictor:
    """``predict(gray, boxes)``: uint8 (H, W) image and int (N, 4) boxes -> list of N :class:`FaceLandmarks`."""

    def __init__(self, path: str | Path | None = None) -> None:
        import dlib

        path = Path(path) if path else default_predictor_path()
        if not path.is_file():
            raise ModelFileError(f"landmark model {path} is missing; reinstall face-recognition-models")
        try:
            self._predictor = dlib.shape_predictor(str(path))
        except RuntimeError as exc:
            raise ModelFileError(
                f"landmark model {path} is unreadable ({exc}); reinstall face-recognition-models"
            ) from exc

    def predict(self, gray: np.ndarray, boxes: np.ndarray) -> list[FaceLandmarks]:
        import dlib

        result = []
        for x1, y1, x2, y2 in np.asarray(boxes).reshape(-1, 4):
            shape = self._predictor(gray, dlib.rectangle(int(x1), int(y1), int(x2) - 1, int(y2) - 1))
            points = np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float64)
            result.append(FaceLandmarks(points))
        return result
