"""Video analyses as background jobs: queued, run by worker threads of this process, their state in SQLite.

A job outlives the page that started it: the page only submits a video and reads the job list (progress, time
left, result, error); changing a page option, opening another page or closing the tab leaves it running. Each
job owns a private folder ``<root>/<job id>/`` holding the video (``input<suffix>``, removed as soon as the job
ends) and the analysis's files (``out/``); a finished job is kept ``keep_s`` seconds (a day by default) and then
removed with its folder, unless the user saved it elsewhere first. ``owner`` is an opaque token of whoever
submitted the job: one owner never sees another's jobs. State lives in ``<root>/jobs.sqlite3`` so that a job list survives a server restart; a job that was
running when the server stopped is marked failed ("the server stopped").

The embedded default of the dashboard: no server to install. Nothing here imports Streamlit.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

DB_NAME = "jobs.sqlite3"
STATUSES = ("queued", "running", "done", "failed", "cancelled")
FINISHED = ("done", "failed", "cancelled")
KEEP_S = 24 * 3600.0
SWEEP_EVERY_S = 600.0  # how often a worker removes the jobs kept past keep_s

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    source_name TEXT NOT NULL,
    options TEXT NOT NULL,
    status TEXT NOT NULL,
    done INTEGER NOT NULL DEFAULT 0,
    total INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL,
    started_at REAL,
    finished_at REAL,
    error TEXT NOT NULL DEFAULT '',
    error_kind TEXT NOT NULL DEFAULT '',
    smallest_face REAL NOT NULL DEFAULT 0
)
"""

# (video path, output folder, options, progress(done, total), should_stop()) -> None; raises to fail the job
Runner = Callable[[Path, Path, dict, Callable[[int, int], None], Callable[[], bool]], None]


@dataclass(frozen=True)
class Job:
    """One job as the list shows it. Times are Unix seconds; ``done`` / ``total`` frames (total 0: unknown);
    ``folder`` holds ``out/`` with the results once ``status`` is ``done``."""

    id: str
    owner: str
    source_name: str
    options: str
    status: str
    done: int
    total: int
    created_at: float
    started_at: float | None
    finished_at: float | None
    error: str
    error_kind: str  # the exception's class name when it failed, e.g. "NoFaceError", "DecodeError"
    smallest_face: float  # with NoFaceError: about the narrowest face the settings could find (pixels)
    folder: Path

    @property
    def results(self) -> Path:
        return self.folder / "out"

    def seconds_left(self, now: float | None = None) -> float | None:
        """From the pace so far; None until 2 s of running or when the frame count is unknown."""
        if self.status != "running" or not self.started_at or not self.total or self.done <= 0:
            return None
        elapsed = (time.time() if now is None else now) - self.started_at
        return elapsed * (self.total - self.done) / self.done if elapsed >= 2.0 else None


