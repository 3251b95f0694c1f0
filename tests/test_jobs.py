"""Background analysis jobs (fer_core.jobs): queued, run, cancelled, kept, expired, and seen by their owner only."""

from __future__ import annotations

import json
import shutil
import threading
import time

import pytest

from fer_core.jobs import JobQueue, analysis_runner
from fer_core.pipeline import FramePipeline


def _wait(predicate, timeout_s=120.0):
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def _copy(video_path, name, tmp_path):
    target = tmp_path / f"upload-{time.monotonic_ns()}{video_path(name).suffix}"
    shutil.copy(video_path(name), target)
    return target


def test_a_video_analysed_as_a_job_leaves_its_results_and_reports_progress(tmp_path, video_path):
    pipeline = FramePipeline()
    queue = JobQueue(tmp_path / "jobs", analysis_runner(lambda options: pipeline))
    try:
        job_id = queue.submit(
            "alice",
            _copy(video_path, "wifs2018_demo_0001_blink.mp4", tmp_path),
            "blink.mp4",
            '{"every": 2, "video": false}',
        )
        _wait(lambda: queue.job("alice", job_id).status in ("done", "failed"))
        job = queue.job("alice", job_id)
        assert job.status == "done", job.error
        assert job.done == job.total > 0 and job.source_name == "blink.mp4"
        summary = json.loads(next(job.results.glob("*.summary.json")).read_text())
        assert summary["every"] == 2 and len(summary["faces"]) == 1
        assert not list(job.results.glob("*.mp4"))  # no annotated video asked for
        assert queue.jobs("bob") == [] and queue.job("bob", job_id) is None  # another owner sees nothing
    finally:
        queue.close()


def test_the_annotated_video_is_drawn_later_from_a_job_without_it(tmp_path, video_path):
    """Issue 15: a job analysed without the MP4, then a second job on the same upload with ``draw_over`` (the first
    job's results): the second holds the same tables and summary plus the MP4 of every frame, the first is kept."""
    pipeline = FramePipeline()
    queue = JobQueue(tmp_path / "jobs", analysis_runner(lambda options: pipeline))
    name = "wifs2018_demo_0001_blink.mp4"
    try:
        first = queue.submit("alice", _copy(video_path, name, tmp_path), "blink.mp4", '{"every": 2, "video": false}')
        _wait(lambda: queue.job("alice", first).status in ("done", "failed"))
        analysis = queue.job("alice", first)
        assert analysis.status == "done" and not list(analysis.results.glob("*.mp4"))
        options = json.dumps({"draw_over": str(analysis.results), "every": 2})
        second = queue.submit("alice", _copy(video_path, name, tmp_path), "blink.mp4", options)
        _wait(lambda: queue.job("alice", second).status in ("done", "failed"))
        drawn = queue.job("alice", second)
        assert drawn.status == "done", drawn.error
        (mp4,) = drawn.results.glob("*.annotated.mp4")
        assert mp4.read_bytes()[4:8] == b"ftyp" and drawn.done == drawn.total == 192  # every frame drawn
        for table in analysis.results.iterdir():
            assert (drawn.results / table.name).read_bytes() == table.read_bytes()
        assert not list(drawn.results.parent.glob("input*"))  # the upload's copy goes when the job ends
    finally:
        queue.close()


def test_drawing_the_video_is_cancelled_at_the_next_frame(tmp_path, video_path):
    pipeline = FramePipeline()
    queue = JobQueue(tmp_path / "jobs", analysis_runner(lambda options: pipeline))
    name = "fer_woman2.mp4"  # 15 s: long enough to cancel while it draws
    try:
        first = queue.submit("alice", _copy(video_path, name, tmp_path), name, '{"every": 3, "video": false}')
        _wait(lambda: queue.job("alice", first).status in ("done", "failed"))
        options = json.dumps({"draw_over": str(queue.job("alice", first).results)})
        second = queue.submit("alice", _copy(video_path, name, tmp_path), name, options)
        _wait(lambda: queue.job("alice", second).done > 0)
        queue.cancel("alice", second)
        _wait(lambda: queue.job("alice", second).status in ("done", "failed", "cancelled"))
        drawn = queue.job("alice", second)
        assert drawn.status == "cancelled" and drawn.done < drawn.total and not drawn.results.exists()
    finally:
        queue.close()


