import numpy as np
import pytest

from fer_core.blink import BlinkDetector, BlinkSettings, eye_aspect_ratio


def eye(width: float, height: float) -> np.ndarray:
    """Six landmarks p1..p6 of an eye ``width`` wide and ``height`` tall (p1, p4 corners; p2, p3 top)."""
    w, h = width, height
    return np.array([[0, 0], [w / 3, -h / 2], [2 * w / 3, -h / 2], [w, 0], [2 * w / 3, h / 2], [w / 3, h / 2]])


@pytest.mark.parametrize("width, height, expected", [(30, 9, 0.3), (30, 0, 0.0), (20, 10, 0.5)])
def test_eye_aspect_ratio(width, height, expected):
    assert eye_aspect_ratio(eye(width, height)) == pytest.approx(expected)


def test_eye_aspect_ratio_of_a_degenerate_eye_is_zero():
    assert eye_aspect_ratio(np.zeros((6, 2))) == 0.0


def run(ears, fps=30.0, settings=BlinkSettings()):
    detector = BlinkDetector(settings)
    states = [detector.update(e, i / fps) for i, e in enumerate(ears)]
    return detector, states


def test_one_blink_is_counted_once_when_the_eye_reopens():
    ears = [0.30] * 30 + [0.10] * 4 + [0.30] * 30
    detector, states = run(ears)
    assert detector.count == 1
    assert [i for i, s in enumerate(states) if s.blink] == [34]
    assert [i for i, s in enumerate(states) if s.closed] == [30, 31, 32, 33]


def test_a_one_frame_closure_is_a_blink_and_a_one_frame_narrowing_is_not():
    # at 30 fps a quick blink can be shut on one frame only, and at every 3rd frame most blinks are one sample
    detector, _ = run([0.30] * 30 + [0.10] + [0.30] * 30)
    assert detector.count == 1
    detector, _ = run([0.30] * 30 + [0.19] + [0.30] * 30)  # under the closed level, but not near shut
    assert detector.count == 0


def test_eyes_closed_longer_than_a_blink_are_not_a_blink():
    detector, _ = run([0.30] * 30 + [0.05] * 45 + [0.30] * 30)  # 1.5 s closed
    assert detector.count == 0


def test_narrow_eyes_are_judged_against_their_own_baseline():
    # Open EAR 0.17 is below the usual fixed 0.2 threshold; a fixed threshold would see the eyes as always closed.
    ears = ([0.17] * 40 + [0.06] * 4) * 3 + [0.17] * 40
    detector, states = run(ears)
    assert detector.count == 3
    assert sum(s.closed for s in states[40:]) == 12


def test_a_long_closure_does_not_drag_the_open_eye_baseline_down():
    # eyes shut 2 s (a sad, downcast face) with the lids trembling: one long closure, never a blink; the median of
    # every sample would sink towards the shut level and turn the trembles into "reopenings" and new "blinks"
    shut = [0.08, 0.12, 0.16, 0.10] * 15
    detector, states = run([0.30] * 40 + shut + [0.30] * 30)
    assert detector.count == 0 and all(s.closed for s in states[40:100])
    assert detector.baseline == pytest.approx(0.30)


def test_a_squint_is_not_a_blink_however_long_or_short():
    # the lids narrow to 0.6 of the open eye for 5 frames (a smile or a frown) and open again: under the closed
    # level (0.7) but never near shut
    detector, states = run([0.30] * 40 + [0.20, 0.19, 0.18, 0.19, 0.20] + [0.30] * 30)
    assert detector.count == 0 and sum(s.closed for s in states) == 5


def test_a_blink_from_wide_open_eyes_is_judged_against_the_eye_just_before():
    # talking with wide eyes (0.36, above the usual 0.28), a blink whose landmarks only reach 0.17: 0.6 of the
    # baseline, but under half of the eye just before it
    detector, _ = run([0.28] * 60 + [0.36] * 12 + [0.22, 0.17, 0.18] + [0.33] * 20)
    assert detector.count == 1


def test_flicker_around_the_threshold_is_held_by_hysteresis():
    # After a closure, values between the close (0.21) and reopen (0.24) thresholds keep the eye closed.
    ears = [0.30] * 30 + [0.10, 0.10, 0.22, 0.10, 0.10] + [0.30] * 30
    detector, _ = run(ears)
    assert detector.count == 1


def test_rate_per_minute():
    detector, _ = run(([0.30] * 56 + [0.10] * 4) * 6 + [0.30])  # 6 blinks in 361 frames at 30 fps, 12 s
    assert detector.count == 6
    assert detector.rate_per_minute() == pytest.approx(60 * 6 / (360 / 30))


def test_nothing_is_judged_before_the_baseline_forms():
    detector, states = run([0.05] * 5 + [0.30] * 30, settings=BlinkSettings(baseline_min_samples=10))
    assert detector.count == 0 and not any(s.closed for s in states)


def test_reset_forgets_everything():
    detector, _ = run([0.30] * 30 + [0.10] * 4 + [0.30] * 3)
    detector.reset()
    assert detector.count == 0 and detector.baseline is None and detector.rate_per_minute() is None


def test_blink_spans_are_the_closed_frames_before_each_counted_blink():
    from fer_core.records import FaceRecord, blink_spans

    detector, states = run([0.30] * 30 + [0.10] * 4 + [0.30] * 10 + [0.19] + [0.30] * 5)  # a blink, then a narrowing
    records = [
        FaceRecord(
            time_s=i / 30,
            frame_index=i,
            track_id=3,
            x1=0,
            y1=0,
            x2=1,
            y2=1,
            detection_score=1.0,
            probabilities=(1.0,) + (0.0,) * 6,
            emotion="Angry",
            emotion_probability=1.0,
            ear=0.3,
            eyes_closed=s.closed,
            blink=s.blink,
            blink_count=s.count,
        )
        for i, s in enumerate(states)
    ]
    assert blink_spans(records) == {3: [(30, 33)]}
