"""Every exception fer_core raises on purpose, in one place. Each message says what went wrong and what to do."""

from __future__ import annotations


class FerError(Exception):
    """Base class: anything fer_core refuses to do, with a message meant for a person."""


class DatasetError(FerError):
    """A FER2013 file or folder that cannot be read as a labelled split."""


class ModelFileError(FerError):
    """The emotion model file or its metadata is missing, unreadable or inconsistent."""


class DecodeError(FerError):
    """A file that is not a readable video or image (not a video, empty, unsupported codec)."""


class TruncatedVideoError(DecodeError):
    """A video that stopped decoding before its end. ``frames_read`` frames were decoded before the break."""

    def __init__(self, message: str, frames_read: int) -> None:
        super().__init__(message)
        self.frames_read = frames_read


class VideoPartError(FerError, ValueError):
    """A part of a video to analyse that holds no frame: empty, negative, or starting after the video's end."""


class NoFaceError(FerError):
    """An analysis that found no face in any analysed frame. ``smallest_face``: about the narrowest face (pixels)
    the detector settings could find in that video (0 if unknown)."""

    def __init__(self, message: str, smallest_face: float = 0.0) -> None:
        super().__init__(message)
        self.smallest_face = smallest_face


class OutputError(FerError):
    """Results that cannot be written: the output folder is unusable or full, or already holds results."""


class HistoryError(FerError):
    """The history database, or one of its entries, cannot be read."""
