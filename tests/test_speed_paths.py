"""The shortcuts that make analysis fast keep its results: the downscaled face search, the full-size search on a
schedule, and the decoding and encoding threads of analyze_video (no timing is asserted here; bench/ measures it)."""

from __future__ import annotations

import threading

import pytest

from fer_core.decode import iter_frames, read_image
from fer_core.detect import FaceDetector
from fer_core.geometry import box_iou
from fer_core.image import to_gray
from fer_core.pipeline import FramePipeline, PipelineSettings
from fer_core.video import Cancelled, analyze_video


@pytest.fixture(scope="module")
def pipeline() -> FramePipeline:
    return FramePipeline(PipelineSettings())


@pytest.mark.parametrize(
    "name", ["neutral_liveportrait_d3_t6.0.jpg", "happy_fer_justin.jpg", "surprise_liveportrait_d18_t4.33.jpg"]
)
def test_downscaled_search_finds_a_large_face_where_the_full_search_does(image_path, name):
    gray = to_gray(read_image(image_path(name)))
    detector = FaceDetector()
    (full,) = detector.detect(gray).boxes
    width = full[2] - full[0]
    (coarse,) = detector.detect(gray, min_face=0.75 * width).boxes
    assert box_iou(full[None], coarse[None])[0, 0] > 0.7, (full, coarse)


def test_a_face_smaller_than_asked_for_may_be_skipped(image_path):
    gray = to_gray(read_image(image_path("two_faces_face_recognition_two_people.jpg")))
    detector = FaceDetector()
    both = detector.detect(gray)
    assert len(both) == 2
    assert len(detector.detect(gray, min_face=4 * (both.boxes[:, 2] - both.boxes[:, 0]).max())) == 0


def test_full_size_search_on_schedule_and_when_nothing_is_followed(video_path):
    pipeline = FramePipeline(PipelineSettings(detect_every=3, full_search_every=4))
    asked: list = []
    detect = pipeline.detector.detect
    pipeline.detector.detect = lambda gray, min_face=None: asked.append(min_face) or detect(gray, min_face)
    for frame in iter_frames(video_path("wifs2018_demo_0001_blink.mp4")):
        if frame.index >= 36:
            break
        pipeline.process(frame.image, frame.time_s, frame.index)
    assert len(asked) == 12  # frames 0, 3, 6, ...: one face followed all along
    full = [i for i, m in enumerate(asked) if m is None]
    assert full == [0, 4, 8]  # the first detection (nothing followed yet), then every 4th
    assert all(m > 80 for m in asked if m is not None)


def test_overlapped_analysis_gives_the_records_of_frame_by_frame_processing(pipeline, video_path):
    """analyze_video classifies frame k on a thread while it locates the faces of frame k + 1: same records."""
    path = video_path("composite_two_faces_d3_d18.mp4")
    analysis = analyze_video(path, pipeline=pipeline)
    pipeline.reset()
    one_by_one = [r for f in iter_frames(path) for r in pipeline.process(f.image, f.time_s, f.index).records]
    assert len(one_by_one) == 2 * 216
    assert analysis.records == one_by_one


def _fer_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith(("fer-decode", "fer-encode", "fer-classify"))]


def test_cancelling_stops_the_decoding_and_encoding_threads(pipeline, tmp_path, video_path):
    running: list[list[str]] = []

    def should_stop() -> bool:
        running.append(_fer_threads())
        return len(running) > 10

    with pytest.raises(Cancelled):
        analyze_video(video_path("liveportrait_d18_surprise.mp4"), tmp_path, pipeline=pipeline, should_stop=should_stop)
    assert sorted(running[-1]) == ["fer-classify_0", "fer-decode", "fer-encode"]  # all working when cancelled
    assert _fer_threads() == []
    assert list(tmp_path.iterdir()) == []
