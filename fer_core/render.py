"""The annotated video, made apart from the analysis: the records of an analysis drawn over the source video,
every frame, with the source's audio track.

    fer render interview.mp4 --results results/        # -> results/interview.annotated.mp4

Each frame shows the records of the latest analysed frame at or before it (an analysis of every n-th frame is drawn
on every frame), for at most :data:`HOLD_S` seconds: a face no longer analysed disappears.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd

from fer_core.decode import iter_frames, probe_video
from fer_core.draw import annotate
from fer_core.errors import OutputError
from fer_core.export import Mp4Writer
from fer_core.outputs import OutputFiles
from fer_core.records import FaceRecord
from fer_core.video import ANNOTATED_MAX_HEIGHT, PRESET, Cancelled

HOLD_S = 0.5  # longest time (seconds) a frame shows the records of an earlier analysed frame


def read_records(table: str | Path) -> list[FaceRecord]:
    """The records of an analysis's table (``.parquet`` or ``.csv``, as ``fer analyze`` writes them)."""
    path = Path(table)
    frame = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
    return [FaceRecord.from_row(row) for row in frame.to_dict("records")]


def render_video(
    video: str | Path,
    records: list[FaceRecord],
    out: str | Path,
    progress: Callable[[int, int], None] | None = None,
    audio: bool = True,
    should_stop: Callable[[], bool] | None = None,
) -> Path:
    """Draw ``records`` over every frame of ``video`` into the MP4 ``out`` (H.264, the source's audio when
    ``audio``), written as it goes (:func:`render_results` writes it under a temporary name and puts it in place
    when complete). Returns ``out``. ``should_stop`` is asked before each frame; when it returns True,
    :class:`fer_core.video.Cancelled` is raised (as :func:`fer_core.video.analyze_video` does)."""
    out = Path(out)
    info = probe_video(video)
    by_frame: dict[int, list[FaceRecord]] = {}
    for record in records:
        by_frame.setdefault(record.frame_index, []).append(record)
    shown: list[FaceRecord] = []
    with Mp4Writer(
        out, info.fps, preset=PRESET, max_height=ANNOTATED_MAX_HEIGHT, audio_from=Path(video) if audio else None
    ) as writer:
        for frame in iter_frames(video):
            if should_stop is not None and should_stop():
                raise Cancelled()
            if frame.index in by_frame:
                shown = by_frame[frame.index]
            elif shown and frame.time_s - shown[0].time_s > HOLD_S:
                shown = []
            writer.write(annotate(frame.image, shown, in_place=True), frame.time_s)
            if progress is not None:
                progress(frame.index + 1, info.frame_count)
    return out


def render_results(video: str | Path, results: str | Path, overwrite: bool = False, **kwargs) -> Path:
    """:func:`render_video` of the analysis of ``video`` kept in the folder ``results`` (its
    ``<stem>.parquet`` or ``<stem>.csv``) into ``<stem>.annotated.mp4`` there, through the same claimed,
    all-or-nothing output names as an analysis (:class:`fer_core.outputs.OutputFiles`)."""
    video, results = Path(video), Path(results)
    stem = video.stem
    tables = [results / f"{stem}.parquet", results / f"{stem}.csv"]
    table = next((t for t in tables if t.is_file()), None)
    if table is None:
        raise OutputError(f"{results} holds no analysis of {video.name} ({stem}.parquet or {stem}.csv): run "
                          f"`fer analyze {video.name} --out {results}` first")  # fmt: skip
    files = OutputFiles(results, stem, write_video=True, overwrite=overwrite, tables=False)
    try:
        partial = files.partial.annotated_mp4
        assert partial is not None  # asked for above
        render_video(video, read_records(table), partial, **kwargs)
    except BaseException:
        files.discard()
        raise
    final = files.commit().annotated_mp4
    assert final is not None
    return final