def _slow_runner(started: threading.Event, seconds: float = 30.0):
    def run(video, out, options, progress, should_stop):
        started.set()
        out.mkdir()
        for i in range(int(seconds * 20)):
            if should_stop():
                raise RuntimeError("stopped")
            progress(i, int(seconds * 20))
            time.sleep(0.05)
        if options.get("fail"):
            raise ValueError("the video could not be read")

    return run


def test_queued_jobs_run_in_order_and_cancel_at_once_or_at_the_next_frame(tmp_path):
    started = threading.Event()
    queue = JobQueue(tmp_path / "jobs", _slow_runner(started), workers=1)
    try:
        videos = [tmp_path / f"v{i}.mp4" for i in range(2)]
        for v in videos:
            v.write_bytes(b"video")
        first = queue.submit("alice", videos[0], "first.mp4")
        second = queue.submit("alice", videos[1], "second.mp4")
        started.wait(10)
        assert queue.job("alice", second).status == "queued"
        # the second waits for the first, whoever's it is; the running one waits for none
        assert queue.ahead(queue.job("alice", second)) == 1 and queue.ahead(queue.job("alice", first)) == 0
        queue.cancel("bob", first)  # not bob's
        queue.cancel("alice", second)
        assert queue.job("alice", second).status == "cancelled"
        _wait(lambda: queue.job("alice", first).done > 0)
        assert (
            queue.job("alice", first).status == "running"
            and queue.job("alice", first).seconds_left(now=time.time() + 5) > 0
        )
        queue.cancel("alice", first)
        _wait(lambda: queue.job("alice", first).status == "cancelled", 10)
        assert not (queue.job("alice", first).results).exists()  # partial results removed
        assert [j.source_name for j in queue.jobs("alice")] == ["second.mp4", "first.mp4"]  # newest first
    finally:
        queue.close()


def test_a_failed_job_says_why_and_the_worker_goes_on(tmp_path):
    queue = JobQueue(tmp_path / "jobs", _slow_runner(threading.Event(), seconds=0.1))
    try:
        for name, options in (("bad.mp4", '{"fail": true}'), ("good.mp4", "{}")):
            (tmp_path / name).write_bytes(b"video")
            queue.submit("alice", tmp_path / name, name, options)
        _wait(lambda: all(j.status in ("done", "failed") for j in queue.jobs("alice")))
        by_name = {j.source_name: j for j in queue.jobs("alice")}
        assert by_name["bad.mp4"].status == "failed" and "could not be read" in by_name["bad.mp4"].error
        assert by_name["good.mp4"].status == "done"
    finally:
        queue.close()


def test_jobs_survive_a_server_restart_and_expire_after_a_day(tmp_path):
    started = threading.Event()
    root = tmp_path / "jobs"
    queue = JobQueue(root, _slow_runner(started, seconds=0.1))
    (tmp_path / "a.mp4").write_bytes(b"video")
    done_id = queue.submit("alice", tmp_path / "a.mp4", "a.mp4")
    _wait(lambda: queue.job("alice", done_id).status == "done")
    queue.close()
    # a job marked running by a server that was killed: failed, said so, after the restart
    queue = JobQueue(root, _slow_runner(threading.Event()), workers=0)
    (tmp_path / "b.mp4").write_bytes(b"video")
    killed = queue.submit("alice", tmp_path / "b.mp4", "b.mp4")
    with queue._db() as db:
        db.execute("UPDATE jobs SET status='running' WHERE id=?", (killed,))
    restarted = JobQueue(root, _slow_runner(threading.Event()), workers=0)
    assert restarted.job("alice", done_id).status == "done" and restarted.job("alice", done_id).results.is_dir()
    assert (
        restarted.job("alice", killed).status == "failed" and "server stopped" in restarted.job("alice", killed).error
    )
    assert restarted.sweep(now=time.time() + 23 * 3600) == 0
    assert restarted.sweep(now=time.time() + 25 * 3600) == 2
    assert restarted.jobs("alice") == [] and not (root / done_id).exists()


@pytest.mark.parametrize("workers", [0])
def test_remove_deletes_a_finished_job_and_its_folder(tmp_path, workers):
    queue = JobQueue(tmp_path / "jobs", _slow_runner(threading.Event()), workers=workers)
    (tmp_path / "a.mp4").write_bytes(b"video")
    job_id = queue.submit("alice", tmp_path / "a.mp4", "a.mp4")
    queue.remove("alice", job_id)  # still queued: kept
    assert queue.job("alice", job_id) is not None
    queue.cancel("alice", job_id)
    queue.remove("alice", job_id)
    assert queue.job("alice", job_id) is None and not (tmp_path / "jobs" / job_id).exists()
