"""The seven FER2013 emotions, in the dataset's label order (index = label)."""

EMOTIONS: tuple[str, ...] = ("Angry", "Disgust", "Fear", "Happy", "Sad", "Surprise", "Neutral")
