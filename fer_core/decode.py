"""Decoding of video files (PyAV, timestamps from the container) and of still images (OpenCV)."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from functools import cached_property, partial
from pathlib import Path

import cv2
import numpy as np

from fer_core.errors import DecodeError, TruncatedVideoError
from fer_core.image import to_bgr, to_gray

log = logging.getLogger(__name__)

# The largest frame analysed, in pixels (width x height): 4096 x 2304 by default, which takes every camera up to 4K.
# A tiny file can declare huge frames (8192 x 8192 H.264 took 4.3 GB to decode); those are refused before decoding.
MAX_FRAME_PIXELS_ENV = "FER_MAX_FRAME_PIXELS"
DEFAULT_MAX_FRAME_PIXELS = 4096 * 2304
# The longest step (seconds) between consecutive frames' timestamps taken as it is (variable-frame-rate
# recordings can pause for seconds); longer ones are jumps.
MAX_TIME_STEP_S = 5.0


def max_frame_pixels() -> int:
    """The frame-size budget: ``$FER_MAX_FRAME_PIXELS`` or :data:`DEFAULT_MAX_FRAME_PIXELS`."""
    try:
        return int(os.environ.get(MAX_FRAME_PIXELS_ENV) or DEFAULT_MAX_FRAME_PIXELS)
    except ValueError:
        raise DecodeError(
            f"${MAX_FRAME_PIXELS_ENV} must be a whole number of pixels, got {os.environ[MAX_FRAME_PIXELS_ENV]!r}"
        ) from None


# Demuxers that read one still image: a photo renamed .mp4 opens with these, and is not a video.
_IMAGE_FORMATS = (
    "image2",
    "png_pipe",
    "jpeg_pipe",
    "bmp_pipe",
    "webp_pipe",
    "tiff_pipe",
    "gif_pipe",
    "pgm_pipe",
    "ppm_pipe",
    "svg_pipe",
    "jpegls_pipe",
    "qoi_pipe",
)


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


@dataclass(frozen=True, eq=False)
class Frame:
    """A decoded frame: ``index`` counts from 0 in decode order; ``time_s`` is its presentation time from the
    container, relative to the first frame; ``gray`` uint8 (H, W), the picture's luma (see :func:`luma`);
    ``image`` BGR uint8 (H, W, 3), made by ``make_image`` on first use unless decoded with it; both already rotated
    upright. ``retimed``: the container's time went backwards or jumped here, so ``time_s`` continues from the
    previous frame by one frame interval instead (see :func:`iter_frames`)."""

    index: int
    time_s: float
    gray: np.ndarray
    make_image: Callable[[], np.ndarray] = field(repr=False)
    retimed: bool = False

    @cached_property
    def image(self) -> np.ndarray:
        return self.make_image()


def _open(path: Path):
    import av

    if not path.is_file():
        raise DecodeError(f"{path.name}: no such file")
    if path.stat().st_size == 0:
        raise DecodeError(f"{path.name}: the file is empty")
    try:
        container = av.open(str(path), metadata_errors="ignore")
    except av.FFmpegError as exc:
        raise DecodeError(
            f"{path.name}: not a readable video (it may be truncated, or not a video at all): "
            f"{exc.strerror if hasattr(exc, 'strerror') else exc}"
        ) from exc
    if container.format.name in _IMAGE_FORMATS or not container.streams.video:
        holds = "a still image" if container.streams.video else "no video stream"
        container.close()
        raise DecodeError(f"{path.name}: not a video (the file holds {holds})")
    stream = _main_video_stream(container)
    if stream is None:
        container.close()
        raise DecodeError(f"{path.name}: not a video (its only picture is a cover image)")
    if stream.codec_context is None:
        container.close()
        raise DecodeError(f"{path.name}: the video codec is not supported by this FFmpeg build")
    try:
        _check_size(path, "its frames are", stream.codec_context.width, stream.codec_context.height)
    except DecodeError:
        container.close()
        raise
    return container, stream


def _check_size(path: Path, what: str, width: int, height: int) -> None:
    """Raise :class:`DecodeError` when a ``width`` x ``height`` picture is over the budget (:func:`max_frame_pixels`)."""
    budget = max_frame_pixels()
    if width * height > budget:
        raise DecodeError(
            f"{path.name}: {what} {width}x{height} pixels, larger than this server analyses "
            f"({budget:,} pixels a frame, ${MAX_FRAME_PIXELS_ENV}); scale it down first"
        )


def _main_video_stream(container):
    """The video stream to analyse: the longest one that is not a cover picture (a file can start with an album
    cover, or hold a second camera); None when every video stream is a picture."""
    import av

    def length(stream) -> float:
        """Seconds: from the stream header, else Matroska's DURATION tag (HH:MM:SS.fraction), else frames / 25."""
        if stream.duration is not None and stream.time_base is not None:
            return float(stream.duration * stream.time_base)
        tag = (stream.metadata or {}).get("DURATION", "")
        try:
            hours, minutes, seconds = tag.split(":")
            return int(hours) * 3600 + int(minutes) * 60 + float(seconds)
        except ValueError:
            return float(stream.frames or 0) / 25

    moving = [s for s in container.streams.video if not s.disposition & av.stream.Disposition.attached_pic]
    return max(moving, key=length, default=None)


