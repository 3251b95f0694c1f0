"""The seven FER2013 emotions, in the dataset's label order (index = label), and the reading "Uncertain"."""

EMOTIONS: tuple[str, ...] = ("Angry", "Disgust", "Fear", "Happy", "Sad", "Surprise", "Neutral")

# A face whose top (calibrated) emotion probability is below this level is read as "Uncertain" in summaries,
# per-second emotions and timelines (its per-frame probabilities and top emotion stay in the records). On FER2013
# PublicTest the shipped fast model is right on about a third of such faces (docs/model.md, "Saying not sure").
UNCERTAIN = "Uncertain"
UNCERTAIN_BELOW = 0.4
# the labels of a face's share of time: the seven emotions, then Uncertain
SHARE_LABELS: tuple[str, ...] = (*EMOTIONS, UNCERTAIN)


def reading(probabilities, level: float = UNCERTAIN_BELOW) -> str:
    """The emotion with the highest of 7 ``probabilities`` (in :data:`EMOTIONS` order), or :data:`UNCERTAIN` when
    that probability is below ``level``."""
    best = max(range(len(EMOTIONS)), key=lambda i: probabilities[i])
    return EMOTIONS[best] if probabilities[best] >= level else UNCERTAIN