class JobQueue:
    """Jobs under ``root``, run by ``workers`` threads calling ``runner``. Thread-safe; one per server process."""

    def __init__(self, root: str | Path, runner: Runner, workers: int = 1, keep_s: float = KEEP_S) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._runner = runner
        self.keep_s = keep_s
        self._wake = threading.Condition()
        self._cancel: set[str] = set()
        self._closed = False
        with self._db() as db:
            db.execute(_SCHEMA)
            db.execute(
                "UPDATE jobs SET status='failed', error='the server stopped during the analysis', finished_at=? "
                "WHERE status='running'",
                (time.time(),),
            )
        self.sweep()
        self._threads = [threading.Thread(target=self._work, name=f"fer-job-{i}", daemon=True) for i in range(workers)]
        for thread in self._threads:
            thread.start()

    @contextmanager
    def _db(self):
        db = sqlite3.connect(self.root / DB_NAME, timeout=30.0)
        try:
            with db:
                yield db
        finally:
            db.close()

    def submit(self, owner: str, video: str | Path, source_name: str, options: str = "{}") -> str:
        """Queue an analysis of ``video`` (moved into the job's folder); returns the job id."""
        job_id = uuid.uuid4().hex[:16]
        folder = self.root / job_id
        folder.mkdir(mode=0o700)
        shutil.move(str(video), folder / f"input{Path(video).suffix.lower()}")
        with self._db() as db:
            db.execute(
                "INSERT INTO jobs (id, owner, source_name, options, status, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                (job_id, owner, source_name, options, "queued", time.time()),
            )
        with self._wake:
            self._wake.notify()
        return job_id

    def jobs(self, owner: str) -> list[Job]:
        """``owner``'s jobs, newest first."""
        return self._select("owner=? ORDER BY created_at DESC", (owner,))

    def job(self, owner: str, job_id: str) -> Job | None:
        """One job of ``owner`` (None when it is not theirs or no longer kept); the page polls it while it runs."""
        found = self._select("owner=? AND id=?", (owner, job_id))
        return found[0] if found else None

    def ahead(self, job: Job) -> int:
        """Jobs of anyone, queued or running, submitted before ``job``: how many it waits for while queued."""
        with self._db() as db:
            (count,) = db.execute(
                "SELECT COUNT(*) FROM jobs WHERE status IN ('queued', 'running') AND created_at < ?",
                (job.created_at,),
            ).fetchone()
        return count

    def _select(self, where: str, params: tuple) -> list[Job]:
        columns = [f for f in Job.__dataclass_fields__ if f != "folder"]
        with self._db() as db:
            rows = db.execute(f"SELECT {', '.join(columns)} FROM jobs WHERE {where}", params).fetchall()
        return [Job(**dict(zip(columns, row)), folder=self.root / row[0]) for row in rows]

    def cancel(self, owner: str, job_id: str) -> None:
        """Cancel a queued or running job of ``owner`` (a running one stops at its next frame)."""
        with self._db() as db:
            db.execute(
                "UPDATE jobs SET status='cancelled', finished_at=? WHERE id=? AND owner=? AND status='queued'",
                (time.time(), job_id, owner),
            )
            running = db.execute(
                "SELECT 1 FROM jobs WHERE id=? AND owner=? AND status='running'", (job_id, owner)
            ).fetchone()
        if running:
            self._cancel.add(job_id)

    def remove(self, owner: str, job_id: str) -> None:
        """Forget a finished job of ``owner`` and delete its folder."""
        with self._db() as db:
            gone = db.execute(
                f"DELETE FROM jobs WHERE id=? AND owner=? AND status IN {FINISHED}", (job_id, owner)
            ).rowcount
        if gone:
            shutil.rmtree(self.root / job_id, ignore_errors=True)

    def sweep(self, now: float | None = None) -> int:
        """Remove the finished jobs older than ``keep_s`` and folders no job owns; returns how many jobs went."""
        cutoff = (time.time() if now is None else now) - self.keep_s
        with self._db() as db:
            old = [
                r[0]
                for r in db.execute(f"SELECT id FROM jobs WHERE status IN {FINISHED} AND finished_at < ?", (cutoff,))
            ]
            db.executemany("DELETE FROM jobs WHERE id=?", [(i,) for i in old])
            known = {r[0] for r in db.execute("SELECT id FROM jobs")}
        for folder in self.root.iterdir():
            if folder.is_dir() and folder.name not in known:
                shutil.rmtree(folder, ignore_errors=True)
        return len(old)

    def close(self, timeout_s: float = 10.0) -> None:
        """Stop the workers after their current job (running jobs are cancelled)."""
        self._closed = True
        with self._db() as db:
            self._cancel.update(r[0] for r in db.execute("SELECT id FROM jobs WHERE status='running'"))
        with self._wake:
            self._wake.notify_all()
        for thread in self._threads:
            thread.join(timeout_s)

    # ------------------------------------------------------------------------------------------------ workers

    def _claim(self) -> tuple[str, str, Path] | None:
        """The oldest queued job, marked running (one transaction, so two workers never take the same)."""
        with self._db() as db:
            db.execute("BEGIN IMMEDIATE")
            row = db.execute(
                "SELECT id, options FROM jobs WHERE status='queued' ORDER BY created_at LIMIT 1"
            ).fetchone()
            if row is None:
                return None
            db.execute("UPDATE jobs SET status='running', started_at=? WHERE id=?", (time.time(), row[0]))
        video = next((self.root / row[0]).glob("input*"))
        return row[0], row[1], video

    def _work(self) -> None:
        swept = time.monotonic()
        while not self._closed:
            if time.monotonic() - swept > SWEEP_EVERY_S:
                swept = time.monotonic()
                self.sweep()
            claimed = self._claim()
            if claimed is None:
                with self._wake:
                    self._wake.wait(1.0)
                continue
            self._run(*claimed)

    def _run(self, job_id: str, options: str, video: Path) -> None:
        last_write = [0.0]

        def progress(done: int, total: int) -> None:
            now = time.monotonic()
            if now - last_write[0] >= 0.5 or done == total:
                last_write[0] = now
                with self._db() as db:
                    db.execute("UPDATE jobs SET done=?, total=? WHERE id=?", (done, total, job_id))

        status, error, kind, smallest = "done", "", "", 0.0
        try:
            self._runner(video, video.parent / "out", json.loads(options), progress, lambda: job_id in self._cancel)
        except Exception as exc:  # noqa: BLE001 - a failed job is reported in the list; the worker goes on
            if job_id in self._cancel:
                status = "cancelled"
            else:
                status, error, kind = "failed", str(exc) or type(exc).__name__, type(exc).__name__
                smallest = float(getattr(exc, "smallest_face", 0.0))
                log.warning("job %s failed: %s", job_id, error)
        self._cancel.discard(job_id)
        video.unlink(missing_ok=True)  # the upload goes as soon as it is analysed; the results stay
        if status != "done":
            shutil.rmtree(video.parent / "out", ignore_errors=True)
        with self._db() as db:
            db.execute(
                "UPDATE jobs SET status=?, error=?, error_kind=?, smallest_face=?, finished_at=?, "
                "done=CASE WHEN ?='done' THEN total ELSE done END WHERE id=?",
                (status, error, kind, smallest, time.time(), status, job_id),
            )


