"""Folders of videos: each analysed into one output folder by a pool of worker processes, resumable, with one
summary row per video.

    fer batch interviews/ --out results/ --workers 2           # a folder (searched recursively) or a .txt list
    fer batch interviews/ --out results/ --shard 3/10          # the 4th tenth of the videos (Slurm job arrays)

Each video's own outputs are those of ``fer analyze`` (``<stem>.csv``, ``.parquet``, ``.summary.json``); a video
whose summary is already in ``--out`` is not analysed again (the files are put in place only when complete, so a
summary means a finished analysis); if one was made with other settings (frame step, part, model or detector), the
batch stops before it starts and says which, so that one table never mixes them. A file that cannot be analysed is
reported in its row and the batch goes on.
The batch table (``batch.csv``, or ``batch.shard-I-of-N.csv``) holds per video: status, error, duration, frames,
faces, the share of each emotion over all faces' frames, blinks per minute over all faces' time on screen.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from fer_core.errors import OutputError
from fer_core.labels import SHARE_LABELS
from fer_core.records import face_summaries
from fer_core.timeline import is_part

if TYPE_CHECKING:
    from fer_core.pipeline import PipelineSettings

log = logging.getLogger(__name__)

VIDEO_SUFFIXES = frozenset({".mp4", ".mov", ".m4v", ".webm", ".avi", ".mkv", ".mpg", ".mpeg", ".ts", ".wmv"})


@dataclass(frozen=True)
class BatchSettings:
    """``every``: analyse every n-th frame; ``start_s`` / ``end_s``: the part of each video to analyse (seconds;
    end None: to the end); ``model_dir``: the emotion model folder; ``detector``: the face detector
    (``hog`` or ``blazeface``, see :class:`~fer_core.detect.DetectorSettings`); ``workers``: processes;
    ``engine``: ``local`` (a process pool on this machine) or ``ray`` (Ray actors: a local Ray instance, or the
    cluster at ``$RAY_ADDRESS``; every node must see the videos and ``out`` at the same paths)."""

    every: int = 1
    model_dir: str = ""
    detector: str = "hog"
    workers: int = 2
    engine: str = "local"
    start_s: float = 0.0
    end_s: float | None = None

    def pipeline_settings(self) -> PipelineSettings:
        """Each worker's pipeline settings: the model folder (the default when empty) and the detector."""
        from fer_core.detect import DetectorSettings
        from fer_core.pipeline import PipelineSettings

        return PipelineSettings(
            model_dir=self.model_dir or PipelineSettings().model_dir, detector=DetectorSettings(model=self.detector)
        )


def list_videos(source: str | Path) -> list[Path]:
    """The videos of a folder (searched recursively, by file suffix, sorted) or of a text file (one path a line,
    relative to the file's folder; blank lines and ``#`` comments skipped)."""
    source = Path(source)
    if source.is_dir():
        return sorted(p for p in source.rglob("*") if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES)
    if source.is_file():
        lines = [line.strip() for line in source.read_text().splitlines()]
        return [source.parent / line for line in lines if line and not line.startswith("#")]
    raise OutputError(f"{source} is neither a folder of videos nor a list of them")


def take_shard(videos: list[Path], shard: str | None) -> tuple[list[Path], str]:
    """The ``I/N`` shard of ``videos`` (0 <= I < N: every N-th video from the I-th) and the batch table's name."""
    if not shard:
        return videos, "batch.csv"
    try:
        index, count = (int(part) for part in shard.split("/"))
    except ValueError:
        raise OutputError(f"--shard must look like I/N (e.g. 0/4), got {shard!r}") from None
    if not 0 <= index < count:
        raise OutputError(f"--shard {shard}: I must be from 0 to N-1")
    return videos[index::count], f"batch.shard-{index}-of-{count}.csv"


def wanted_settings(settings: BatchSettings) -> dict:
    """What a summary of this batch records: frame step, part, model and detector (as ``analyze_video`` does)."""
    from dataclasses import asdict

    from fer_core.model_file import model_identity

    pipeline = settings.pipeline_settings()
    return {
        "every": settings.every,
        "start_s": float(settings.start_s),
        "end_s": settings.end_s,
        "model": model_identity(pipeline.model_dir),
        "detector": asdict(pipeline.detector),
    }


