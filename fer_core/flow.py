"""Frames through the pipeline on three threads: decoding (and the colour conversions) ahead on one, locating faces on
the caller's, classifying on a third. FFmpeg, OpenCV's conversion and LiteRT work outside Python's lock, so on two
cores they run beside dlib's landmarks and the pipeline's Python code (which hold it) instead of adding to them; dlib's
HOG detector lets go of the lock too."""

from __future__ import annotations

import queue
import threading
from collections import deque
from collections.abc import Generator, Iterator
from concurrent.futures import Future, ThreadPoolExecutor

from fer_core.decode import Frame
from fer_core.pipeline import FramePipeline, FrameResult, LocatedFaces

# Frames decoded ahead of the pipeline. A small queue bounds the memory (4 frames of 1080p is 25 MB).
QUEUE_FRAMES = 4
# Frames located but not yet finished. The classifier of frame k runs on its own thread while the caller's thread
# locates the following frames; with one frame of slack the main thread waited about 1 ms per frame for it (it
# shares the other core with the encoder), with three it does not (+5-8% frames/s, 5 alternations).
IN_FLIGHT = 3


def decoded_ahead(frames: Generator[Frame, None, None]) -> Iterator[Frame]:
    """Yield each frame of ``frames``, decoded on a thread up to :data:`QUEUE_FRAMES` frames ahead. An exception of
    the decoder (a truncated file) comes out here after the frames before it; leaving early stops the thread."""
    ahead: queue.Queue = queue.Queue(maxsize=QUEUE_FRAMES)
    stop = threading.Event()
    end = object()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                ahead.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def decode() -> None:
        try:
            for frame in frames:
                if not put((frame, None)):
                    return
            put((end, None))
        except BaseException as exc:  # handed to the consumer, which raises it
            put((end, exc))
        finally:
            frames.close()

    thread = threading.Thread(target=decode, name="fer-decode", daemon=True)
    thread.start()
    try:
        while True:
            item, error = ahead.get()
            if item is end:
                if error is not None:
                    raise error
                return
            yield item
    finally:
        stop.set()
        thread.join()


class OverlappedFrames:
    """``add(frame)`` locates a frame's faces on the caller's thread and classifies them on a thread of its
    own, returning the frames finished meanwhile (oldest first, each with its :class:`FrameResult`); ``drain()``
    finishes the rest. Use as a context manager (the classifier thread ends with it)."""

    def __init__(self, pipeline: FramePipeline) -> None:
        self.pipeline = pipeline
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="fer-classify")
        self._in_flight: deque[tuple[Frame, LocatedFaces, Future]] = deque()

    def add(self, frame: Frame) -> list[tuple[Frame, FrameResult]]:
        pipeline = self.pipeline
        located = pipeline.locate(lambda: frame.image, frame.time_s, frame.index, frame.gray)
        classified = self._thread.submit(
            pipeline.classifier.classify, frame.gray, located.crop_boxes, located.crop_angles
        )
        self._in_flight.append((frame, located, classified))
        return [self._finish_oldest()] if len(self._in_flight) > IN_FLIGHT else []

    def drain(self) -> list[tuple[Frame, FrameResult]]:
        return [self._finish_oldest() for _ in range(len(self._in_flight))]

    def _finish_oldest(self) -> tuple[Frame, FrameResult]:
        frame, located, probabilities = self._in_flight.popleft()
        return frame, self.pipeline.finish(located, probabilities.result())

    def __enter__(self) -> OverlappedFrames:
        return self

    def __exit__(self, *exc) -> None:
        self._thread.shutdown(wait=True, cancel_futures=True)
