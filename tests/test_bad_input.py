"""Bad input gives a typed error with a message a person understands, and keeps what can be kept."""

from __future__ import annotations

import json
from fractions import Fraction

import av
import cv2
import numpy as np
import pytest
from video_files import remux, truncate

from fer_core.classifier import EmotionClassifier
from fer_core.decode import iter_frames, probe_video, read_image
from fer_core.errors import DecodeError, ModelFileError, NoFaceError, TruncatedVideoError
from fer_core.export import Mp4Writer
from fer_core.model_file import DEFAULT_MODEL_DIR, MODEL_FILE, MODEL_META
from fer_core.pipeline import FramePipeline
from fer_core.video import Cancelled, analyze_video


@pytest.fixture(scope="module")
def pipeline() -> FramePipeline:
    return FramePipeline()


def synthetic_video(path, frames, fps=25):
    with Mp4Writer(path, fps) as writer:
        for i, image in enumerate(frames):
            writer.write(image, i / fps)
    return path


@pytest.mark.parametrize(
    "name, content, words",
    [
        ("notes.mp4", b"this is a text file, not a video\n" * 20, "not"),
        ("random.mov", np.random.default_rng(0).integers(0, 256, 50_000, dtype=np.uint8).tobytes(), "not"),
        ("empty.mp4", b"", "empty"),
    ],
)
def test_files_that_are_not_videos(tmp_path, name, content, words):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(DecodeError, match=words):
        probe_video(path)
    with pytest.raises(DecodeError):
        list(iter_frames(path))


def test_a_photo_renamed_mp4_is_not_a_video(tmp_path, image_path):
    path = tmp_path / "holiday.mp4"
    path.write_bytes(image_path("happy_fer_justin.jpg").read_bytes())
    with pytest.raises(DecodeError, match="still image"):
        probe_video(path)


def test_missing_file(tmp_path):
    with pytest.raises(DecodeError, match="no such file"):
        probe_video(tmp_path / "nothing.mp4")


def test_truncated_file_without_index_cannot_open(tmp_path, video_path):
    # these MP4s keep their index (moov) at the end: cut, nothing can be read, and the message says why
    path = tmp_path / "cut.mp4"
    path.write_bytes(video_path("wifs2018_demo_0001_blink.mp4").read_bytes()[:300_000])
    with pytest.raises(DecodeError, match="truncated"):
        probe_video(path)


@pytest.mark.parametrize(
    "fmt, suffix, options", [("mp4", ".mp4", {"movflags": "faststart"}), ("matroska", ".mkv", None)]
)
def test_truncated_video_keeps_what_was_read(pipeline, tmp_path, video_path, fmt, suffix, options):
    path = truncate(remux(video_path("wifs2018_demo_0001_blink.mp4"), tmp_path / f"clip{suffix}", fmt, options))
    with pytest.raises(TruncatedVideoError) as caught:
        for _ in iter_frames(path):
            pass
    assert 50 < caught.value.frames_read < 192
    analysis = analyze_video(path, tmp_path / "out", pipeline=pipeline)
    assert analysis.truncated and "truncated" in analysis.warnings[0]
    assert analysis.frames_analysed == caught.value.frames_read
    assert len(analysis.records) >= 0.9 * analysis.frames_analysed  # the face was analysed up to the break
    summary = json.loads(analysis.outputs.summary_json.read_text())
    assert summary["truncated"] is True and summary["faces"]


def test_unsupported_codec(tmp_path, video_path):
    path = remux(video_path("wifs2018_demo_0001_blink.mp4"), tmp_path / "clip.mkv", "matroska")
    data = path.read_bytes()
    assert b"V_MPEG4/ISO/ASP" in data
    path.write_bytes(data.replace(b"V_MPEG4/ISO/ASP", b"V_XXXXX/ISO/ASP"))  # a codec no FFmpeg knows
    with pytest.raises(DecodeError, match="codec"):
        probe_video(path)


