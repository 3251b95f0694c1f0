"""Analysis of a recorded video: every frame (or every n-th) through the pipeline, then table, summary and an
annotated MP4 written to an output folder."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from fer_core.decode import iter_frames, probe_video
from fer_core.draw import annotate
from fer_core.errors import NoFaceError, TruncatedVideoError
from fer_core.export import Mp4Writer, write_summary, write_table
from fer_core.pipeline import FramePipeline, PipelineSettings
from fer_core.records import FaceRecord, FaceSummary, summarize

log = logging.getLogger(__name__)

ProgressCallback = Callable[[int, int], None]  # (frames decoded so far, expected total or 0 if unknown)


class Cancelled(Exception):
    """Raised inside :func:`analyze_video` when its ``should_stop`` callback returns True."""


@dataclass(frozen=True)
class AnalysisOutputs:
    """Paths written by an analysis (each None when not asked for)."""

    table_csv: Path | None = None
    table_parquet: Path | None = None
    summary_json: Path | None = None
    annotated_mp4: Path | None = None


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

    def summary(self) -> dict:
        """The JSON summary: source, frames, timing, warnings and one entry per face."""
        return {
            "source": Path(self.source).name, "frames_decoded": self.frames_decoded,
            "frames_analysed": self.frames_analysed, "every": self.every, "duration_s": self.duration_s,
            "fps": self.fps, "seconds_taken": self.seconds_taken, "truncated": self.truncated,
            "warnings": self.warnings, "faces": [f.as_dict() for f in self.faces],
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
) -> VideoAnalysis:
    """Analyse every ``every``-th frame of ``path``. With ``out_dir``, writes ``<stem>.csv``, ``<stem>.parquet``,
    ``<stem>.summary.json`` and (``write_video``) ``<stem>.annotated.mp4`` there.

    A truncated file is analysed up to the break and flagged in the result. ``require_face`` raises
    :class:`NoFaceError` when no face was found in any frame (otherwise that is a warning). ``should_stop`` is
    polled every frame and raises :class:`Cancelled`; partial output files are removed then.
    """
    path = Path(path)
    info = probe_video(path)
    pipeline = pipeline or FramePipeline(settings)
    pipeline.reset()
    stem = path.stem
    outputs = AnalysisOutputs()
    writer = None
    if out_dir is not None:
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        outputs = AnalysisOutputs(out_dir / f"{stem}.csv", out_dir / f"{stem}.parquet",
                                  out_dir / f"{stem}.summary.json",
                                  out_dir / f"{stem}.annotated.mp4" if write_video else None)
        if write_video:
            writer = Mp4Writer(outputs.annotated_mp4, info.fps / every)
    records: list[FaceRecord] = []
    warnings: list[str] = []
    truncated = False
    decoded = analysed = 0
    last_time = 0.0
    started = time.perf_counter()
    try:
        try:
            for frame in iter_frames(path, every):
                if should_stop is not None and should_stop():
                    raise Cancelled(f"analysis of {path.name} cancelled after {analysed} frames")
                result = pipeline.process(frame.image, frame.time_s, frame.index)
                records.extend(result.records)
                if writer is not None:
                    writer.write(annotate(frame.image, result.records, in_place=True), frame.time_s)
                decoded, analysed, last_time = frame.index + 1, analysed + 1, frame.time_s
                if progress is not None:
                    progress(decoded, info.frame_count)
        except TruncatedVideoError as exc:
            truncated = True
            decoded = exc.frames_read
            warnings.append(str(exc))
            log.warning("%s", exc)
        if writer is not None:
            writer.close()
            writer = None
        if not records:
            message = f"{path.name}: no face was found in the {analysed} analysed frames"
            if require_face:
                raise NoFaceError(message)
            warnings.append(message)
    except BaseException:  # cancelled, no face, or a bug: leave no half-written file behind, then re-raise
        if writer is not None:
            writer.close()
        for p in (outputs.table_csv, outputs.table_parquet, outputs.summary_json, outputs.annotated_mp4):
            if p is not None:
                p.unlink(missing_ok=True)
        raise
    frame_interval = every / info.fps if info.fps else 0.0
    analysis = VideoAnalysis(
        source=str(path), records=records, faces=summarize(records, frame_interval), frames_decoded=decoded,
        frames_analysed=analysed, duration_s=last_time + (1.0 / info.fps if info.fps else 0.0), fps=info.fps,
        every=every, seconds_taken=time.perf_counter() - started, truncated=truncated, warnings=warnings,
        outputs=outputs)
    if out_dir is not None:
        write_table(records, outputs.table_csv)
        write_table(records, outputs.table_parquet)
        write_summary(analysis.summary(), outputs.summary_json)
    return analysis
