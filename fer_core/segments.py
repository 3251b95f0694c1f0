"""One video analysed by two processes at once, as two time segments, stitched so that the records are exactly those
of one sequential analysis.

The calling process analyses the video from its first frame as always: it *is* the sequential analysis
(:func:`fer_core.video.analyze_video`). A worker process (:class:`SegmentWorker`) starts :data:`WARM_UP` analysed
frames before the middle and analyses to the end. Once past the warm-up, both follow the same faces in the same way
(the detector's cadence counts frames from the video's start, and each search of the whole frame sets every box
afresh), so at checkpoints after the middle the caller compares its pipeline's state with the worker's
(:meth:`~fer_core.pipeline.FramePipeline.followed_key`). At the first checkpoint where they are equal it stops and
takes the worker's records from there on, with the worker's track ids mapped to its own and the blink fields
recomputed by its own blink detectors from the worker's eye aspect ratios (a blink detector's baseline holds
seconds of history, which the worker's would take that long to share).

It does not always stop: when the states never meet at a checkpoint, when the worker saw a new face after the
checkpoint (who that is depends on faces that left before the warm-up, which the worker never saw), or when the
worker failed, the caller goes on to the end alone: the same records, only slower.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from fer_core.decode import iter_frames
from fer_core.flow import OverlappedFrames, decoded_ahead
from fer_core.pipeline import FramePipeline, PipelineSettings
from fer_core.records import FaceRecord

log = logging.getLogger(__name__)

# Analysed frames the worker runs before the first checkpoint: three searches of the whole frame at the default
# cadence (pipeline.FULL_SEARCH_FRAMES), after which it follows the faces as the caller does.
WARM_UP = 36
# Checkpoints: every CHECKPOINT_STEP analysed frames from the middle on, up to CHECKPOINTS of them.
CHECKPOINT_STEP = 12
CHECKPOINTS = 30
# The worker's segment starts this many analysed frames later than an even split would put it: a fresh interpreter
# loads the models and decodes its way to its start meanwhile (measured: the caller waited 0.3-0.7 s for it at the
# checkpoint without it, on 60 s of 640x480 video).
HEAD_START = 40
# Shorter videos are analysed by one process: the worker's start (0.7 s of CPU) pays from about 15 s of 30 fps video
# (measured on the one-face interview cut: 15 s 3.2-3.4 -> 3.0 s, 20 s 4.1 -> 3.45 s with two processes).
MIN_FRAMES = 600
# The worker reports its progress every this many analysed frames.
PROGRESS_EVERY = 15

# What the worker gives back per analysed frame from the first checkpoint on: (frame index, time in seconds, whether
# the time was retimed, the frame's records).
FrameRecords = tuple[int, float, bool, list[FaceRecord]]


@dataclass(frozen=True)
class SegmentPlan:
    """Analysed-frame numbers (``frame_index // every``): where the worker starts, and the checkpoints; ``stop``:
    the frame index where the part analysed ends (None: the video's end)."""

    start: int
    checkpoints: tuple[int, ...]
    stop: int | None = None


def plan_segments(frame_count: int, every: int, start: int = 0, stop: int | None = None) -> SegmentPlan | None:
    """The split of a video of ``frame_count`` frames (0: unknown) analysed every ``every``-th frame from frame
    index ``start`` up to ``stop`` (None: the end) into two segments of about equal work, or None when that part
    is too short (or the video's length unknown) to be worth it."""
    if not frame_count:
        return None
    first = -(-start // every)  # the first analysed frame's number
    end = -(-min(frame_count, stop if stop is not None else frame_count) // every)
    analysed = end - first
    if analysed < MIN_FRAMES:
        return None
    middle = first + (analysed + WARM_UP) // 2 + HEAD_START  # the caller analyses [first, middle), the worker the rest
    checkpoints = tuple(c for c in (middle + k * CHECKPOINT_STEP for k in range(CHECKPOINTS)) if c < end)
    return SegmentPlan(middle - WARM_UP, checkpoints, stop)


def can_split(settings: PipelineSettings) -> bool:
    """Whether the records of ``settings`` can be stitched: not with ``solo_hold_s`` (an identity carried over from a
    face that left alone, which the worker may not have seen) nor with probability smoothing across frames
    (whose state never becomes exactly equal)."""
    return settings.solo_hold_s <= 0 and settings.smoothing <= 0


class SegmentWorker:
    """The second segment, analysed in a process of its own (started at once). :meth:`take_over` is called by the
    sequential analysis at each checkpoint, before locating that frame; :meth:`close` ends the worker."""

    def __init__(self, video: str | Path, every: int, settings: PipelineSettings, plan: SegmentPlan) -> None:
        self.plan = plan
        self.every = every
        self.frames_read = plan.start * every  # the worker's progress: frames decoded up to its last report
        # a fresh interpreter running this module (not multiprocessing's spawn, which imports the caller's main
        # script again): the task goes in on stdin, the worker's messages come back on stdout, read on a thread
        self._process = subprocess.Popen(
            [sys.executable, "-m", "fer_core.segments"], stdin=subprocess.PIPE, stdout=subprocess.PIPE
        )
        assert self._process.stdin is not None and self._process.stdout is not None
        try:
            pickle.dump((str(video), every, settings, plan), self._process.stdin)
            self._process.stdin.close()
        except OSError as exc:  # the worker is gone already (BrokenPipeError): its stdout ends, and so does it
            log.info("the second process did not take its task: %s", exc)
            with contextlib.suppress(OSError):
                self._process.stdin.close()
        self._messages: queue.Queue = queue.Queue()
        self._reader = threading.Thread(target=self._read, args=(self._process.stdout,), daemon=True)
        self._reader.start()
        self._checkpoints: dict[int, tuple] = {}
        self._results: list[FrameRecords] | None = None
        self._failed = False
        self.given_up = False

    def take_over(
        self, number: int, pipeline: FramePipeline, should_stop: Callable[[], bool] | None = None
    ) -> list[FrameRecords] | None:
        """At checkpoint ``number``, with ``pipeline`` having finished every frame before it: the records of every
        analysed frame from there to the end, as the sequential analysis would have made them, when the worker's
        state equals the pipeline's here and the worker's segment can be stitched; else None (go on alone)."""
        if self.given_up or number not in self.plan.checkpoints:
            return None
        if not self._wait(lambda: number in self._checkpoints, should_stop):
            self._give_up(f"the worker did not reach checkpoint {number}")
            return None
        their_ids, their_key = self._checkpoints[number]
        our_ids, our_key = pipeline.followed_key()
        if their_key != our_key:
            if number == self.plan.checkpoints[-1]:
                self._give_up("the two segments never followed the faces alike")
            return None
        waited = time.perf_counter()
        if not self._wait(lambda: self._results is not None, should_stop):
            self._give_up("the worker stopped before the end")
            return None
        assert self._results is not None
        ids = dict(zip(their_ids, our_ids))
        # the blink fields go on from this pipeline's own blink detectors, fed the same eye aspect ratios
        blinks = {ours: pipeline.blink_detector(pipeline.tracker.tracks[ours]) for ours in our_ids}
        stitched: list[FrameRecords] = []
        for index, time_s, retimed, records in self._results:
            if index // self.every < number:
                continue
            if any(r.track_id not in ids for r in records):
                self._give_up(f"a new face appears at frame {index}, after the checkpoint")
                return None
            mapped = []
            for r in sorted(records, key=lambda r: ids[r.track_id]):
                blink = blinks[ids[r.track_id]].update(r.ear, r.time_s)
                mapped.append(
                    replace(
                        r,
                        track_id=ids[r.track_id],
                        eyes_closed=blink.closed,
                        blink=blink.blink,
                        blink_count=blink.count,
                    )
                )
            stitched.append((index, time_s, retimed, mapped))
        self.close()
        log.info(
            "second segment stitched from analysed frame %d on (waited %.2f s for it)",
            number,
            time.perf_counter() - waited,
        )
        return stitched

    def _wait(self, ready: Callable[[], bool], should_stop: Callable[[], bool] | None) -> bool:
        """Read the worker's messages until ``ready()``; False when the worker failed or ended first."""
        from fer_core.video import Cancelled

        while not ready():
            if self._failed:
                return False
            try:
                message = self._messages.get(timeout=0.1)
            except queue.Empty:
                if not self._reader.is_alive() and self._messages.empty():
                    self._failed = True  # the worker ended without a word
                if should_stop is not None and should_stop():
                    raise Cancelled("analysis cancelled") from None
                continue
            self._receive(message)
        return True

    def poll(self) -> None:
        """Read the messages waiting (progress), without blocking."""
        try:
            while True:
                self._receive(self._messages.get_nowait())
        except queue.Empty:
            pass

    def _receive(self, message: tuple) -> None:
        kind = message[0]
        if kind == "progress":
            self.frames_read = message[1]
        elif kind == "checkpoint":
            self._checkpoints[message[1]] = message[2:]
        elif kind == "done":
            self._results = message[1]
        else:  # "failed"
            self._failed = True
            log.info("second segment failed (%s); the analysis goes on in one process", message[1])

    def _give_up(self, why: str) -> None:
        log.info("second segment not used (%s); the analysis goes on in one process", why)
        self.given_up = True
        self.close()

    def _read(self, stream) -> None:
        """The reader thread: the worker's messages, one pickle each, into the queue, until it closes stdout."""
        try:
            while True:
                self._messages.put(pickle.load(stream))
        except (EOFError, OSError, pickle.UnpicklingError):
            pass

    def close(self) -> None:
        if self._process.poll() is None:
            self._process.kill()
        self._process.wait()
        assert self._process.stdout is not None
        self._process.stdout.close()


def _analyse_segment(video: str, every: int, settings: PipelineSettings, plan: SegmentPlan, send) -> None:
    """The worker: analyse ``video`` from analysed frame ``plan.start`` to frame ``plan.stop`` or the end, sending
    its pipeline's state at each checkpoint, its progress, and at the end the records from the first checkpoint on."""
    try:
        import cv2

        cv2.setNumThreads(1)
        pipeline = FramePipeline(settings)
        pipeline.reset(frame_step=every)
        checkpoints, first = set(plan.checkpoints), plan.checkpoints[0]
        results: list[FrameRecords] = []

        def keep(finished) -> None:
            for frame, result in finished:
                if frame.index // every >= first:
                    results.append((frame.index, frame.time_s, frame.retimed, result.records))

        started = time.perf_counter()
        with OverlappedFrames(pipeline) as overlapped:
            for frame in decoded_ahead(iter_frames(video, every, start=plan.start * every, bgr=False, stop=plan.stop)):
                number = frame.index // every
                if number in checkpoints:
                    keep(overlapped.drain())
                    send(("checkpoint", number, *pipeline.followed_key()))
                keep(overlapped.add(frame))
                if number % PROGRESS_EVERY == 0:
                    send(("progress", frame.index + 1))
            keep(overlapped.drain())
        log.debug("segment analysed in %.1f s", time.perf_counter() - started)
        send(("done", results))
    except BaseException as exc:  # a truncated file, a bug: the caller goes on alone
        send(("failed", f"{type(exc).__name__}: {exc}"))


def _main() -> None:
    """``python -m fer_core.segments``: the worker process. Its stdout carries only the messages (anything a library
    prints goes to stderr instead)."""
    channel = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    task = pickle.load(sys.stdin.buffer)

    def send(message: tuple) -> None:
        pickle.dump(message, channel)
        channel.flush()

    try:
        video, every, settings, plan = task
        _analyse_segment(video, every, settings, plan, send)
    except BrokenPipeError:  # the caller no longer listens
        pass


if __name__ == "__main__":
    _main()