def test_video_with_no_face(pipeline, tmp_path):
    rng = np.random.default_rng(1)
    frames = [cv2.GaussianBlur(rng.integers(0, 255, (120, 160, 3), dtype=np.uint8), (9, 9), 3) for _ in range(20)]
    path = synthetic_video(tmp_path / "wall.mp4", frames)
    analysis = analyze_video(path, tmp_path / "out", pipeline=pipeline)
    assert analysis.records == [] and analysis.faces == [] and "no face" in analysis.warnings[0]
    assert analysis.outputs.table_csv.read_text().startswith("time_s,frame_index,track_id")
    with pytest.raises(NoFaceError, match="no face"):
        analyze_video(path, tmp_path / "strict", pipeline=pipeline, require_face=True)
    assert not any((tmp_path / "strict").iterdir())  # nothing half-written is left


def test_cancelled_analysis_leaves_no_files(pipeline, tmp_path, video_path):
    calls = []
    with pytest.raises(Cancelled):
        analyze_video(
            video_path("wifs2018_demo_0001_blink.mp4"),
            tmp_path,
            pipeline=pipeline,
            should_stop=lambda: len(calls) > 5,
            progress=lambda d, t: calls.append(d),
        )
    assert list(tmp_path.iterdir()) == []


def test_odd_sizes_tiny_frames_and_gray_sources(pipeline, tmp_path, image_path):
    face = read_image(image_path("happy_fer_justin.jpg"))
    odd = cv2.resize(face, (251, 253))
    path = synthetic_video(tmp_path / "odd.mp4", [odd] * 10 + [cv2.resize(face, (31, 17))] * 2)
    analysis = analyze_video(path, tmp_path / "out", pipeline=pipeline)
    assert analysis.frames_analysed == 12 and len(analysis.records) >= 8
    with av.open(str(analysis.outputs.annotated_mp4)) as container:
        assert container.streams.video[0].codec_context.width == 252  # padded to even for yuv420p
    gray = cv2.cvtColor(face, cv2.COLOR_BGR2GRAY)
    assert len(pipeline.process(gray, 0.0, 0).records) == 1
    assert len(pipeline.process(gray[:, :, None], 0.1, 1).records) == 1
    assert len(pipeline.process(cv2.cvtColor(face, cv2.COLOR_BGR2BGRA), 0.2, 2).records) == 1


def test_gray_and_alpha_images_are_read_as_bgr(tmp_path, image_path):
    face = read_image(image_path("happy_fer_justin.jpg"))
    cv2.imwrite(str(tmp_path / "gray.png"), cv2.cvtColor(face, cv2.COLOR_BGR2GRAY))
    cv2.imwrite(str(tmp_path / "alpha.png"), cv2.cvtColor(face, cv2.COLOR_BGR2BGRA))
    for name in ("gray.png", "alpha.png"):
        image = read_image(tmp_path / name)
        assert image.shape == face.shape and image.dtype == np.uint8
    (tmp_path / "broken.png").write_bytes(b"\x89PNG broken")
    with pytest.raises(DecodeError, match="not a readable image"):
        read_image(tmp_path / "broken.png")


def test_missing_model_files_say_how_to_fix(tmp_path):
    with pytest.raises(ModelFileError, match="model.json is missing.*git checkout models"):
        EmotionClassifier(tmp_path)
    (tmp_path / MODEL_META).write_text((DEFAULT_MODEL_DIR / MODEL_META).read_text())
    with pytest.raises(ModelFileError, match="emotion.tflite is missing"):
        EmotionClassifier(tmp_path)


def test_corrupt_model_files(tmp_path):
    (tmp_path / MODEL_META).write_text("{not json")
    with pytest.raises(ModelFileError, match="not valid model metadata"):
        EmotionClassifier(tmp_path)
    (tmp_path / MODEL_META).write_text((DEFAULT_MODEL_DIR / MODEL_META).read_text())
    (tmp_path / MODEL_FILE).write_bytes(b"\x00" * 1000)
    with pytest.raises(ModelFileError, match="not a valid LiteRT model"):
        EmotionClassifier(tmp_path)


@pytest.mark.parametrize("below", ["0.6", -0.1, 1.5, True, None])
def test_a_broken_second_reading_threshold_is_refused_with_a_fix(tmp_path, below):
    meta = json.loads((DEFAULT_MODEL_DIR / MODEL_META).read_text())
    (tmp_path / MODEL_META).write_text(json.dumps({**meta, "mirror_below": below}))
    (tmp_path / MODEL_FILE).write_bytes((DEFAULT_MODEL_DIR / MODEL_FILE).read_bytes())
    with pytest.raises(ModelFileError, match="mirror_below must be a probability.*git checkout models"):
        EmotionClassifier(tmp_path)


