"""Writers for analysis results. Each writes exactly the path it is given."""

from __future__ import annotations

import json
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pandas as pd

from fer_core.labels import EMOTIONS, SHARE_LABELS
from fer_core.records import TABLE_COLUMNS, FaceRecord, FaceSummary
from fer_core.timeline import with_readings


def records_table(records: list[FaceRecord]) -> pd.DataFrame:
    """One row per record, columns :data:`TABLE_COLUMNS` (an empty table keeps the columns)."""
    return pd.DataFrame([r.as_row() for r in records], columns=list(TABLE_COLUMNS))


def export_table(records: list[FaceRecord]) -> pd.DataFrame:
    """The table users download: :func:`records_table` then the readings over time ``emotion_smoothed`` and
    ``emotion_of_second`` (:func:`fer_core.timeline.with_readings`)."""
    return with_readings(records_table(records))


def faces_table(faces: list[FaceSummary]) -> pd.DataFrame:
    """One row per face summary: identity, the name a user gave it (empty if none), first and last seen
    (s), time on screen (s), frames, dominant emotion, blinks, blinks per minute (empty when under 5 s on screen),
    then ``share_<reading>`` (0..1, share of frames read as each emotion, then ``share_uncertain``) and
    ``mean_p_<emotion>`` for the 7 emotions."""
    columns = list(_face_row(FaceSummary(0, 0.0, 0.0, 0.0, 0, "", {}, {}, 0, None)))  # also when there is no face
    return pd.DataFrame([_face_row(face) for face in faces], columns=columns)


def _face_row(face: FaceSummary) -> dict:
    row = {
        "track_id": face.track_id,
        "name": face.name,
        "first_seen_s": round(face.first_seen_s, 3),
        "last_seen_s": round(face.last_seen_s, 3),
        "time_on_screen_s": round(face.time_on_screen_s, 3),
        "frames": face.frames,
        "dominant_emotion": face.dominant_emotion,
        "blink_count": face.blink_count,
        "blinks_per_minute": face.blinks_per_minute,
    }
    row.update({f"share_{e.lower()}": face.emotion_share.get(e, 0.0) for e in SHARE_LABELS})
    row.update({f"mean_p_{e.lower()}": face.mean_probabilities.get(e, 0.0) for e in EMOTIONS})
    return row


def write_table(table: pd.DataFrame, path: str | Path) -> Path:
    """Write a table (e.g. :func:`export_table`) as CSV (``.csv``) or Parquet (``.parquet``), chosen by the suffix
    of ``path``."""
    path = Path(path)
    if path.suffix == ".csv":
        table.to_csv(path, index=False)
    elif path.suffix == ".parquet":
        table.to_parquet(path, index=False)
    else:
        raise ValueError(f"{path}: the table is written as .csv or .parquet")
    return path


def write_summary(summary: dict, path: str | Path) -> Path:
    """Write a JSON document (the analysis summary) to ``path``."""
    path = Path(path)
    path.write_text(json.dumps(summary, indent=1, default=_json_default))
    return path


def _json_default(value):
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    if isinstance(value, FaceSummary):
        return value.as_dict()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


# audio codecs an MP4 holds as they are; others (Vorbis, PCM from a .mov or .avi, ...) are re-encoded to AAC
MP4_AUDIO = frozenset({"aac", "mp3", "alac", "ac3", "eac3", "opus", "flac"})


