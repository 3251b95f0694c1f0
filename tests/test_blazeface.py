"""MediaPipe's BlazeFace as the optional face detector (``--detector blazeface``), on the team's real media: it finds
the faces dlib's HOG finds, in HOG-style boxes, and the analysis built on it keeps its blinks, its readings and its
two-process records."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from test_cli import run

from fer_core import segments
from fer_core.blazeface import MODEL_FILE, anchors, load_box_map
from fer_core.decode import iter_frames
from fer_core.detect import BlazeFaceDetector, DetectorSettings, FaceDetector, make_detector
from fer_core.errors import NoFaceError
from fer_core.geometry import box_iou
from fer_core.pipeline import PipelineSettings
from fer_core.video import analyze_video

BLAZEFACE = PipelineSettings(detector=DetectorSettings(model="blazeface"))


def test_the_model_is_mediapipes_short_range_blazeface():
    digest = hashlib.sha256(MODEL_FILE.read_bytes()).hexdigest()
    assert digest == "3bc182eb9f33925d9e58b5c8d59308a760f4adea8f282370e428c51212c26633"
    centres = anchors()
    assert centres.shape == (896, 2) and 0 < centres.min() and centres.max() < 1
    assert load_box_map().shape == (11, 4)


def test_settings_name_a_detector_it_has():
    assert isinstance(make_detector(DetectorSettings()), FaceDetector)
    assert isinstance(make_detector(DetectorSettings(model="blazeface")), BlazeFaceDetector)
    with pytest.raises(ValueError, match="unknown face detector"):
        DetectorSettings(model="retinaface")
    with pytest.raises(ValueError, match="HOG detector's"):
        DetectorSettings(model="blazeface", upsample=1)
    assert DetectorSettings(model="blazeface").smallest_face(640, 480) == 64


@pytest.mark.parametrize(
    "name",
    [
        "fer_woman2.mp4",
        "composite_two_faces_d3_d18.mp4",
        "wifs2018_demo_0001_blink.mp4",
        "liveportrait_d3_expressions.mp4",
        "sadtalker_WDA_KatieHill_000.mp4",
    ],
)
def test_it_finds_the_faces_hog_finds_in_boxes_like_hogs(video_path, name):
    hog, blazeface = FaceDetector(), BlazeFaceDetector()
    corner_errors, faces = [], 0
    for frame in iter_frames(video_path(name), every=10, bgr=False):
        theirs, ours = hog.detect(frame.gray).boxes, blazeface.detect(frame.gray).boxes
        assert len(ours) == len(theirs), f"frame {frame.index}"
        for box, overlaps in zip(theirs, box_iou(theirs, ours)):
            best = ours[int(np.argmax(overlaps))]
            assert overlaps.max() > 0.6, f"frame {frame.index}: {box} against {best}"
            corner_errors.append(np.abs(best - box).max() / (box[2] - box[0]))
            faces += 1
    assert faces >= 10
    assert np.median(corner_errors) < 0.12  # the corner furthest off, as a fraction of the face's width


def test_blinks_and_readings_hold(video_path):
    """The blink clip (7 marked blinks): the same blinks as with HOG, and the same top emotion on most frames."""
    clip = video_path("wifs2018_demo_0001_blink.mp4")
    hog = analyze_video(clip, write_video=False)
    ours = analyze_video(clip, write_video=False, settings=BLAZEFACE)
    assert len(ours.records) == len(hog.records) == ours.frames_analysed  # one face on every frame
    assert [f.blink_count for f in ours.faces] == [f.blink_count for f in hog.faces]
    same = np.mean([a.emotion == b.emotion for a, b in zip(ours.records, hog.records)])
    assert same > 0.85


def test_two_processes_give_the_records_of_one(video_path, monkeypatch):
    monkeypatch.setattr(segments, "MIN_FRAMES", 100)
    monkeypatch.setattr(segments, "HEAD_START", 0)
    clip = video_path("fer_woman2.mp4")
    one = analyze_video(clip, write_video=False, settings=BLAZEFACE)
    two = analyze_video(clip, write_video=False, settings=BLAZEFACE, processes=2)
    assert two.second_process_from is not None
    assert two.records == one.records


def test_small_faces_in_a_wide_shot_are_not_its_job(video_path):
    """The 1080p street (faces 70-130 pixels): none found, and the message says from what width faces are."""
    clip = video_path("facenet_pytorch_multiface_street.mp4")
    with pytest.raises(NoFaceError) as caught:
        analyze_video(clip, write_video=False, settings=BLAZEFACE, require_face=True)
    assert "narrower than about 192 pixels" in str(caught.value) and caught.value.smallest_face == 192


def test_the_command_line_names_it_and_refuses_upsampling_with_it(tmp_path):
    done = run(
        "analyze", str(tmp_path / "any.mp4"), "--out", str(tmp_path), "--detector", "blazeface", "--upsample", "1"
    )
    assert done.returncode == 2 and "--upsample is the HOG detector's" in done.stderr