def draw_over(video: Path, out: Path, analysis: Path, progress, should_stop) -> None:
    """The annotated video of an earlier analysis of the same video: the files of that job's results folder
    ``analysis`` (named after its ``input`` copy, as this job's video is) copied into ``out``, then the records drawn
    over ``video`` with its audio (:func:`fer_core.render.render_results`)."""
    from fer_core.render import render_results

    out.mkdir()
    for file in analysis.iterdir():
        if file.is_file() and not file.name.endswith(".mp4"):
            shutil.copy2(file, out / file.name)
    render_results(video, out, progress=progress, should_stop=should_stop)


def analysis_runner(pipeline_for: Callable[[dict], object]) -> Runner:
    """A :data:`Runner` that analyses the video with :func:`fer_core.video.analyze_video` into the job's ``out/``:
    options ``every`` (default 1), ``video`` (draw the annotated MP4, default True) and ``start_s`` / ``end_s`` (the
    part to analyse, default all of it; its annotated MP4 is drawn afterwards over the whole video, the progress
    counting the part's frames and then the video's); ``pipeline_for(options)`` gives the
    :class:`~fer_core.pipeline.FramePipeline` (e.g. built on models the server already loaded). With ``draw_over``
    (the results folder of an earlier job of the same video, drawn without the MP4), only the MP4 is drawn from that
    job's records (:func:`draw_over`)."""

    def run(video: Path, out: Path, options: dict, progress, should_stop) -> None:
        from fer_core.decode import probe_video
        from fer_core.render import render_results
        from fer_core.timeline import is_part
        from fer_core.video import analyze_video

        if options.get("draw_over"):
            draw_over(video, out, Path(options["draw_over"]), progress, should_stop)
            return
        start_s, end_s = float(options.get("start_s") or 0.0), options.get("end_s")
        part = is_part(start_s, end_s)
        draw = bool(options.get("video", True))
        analysing = progress
        if draw and part:  # one bar for both: the part's frames analysed, then every frame drawn
            whole = probe_video(video).frame_count
            analysed_total = [0]

            def analysing(done: int, total: int) -> None:
                analysed_total[0] = total
                progress(done, total + whole)

            def drawing(done: int, total: int) -> None:
                progress(analysed_total[0] + done, analysed_total[0] + total)

        analyze_video(
            video,
            out,
            every=int(options.get("every", 1)),
            pipeline=pipeline_for(options),  # type: ignore[arg-type]
            progress=analysing,
            should_stop=should_stop,
            write_video=draw and not part,
            require_face=True,
            processes=min(2, os.cpu_count() or 1),  # a long video without the annotated MP4: two halves at once
            start_s=start_s,
            end_s=None if end_s is None else float(end_s),
        )
        if draw and part:
            render_results(video, out, progress=drawing, should_stop=should_stop)

    return run