def settings_differences(summary: dict, wanted: dict) -> list[str]:
    """How a finished analysis's ``summary`` differs from the ``wanted`` settings (:func:`wanted_settings`), in words;
    empty when it is what the batch would make. Summaries written before the model and detector were recorded
    are compared on the frame step and part only."""
    found = []
    if summary.get("every", 1) != wanted["every"]:
        found.append(f"a frame step of {summary.get('every')}, not {wanted['every']}")
    if float(summary.get("start_s") or 0.0) != wanted["start_s"]:
        found.append(f"from {summary.get('start_s')} s, not {wanted['start_s']} s")
    end, wanted_end = summary.get("end_s"), wanted["end_s"]
    video_end = float(summary.get("start_s") or 0.0) + float(summary.get("duration_s") or 0.0)
    if end != wanted_end and not (end is None and wanted_end is not None and wanted_end >= video_end - 0.5):
        found.append(f"to {'the end' if end is None else f'{end} s'}, not {wanted_end or 'the end'}")
    model = summary.get("model")
    if model and model.get("sha256") != wanted["model"]["sha256"]:
        now = wanted["model"]
        found.append(f"model {model.get('folder')} {model.get('sha256')}, not {now['folder']} {now['sha256']}")
    detector = summary.get("detector")
    if detector and detector != wanted["detector"]:
        found.append(f"detector {detector.get('model')}, not {wanted['detector']['model']}")
    return found


def batch_row(video: Path, summary: dict | None, status: str, error: str = "") -> dict:
    """One row of the batch table from a video's JSON summary (None when it failed)."""
    row: dict = {"video": str(video), "status": status, "error": error}
    if summary is None:
        return row
    faces = face_summaries(summary)
    frames = sum(f.frames for f in faces)
    on_screen = sum(f.time_on_screen_s for f in faces)
    row.update(
        duration_s=summary.get("duration_s"),
        frames_analysed=summary.get("frames_analysed"),
        faces=len(faces),
        blinks_per_minute=60.0 * sum(f.blink_count for f in faces) / on_screen if on_screen >= 5 else None,
    )
    if is_part(summary.get("start_s"), summary.get("end_s")):  # --start / --end: the row's figures are the part's
        row.update(start_s=summary["start_s"], end_s=summary.get("end_s"))
    for emotion in SHARE_LABELS:
        row[f"share_{emotion.lower()}"] = (
            sum(f.emotion_share.get(emotion, 0.0) * f.frames for f in faces) / frames if frames else None
        )
    return row


_PIPELINE = None  # one per worker process, built by _start_worker


def _start_worker(settings: BatchSettings) -> None:
    """Each worker: one thread for OpenCV (the pool is the parallelism), its own models, loaded once."""
    import cv2

    from fer_core.pipeline import FramePipeline

    global _PIPELINE
    cv2.setNumThreads(1)
    _PIPELINE = FramePipeline(settings.pipeline_settings())


def _analyse_one(video: Path, out: Path, settings: BatchSettings) -> tuple[dict | None, str]:
    from fer_core.errors import FerError
    from fer_core.video import analyze_video

    try:
        analysis = analyze_video(
            video,
            out,
            every=settings.every,
            pipeline=_PIPELINE,
            write_video=False,
            start_s=settings.start_s,
            end_s=settings.end_s,
        )
    except (FerError, OSError, ValueError) as exc:
        return None, str(exc)
    return analysis.summary(), ""


