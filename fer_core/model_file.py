"""The shipped model's files: ``emotion.tflite`` and ``model.json`` (labels and preprocessing travel with it)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from fer_core.errors import ModelFileError
from fer_core.labels import EMOTIONS

MODEL_FILE = "emotion.tflite"
MODEL_META = "model.json"
DEFAULT_MODEL_DIR = Path(__file__).resolve().parents[1] / "models" / "emotion"
# The shipped models by name: "fast" (the default, an Xception-family network) and "accurate" (slower per face).
NAMED_MODELS = {"fast": DEFAULT_MODEL_DIR, "accurate": DEFAULT_MODEL_DIR.parent / "emotion-accurate"}


def model_folder(name_or_folder: str | Path) -> Path:
    """The folder of a shipped model by name (see :data:`NAMED_MODELS`), or the given folder."""
    return NAMED_MODELS.get(str(name_or_folder), Path(name_or_folder))


@dataclass(frozen=True)
class ModelMeta:
    """What serving needs to prepare a face exactly as in training.

    The network takes float32 (N, input_size, input_size, 1) with gray levels 0..255 (it scales them itself);
    ``labels[i]`` names output ``i``. A detector box is turned into the square crop the network was trained on by
    widening it by ``crop_margin`` of its side on each side and moving it by ``crop_shift`` sides down (negative:
    up); the crop is resized with ``resize`` (an OpenCV interpolation name). The crop defaults were measured by
    running dlib's HOG detector on upscaled FER2013 PublicTest faces: its boxes cover 79-94% of the image side
    (median 94%, mean 86%) and sit 5% of the side below the image centre.
    """

    labels: tuple[str, ...] = EMOTIONS
    input_size: int = 48
    color: str = "gray"
    value_range: tuple[float, float] = (0.0, 255.0)
    resize: str = "area"
    crop_margin: float = 0.08
    crop_shift: float = -0.06
    weights: int = 0
    name: str = ""
    test_time_augmentation: str = ""  # done inside the served graph, e.g. "horizontal flip"
    mirror_below: float = 0.0  # faces read below this top probability are read again mirrored (0: never)
    quantization: str = ""  # "int8": integer weights and activations (float32 input and output)
    temperature: float = 1.0  # served probabilities are p ** (1 / temperature), renormalised (fer_core.calibration)


def read_meta(model_dir: Path) -> ModelMeta:
    """Read ``model_dir/model.json``; raises :class:`ModelFileError` with a fix when it is missing or broken."""
    path = Path(model_dir) / MODEL_META
    try:
        raw = json.loads(path.read_text())
        meta = ModelMeta(**{**raw, "labels": tuple(raw["labels"]), "value_range": tuple(raw["value_range"])})
    except FileNotFoundError as exc:
        raise ModelFileError(
            f"{path} is missing: the emotion model folder must hold {MODEL_FILE} and {MODEL_META} "
            "(restore them with `git checkout models/` or train one with `python -m fer_core.train`)"
        ) from exc
    except (ValueError, KeyError, TypeError) as exc:
        raise ModelFileError(
            f"{path} is not valid model metadata ({exc}); restore it with `git checkout models/`"
        ) from exc
    if len(meta.labels) < 2 or meta.input_size < 8:
        raise ModelFileError(f"{path}: implausible metadata {meta}")
    below = meta.mirror_below
    if isinstance(below, bool) or not isinstance(below, (int, float)) or not 0.0 <= below <= 1.0:
        raise ModelFileError(
            f"{path}: mirror_below must be a probability from 0 (never read a face twice) to 1, not {below!r}; "
            "restore it with `git checkout models/`"
        )
    return meta


@lru_cache(maxsize=16)
def _file_digest(path: Path, modified_ns: int, size: int) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def model_identity(model_dir: str | Path) -> dict[str, str]:
    """Which weights made an analysis: the folder's name, the network's name and the first 16 hex digits of
    ``emotion.tflite``'s SHA-256 (the same weights copied elsewhere keep it; new weights under an old name do not)."""
    model_dir = Path(model_dir)
    path = model_dir / MODEL_FILE
    try:
        stat = path.stat()
        digest = _file_digest(path, stat.st_mtime_ns, stat.st_size)
    except OSError as exc:
        raise ModelFileError(f"{path} cannot be read ({exc}): restore it with `git checkout models/`") from exc
    return {"folder": model_dir.name, "name": read_meta(model_dir).name, "sha256": digest}


def model_words(identity: dict | None) -> str:
    """A recorded :func:`model_identity` in words: ``"fast model"``, ``"accurate model, an earlier version"`` (a
    shipped model's folder, other weights than today's), or the folder's name; ``""`` when not recorded."""
    if not identity:
        return ""
    for name, folder in NAMED_MODELS.items():
        if identity.get("folder") == folder.name:
            try:
                current = model_identity(folder)["sha256"] == identity.get("sha256")
            except ModelFileError:
                current = False
            return f"{name} model" + ("" if current else ", an earlier version")
    return f"model {identity.get('folder', '?')}"
