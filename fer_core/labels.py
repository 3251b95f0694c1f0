"""The seven FER2013 emotions, in the dataset's label order (index = label), and the reading "Uncertain"."""

import numpy as np

EMOTIONS: tuple[str, ...] = ("Angry", "Disgust", "Fear", "Happy", "Sad", "Surprise", "Neutral")

# A face whose top (calibrated) emotion probability is below this level is read as "Uncertain" in summaries,
# per-second emotions and timelines (its per-frame probabilities and top emotion stay in the records). On FER2013
# PublicTest the shipped fast model is right on about a third of such faces (docs/model.md, "Saying not sure").
UNCERTAIN = "Uncertain"
UNCERTAIN_BELOW = 0.4
# the labels of a face's share of time: the seven emotions, then Uncertain
SHARE_LABELS: tuple[str, ...] = (*EMOTIONS, UNCERTAIN)


def readings(probabilities: np.ndarray, level: float = UNCERTAIN_BELOW) -> np.ndarray:
    """Per row of (N, 7) probabilities (in :data:`EMOTIONS` order), the top emotion's name, or :data:`UNCERTAIN`
    when that probability is below ``level``: str (N,)."""
    names = np.array(SHARE_LABELS, dtype=object)
    best = probabilities.argmax(axis=1) if len(probabilities) else np.zeros(0, dtype=int)
    certain = probabilities[np.arange(len(best)), best] >= level
    return names[np.where(certain, best, len(EMOTIONS))]


def reading(probabilities, level: float = UNCERTAIN_BELOW) -> str:
    """:func:`readings` of one face's 7 ``probabilities``."""
    return str(readings(np.asarray(probabilities, dtype=np.float64).reshape(1, -1), level)[0])
