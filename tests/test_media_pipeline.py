"""The pipeline on the team's real media (skipped with a reason when ../shared/data is absent)."""

from __future__ import annotations

import json

import av
import cv2
import numpy as np
import pandas as pd
import pytest

from fer_core.decode import iter_frames, probe_video, read_image
from fer_core.detect import DetectorSettings, FaceDetector
from fer_core.errors import NoFaceError
from fer_core.image import to_gray
from fer_core.labels import EMOTIONS, UNCERTAIN
from fer_core.landmarks import ROLL_KEPT, LandmarkPredictor
from fer_core.pipeline import FramePipeline, PipelineSettings
from fer_core.metrics import event_agreement
from fer_core.model_file import NAMED_MODELS
from fer_core.records import TABLE_COLUMNS, blink_spans
from fer_core.timeline import READING_COLUMNS
from fer_core.video import analyze_video
from video_files import splice

SINGLE_FACE_IMAGES = [
    "angry_crop_face_classification.png",
    "angry_liveportrait_d3_t4.0.jpg",
    "happy_crop_face_classification.png",
    "happy_fer_justin.jpg",
    "happy_liveportrait_d0_t1.67.jpg",
    "neutral_liveportrait_d3_t6.0.jpg",
    "sad_crop_face_classification.png",
    "surprise_crop_face_classification.png",
    "surprise_liveportrait_d18_t4.33.jpg",
    "surprise_liveportrait_d3_t10.0.jpg",
]


@pytest.fixture(scope="module")
def pipeline() -> FramePipeline:
    return FramePipeline(PipelineSettings())


@pytest.mark.parametrize("name", SINGLE_FACE_IMAGES)
def test_one_face_is_found_in_each_portrait(image_path, name):
    assert len(FaceDetector().detect(to_gray(read_image(image_path(name))))) == 1


def test_two_faces_in_the_two_people_photo(image_path):
    detections = FaceDetector().detect(to_gray(read_image(image_path("two_faces_face_recognition_two_people.jpg"))))
    assert len(detections) == 2
    assert (np.diff(detections.scores) <= 0).all()  # best first


def test_group_selfie_at_full_resolution_with_upsampling(image_path):
    gray = to_gray(read_image(image_path("multiface_group_selfie_face_classification.jpg")))
    thorough = FaceDetector(DetectorSettings(upsample=1, max_search_width=0)).detect(gray)
    assert len(thorough) >= 5  # MediaPipe's full-range model finds 5 of the 6 people
    fast = FaceDetector(DetectorSettings(upsample=1, max_search_width=1024)).detect(gray)
    assert len(fast) >= 4
    # boxes found on the downscaled frame are mapped back to full-resolution pixels
    assert fast.boxes[:, 2].max() > 1024 and (fast.boxes[:, 2] <= gray.shape[1]).all()


def test_the_smallest_face_searched_for_depends_on_frame_width_and_settings():
    assert DetectorSettings().smallest_face(640) == 80  # dlib's 80-pixel window
    assert DetectorSettings().smallest_face(1920) == 240  # searched downscaled to 640 wide
    assert DetectorSettings.small_faces().smallest_face(1920) == 40  # full size, upsampled once


