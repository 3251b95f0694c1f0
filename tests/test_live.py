"""The live buffer (bounded, thinned, thread-safe) and the live session (pipeline per session, errors kept)."""

from __future__ import annotations

import threading
import time

import cv2
import numpy as np
import pytest

from fer_core.labels import EMOTIONS
from fer_core.live import DisplaySettings, FaceHistory, LiveBuffer, LiveSession, shared_turns, with_detector
from fer_core.models import SharedClassifier, SharedLandmarks
from fer_core.pipeline import FrameResult, PipelineSettings
from fer_core.records import FaceRecord


def _record(t: float, track_id: int = 1, emotion: str = "Happy", blinks: int = 0) -> FaceRecord:
    p = [0.0] * len(EMOTIONS)
    p[EMOTIONS.index(emotion)] = 1.0
    return FaceRecord(
        time_s=t,
        frame_index=int(t * 30),
        track_id=track_id,
        x1=0,
        y1=0,
        x2=10,
        y2=10,
        detection_score=1.0,
        probabilities=tuple(p),
        emotion=emotion,
        emotion_probability=1.0,
        ear=0.3,
        eyes_closed=False,
        blink=False,
        blink_count=blinks,
    )


def test_face_history_thins_older_points_and_keeps_totals():
    face = FaceHistory(1, max_points=10)
    for i in range(100):
        face.add(_record(i / 10, emotion="Happy" if i < 50 else "Sad", blinks=i // 20))
    times = [r.time_s for r in face.points]
    assert len(times) <= 10
    assert times[0] == 0.0 and times[-1] == pytest.approx(9.9)  # still spans the whole session
    assert times == sorted(times)
    assert face.thinned == 100 - len(times)
    summary = face.summary()
    assert summary.frames == 100
    assert summary.emotion_share["Happy"] == pytest.approx(0.5)
    assert summary.blink_count == 4
    assert summary.time_on_screen_s == pytest.approx(9.9)
    assert summary.blinks_per_minute == pytest.approx(60 * 4 / 9.9)


def test_buffer_snapshot_is_a_copy_and_counts_frames():
    buffer = LiveBuffer(max_points_per_face=50)
    buffer.add(0.0, [])
    for i in range(1, 31):
        buffer.add(i / 30, [_record(i / 30, 1), _record(i / 30, 2, "Sad")])
    snap = buffer.snapshot()
    assert snap.frames == 31 and snap.fps == pytest.approx(30.0)
    assert sorted(snap.faces) == [1, 2] and len(snap.faces[1]) == 30
    assert [r.track_id for r in snap.current] == [1, 2]
    buffer.add(2.0, [_record(2.0, 1)])
    assert len(snap.faces[1]) == 30  # the snapshot does not change afterwards
    table = snap.table()
    assert len(table) == 60 and table["time_s"].is_monotonic_increasing
    assert "emotion_smoothed" not in table  # the charts' table, rebuilt every second while streaming
    exported = snap.table(readings=True)  # what the CSV download and the history get
    readings = exported.groupby("track_id")[["emotion_smoothed", "emotion_of_second"]].agg(set)
    assert readings.to_dict("list") == {
        "emotion_smoothed": [{"Happy"}, {"Sad"}],
        "emotion_of_second": [{"Happy"}, {"Sad"}],
    }
    assert [f["dominant_emotion"] for f in snap.summary()["faces"]] == ["Happy", "Sad"]
    buffer.clear()
    assert buffer.snapshot().empty and buffer.snapshot().frames == 0


def test_buffer_forgets_the_face_unseen_longest_and_counts_it():
    buffer = LiveBuffer(max_faces=2)
    buffer.add(0.0, [_record(0.0, 1)])
    buffer.add(1.0, [_record(1.0, 2)])
    buffer.add(2.0, [_record(2.0, 2), _record(2.0, 3)])
    snap = buffer.snapshot()
    assert sorted(snap.faces) == [2, 3] and snap.dropped_faces == 1


def test_buffer_under_concurrent_writer_and_readers():
    buffer = LiveBuffer(max_points_per_face=64)
    stop = threading.Event()
    seen = []

    def read() -> None:
        while not stop.is_set():
            snap = buffer.snapshot()
            for records in snap.faces.values():
                assert len(records) <= 64
                assert [r.time_s for r in records] == sorted(r.time_s for r in records)
            seen.append(snap.frames)

    readers = [threading.Thread(target=read) for _ in range(2)]
    for r in readers:
        r.start()
    for i in range(3000):
        buffer.add(i / 30, [_record(i / 30, 1 + i % 3)])
    stop.set()
    for r in readers:
        r.join()
    final = buffer.snapshot()
    assert final.frames == 3000
    assert sum(s.frames for s in final.summaries) == 3000
    assert seen == sorted(seen)


class _FakePipeline:
    """Stands in for FramePipeline: one face per frame, or raises on a frame full of 255."""

    def __init__(self, settings, classifier=None, landmarks=None, describer=None):
        self.settings = settings
        self.tracker = object()
        self.landmarks = landmarks or object()
        self.describer = describer or object()
        self.resets = 0

    def reset(self):
        self.resets += 1

    def process(self, image, time_s, frame_index):
        if image.min() == 255:
            raise RuntimeError("bad frame")
        return FrameResult([_record(time_s)], {})


def test_session_processes_keeps_errors_and_rebuilds_on_new_settings():
    ticks = iter(np.arange(0, 100, 0.5))
    built = []

    def factory(settings, classifier=None, landmarks=None, describer=None):
        built.append(_FakePipeline(settings, classifier, landmarks, describer))
        return built[-1]

    session = LiveSession(classifier=None, clock=lambda: float(next(ticks)), pipeline_factory=factory)
    frame = np.zeros((120, 160, 3), np.uint8)
    out = session.process(frame)
    assert out.shape == frame.shape and out is not frame
    assert session.process(np.full_like(frame, 255)) is not None
    snap = session.snapshot()
    assert snap.frames == 1 and "bad frame" in snap.error and "Traceback" in snap.error
    session.configure(display=DisplaySettings(landmarks=True))
    session.process(frame)
    assert len(built) == 1  # display settings need no new pipeline
    session.configure(settings=with_detector(PipelineSettings(), threshold=-0.5))
    session.process(frame)
    assert len(built) == 2 and built[1].tracker is built[0].tracker
    assert built[1].landmarks is built[0].landmarks  # the landmark model is not loaded again
    assert built[1].describer is built[0].describer
    assert built[1].settings.detector.threshold == -0.5
    times = [r.time_s for r in session.snapshot().faces[1]]
    assert times[0] == 0.0 and times == sorted(times)
    session.reset()
    assert session.snapshot().frames == 0 and session.snapshot().error is None


@pytest.mark.parametrize("analyses", [1, 2, None])
def test_sessions_sharing_turns_analyse_at_most_that_many_frames_at_once(analyses):
    """Three sessions streaming at once: with shared turns for ``analyses`` at most that many pipelines run together
    (without turns all three do, which is what the test would miss if the turns were not taken)."""
    running, most, guard = [0], [0], threading.Lock()

    class _SlowPipeline(_FakePipeline):
        def process(self, image, time_s, frame_index):
            with guard:
                running[0] += 1
                most[0] = max(most[0], running[0])
            time.sleep(0.002)
            with guard:
                running[0] -= 1
            return super().process(image, time_s, frame_index)

    turns = shared_turns(analyses) if analyses else None
    sessions = [
        LiveSession(classifier=None, pipeline_factory=lambda settings, **models: _SlowPipeline(settings), turns=turns)
        for _ in range(3)
    ]
    frame = np.zeros((60, 80, 3), np.uint8)
    threads = [threading.Thread(target=lambda s=s: [s.process(frame) for _ in range(60)]) for s in sessions]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(s.snapshot().frames == 60 and s.snapshot().error is None for s in sessions)
    assert most[0] == (analyses or 3), most[0]


def test_session_tells_how_long_the_camera_has_been_silent():
    now = [10.0]
    session = LiveSession(
        classifier=None, clock=lambda: now[0], pipeline_factory=lambda settings, **models: _FakePipeline(settings)
    )
    assert session.snapshot().seconds_since_frame == 0.0  # no stream yet
    frame = np.zeros((120, 160, 3), np.uint8)
    for _ in range(30):
        session.process(frame)
        now[0] += 1 / 30
    now[0] += 5.0  # the camera stops sending
    snap = session.snapshot()
    assert snap.seconds_since_frame == pytest.approx(5.0 + 1 / 30)
    assert snap.frames == 30 and len(snap.faces[1]) == 30  # what was analysed is kept
    session.process(frame)  # it comes back
    assert session.snapshot().seconds_since_frame == 0.0 and session.snapshot().frames == 31
    session.reset()
    assert session.snapshot().seconds_since_frame == 0.0


@pytest.mark.parametrize("detector", ["hog", "blazeface"])  # the Live page's two face detectors
def test_session_with_the_real_pipeline_finds_a_face(image_path, detector):
    from fer_core.classifier import EmotionClassifier
    from fer_core.detect import DetectorSettings
    from fer_core.pipeline import PipelineSettings

    image = cv2.imread(str(image_path("happy_liveportrait_d0_t1.67.jpg")))
    from fer_core.landmarks import LandmarkPredictor

    landmarks = SharedLandmarks(LandmarkPredictor())
    session = LiveSession(
        SharedClassifier(EmotionClassifier()),
        settings=PipelineSettings(detector=DetectorSettings(model=detector)),
        display=DisplaySettings(landmarks=True),
        landmarks=landmarks,
    )
    annotated = session.process(image)
    snap = session.snapshot()
    assert snap.error is None
    assert len(snap.current) == 1 and snap.current[0].track_id == 1 and snap.current[0].emotion == "Happy"
    assert annotated.shape == image.shape and not np.array_equal(annotated, image)


def test_sessions_share_one_landmark_model_safely(image_path):
    """Several sessions (threads) call one shared landmark model at once: the same points as one at a time."""
    from fer_core.detect import FaceDetector
    from fer_core.image import to_gray
    from fer_core.landmarks import LandmarkPredictor

    gray = to_gray(cv2.imread(str(image_path("happy_liveportrait_d0_t1.67.jpg"))))
    boxes = FaceDetector().detect(gray).boxes
    shared = SharedLandmarks(LandmarkPredictor())
    expected = shared.predict(gray, boxes)[0].points
    results, errors = [], []

    def session():
        try:
            for _ in range(50):
                results.append(shared.predict(gray, boxes)[0].points)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=session) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(results) == 200
    assert all(np.array_equal(points, expected) for points in results)


def test_a_file_and_a_live_session_give_the_same_summary_for_the_same_records():
    """Issue 17: one tally for both; at 30 frames/s each frame stands for 1/30 s in both (it was 4.00 s against
    3.93 s). Two stays (a 2 s absence), a blink, emotions that change."""
    from fer_core.records import summarize

    records = []
    for k, t in enumerate([i / 30 for i in range(60)] + [4 + i / 30 for i in range(60)]):
        emotion = "Happy" if k % 3 else "Neutral"
        probabilities = tuple(0.6 if e == emotion else 0.4 / 6 for e in EMOTIONS)
        records.append(
            FaceRecord(
                time_s=t,
                frame_index=k,
                track_id=1,
                x1=0,
                y1=0,
                x2=10,
                y2=10,
                detection_score=1.0,
                probabilities=probabilities,
                emotion=emotion,
                emotion_probability=0.6,
                ear=0.3,
                eyes_closed=False,
                blink=k == 50,
                blink_count=int(k >= 50),
            )
        )
    buffer = LiveBuffer(max_points_per_face=16)  # thinning must not change the totals
    by_time = {round(r.time_s * 30): r for r in records}
    for k in range(int(round(6 * 30))):  # every camera frame, with the face or (while it is away) without
        buffer.add(k / 30, [by_time[k]] if k in by_time else [])
    live = buffer.snapshot()
    assert live.fps == pytest.approx(30, abs=0.01)
    (from_file,) = summarize(records, frame_interval_s=1 / 30)
    (from_live,) = live.summaries
    assert from_live == from_file
    assert from_file.time_on_screen_s == pytest.approx(4.0)  # 2 stays of 60 frames


def test_a_replay_holds_the_annotated_frames_only_when_asked_for(tmp_path, image_path):
    """Issue 16: after STOP, the annotated session can be watched and downloaded, if asked for before START."""
    import av

    from fer_core.classifier import EmotionClassifier
    from fer_core.landmarks import LandmarkPredictor

    image = cv2.imread(str(image_path("happy_liveportrait_d0_t1.67.jpg")))
    now = [0.0]
    session = LiveSession(
        SharedClassifier(EmotionClassifier()), landmarks=SharedLandmarks(LandmarkPredictor()), clock=lambda: now[0]
    )
    session.process(image)
    assert session.finish_replay() is None  # not asked for: nothing written
    session.reset()
    session.start_replay(tmp_path / "replay.mp4")
    for step in range(12):
        now[0] = 100.0 + step / 10
        session.process(image if step != 5 else cv2.resize(image, (320, 240)))  # the camera changes size once
    replay = session.finish_replay()
    assert replay is not None and replay.error is None and replay.frames == 12
    with av.open(str(replay.path)) as container:
        frames = [f.to_ndarray(format="bgr24") for f in container.decode(video=0)]
    assert len(frames) == 12 and frames[0].shape[:2] == (image.shape[0] + image.shape[0] % 2, image.shape[1])
    assert not np.allclose(frames[0].astype(float), image.astype(float), atol=8)  # annotated, not the raw frame
    assert session.finish_replay() is None  # finished once