def test_face_describer_model_missing_or_corrupt(tmp_path):
    """Missing: said at once. The network itself loads on its first use (most videos never need it), and a corrupt
    file is named then, as a model error, not a crash."""
    from fer_core.identity import FaceDescriber

    with pytest.raises(ModelFileError, match="face descriptor model .* is missing"):
        FaceDescriber(tmp_path / "absent.dat")
    corrupt = tmp_path / "corrupt.dat"
    corrupt.write_bytes(b"\x00" * 1000)
    describer = FaceDescriber(corrupt)
    with pytest.raises(ModelFileError, match="face descriptor model .* is unreadable"):
        describer.describe(np.zeros((150, 150, 3), np.uint8))


def _model_copy(folder, **meta_changes):
    import shutil

    folder.mkdir()
    shutil.copy(DEFAULT_MODEL_DIR / MODEL_FILE, folder / MODEL_FILE)
    meta = json.loads((DEFAULT_MODEL_DIR / MODEL_META).read_text())
    (folder / MODEL_META).write_text(json.dumps({**meta, **meta_changes}))
    return folder


def test_model_labels_must_match_the_network(tmp_path):
    five = ["Angry", "Disgust", "Fear", "Happy", "Sad"]
    with pytest.raises(ModelFileError, match="gives 7 probabilities, but .* names 5 labels"):
        EmotionClassifier(_model_copy(tmp_path / "five", labels=five))
    unknown = ["Angry", "Disgust", "Fear", "Joy", "Sad", "Surprise", "Neutral"]
    with pytest.raises(ModelFileError, match="not the 7 emotions"):
        EmotionClassifier(_model_copy(tmp_path / "unknown", labels=unknown))


def test_reordered_model_labels_still_give_probabilities_in_emotion_order(tmp_path, image_path):
    """A model whose file lists its outputs in another order: the columns come back in EMOTIONS order."""
    from fer_core.labels import EMOTIONS

    plain = EmotionClassifier(DEFAULT_MODEL_DIR)
    # pretend the same network's outputs are in reverse order: its column i is now named EMOTIONS[6 - i]
    reordered = EmotionClassifier(_model_copy(tmp_path / "reordered", labels=list(reversed(EMOTIONS))))
    faces = np.random.default_rng(0).uniform(0, 255, (4, 48, 48, 1)).astype(np.float32)
    assert reordered.labels == plain.labels == EMOTIONS
    np.testing.assert_array_equal(reordered.predict(faces), plain.predict(faces)[:, ::-1])


def test_rotated_phone_video_is_decoded_upright(tmp_path, image_path):
    import struct

    face = cv2.resize(read_image(image_path("happy_fer_justin.jpg")), (320, 320))
    stored = np.ascontiguousarray(np.rot90(face, k=1))  # a phone stores the picture sideways ...
    path = synthetic_video(tmp_path / "phone.mp4", [stored] * 3)
    data = path.read_bytes()
    identity = struct.pack(">9I", 0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000)
    rotate_90 = struct.pack(">9i", 0, 0x10000, 0, -0x10000, 0, 0, 0, 0, 0x40000000)  # ... and tags "rotate 90"
    at = data.find(identity, data.find(b"tkhd"))
    path.write_bytes(data[:at] + rotate_90 + data[at + 36 :])
    assert probe_video(path).rotation == 90
    frame = next(iter_frames(path)).image
    from fer_core.detect import FaceDetector
    from fer_core.image import to_gray

    assert len(FaceDetector().detect(to_gray(frame))) == 1  # dlib's frontal detector finds upright faces only
    assert len(FaceDetector().detect(to_gray(stored))) == 0


def test_variable_frame_rate_timestamps_stay_true(tmp_path):
    times = [0.0, 0.04, 0.08, 0.30, 0.32, 1.00, 1.50, 1.52, 2.75]
    rng = np.random.default_rng(2)
    with Mp4Writer(tmp_path / "vfr.mp4", fps=25) as writer:
        for t in times:
            writer.write(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8), t)
    decoded = [f.time_s for f in iter_frames(tmp_path / "vfr.mp4")]
    assert decoded == pytest.approx(times, abs=1e-3)


