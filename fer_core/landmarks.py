"""dlib's 68-point facial landmarks (iBUG 300-W layout), from the ``face-recognition-models`` package."""

from __future__ import annotations

import ctypes
import importlib.util
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fer_core.errors import ModelFileError
from fer_core.geometry import rotation

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

# The box the emotion classifier crops, from the 68 points alone: its centre moved from the points' mean by (dx, dy)
# and its side, in units of the points' root-mean-square distance from that mean. dx fitted to dlib HOG's boxes on the
# shared videos; dy and the side chosen on FER2013 Training faces (bench/RESULTS.md, session 16).
CROP_BOX = (0.018, -0.15, 2.65)

# Degrees of head roll that the classifier's crop keeps as it is: FER2013's own faces lean too (median 4, p90 15 degrees
# on PublicTest), and a face leaning more is turned back to this much (bench/RESULTS.md, sessions 19 and 21).
ROLL_KEPT = 4.0

# madvise(2): collapse a range's pages into 2 MB transparent huge pages now (Linux 6.1 and later).
MADV_COLLAPSE = 25
HUGE_PAGE = 2 << 20


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

    def roll_degrees(self) -> float:
        """The head's roll in degrees: the angle of the line from the right eye's centre to the left eye's (image
        left to right), positive when that line goes down the image (the face turned clockwise on screen)."""
        dx, dy = self.left_eye.mean(axis=0) - self.right_eye.mean(axis=0)
        return float(np.degrees(np.arctan2(dy, dx)))

    def crop_angle(self, kept: float = ROLL_KEPT) -> float:
        """Degrees by which the classifier's crop is turned (see :func:`fer_core.classifier.prepare_faces`): the
        roll beyond ``kept`` degrees either way (:data:`ROLL_KEPT` as served), 0 for a face nearer upright."""
        roll = self.roll_degrees()
        return float(np.sign(roll) * max(abs(roll) - kept, 0.0))

    def crop_box(self, angle: float = 0.0) -> np.ndarray:
        """The square (4,) float x1, y1, x2, y2 (pixels) that the emotion classifier crops, in the detector's box
        convention (:data:`CROP_BOX`): it follows the face from frame to frame without the detector box's jumps.
        ``angle`` (degrees): the square's offset from the points' mean turned with it, for a crop turned by ``angle``
        about the square's centre (:meth:`crop_angle`)."""
        dx, dy, side = CROP_BOX
        centre = self.points.mean(axis=0)
        radius = float(np.sqrt(((self.points - centre) ** 2).sum(axis=1).mean()))
        offset = np.array([dx * radius, dy * radius])
        if angle:
            offset = rotation(angle) @ offset
        cx, cy, half = centre[0] + offset[0], centre[1] + offset[1], side * radius / 2
        return np.array([cx - half, cy - half, cx + half, cy + half])


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
            with _on_huge_pages():
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


@contextmanager
def _on_huge_pages() -> Iterator[None]:
    """Back the memory that the block allocates with 2 MB pages, best effort (Linux 6.1 or later with transparent
    huge pages; elsewhere nothing changes). A landmark fit reads about 4 MB of the predictor's trees, scattered:
    with 4 kB pages most of those reads also miss the TLB (bench/RESULTS.md, session 10)."""
    if sys.platform != "linux":
        yield
        return
    before = _anonymous_writable()
    yield
    libc = ctypes.CDLL(None, use_errno=True)
    libc.madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    for start, end in _anonymous_writable() - before:  # new or grown since: the heap, or a thread's arena
        start, end = -(-start // HUGE_PAGE) * HUGE_PAGE, end // HUGE_PAGE * HUGE_PAGE
        if end > start:
            libc.madvise(start, end - start, MADV_COLLAPSE)  # an error (an older kernel, THP off) changes nothing


def _anonymous_writable() -> set[tuple[int, int]]:
    """(start, end) addresses of this process's writable anonymous mappings and heap, from /proc/self/maps."""
    ranges = set()
    try:
        with open("/proc/self/maps") as maps:
            for line in maps:
                fields = line.split()
                if fields[1].startswith("rw") and (len(fields) == 5 or fields[5] == "[heap]"):
                    start, end = (int(v, 16) for v in fields[0].split("-"))
                    ranges.add((start, end))
    except OSError:
        return set()
    return ranges
