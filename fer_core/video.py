"""Analysis of a recorded video: every frame (or every n-th) through the pipeline, then table, summary and an
annotated MP4 written to an output folder."""

from __future__ import annotations

import logging
import math
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from fer_core.decode import Frame, VideoInfo, check_every, iter_frames, probe_video
from fer_core.draw import annotate
from fer_core.errors import NoFaceError, OutputError, TruncatedVideoError, VideoPartError
from fer_core.export import Mp4Writer, export_table, write_summary, write_table
from fer_core.flow import QUEUE_FRAMES, OverlappedFrames, decoded_ahead
from fer_core.model_file import model_identity
from fer_core.outputs import AnalysisOutputs, OutputFiles, describe_write_error
from fer_core.pipeline import FramePipeline, FrameResult, PipelineSettings
from fer_core.records import FaceRecord, FaceSummary, summarize
from fer_core.segments import SegmentWorker, can_split, plan_segments
from fer_core.timeline import is_part

log = logging.getLogger(__name__)

ProgressCallback = Callable[[int, int], None]  # (frames decoded so far, expected total or 0 if unknown)

# Decoding, location, classification (fer_core.flow) and encoding run on threads of their own: FFmpeg and x264
# work outside the GIL (measured: they overlap with dlib's detector), so on two cores they run beside the analysis
# instead of adding to it.
# x264 preset of the annotated video: "superfast" encodes a 436x500 frame in about 2.4 ms where "veryfast" takes
# 3.7-5 ms, for about 1.4x the bytes (346 vs 240 kB for the 6.4 s blink clip at crf 23).
PRESET = "superfast"
# The annotated video is a preview to watch beside the table: taller frames are scaled down to 720p (on the encoder's
# thread). x264 at 1080p costs about 4x the CPU of 720p, and the dashboard holds the file in memory.
ANNOTATED_MAX_HEIGHT = 720


class Cancelled(Exception):
    """Raised inside :func:`analyze_video` when its ``should_stop`` callback returns True."""


@dataclass(frozen=True)
class VideoAnalysis:
    """The result of analysing one file: every record, the per-face summaries, how many frames were decoded and
    analysed, whether the file ended early (``truncated``, with ``warning``), and the files written."""

    source: str
    records: list[FaceRecord]
    faces: list[FaceSummary]
    frames_decoded: int
    frames_analysed: int
    duration_s: float
    fps: float
    every: int
    seconds_taken: float
    truncated: bool = False
    warnings: list[str] = field(default_factory=list)
    outputs: AnalysisOutputs = AnalysisOutputs()
    second_process_from: int | None = None  # the analysed frame from which a second process gave the records
    start_s: float = 0.0  # the part of the video analysed, in seconds from its start; end_s None: to the end
    end_s: float | None = None
    model: dict[str, str] = field(default_factory=dict)  # the emotion model (fer_core.model_file.model_identity)
    detector: dict = field(default_factory=dict)  # the face detector's settings (DetectorSettings, as a dict)

    def summary(self) -> dict:
        """The JSON summary: source, frames, timing, warnings and one entry per face."""
        return {
            "source": Path(self.source).name,
            "frames_decoded": self.frames_decoded,
            "frames_analysed": self.frames_analysed,
            "every": self.every,
            "start_s": self.start_s,
            "end_s": self.end_s,
            "model": self.model,
            "detector": self.detector,
            "duration_s": self.duration_s,
            "fps": self.fps,
            "seconds_taken": self.seconds_taken,
            "truncated": self.truncated,
            "warnings": self.warnings,
            "faces": [f.as_dict() for f in self.faces],
        }


