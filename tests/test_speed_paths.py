"""The shortcuts that make analysis fast keep its results: the downscaled face search, the search near the faces
followed, the full-size search on a schedule, and the decoding and encoding threads of analyze_video (no timing is asserted here; bench/ measures it)."""

from __future__ import annotations

import platform
import re
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from fer_core.decode import iter_frames, read_image
from fer_core.detect import FaceDetector, search_regions
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


def test_search_near_faces_finds_each_face_the_full_search_finds(image_path):
    gray = to_gray(read_image(image_path("two_faces_face_recognition_two_people.jpg")))
    detector = FaceDetector()
    full = detector.detect(gray)
    near = detector.detect(gray, min_face=0.75 * (full.boxes[:, 2] - full.boxes[:, 0]).min(), near=full.boxes)
    assert len(near) == len(full) == 2
    assert (box_iou(full.boxes, near.boxes).max(axis=1) > 0.7).all(), (full.boxes, near.boxes)
    # a region holding no face finds none, whatever the rest of the frame holds
    assert len(detector.detect(gray, near=np.array([[0, 0, 40, 40]]))) == 0


def test_search_regions_grow_clip_and_merge():
    width, height = 640, 480
    (region,) = search_regions(np.array([[100, 100, 200, 220]]), width, height)
    assert region == (48, 40, 250, 280)  # half the box on each side, the top-left corner on the 8-pixel HOG grid
    (clipped,) = search_regions(np.array([[600, 400, 700, 500]]), width, height)
    assert clipped == (544, 344, 640, 480)
    apart = search_regions(np.array([[0, 0, 100, 100], [400, 300, 500, 400]]), width, height)
    assert len(apart) == 2
    (merged,) = search_regions(np.array([[100, 100, 200, 200], [220, 120, 320, 220]]), width, height)
    assert merged == (48, 48, 370, 270)  # overlapping regions: one, so that no face is found twice


def test_full_size_search_on_schedule_and_when_nothing_is_followed(video_path):
    pipeline = FramePipeline(PipelineSettings(detect_every=3, full_search_every=4))
    asked: list = []
    detect = pipeline.detector.detect

    def spy(gray, min_face=None, near=None):
        asked.append((min_face, near))
        return detect(gray, min_face, near)

    pipeline.detector.detect = spy
    for frame in iter_frames(video_path("wifs2018_demo_0001_blink.mp4")):
        if frame.index >= 36:
            break
        pipeline.process(frame.image, frame.time_s, frame.index, frame.gray)
    assert len(asked) == 12  # frames 0, 3, 6, ...: one face followed all along
    full = [i for i, (m, near) in enumerate(asked) if m is None and near is None]
    assert full == [0, 4, 8]  # the first detection (nothing followed yet), then every 4th
    partial = [(m, near) for m, near in asked if m is not None]
    assert len(partial) == 9 and all(m > 80 and near.shape == (1, 4) for m, near in partial)


def test_overlapped_analysis_gives_the_records_of_frame_by_frame_processing(pipeline, video_path):
    """analyze_video classifies frame k on a thread while it locates the faces of frame k + 1: same records."""
    path = video_path("composite_two_faces_d3_d18.mp4")
    analysis = analyze_video(path, pipeline=pipeline)
    pipeline.reset()
    one_by_one = [r for f in iter_frames(path) for r in pipeline.process(f.image, f.time_s, f.index, f.gray).records]
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


def test_the_landmark_model_sits_on_huge_pages_where_the_kernel_offers_them():
    """Linux 6.1+ with transparent huge pages: the predictor's trees are collapsed onto 2 MB pages as they load
    (fer_core.landmarks), in a fresh process whose huge pages are then all the model's."""
    thp = Path("/sys/kernel/mm/transparent_hugepage/enabled")
    release = re.match(r"(\d+)\.(\d+)", platform.release())
    if sys.platform != "linux" or not thp.exists() or "[never]" in thp.read_text() or release is None:
        pytest.skip("no transparent huge pages on this machine")
    if (int(release[1]), int(release[2])) < (6, 1):
        pytest.skip(f"kernel {platform.release()} has no MADV_COLLAPSE (6.1 and later)")
    code = (
        "from fer_core.landmarks import LandmarkPredictor; LandmarkPredictor(); "
        "print(open('/proc/self/smaps_rollup').read())"
    )
    smaps = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    huge = re.search(r"AnonHugePages:\s+(\d+) kB", smaps)
    assert huge is not None and int(huge[1]) >= 16 * 1024, smaps  # about 74 MB here


def test_the_saved_detector_is_dlibs_own(tmp_path):
    """models/dlib/frontal_face_detector.svm (loaded in a millisecond instead of built in a quarter of a second) is
    byte for byte what the installed dlib saves of its frontal face detector, and the pipeline's detector is it."""
    import dlib

    from fer_core.detect import SAVED_DETECTOR

    dlib.get_frontal_face_detector().save(str(tmp_path / "own.svm"))
    assert SAVED_DETECTOR.read_bytes() == (tmp_path / "own.svm").read_bytes()
    assert type(FaceDetector()._detector) is dlib.fhog_object_detector


def test_the_analysis_reads_the_luma_and_converts_colours_only_for_the_faces_looks(pipeline, video_path, monkeypatch):
    """analyze_video takes each frame's gray picture from the decoder's luma plane; the BGR image is made only where
    a face's looks are kept (about once a second) or recognised, and the two grays differ by a few levels at most."""
    import cv2

    import fer_core.decode as decode

    path = video_path("wifs2018_demo_0001_blink.mp4")
    for frame in iter_frames(path, bgr=False):
        if frame.index >= 10:
            break
        difference = np.abs(cv2.cvtColor(frame.image, cv2.COLOR_BGR2GRAY).astype(int) - frame.gray)
        assert difference.max() <= 8 and difference.mean() < 1.5, (difference.max(), difference.mean())
    converted = []
    make = decode._bgr
    monkeypatch.setattr(decode, "_bgr", lambda frame, turns: converted.append(1) or make(frame, turns))
    pipeline.reset()
    analysis = analyze_video(path, pipeline=pipeline)
    assert analysis.records and 3 <= len(converted) <= analysis.frames_analysed // 10, len(converted)