class AudioCopy:
    """The first audio stream of ``source`` written into an output container, interleaved with its video: call
    :meth:`until` with each video frame's time, :meth:`finish` at the end. Times are shifted so that the source's
    first video frame is 0 (as :func:`fer_core.decode.iter_frames` counts); audio before it is left out. Copied as it
    is when MP4 can hold the codec (:data:`MP4_AUDIO`), else re-encoded to AAC. A source without audio gives
    nothing (``stream`` is None)."""

    def __init__(self, source: str | Path, output) -> None:
        import av

        self._input = av.open(str(source))
        audio = [s for s in self._input.streams if s.type == "audio"]
        video = [s for s in self._input.streams if s.type == "video"]
        self.stream: Any = None
        self._packets: Iterator[Any] | None = None
        self._pending: Any = None
        if not audio:
            self._input.close()
            return
        source_audio: Any = audio[0]
        first: Any = video[0] if video else None
        self._origin_s = float(first.start_time * first.time_base) if first is not None and first.start_time else 0.0
        self._copy = source_audio.codec_context.name in MP4_AUDIO
        if self._copy:
            self.stream = output.add_stream_from_template(source_audio)
        else:
            rate = source_audio.codec_context.sample_rate or 48000
            self.stream = output.add_stream("aac", rate=rate)
            self.stream.layout = "stereo" if (source_audio.codec_context.channels or 2) > 1 else "mono"
            self._resampler = av.AudioResampler(format="fltp", layout=self.stream.layout, rate=rate)
        self._output = output
        self._packets = iter(self._input.demux(source_audio))

    def until(self, time_s: float) -> None:
        """Write the audio up to ``time_s`` seconds (output time)."""
        while self._packets is not None:
            packet, self._pending = self._pending or next(self._packets, None), None
            if packet is None:
                self._packets = None  # the source's audio is all written
                return
            if packet.pts is None:
                continue  # the demuxer's final empty packet
            t = float(packet.pts * packet.time_base) - self._origin_s
            if t > time_s:
                self._pending = packet
                return
            if t >= 0:
                self._write(packet, t)

    def finish(self) -> None:
        """Write the rest of the audio and close the source."""
        if self.stream is None:
            return
        self.until(float("inf"))
        if not self._copy:
            for packet in self.stream.encode(None):
                self._output.mux(packet)
        self._input.close()

    def _write(self, packet, t: float) -> None:
        shift = int(round(self._origin_s / float(packet.time_base)))
        if self._copy:
            packet.pts -= shift
            if packet.dts is not None:
                packet.dts -= shift
            packet.stream = self.stream
            self._output.mux(packet)
            return
        for frame in packet.decode():
            for resampled in self._resampler.resample(frame):
                resampled.pts = None  # the encoder counts samples from 0 (the shift above is in the packet times)
                for encoded in self.stream.encode(resampled):
                    self._output.mux(encoded)


class Mp4Writer:
    """H.264 MP4 (yuv420p, plays in browsers) written frame by frame with the frames' own timestamps, so a
    variable frame-rate input keeps its timing. Odd frame sizes are padded by one pixel. Frames taller than
    ``max_height`` pixels (0: no limit) are scaled down to it, keeping their aspect ratio."""

    def __init__(
        self,
        path: str | Path,
        fps: float,
        crf: int = 23,
        preset: str = "veryfast",
        max_height: int = 0,
        audio_from: str | Path | None = None,
    ) -> None:
        """``audio_from``: a video file whose audio track goes into the MP4 too (see :class:`AudioCopy`)."""
        import av

        self.path = Path(path)
        self.max_height = max_height
        self._container = av.open(str(self.path), mode="w", format="mp4")
        self._stream = self._container.add_stream("libx264", rate=Fraction(fps or 30).limit_denominator(1001))
        self._stream.pix_fmt = "yuv420p"
        # one x264 thread: on a 2-core machine its default (about 1.5 per core plus lookahead) competes with the
        # analysis for the cores (measured: two-face clip 7-12% faster with one; 1080p no slower)
        self._stream.options = {"crf": str(crf), "preset": preset, "movflags": "+faststart", "threads": "1"}
        self._stream.codec_context.time_base = Fraction(1, 1000)
        self._size: tuple[int, int] | None = None
        self._last_pts = -1
        self._audio = AudioCopy(audio_from, self._container) if audio_from is not None else None

    def write(self, image: np.ndarray, time_s: float) -> None:
        """Append a BGR uint8 (H, W, 3) frame shown at ``time_s`` seconds (later than the previous frame)."""
        import av

        height, width = image.shape[:2]
        if self.max_height and height > self.max_height:
            width, height = max(round(width * self.max_height / height), 1), self.max_height
            image = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
        if self._size is None:
            self._size = (width + width % 2, height + height % 2)
            self._stream.width, self._stream.height = self._size
        if (width, height) != self._size:
            image = np.pad(image, ((0, self._size[1] - height), (0, self._size[0] - width), (0, 0)), mode="edge")
        # OpenCV's BGR -> I420 is about 3x faster than FFmpeg's swscale here (0.3 vs 0.9 ms at 960x480)
        i420 = np.asarray(cv2.cvtColor(image, cv2.COLOR_BGR2YUV_I420), dtype=np.uint8)
        frame = av.VideoFrame.from_ndarray(i420, format="yuv420p")
        pts = max(int(round(time_s * 1000)), self._last_pts + 1)
        frame.pts, frame.time_base = pts, Fraction(1, 1000)
        self._last_pts = pts
        for packet in self._stream.encode(frame):
            self._container.mux(packet)
        if self._audio is not None:
            self._audio.until(time_s)

    def close(self) -> None:
        for packet in self._stream.encode():
            self._container.mux(packet)
        if self._audio is not None:
            self._audio.finish()
        self._container.close()

    def __enter__(self) -> "Mp4Writer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