def test_analyze_video_refuses_a_nonsense_every(video_path):
    for every in (0, -1, 1.5):
        with pytest.raises(ValueError, match="every must be a whole number"):
            analyze_video(video_path("wifs2018_demo_0001_blink.mp4"), every=every)


def _mkv_with_streams(path, streams, cover_first=False):
    """An MKV holding one video stream per entry of ``streams`` (lists of BGR frames, 25 fps, in order); with
    ``cover_first`` the first stream is marked as an attached cover picture, as music and podcast files do."""
    with av.open(str(path), "w", format="matroska") as out:
        outs = []
        for k, frames in enumerate(streams):
            s = out.add_stream("mpeg4", rate=25)
            s.width, s.height, s.pix_fmt = frames[0].shape[1], frames[0].shape[0], "yuv420p"
            if cover_first and k == 0:
                s.disposition = av.stream.Disposition.attached_pic
            outs.append(s)
        for k, (s, frames) in enumerate(zip(outs, streams)):
            for i, image in enumerate(frames):
                frame = av.VideoFrame.from_ndarray(image, format="bgr24")
                frame.pts = i
                out.mux(s.encode(frame))
            out.mux(s.encode(None))
    return path


def test_the_longest_moving_video_stream_is_analysed(tmp_path):
    """A one-frame picture first, or a short second camera: the longest moving picture is read, without a false
    "truncated" warning (issue 18, item 8). (PyAV's Matroska muxer drops the cover-picture mark that real files
    carry, and that the reader also checks; here the one-frame stream is simply the shortest.)"""
    gray, white = np.full((64, 96, 3), 90, np.uint8), np.full((64, 96, 3), 230, np.uint8)
    cover = _mkv_with_streams(tmp_path / "cover.mkv", [[white], [gray] * 50], cover_first=True)
    frames = list(iter_frames(cover))  # would raise TruncatedVideoError after 1 frame if the cover were read
    assert len(frames) == 50 and abs(int(frames[10].image.mean()) - 90) < 10
    assert probe_video(cover).frame_count == 50
    cameras = _mkv_with_streams(tmp_path / "cameras.mkv", [[white] * 10, [gray] * 40])
    frames = list(iter_frames(cameras))
    assert len(frames) == 40 and abs(int(frames[0].image.mean()) - 90) < 10


def test_frames_larger_than_the_budget_are_refused_before_decoding(tmp_path, monkeypatch):
    """A tiny file can declare enormous frames (issue 18, item 4): refused from its header, with the setting named."""
    path = synthetic_video(tmp_path / "big.mp4", [np.zeros((480, 640, 3), np.uint8)] * 3)
    assert probe_video(path).width == 640  # within the default budget
    monkeypatch.setenv("FER_MAX_FRAME_PIXELS", str(320 * 240))
    for read in (probe_video, lambda p: list(iter_frames(p))):
        with pytest.raises(DecodeError, match=r"640x480 pixels, larger than this server analyses .*FER_MAX_FRAME"):
            read(path)
    monkeypatch.setenv("FER_MAX_FRAME_PIXELS", "lots")
    with pytest.raises(DecodeError, match="must be a whole number"):
        probe_video(path)


def test_images_larger_than_the_budget_are_refused_before_decoding(image_path, monkeypatch):
    still = image_path("happy_fer_justin.jpg")
    assert read_image(still).size
    monkeypatch.setenv("FER_MAX_FRAME_PIXELS", str(100 * 100))
    with pytest.raises(DecodeError, match=r"the image is \d+x\d+ pixels, larger than this server analyses"):
        read_image(still)


@pytest.mark.parametrize(
    "frame, words",
    [
        (np.zeros((48, 64, 3), np.float32), "dtype float32"),
        (np.zeros((48, 64, 2), np.uint8), r"shape \(48, 64, 2\)"),
        (np.zeros((48, 64, 5), np.uint8), r"shape \(48, 64, 5\)"),
        (np.zeros((0, 64, 3), np.uint8), "empty frame"),
        (np.zeros((4, 48, 64, 3), np.uint8), r"shape \(4, 48, 64, 3\)"),
        ([[0, 1], [2, 3]], "got list"),
    ],
)
def test_library_misuse_gets_a_value_error_naming_the_expected_frame(frame, words):
    """Issue 18, item 14: not cv2.error, RuntimeError or IndexError from deep inside."""
    pipeline = FramePipeline()
    with pytest.raises(ValueError, match=f"a frame must be a uint8 array.*{words}"):
        pipeline.process(frame, 0.0, 0)
    assert pipeline.process(np.zeros((1, 1, 3), np.uint8), 0.0, 0).records == []  # a 1x1 frame is fine