def test_small_faces_of_a_wide_shot_are_found_with_the_small_faces_setting(pipeline, video_path, tmp_path):
    path = video_path("facenet_pytorch_multiface_street.mp4")  # 1920x1080, passers-by with faces of 70-130 px
    with pytest.raises(NoFaceError, match="about 240 pixels") as raised:
        analyze_video(path, every=15, pipeline=pipeline, require_face=True)
    assert raised.value.smallest_face == 240
    small = FramePipeline(
        PipelineSettings(detector=DetectorSettings.small_faces()),
        classifier=pipeline.classifier,
        landmarks=pipeline.landmarks,
    )
    analysis = analyze_video(path, tmp_path, every=15, pipeline=small)
    faces_per_frame = np.bincount([r.frame_index // 15 for r in analysis.records], minlength=7)
    assert analysis.frames_analysed == 7 and faces_per_frame.min() >= 1 and faces_per_frame.max() >= 2
    annotated = probe_video(analysis.outputs.annotated_mp4)  # a 720p preview of the 1080p video
    assert (annotated.width, annotated.height, annotated.frame_count) == (1280, 720, 7)


def test_landmarks_come_as_named_regions_inside_the_face(image_path):
    gray = to_gray(read_image(image_path("neutral_liveportrait_d3_t6.0.jpg")))
    box = FaceDetector().detect(gray).boxes[0]
    (marks,) = LandmarkPredictor().predict(gray, box[None])
    assert marks.points.shape == (68, 2)
    assert marks.left_eye.shape == (6, 2) and marks.mouth.shape == (20, 2)
    # the person's left eye is on the image's right; the mouth is below both eyes
    assert marks.left_eye[:, 0].mean() > marks.right_eye[:, 0].mean()
    assert marks.mouth[:, 1].mean() > marks.left_eye[:, 1].mean()
    x1, y1, x2, y2 = box
    slack = 0.25 * (x2 - x1)  # the jaw line reaches a little past dlib's box
    assert (marks.points[:, 0] > x1 - slack).all() and (marks.points[:, 0] < x2 + slack).all()
    assert (marks.points[:, 1] > y1 - slack).all() and (marks.points[:, 1] < y2 + slack).all()


@pytest.mark.parametrize(
    "name, emotion",
    [
        ("happy_fer_justin.jpg", "Happy"),
        ("happy_liveportrait_d0_t1.67.jpg", "Happy"),
        ("surprise_liveportrait_d3_t10.0.jpg", "Surprise"),  # wide eyes, round open mouth
        pytest.param(
            "surprise_liveportrait_d18_t4.33.jpg",
            "Surprise",
            marks=pytest.mark.xfail(
                strict=True,
                reason="the fast model (72.5%) calls this wide-open, teeth-bared mouth under lowered brows Angry "
                "(0.50; the weights before it 0.64, the narrower fast model before them 0.49, the CPU-trained model "
                "before the GPU students Fear 0.90); so does the accurate one (0.51)",
            ),
        ),
    ],
)
def test_obvious_expressions_are_recognised(pipeline, image_path, name, emotion):
    pipeline.reset()
    (record,) = pipeline.process(read_image(image_path(name)), 0.0, 0).records
    assert record.emotion == emotion, dict(zip(pipeline.classifier.labels, np.round(record.probabilities, 2)))


LABELLED_IMAGES = [
    name for name in SINGLE_FACE_IMAGES if name.split("_")[0] in ("angry", "happy", "neutral", "sad", "surprise")
]


@pytest.mark.xfail(
    strict=True, reason="issue 13: the fast model (72.5%) names 7 of the 10 labelled faces right, as the ones before"
)
def test_most_labelled_faces_are_named_as_their_file_says(pipeline, image_path):
    right = []
    for name in LABELLED_IMAGES:
        pipeline.reset()
        (record,) = pipeline.process(read_image(image_path(name)), 0.0, 0).records
        right.append(record.emotion.lower() == name.split("_")[0])
    assert len(LABELLED_IMAGES) == 10
    assert sum(right) >= 8, dict(zip(LABELLED_IMAGES, right))


def test_the_accurate_model_names_as_many_labelled_faces_right(pipeline, image_path):
    """7 of the 10 for each model (measured: both call the angry LivePortrait frame Sad, the neutral one Sad and the
    d18 surprise Angry, at 0.39 and 0.50 for the fast model, 0.40 and 0.51 for the accurate one; session 25). On the detector's
    box, before the crop came from the landmarks, the accurate model named 8: the neutral face, Neutral at 0.36 (bench/RESULTS.md, session 16)."""
    accurate = FramePipeline(PipelineSettings(model_dir=str(NAMED_MODELS["accurate"])))
    right = {}
    for model in (pipeline, accurate):
        right[model] = 0
        for name in LABELLED_IMAGES:
            model.reset()
            (record,) = model.process(read_image(image_path(name)), 0.0, 0).records
            right[model] += record.emotion.lower() == name.split("_")[0]
    assert right[accurate] >= 7 and right[accurate] >= right[pipeline]


def _turned(image: np.ndarray, degrees: float) -> np.ndarray:
    """``image`` turned by ``degrees`` counter-clockwise on screen about its centre (mirrored past the edges)."""
    height, width = image.shape[:2]
    turn = cv2.getRotationMatrix2D((width / 2, height / 2), degrees, 1.0)
    return cv2.warpAffine(image, turn, (width, height), borderMode=cv2.BORDER_REFLECT)


def test_the_classifier_sees_a_tilted_face_nearly_upright(pipeline, image_path):
    """A head leaning more than ROLL_KEPT degrees is turned back to that much before the classifier: tilted 15-25
    degrees, it gives nearly the pixels of the same head upright turned to ROLL_KEPT (a few gray levels apart on
    average, against 30-39 for the crop not turned)."""
    image = read_image(image_path("neutral_liveportrait_d3_t6.0.jpg"))

    def located(picture):
        pipeline.reset()
        faces = pipeline.locate(picture, 0.0, 0)
        (shape,) = faces.shapes
        return faces, shape

    def crop(faces, shape, angle):
        box = np.round(shape.crop_box(angle)).astype(np.int64)[None]
        return pipeline.classifier.prepare(faces.gray, box, np.array([angle]))[0]

    faces, shape = located(image)
    roll = shape.roll_degrees()
    assert abs(roll) < 3 and faces.crop_angles.tolist() == [0.0]
    assert (crop(faces, shape, 0.0) == pipeline.classifier.prepare(faces.gray, faces.crop_boxes)[0]).all()
    for degrees in (25, -15):  # counter-clockwise on screen: the eye line's angle falls
        tilted, tilted_shape = located(_turned(image, degrees))
        (angle,) = tilted.crop_angles
        assert tilted_shape.roll_degrees() == pytest.approx(roll - degrees, abs=2.5)
        assert abs(tilted_shape.roll_degrees() - angle) == pytest.approx(ROLL_KEPT)
        turned = pipeline.classifier.prepare(tilted.gray, tilted.crop_boxes, tilted.crop_angles)[0]
        expected = crop(faces, shape, roll - (tilted_shape.roll_degrees() - angle))
        not_turned = crop(tilted, tilted_shape, 0.0)
        assert np.abs(turned - expected).mean() < 6 < 20 < np.abs(not_turned - crop(faces, shape, 0.0)).mean()


@pytest.mark.parametrize("name", ["sad_crop_face_classification.png", "surprise_crop_face_classification.png"])
def test_a_tilted_head_keeps_its_reading(pipeline, image_path, name):
    """Heads tilt in interviews (a tenth to a fifth of the frames of the shared talking clips lean more than 10
    degrees). Measured before the crop was turned upright: the sad face read Angry or Neutral once tilted 20-30
    degrees, the surprised one Happy at -30 (bench/RESULTS.md, session 19)."""
    image = read_image(image_path(name))
    pipeline.reset()
    (upright,) = pipeline.process(image, 0.0, 0).records
    for degrees in (20, -20, 30, -30):
        pipeline.reset()
        (tilted,) = pipeline.process(_turned(image, degrees), 0.0, 0).records
        assert tilted.emotion == upright.emotion, (degrees, tilted.emotion, tilted.emotion_probability)
        assert tilted.emotion_probability == pytest.approx(upright.emotion_probability, abs=0.2), degrees


def test_two_face_clip_keeps_exactly_two_identities(pipeline, video_path):
    analysis = analyze_video(video_path("composite_two_faces_d3_d18.mp4"), pipeline=pipeline)
    assert analysis.frames_analysed == 216
    assert [f.track_id for f in analysis.faces] == [1, 2]
    for face in analysis.faces:
        assert face.frames == 216  # seen in every frame, never re-identified
    left_ids = {r.track_id for r in analysis.records if r.x2 <= 480}
    right_ids = {r.track_id for r in analysis.records if r.x1 >= 480}
    assert len(left_ids) == 1 and len(right_ids) == 1 and left_ids != right_ids


def test_news_clip_has_exactly_one_blink_near_two_and_a_half_seconds(pipeline, video_path):
    analysis = analyze_video(video_path("wifs2018_demo_0001_blink.mp4"), pipeline=pipeline)
    (face,) = analysis.faces
    assert face.blink_count == 1
    (blink,) = [r for r in analysis.records if r.blink]
    assert 2.3 <= blink.time_s <= 3.0  # the eye closes at ~2.43 s; the blink is counted when it reopens


def test_a_face_that_leaves_and_returns_keeps_its_identity(pipeline, video_path, tmp_path):
    talk = video_path("sadtalker_WDA_AlexandriaOcasioCortez_000.mp4")
    clip = splice(tmp_path / "back.mp4", [(talk, 0, 100), (None, 0, 50), (talk, 100, 100)], fps=25.0)  # 2 s away
    analysis = analyze_video(clip, pipeline=pipeline)
    (face,) = analysis.faces
    assert face.track_id == 1 and face.frames == 200  # the switch to gray is a cut: nothing followed into it
    assert face.last_seen_s - face.first_seen_s > 9.9 and 7.9 < face.time_on_screen_s < 8.1  # the gap not counted
    pipeline.reset()
    apart = FramePipeline(
        PipelineSettings(same_person=0.0), classifier=pipeline.classifier, landmarks=pipeline.landmarks
    )
    assert [f.track_id for f in analyze_video(clip, pipeline=apart).faces] == [1, 2]  # without recognition
    # as the Live page runs it (no recognition, no scene cuts, the hold): one person alone who looked away stays #1
    held = FramePipeline(
        PipelineSettings(same_person=0.0, solo_hold_s=60.0, scene_cut=0.0),
        classifier=pipeline.classifier,
        landmarks=pipeline.landmarks,
    )
    (face,) = analyze_video(clip, pipeline=held).faces
    assert face.track_id == 1 and face.frames == 200 and 7.9 < face.time_on_screen_s < 8.1
    # ... unless the face was away for longer than the hold (it ended 1 s after leaving, returned 1 s later)
    short = FramePipeline(
        PipelineSettings(same_person=0.0, solo_hold_s=0.5, scene_cut=0.0),
        classifier=pipeline.classifier,
        landmarks=pipeline.landmarks,
    )
    assert [f.track_id for f in analyze_video(clip, pipeline=short).faces] == [1, 2]


def test_the_solo_hold_never_joins_faces_seen_together(pipeline, video_path, tmp_path):
    """Two faces on screen at once, then one leaves: the one that comes back alone is not given the other's id by
    the hold (it is only for one person alone)."""
    both = video_path("composite_two_faces_d3_d18.mp4")
    clip = splice(tmp_path / "two.mp4", [(both, 0, 60), (None, 0, 50), (both, 60, 60)], fps=30.0)
    held = FramePipeline(
        PipelineSettings(same_person=0.0, solo_hold_s=60.0, scene_cut=0.0),
        classifier=pipeline.classifier,
        landmarks=pipeline.landmarks,
    )
    assert [f.track_id for f in analyze_video(clip, pipeline=held).faces] == [1, 2, 3, 4]


def test_a_glimpse_is_not_recognised_later(pipeline, video_path, tmp_path):
    talk = video_path("sadtalker_WDA_AlexandriaOcasioCortez_000.mp4")
    clip = splice(tmp_path / "glimpse.mp4", [(talk, 0, 10), (None, 0, 50), (talk, 100, 100)], fps=25.0)
    assert [f.track_id for f in analyze_video(clip, pipeline=pipeline).faces] == [1, 2]  # seen 0.4 s: not known


def test_a_different_face_after_a_gap_is_a_new_identity(pipeline, video_path, tmp_path):
    clip = splice(
        tmp_path / "other.mp4",
        [
            (video_path("sadtalker_WDA_AlexandriaOcasioCortez_000.mp4"), 0, 100),
            (None, 0, 50),
            (video_path("sadtalker_WDA_KatieHill_000.mp4"), 0, 100),
        ],
        fps=25.0,
    )
    analysis = analyze_video(clip, pipeline=pipeline)
    assert [f.track_id for f in analysis.faces] == [1, 2]
    assert [f.frames for f in analysis.faces] == [100, 100]


def test_no_face_is_followed_across_a_scene_cut(pipeline, video_path):
    path = video_path("face_recognition_short_hamilton_clip.mp4")  # a singer on stage; cuts to the audience
    analysis = analyze_video(path, pipeline=pipeline)
    assert pipeline.scene_cuts == 3  # frames 20, 82 and 211
    (singer,) = {r.track_id for r in analysis.records if r.frame_index == 150}
    assert max(r.frame_index for r in analysis.records if r.track_id == singer) < 211
    blind = FramePipeline(
        PipelineSettings(scene_cut=0.0),
        classifier=pipeline.classifier,
        landmarks=pipeline.landmarks,
        describer=pipeline.describer,
    )
    followed = analyze_video(path, pipeline=blind).records  # without cuts: his box is followed onto the audience
    assert max(r.frame_index for r in followed if r.track_id == singer) >= 211


def test_frequent_blinker_gives_many_blinks(pipeline, video_path):
    # 10 candidate closures in 8 s in the team's automatic annotations (MediaPipe); a loose check, not ground truth
    analysis = analyze_video(video_path("sadtalker_WDA_AlexandriaOcasioCortez_000.mp4"), pipeline=pipeline)
    assert 7 <= analysis.faces[0].blink_count <= 12


def test_blinks_agree_with_the_automatic_annotations_of_the_one_face_clips(pipeline, media_dir, video_path):
    # MediaPipe FaceMesh candidates (automatic, spot-checked: nearly all real closures); an extra closure of ours may
    # be real (winks, eyes shut while looking down), so misses are held tight and extras loosely
    notes = json.loads((media_dir / "auto_annotations.json").read_text())
    clips = {
        name: clip["blink_candidates_frames"]
        for name, clip in notes.items()
        if name != "_about" and clip["faces_per_frame_max"] == 1
    }
    totals = {"matched": 0, "extra": 0, "missed": 0}
    for name, candidates in clips.items():
        pipeline.reset()
        records = [
            r
            for f in iter_frames(video_path(name))
            for r in pipeline.process(f.image, f.time_s, f.index, f.gray).records
        ]
        (spans,) = blink_spans(records).values()  # one face, one identity
        assert pipeline.scene_cuts == 0, name  # one shot each
        for key, value in event_agreement(spans, [tuple(c) for c in candidates], tolerance=2).items():
            totals[key] += value
    assert sum(len(c) for c in clips.values()) == 29 and len(clips) == 9
    assert totals["matched"] >= 26 and totals["missed"] <= 3  # 27 and 2 (a double blink taken as one, an ambiguous one)
    assert totals["extra"] <= 6  # 2 (13 before the depth rule: lids lowered looking at a phone, a wink, squints)


def test_timestamps_come_from_the_container(video_path):
    path = video_path("fer_woman2.mp4")  # 29.97 fps
    info = probe_video(path)
    times = [f.time_s for f in iter_frames(path)]
    assert len(times) == info.frame_count == 464
    assert times[0] == 0.0
    assert times[-1] == pytest.approx(463 * 1001 / 30000, abs=1e-3)  # no drift from assuming 30 fps
    assert [f.index for f in iter_frames(path, every=5)][:3] == [0, 5, 10]


def test_analysis_writes_table_summary_and_playable_video(pipeline, video_path, tmp_path):
    path = video_path("liveportrait_d18_surprise.mp4")
    seen = []
    analysis = analyze_video(path, tmp_path, every=2, pipeline=pipeline, progress=lambda d, t: seen.append((d, t)))
    out = analysis.outputs
    assert out.table_csv == tmp_path / "liveportrait_d18_surprise.csv"
    total = probe_video(path).frame_count
    assert analysis.frames_decoded == total and seen[-1][1] == total and total - 2 < seen[-1][0] <= total
    table = pd.read_csv(out.table_csv)
    assert list(table.columns) == [*TABLE_COLUMNS, *READING_COLUMNS]
    assert len(table) == len(analysis.records) == analysis.frames_analysed
    assert set(table.emotion_smoothed) <= {*EMOTIONS, UNCERTAIN} and "Surprise" in set(table.emotion_of_second)
    assert (table.frame_index % 2 == 0).all()
    parquet = pd.read_parquet(out.table_parquet)
    assert list(parquet.columns) == [*TABLE_COLUMNS, *READING_COLUMNS] and len(parquet) == len(table)
    assert np.allclose(parquet.p_surprise, table.p_surprise, atol=1e-6)
    probabilities = table[[c for c in table.columns if c.startswith("p_")]].to_numpy()
    assert np.allclose(probabilities.sum(1), 1.0, atol=1e-4)
    assert "Surprise" in set(table.emotion)
    import json

    summary = json.loads(out.summary_json.read_text())
    assert summary["frames_analysed"] == analysis.frames_analysed and len(summary["faces"]) == 1
    assert sum(summary["faces"][0]["emotion_share"].values()) == pytest.approx(1.0)
    with av.open(str(out.annotated_mp4)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        frames = list(container.decode(stream))
    assert len(frames) == analysis.frames_analysed
    assert frames[-1].time == pytest.approx(analysis.records[-1].time_s, abs=0.05)


@pytest.mark.parametrize("detect_every", [1, 3])
def test_following_between_detections_keeps_identities_and_blinks(video_path, detect_every):
    pipeline = FramePipeline(PipelineSettings(detect_every=detect_every))
    analysis = analyze_video(video_path("liveportrait_d12_talking.mp4"), pipeline=pipeline)
    assert [f.track_id for f in analysis.faces] == [1]  # head motion and a few faceless frames: one identity
    blinks = analysis.faces[0].blink_count
    assert 1 <= blinks <= 3


def test_a_followed_face_is_not_carried_into_black_or_tiny_frames(pipeline, image_path):
    """Issue 18, item 15: after a face, black frames (or a 1x1 frame) must give no record, not the face carried
    on by the follower for the frames before the detector runs again."""
    face = read_image(image_path("happy_fer_justin.jpg"))
    for after in (np.zeros_like(face), np.full_like(face, 128), np.zeros((1, 1, 3), np.uint8)):
        pipeline.reset()
        assert len(pipeline.process(face, 0.0, 0).records) == 1
        # 0.1 s apart, as when every 3rd frame is analysed: no scene-cut check, so only the follower's own check
        # stops it (the detector runs every 3rd analysed frame; the others are followed)
        for k in range(1, 4):
            assert pipeline.process(after, k * 0.1, k).records == [], (after.shape, k)
        assert len(pipeline.process(face, 0.4, 4).records) == 1  # and the face is found again


def test_the_classifier_crop_follows_the_landmarks_steadier_than_the_detector_box(pipeline, video_path):
    """The box the classifier crops comes from the 68 points: where the detector's box sits on average (so the
    network sees the framing it was chosen for), but with smaller jumps from frame to frame."""
    pipeline.reset()
    detector, crop = [], []
    for frame in iter_frames(video_path("liveportrait_d3_expressions.mp4")):
        located = pipeline.locate(frame.image, frame.time_s, frame.index)
        assert len(located.boxes) == 1
        detector.append(located.boxes[0])
        crop.append(located.crop_boxes[0])
    detector, crop = np.array(detector, dtype=float), np.array(crop, dtype=float)
    width = np.median(detector[:, 2] - detector[:, 0])
    assert np.abs(np.median(crop - detector, axis=0)).max() < 0.1 * width
    jumps = {name: np.abs(np.diff(boxes, axis=0)).mean() for name, boxes in (("detector", detector), ("crop", crop))}
    assert jumps["crop"] < 0.5 * jumps["detector"], jumps