def analyze_video(
    path: str | Path,
    out_dir: str | Path | None = None,
    every: int = 1,
    settings: PipelineSettings = PipelineSettings(),
    pipeline: FramePipeline | None = None,
    progress: ProgressCallback | None = None,
    should_stop: Callable[[], bool] | None = None,
    write_video: bool = True,
    require_face: bool = False,
    overwrite: bool = False,
    processes: int = 1,
    start_s: float = 0.0,
    end_s: float | None = None,
) -> VideoAnalysis:
    """Analyse every ``every``-th frame of ``path``, or of the part from ``start_s`` to ``end_s`` seconds (None:
    to the end; frames from ``ceil(start_s * fps)``; records keep the video's own times and frame indices). With
    ``out_dir``, writes ``<stem>.csv``, ``<stem>.parquet``, ``<stem>.summary.json`` and (``write_video``)
    ``<stem>.annotated.mp4`` there.

    A truncated file is analysed up to the break and flagged in the result. ``require_face`` raises
    :class:`NoFaceError` when no face was found in any frame (otherwise that is a warning). ``should_stop`` is
    polled every frame and raises :class:`Cancelled`; partial output files are removed then.

    ``processes`` 2: a second process analyses the second half of a long video at the same time, and the records
    are stitched to be exactly those of one process (:mod:`fer_core.segments`); not while drawing the annotated
    video, which needs every frame in order here. A part of the video is analysed without drawing it (ValueError):
    :func:`fer_core.render.render_results` draws its records over the whole video afterwards.

    The files are written under temporary names and put in place when all are complete (:mod:`fer_core.outputs`):
    results already in ``out_dir`` for the same stem raise :class:`OutputError` unless ``overwrite``, and a failed
    run leaves them as they were.
    """
    path = Path(path)
    check_every(every)  # before any output name is claimed
    info = probe_video(path)
    first, stop = frame_range(path.name, info, start_s, end_s)
    settings = pipeline.settings if pipeline is not None else settings
    drawing = write_video and out_dir is not None
    if drawing and is_part(first, stop):
        raise ValueError(
            "a part of a video is analysed without the annotated video: draw it afterwards with "
            "`fer render` (fer_core.render.render_results), which draws the part's records over the whole video"
        )
    end_frame = info.frame_count if stop is None else min(info.frame_count, stop)  # 0: unknown
    total = max(0, end_frame - first)
    plan = plan_segments(info.frame_count, every, first, stop) if processes > 1 and not drawing else None
    # the second process starts first: it loads its models while this one loads its own
    segment = SegmentWorker(path, every, settings, plan) if plan and can_split(settings) else None
    files = None
    try:
        pipeline = pipeline or FramePipeline(settings)
        pipeline.reset(frame_step=every)
        files = OutputFiles(out_dir, path.stem, write_video, overwrite) if out_dir is not None else None
        outputs = files.partial if files is not None else AnalysisOutputs()  # written here, then moved into place
        writer = None
        if outputs.annotated_mp4 is not None:
            writer = _WriterThread(
                Mp4Writer(
                    outputs.annotated_mp4,
                    info.fps / every,
                    preset=PRESET,
                    max_height=ANNOTATED_MAX_HEIGHT,
                    audio_from=path,  # the source's sound goes with the annotated video
                )
            )
    except BaseException:  # a model or the output folder unusable: nothing claimed stays, no worker goes on
        if files is not None:
            files.discard()
        if segment is not None:
            segment.close()
        raise
    records: list[FaceRecord] = []
    warnings: list[str] = []
    truncated = False
    frames_read = analysed = retimed = 0
    last_time = 0.0
    second_process_from = None
    started = time.perf_counter()

    def take(index: int, time_s: float, frame_retimed: bool, frame_records: list[FaceRecord]) -> None:
        nonlocal analysed, last_time, frames_read, retimed
        records.extend(frame_records)
        frames_read, analysed, last_time = index + 1, analysed + 1, time_s
        retimed += frame_retimed
        if progress is not None:
            done = frames_read - first
            if segment is not None and not segment.given_up:
                segment.poll()
                done += max(0, segment.frames_read - segment.plan.start * every)
            progress(min(done, total) if total else done, total)

    def finished(done: list[tuple[Frame, FrameResult]]) -> None:
        for frame, result in done:
            if writer is not None:
                writer.write(annotate(frame.image, result.records, in_place=True), frame.time_s)
            take(frame.index, frame.time_s, frame.retimed, result.records)

    try:
        with OverlappedFrames(pipeline) as overlapped:
            try:
                # the colours only where the annotated video needs them: the analysis reads the luma
                for frame in decoded_ahead(iter_frames(path, every, first, bgr=writer is not None, stop=stop)):
                    if should_stop is not None and should_stop():
                        raise Cancelled(f"analysis of {path.name} cancelled after {analysed} frames")
                    if segment is not None and frame.index // every in segment.plan.checkpoints:
                        finished(overlapped.drain())
                        rest = segment.take_over(frame.index // every, pipeline, should_stop)
                        if rest is not None:
                            second_process_from = frame.index // every
                            for frame_records in rest:
                                take(*frame_records)
                            break
                    finished(overlapped.add(frame))
                finished(overlapped.drain())
                # decoding reached the end or `stop` (iter_frames checked the end against the container's
                # count); frames after the last analysed one were decoded too when analysing every n-th
                decoded = max(frames_read, end_frame)
            except TruncatedVideoError as exc:
                finished(overlapped.drain())
                truncated = True
                decoded = exc.frames_read
                warnings.append(str(exc))
                log.warning("%s", exc)
        if writer is not None:
            writer.close()
            writer = None
        if retimed:
            warnings.append(
                f"{path.name}: the video's timestamps went backwards or jumped {retimed} time(s) (joined "
                "recordings or a damaged file); times there continue frame by frame, so time on screen "
                "and blink rates follow the frames, not the broken clock"
            )
            log.warning("%s", warnings[-1])
        if not records:
            smallest = pipeline.settings.detector.smallest_face(info.width, info.height)
            message = (
                f"{path.name}: no face was found in the {analysed} analysed frames (faces narrower than "
                f"about {smallest:.0f} pixels in this {info.width}x{info.height} video are not searched for "
                "with these detector settings)"
            )
            if require_face:
                raise NoFaceError(message, smallest)
            warnings.append(message)
    except BaseException as exc:  # cancelled, no face, disk full or a bug: leave no half-written file behind
        if writer is not None:
            writer.abort()
        if files is not None:
            files.discard()
        if isinstance(exc, OSError) and files is not None:
            raise OutputError(
                f"the annotated video of {path.name} could not be written "
                f"({describe_write_error(exc)}); earlier results in that folder are unchanged"
            ) from exc
        raise
    finally:
        if segment is not None:
            segment.close()
    # each analysed frame stands for the `every` frames up to the next one, but never for more than the video
    frame_interval = min(every / info.fps, max(info.duration_s, last_time + 1.0 / info.fps)) if info.fps else 0.0
    analysis = VideoAnalysis(
        source=str(path),
        records=records,
        faces=summarize(records, frame_interval),
        frames_decoded=max(0, decoded - first),
        frames_analysed=analysed,
        duration_s=max(0.0, last_time + (1.0 - first) / info.fps) if info.fps else last_time,
        fps=info.fps,
        every=every,
        seconds_taken=time.perf_counter() - started,
        truncated=truncated,
        warnings=warnings,
        outputs=files.final if files is not None else outputs,
        second_process_from=second_process_from,
        start_s=float(start_s),
        end_s=None if stop is None or end_s is None else float(end_s),  # a part past the end is "to the end"
        model=model_identity(pipeline.settings.model_dir),
        detector=asdict(pipeline.settings.detector),
    )
    if files is not None:
        assert outputs.table_csv and outputs.table_parquet and outputs.summary_json  # always set with a folder
        try:
            table = export_table(records)
            write_table(table, outputs.table_csv)
            write_table(table, outputs.table_parquet)
            write_summary(analysis.summary(), outputs.summary_json)
        except OSError as exc:
            files.discard()
            raise OutputError(
                f"the results for {path.name} could not be written ({describe_write_error(exc)}); "
                "earlier results in that folder are unchanged"
            ) from exc
        except BaseException:
            files.discard()
            raise
        files.commit()
    return analysis


def frame_range(name: str, info: VideoInfo, start_s: float = 0.0, end_s: float | None = None) -> tuple[int, int | None]:
    """The frame indices ``(first, stop)`` (stop exclusive, None: the end) of the part of a video from ``start_s``
    to ``end_s`` seconds (None: the end). Raises :class:`VideoPartError` for a part that is empty, negative or starts
    after the video's end (``name``: the file's name, for the message)."""
    if not 0.0 <= start_s < float("inf") or (end_s is not None and not start_s < end_s < float("inf")):
        raise VideoPartError(
            f"the part to analyse must start at 0 s or later and end after it starts; got {start_s} to {end_s} s"
        )
    if info.duration_s and start_s >= info.duration_s:
        raise VideoPartError(f"{name} is {info.duration_s:.1f} s long: a part starting at {start_s:g} s holds no frame")
    fps = info.fps or 30.0
    first = math.ceil(start_s * fps - 1e-6)
    stop = None if end_s is None or (info.duration_s and end_s >= info.duration_s) else math.ceil(end_s * fps - 1e-6)
    if stop is not None and stop <= first:
        raise VideoPartError(f"the part from {start_s:g} s to {end_s:g} s is shorter than one frame of {name}")
    return first, stop


class _WriterThread:
    """An :class:`Mp4Writer` fed through a queue and encoding on its own thread. ``close`` waits for every frame
    and raises what the encoder raised; ``abort`` stops it without raising (for the clean-up after an error)."""

    def __init__(self, writer: Mp4Writer) -> None:
        self._writer = writer
        self._queue: queue.Queue = queue.Queue(maxsize=QUEUE_FRAMES)
        self._error: BaseException | None = None
        self._closed = False
        self._thread = threading.Thread(target=self._encode, name="fer-encode", daemon=True)
        self._thread.start()

    def _encode(self) -> None:
        while (item := self._queue.get()) is not None:
            if self._error is None:
                try:
                    self._writer.write(*item)
                except BaseException as exc:  # raised by write() or close() on the caller's thread
                    self._error = exc

    def write(self, image, time_s: float) -> None:
        if self._error is not None:
            raise self._error
        self._queue.put((image, time_s))

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._queue.put(None)
            self._thread.join()
            self._writer.close()
        if self._error is not None:
            raise self._error

    def abort(self) -> None:
        try:
            self.close()
        except Exception:  # the error being handled matters more than a failed encoder
            log.debug("encoder failed while aborting", exc_info=True)