def _ts_segment(path, n, fps=25, start_s=0.0, value=90):
    """An MPEG-TS file of ``n`` frames whose timestamps start at ``start_s`` seconds."""
    with av.open(str(path), "w", format="mpegts") as out:
        stream = out.add_stream("mpeg4", rate=fps)
        stream.width, stream.height, stream.pix_fmt = 96, 64, "yuv420p"
        stream.time_base = Fraction(1, 90_000)
        for i in range(n):
            frame = av.VideoFrame.from_ndarray(np.full((64, 96, 3), value, np.uint8), format="bgr24")
            frame.pts = int(round((start_s + i / fps) * 90_000))
            frame.time_base = Fraction(1, 90_000)
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


def test_timestamps_that_go_backwards_or_jump_are_made_continuous_and_reported(tmp_path):
    """Issue 18, item 5: two recordings joined byte for byte (both start at 0), and a 10-hour jump."""
    joined = tmp_path / "joined.ts"
    joined.write_bytes(
        _ts_segment(tmp_path / "a.ts", 50).read_bytes() + _ts_segment(tmp_path / "b.ts", 50).read_bytes()
    )
    jumped = tmp_path / "jumped.ts"
    jumped.write_bytes(
        _ts_segment(tmp_path / "c.ts", 50).read_bytes()
        + _ts_segment(tmp_path / "d.ts", 50, start_s=36_000.0).read_bytes()
    )
    for path in (joined, jumped):
        frames = list(iter_frames(path))
        times = np.array([f.time_s for f in frames])
        assert len(frames) == 100 and (np.diff(times) > 0).all()
        assert times[-1] == pytest.approx(99 / 25, abs=0.05)  # 100 frames at 25 fps, whatever the clock said
        assert sum(f.retimed for f in frames) == 1


def test_analysis_of_a_joined_file_warns_and_never_inflates_time(tmp_path, image_path):
    face = cv2.resize(read_image(image_path("happy_fer_justin.jpg")), (320, 320))
    parts = []
    for k, start in enumerate((0.0, 0.0)):  # a joined recording: the second part restarts its clock at 0
        with av.open(str(tmp_path / f"p{k}.ts"), "w", format="mpegts") as out:
            stream = out.add_stream("mpeg4", rate=25)
            stream.width, stream.height, stream.pix_fmt = 320, 320, "yuv420p"
            for i in range(50):
                frame = av.VideoFrame.from_ndarray(face, format="bgr24")
                frame.pts, frame.time_base = int((start + i / 25) * 90_000), Fraction(1, 90_000)
                out.mux(stream.encode(frame))
            out.mux(stream.encode(None))
        parts.append((tmp_path / f"p{k}.ts").read_bytes())
    (tmp_path / "joined.ts").write_bytes(b"".join(parts))
    analysis = analyze_video(tmp_path / "joined.ts")
    (face_summary,) = analysis.faces
    assert face_summary.time_on_screen_s == pytest.approx(4.0, abs=0.1)
    assert any("went backwards or jumped" in w for w in analysis.warnings)


def test_a_recording_without_its_length_in_the_header_is_measured(pipeline, tmp_path, video_path):
    """A browser's recording (MediaRecorder's WebM) is written as a live stream: its header gives no duration and no
    frame count (made here the same way: Matroska with ``live=1``). The length is read from the packets, so that the
    analysis knows its total (progress, time left, the two-process split) and reads every frame."""
    live = remux(video_path("liveportrait_d18_surprise.mp4"), tmp_path / "recording.mkv", "matroska", {"live": "1"})
    with av.open(str(live)) as container:
        stream = container.streams.video[0]
        assert stream.duration is None and not stream.frames and container.duration is None  # no length said
    info = probe_video(live)
    assert info.frame_count == 216 and info.duration_s == pytest.approx(7.2, abs=0.05)
    totals = set()
    analysis = analyze_video(live, pipeline=pipeline, progress=lambda done, total: totals.add(total))
    assert totals == {216} and analysis.frames_analysed == 216 and not analysis.truncated