def probe_video(path: str | Path) -> VideoInfo:
    """Read a video's header; raises :class:`DecodeError` for a file that is not a readable video."""
    path = Path(path)
    container, stream = _open(path)
    with container:
        fps = float(stream.average_rate or stream.guessed_rate or 0.0)
        duration = _stated_duration(container, stream)
        frames = _expected_frames(container, stream)
        if not frames or not duration:  # e.g. a browser's recording (MediaRecorder WebM): no length in its header
            frames, duration = _count_frames(path, stream.index)
        width, height = stream.codec_context.width, stream.codec_context.height
        rotation = 0
        try:
            frame = next(container.decode(stream))
            rotation = _upright_turns(frame) * 90
            if rotation in (90, 270):
                width, height = height, width
        except (StopIteration, ValueError, OSError) as exc:
            raise DecodeError(
                f"{path.name}: the video has no decodable frame ({str(exc) or type(exc).__name__}); "
                "it may be damaged or truncated"
            ) from exc
        return VideoInfo(str(path), width, height, fps, duration, frames, rotation, stream.codec_context.name)


def _stated_duration(container, stream) -> float:
    """The length (seconds) the header states for ``stream``, else for the whole ``container``; 0.0 if neither."""
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    return container.duration / 1_000_000 if container.duration is not None else 0.0


def stated_length(file) -> float | None:
    """The length (seconds) a video's header states, read from an open binary file (e.g. an upload) without
    decoding, which is left at its start; None when the header states none (a browser's MediaRecorder WebM) or the
    file is not a readable video (the analysis says why)."""
    import av

    try:
        with av.open(file, metadata_errors="ignore") as container:
            stream = _main_video_stream(container)
            return (_stated_duration(container, stream) if stream is not None else 0.0) or None
    except (av.FFmpegError, ValueError, OSError):
        return None
    finally:
        file.seek(0)


