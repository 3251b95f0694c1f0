"""Decoding of video files (PyAV, timestamps from the container) and of still images (OpenCV)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from fer_core.errors import DecodeError, TruncatedVideoError
from fer_core.image import to_bgr

log = logging.getLogger(__name__)

# Demuxers that read one still image: a photo renamed .mp4 opens with these, and is not a video.
_IMAGE_FORMATS = ("image2", "png_pipe", "jpeg_pipe", "bmp_pipe", "webp_pipe", "tiff_pipe", "gif_pipe", "pgm_pipe",
                  "ppm_pipe", "svg_pipe", "jpegls_pipe", "qoi_pipe")


@dataclass(frozen=True)
class VideoInfo:
    """What the container says: size after rotation (pixels), frames per second (average), duration (seconds),
    frame count (from the container, else estimated; 0 if unknown), rotation (degrees applied on decode)."""

    path: str
    width: int
    height: int
    fps: float
    duration_s: float
    frame_count: int
    rotation: int
    codec: str


@dataclass(frozen=True)
class Frame:
    """A decoded frame: ``index`` counts from 0 in decode order; ``time_s`` is its presentation time from the
    container, relative to the first frame; ``image`` BGR uint8 (H, W, 3), already rotated upright."""

    index: int
    time_s: float
    image: np.ndarray


def _open(path: Path):
    import av

    if not path.is_file():
        raise DecodeError(f"{path.name}: no such file")
    if path.stat().st_size == 0:
        raise DecodeError(f"{path.name}: the file is empty")
    try:
        container = av.open(str(path), metadata_errors="ignore")
    except av.FFmpegError as exc:
        raise DecodeError(f"{path.name}: not a readable video (it may be truncated, or not a video at all): "
                          f"{exc.strerror if hasattr(exc, 'strerror') else exc}") from exc
    if container.format.name in _IMAGE_FORMATS or not container.streams.video:
        holds = "a still image" if container.streams.video else "no video stream"
        container.close()
        raise DecodeError(f"{path.name}: not a video (the file holds {holds})")
    stream = container.streams.video[0]
    if stream.codec_context is None:
        container.close()
        raise DecodeError(f"{path.name}: the video codec is not supported by this FFmpeg build")
    return container, stream


def probe_video(path: str | Path) -> VideoInfo:
    """Read a video's header; raises :class:`DecodeError` for a file that is not a readable video."""
    path = Path(path)
    container, stream = _open(path)
    with container:
        fps = float(stream.average_rate or stream.guessed_rate or 0.0)
        if stream.duration is not None and stream.time_base is not None:
            duration = float(stream.duration * stream.time_base)
        elif container.duration is not None:
            duration = container.duration / 1_000_000
        else:
            duration = 0.0
        frames = _expected_frames(container, stream)
        width, height = stream.codec_context.width, stream.codec_context.height
        rotation = 0
        try:
            frame = next(container.decode(stream))
            rotation = _upright_turns(frame) * 90
            if rotation in (90, 270):
                width, height = height, width
        except (StopIteration, ValueError, OSError) as exc:
            raise DecodeError(f"{path.name}: the video has no decodable frame ({str(exc) or type(exc).__name__}); "
                              "it may be damaged or truncated") from exc
        return VideoInfo(str(path), width, height, fps, duration, frames, rotation, stream.codec_context.name)


def _upright_turns(frame) -> int:
    """Quarter turns clockwise that make ``frame`` upright. PyAV's ``frame.rotation`` is the display matrix's
    angle, counter-clockwise (a phone's portrait video, tagged "rotate 90", reports -90)."""
    rotation = -int(round(getattr(frame, "rotation", 0) or 0)) % 360
    return (rotation // 90) % 4


def _upright(image: np.ndarray, turns: int) -> np.ndarray:
    return np.ascontiguousarray(np.rot90(image, k=-turns)) if turns else image


def iter_frames(path: str | Path, every: int = 1) -> Iterator[Frame]:
    """Decode every ``every``-th frame of a video, in order, with container timestamps.

    Raises :class:`DecodeError` when the file cannot be opened, and :class:`TruncatedVideoError` (after yielding
    every frame that could be read) when decoding breaks off before the end of the file.
    """
    import av

    if every < 1:
        raise ValueError(f"every must be >= 1, got {every}")
    path = Path(path)
    container, stream = _open(path)
    stream.thread_type = "AUTO"
    expected = _expected_frames(container, stream)
    start = None
    index = -1
    with container:
        try:
            for frame in container.decode(stream):
                index += 1
                if frame.pts is not None and frame.time_base is not None:
                    t = float(frame.pts * frame.time_base)
                else:
                    t = index / float(stream.average_rate or 30)
                start = t if start is None else start
                if index % every:
                    continue
                image = _upright(frame.to_ndarray(format="bgr24"), _upright_turns(frame))
                yield Frame(index, t - start, image)
        except (av.FFmpegError, ValueError) as exc:
            raise TruncatedVideoError(f"{path.name}: decoding stopped after {index + 1} frames; the file is "
                                      f"truncated or damaged ({exc})", frames_read=index + 1) from exc
    if index < 0:
        raise DecodeError(f"{path.name}: the video holds no decodable frame (truncated, or an unsupported codec)")
    if expected and index + 1 < expected - max(2, 0.02 * expected):
        raise TruncatedVideoError(f"{path.name}: the file ended after {index + 1} of its {expected} frames; it is "
                                  "probably truncated (an interrupted download or copy)", frames_read=index + 1)


def _expected_frames(container, stream) -> int:
    """Frames the container announces, or its duration times the frame rate (0 if it says neither)."""
    if stream.frames:
        return int(stream.frames)
    if not stream.average_rate:
        return 0
    if stream.duration is not None and stream.time_base is not None:
        return int(round(float(stream.duration * stream.time_base * stream.average_rate)))
    if container.duration:
        return int(round(container.duration / 1_000_000 * float(stream.average_rate)))
    return 0


def read_image(path: str | Path) -> np.ndarray:
    """A still image as BGR uint8 (H, W, 3); gray and alpha images are converted. Raises :class:`DecodeError`."""
    path = Path(path)
    if not path.is_file():
        raise DecodeError(f"{path.name}: no such file")
    data = np.fromfile(path, dtype=np.uint8)
    image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
    if image is None:
        raise DecodeError(f"{path.name}: not a readable image")
    return to_bgr(image)