def finished_analyses(videos: list[Path], out: Path, settings: BatchSettings) -> dict[Path, dict]:
    """The summaries already in ``out`` by video. Raises :class:`OutputError`, before anything is analysed, when two
    videos would write the same files or when a finished analysis was made with other settings than ``settings``."""
    stems: dict[str, Path] = {}
    for video in videos:
        if video.stem in stems:
            raise OutputError(f"{video} and {stems[video.stem]} would write the same files in {out}: rename one")
        stems[video.stem] = video
    done, mixed = {}, []
    wanted = wanted_settings(settings)
    for video in videos:
        path = out / f"{video.stem}.summary.json"
        if path.is_file():
            done[video] = json.loads(path.read_text())
            if differences := settings_differences(done[video], wanted):
                mixed.append(f"{video.name} ({'; '.join(differences)})")
    if mixed:
        raise OutputError(
            f"{out} already holds analyses made with other settings than this batch's: {', '.join(mixed[:3])}"
            + (f" and {len(mixed) - 3} more" if len(mixed) > 3 else "")
            + ". Nothing was analysed or changed: give another --out folder, or delete those videos' files there "
            "to analyse them again with these settings."
        )
    return done


def run_batch(
    videos: list[Path],
    out: str | Path,
    settings: BatchSettings = BatchSettings(),
    table_name: str = "batch.csv",
    progress: Callable[[int, int], None] | None = None,
) -> pd.DataFrame:
    """Analyse ``videos`` into ``out`` with ``settings.workers`` processes; write and return the batch table."""
    out = Path(out)
    done = finished_analyses(videos, out, settings)
    out.mkdir(parents=True, exist_ok=True)
    rows = {video: batch_row(video, summary, "done earlier") for video, summary in done.items()}
    todo = [video for video in videos if video not in done]
    finished = len(rows)
    if progress is not None:
        progress(finished, len(videos))
    if todo:
        run = _run_on_ray if settings.engine == "ray" else _run_locally
        for video, summary, error in run(todo, out, settings):
            rows[video] = batch_row(video, summary, "analysed" if summary is not None else "failed", error)
            if error:
                log.warning("%s: %s", video, error)
            finished += 1
            if progress is not None:
                progress(finished, len(videos))
    table = pd.DataFrame([rows[v] for v in videos])
    table.to_csv(out / table_name, index=False)
    return table


Outcome = tuple[Path, "dict | None", str]  # a video, its summary (None when it failed) and the error


def _run_locally(todo: list[Path], out: Path, settings: BatchSettings) -> Iterator[Outcome]:
    """Each video analysed by a pool of ``settings.workers`` processes, outcomes as they finish."""
    workers = max(1, min(settings.workers, len(todo)))
    with ProcessPoolExecutor(workers, initializer=_start_worker, initargs=(settings,)) as pool:
        futures = {pool.submit(_analyse_one, video, out, settings): video for video in todo}
        for future in as_completed(futures):
            try:
                summary, error = future.result()
            except Exception as exc:  # noqa: BLE001 - a worker that died (memory, a crash) fails one video
                summary, error = None, f"the worker stopped: {exc}"
            yield futures[future], summary, error


def _run_on_ray(todo: list[Path], out: Path, settings: BatchSettings) -> Iterator[Outcome]:
    """Each video analysed by one of ``settings.workers`` Ray actors (each loads the models once), outcomes as
    they finish. Joins the cluster at ``$RAY_ADDRESS``, or starts a local Ray instance for the run."""
    try:
        import ray
        from ray.util import ActorPool
    except ImportError as exc:
        raise OutputError("--engine ray needs Ray: pip install 'ray>=2.60'") from exc

    @ray.remote(num_cpus=1)
    class Worker:
        def __init__(self, settings: BatchSettings) -> None:
            _start_worker(settings)

        def analyse(self, video: Path, out: Path, settings: BatchSettings) -> tuple[Path, dict | None, str]:
            return (video, *_analyse_one(video, out, settings))

    started_here = not ray.is_initialized()
    if started_here:
        ray.init(address=os.environ.get("RAY_ADDRESS") or None, include_dashboard=False, log_to_driver=False)
    try:
        workers = max(1, min(settings.workers, len(todo)))
        pool = ActorPool([Worker.remote(settings) for _ in range(workers)])  # type: ignore[attr-defined]
        for outcome in pool.map_unordered(lambda actor, video: actor.analyse.remote(video, out, settings), todo):
            yield outcome
    finally:
        if started_here:
            ray.shutdown()


def default_workers() -> int:
    """One worker per core (each is single-threaded inside)."""
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1))