def _upright_turns(frame) -> int:
    """Quarter turns clockwise that make ``frame`` upright. PyAV's ``frame.rotation`` is the display matrix's
    angle, counter-clockwise (a phone's portrait video, tagged "rotate 90", reports -90)."""
    rotation = -int(round(getattr(frame, "rotation", 0) or 0)) % 360
    return (rotation // 90) % 4


def _upright(image: np.ndarray, turns: int) -> np.ndarray:
    return np.ascontiguousarray(np.rot90(image, k=-turns)) if turns else image


def check_every(every) -> None:
    """Raise ValueError unless ``every`` (analyse every n-th frame) is a whole number, 1 or more."""
    if not isinstance(every, int) or every < 1:
        raise ValueError(f"every must be a whole number of frames, 1 or more; got {every!r}")


def iter_frames(
    path: str | Path, every: int = 1, start: int = 0, bgr: bool = True, stop: int | None = None
) -> Generator[Frame, None, None]:
    """Decode every ``every``-th frame of a video from frame index ``start`` on (the frames before are decoded for
    their timestamps but not converted) up to, not including, frame index ``stop`` (None: to the end; decoding
    ends there), in order, with container timestamps. ``bgr``: convert each frame to BGR
    here (for a caller that uses every frame's ``image``); False converts only the frames whose ``image`` is used,
    on first use (the gray picture alone is cheaper to get). Where they go backwards,
    stand still or jump ahead by more than :data:`MAX_TIME_STEP_S` (two recordings joined, a broken remux), the
    time continues from the previous frame by one frame interval and the frame is marked ``retimed``.

    Raises :class:`DecodeError` when the file cannot be opened, and :class:`TruncatedVideoError` (after yielding
    every frame that could be read) when decoding breaks off before the end of the file.
    """
    import av
    from av.video.reformatter import VideoReformatter

    check_every(every)
    path = Path(path)
    container, stream = _open(path)
    to_bgr = VideoReformatter()  # one for the whole video: it keeps its conversion context (frame.to_ndarray does not)
    stream.thread_type = "AUTO"
    expected = _expected_frames(container, stream)
    step = 1.0 / float(stream.average_rate or stream.guessed_rate or 30)
    offset = None  # container time minus our time: re-based after every backward step or jump
    previous = 0.0
    retimed = False
    index = -1
    with container:
        try:
            for frame in container.decode(stream):
                index += 1
                if stop is not None and index >= stop:
                    return  # the end of the part asked for: not a truncated file
                if frame.pts is not None and frame.time_base is not None:
                    t = float(frame.pts * frame.time_base)
                else:
                    t = index * step
                if offset is None:
                    offset = t
                elif not 0.0 < t - offset - previous <= max(MAX_TIME_STEP_S, 4 * step):
                    offset = t - (previous + step)  # joined recordings, a remux gone wrong: continue by one frame
                    retimed = True  # reported with the next frame yielded
                previous = t - offset
                if index < start or index % every:
                    continue
                turns = _upright_turns(frame)
                gray = luma(frame)
                if bgr or gray is None:
                    image = _upright(to_bgr.reformat(frame, format="bgr24").to_ndarray(), turns)
                    gray = to_gray(image) if gray is None else _upright(gray, turns)
                    yield Frame(index, previous, gray, partial(np.asarray, image), retimed)  # the image itself
                else:
                    yield Frame(index, previous, _upright(gray, turns), partial(_bgr, frame, turns), retimed)
                retimed = False
        except (av.FFmpegError, ValueError) as exc:
            raise TruncatedVideoError(
                f"{path.name}: decoding stopped after {index + 1} frames; the file is truncated or damaged ({exc})",
                frames_read=index + 1,
            ) from exc
    if index < 0:
        raise DecodeError(f"{path.name}: the video holds no decodable frame (truncated, or an unsupported codec)")
    if expected and index + 1 < expected - max(2, 0.02 * expected):
        raise TruncatedVideoError(
            f"{path.name}: the file ended after {index + 1} of its {expected} frames; it is "
            "probably truncated (an interrupted download or copy)",
            frames_read=index + 1,
        )


# Limited-range ("TV", 16-235) luma to full range (0-255), as the BGR conversion stretches it.
_LIMITED_TO_FULL = np.clip(np.round((np.arange(256) - 16) * 255 / 219), 0, 255).astype(np.uint8)
# 8-bit pixel formats whose first plane is the luma, one byte a pixel.
_LUMA_FORMATS = frozenset(
    ("yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p", "yuv440p", "yuvj440p", "nv12", "nv21", "gray")
)


def luma(frame) -> np.ndarray | None:
    """A decoded PyAV video frame's gray picture: its luma plane, full range, uint8 (H, W), not yet rotated; None
    for a pixel format without an 8-bit luma plane (RGB, 10-bit). What BGR's gray conversion would give up to the
    colour conversion's rounding and clipping (a few levels), without converting the colours."""
    if frame.format.name not in _LUMA_FORMATS:
        return None
    plane = frame.planes[0]
    y = np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)[:, : frame.width]
    full = frame.format.name.startswith("yuvj") or frame.format.name == "gray" or frame.color_range == 2  # JPEG
    return y.copy() if full else cv2.LUT(y, _LIMITED_TO_FULL)


def _bgr(frame, turns: int) -> np.ndarray:
    return _upright(frame.to_ndarray(format="bgr24"), turns)


def _count_frames(path: Path, stream_index: int) -> tuple[int, float]:
    """(frames, seconds) of video stream ``stream_index`` from its packets, read without decoding (a WebM of an
    hour reads in about a second): for files whose header gives no length. Seconds span the first to the last
    timestamp plus one mean frame interval; (0, 0.0) when the packets carry no timestamps."""
    import av

    count, first, last = 0, None, None
    with av.open(str(path), metadata_errors="ignore") as container:
        stream = container.streams[stream_index]
        try:
            for packet in container.demux(stream):
                if packet.size == 0:
                    continue  # the demuxer's flush packet
                count += 1
                if packet.pts is not None:
                    first = packet.pts if first is None else min(first, packet.pts)
                    last = packet.pts if last is None else max(last, packet.pts)
        except av.FFmpegError:
            pass  # a truncated file: what was read counts (decoding will report the break)
        if first is None or last is None or count < 2 or stream.time_base is None:
            return count, 0.0
        span = float((last - first) * stream.time_base)
        return count, span + span / (count - 1)


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
    size = _declared_image_size(path)
    if size is not None:
        _check_size(path, "the image is", *size)
    data = np.fromfile(path, dtype=np.uint8)
    image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
    if image is None:
        raise DecodeError(f"{path.name}: not a readable image")
    return to_bgr(image)


def _declared_image_size(path: Path) -> tuple[int, int] | None:
    """(width, height) from an image file's header, without decoding it; None when FFmpeg cannot say."""
    import av

    try:
        with av.open(str(path)) as container:
            if container.streams.video:
                context = container.streams.video[0].codec_context
                return context.width, context.height
    except (av.FFmpegError, ValueError, OSError):
        pass
    return None
