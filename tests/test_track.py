import numpy as np

from fer_core.track import IouTracker, TrackerSettings


def boxes(*rows):
    return np.array(rows, dtype=np.int64).reshape(-1, 4)


def ids(tracks):
    return [t.track_id for t in tracks]


def test_faces_keep_their_identity_while_moving():
    tracker = IouTracker()
    left, right = np.array([0, 0, 100, 100]), np.array([300, 0, 400, 100])
    first, _ = tracker.update(boxes(left, right), 0.0)
    assert ids(first) == [1, 2]
    for step in range(1, 30):
        shift = np.array([3, 1, 3, 1]) * step
        # detections arrive in either order; identity follows the box, not the position in the list
        order = (right + shift, left + shift) if step % 2 else (left + shift, right + shift)
        tracks, ended = tracker.update(boxes(*order), step / 30)
        assert ids(tracks) == ([2, 1] if step % 2 else [1, 2])
        assert ended == []


def test_a_face_missing_briefly_keeps_its_identity():
    tracker = IouTracker(TrackerSettings(max_unseen_s=1.0))
    tracker.update(boxes([0, 0, 100, 100]), 0.0)
    tracker.update(boxes(), 0.5)
    tracks, _ = tracker.update(boxes([5, 5, 105, 105]), 0.9)
    assert ids(tracks) == [1]


def test_a_face_lost_for_longer_ends_its_track_and_returns_as_new():
    tracker = IouTracker(TrackerSettings(max_unseen_s=1.0))
    tracker.update(boxes([0, 0, 100, 100]), 0.0)
    _, ended = tracker.update(boxes(), 1.5)
    assert ids(ended) == [1]
    tracks, _ = tracker.update(boxes([0, 0, 100, 100]), 1.6)
    assert ids(tracks) == [2]


def test_one_box_cannot_continue_two_tracks():
    tracker = IouTracker()
    tracker.update(boxes([0, 0, 100, 100], [50, 0, 150, 100]), 0.0)
    tracks, _ = tracker.update(boxes([25, 0, 125, 100]), 0.1)
    assert len(tracks) == 1 and tracks[0].track_id in (1, 2)
    assert set(tracker.tracks) == {1, 2}


def test_no_overlap_starts_a_new_track():
    tracker = IouTracker(TrackerSettings(min_iou=0.2))
    tracker.update(boxes([0, 0, 100, 100]), 0.0)
    tracks, _ = tracker.update(boxes([200, 200, 300, 300]), 0.1)
    assert ids(tracks) == [2]


def test_per_face_state_lives_in_the_track():
    tracker = IouTracker()
    (track,), _ = tracker.update(boxes([0, 0, 100, 100]), 0.0)
    track.state["counter"] = 7
    (same,), _ = tracker.update(boxes([2, 2, 102, 102]), 0.1)
    assert same.state == {"counter": 7}


def test_a_recognised_face_takes_back_its_ended_identity():
    tracker = IouTracker(TrackerSettings(max_unseen_s=1.0))
    tracker.update(boxes([0, 0, 100, 100], [300, 0, 400, 100]), 0.0)
    tracker.tracks[1].state["who"] = "first"
    tracker.update(boxes([300, 0, 400, 100]), 1.5)  # face 1 left
    assert list(tracker.ended) == [1]
    matched = tracker.match(boxes([300, 0, 400, 100], [500, 0, 600, 100]), 2.0)
    assert ids([matched[0]]) == [2] and matched[1] is None  # the box that continues no live track is handed back
    back = tracker.start(boxes([500, 0, 600, 100])[0], 2.0, returning=1)  # the caller recognised face 1
    assert back.track_id == 1 and back.state["who"] == "first" and back.hits == 2 and back.last_seen_s == 2.0
    assert tracker.ended == {} and sorted(tracker.tracks) == [1, 2] and tracker.expire(2.0) == []
    tracks, _ = tracker.update(boxes([800, 0, 900, 100]), 2.1)
    assert ids(tracks) == [3]  # no identity number was used up by the recognised face


def test_the_caller_chooses_the_state_each_new_track_starts_with():
    tracker = IouTracker(new_state=lambda: ["fresh"])
    (track,), _ = tracker.update(boxes([0, 0, 100, 100]), 0.0)
    assert track.state == ["fresh"]


def test_only_the_most_recent_ended_tracks_are_kept():
    tracker = IouTracker(TrackerSettings(max_unseen_s=0.5, max_ended=2))
    for step in range(4):
        tracker.update(boxes([step * 200, 0, step * 200 + 100, 100]), float(step))
    assert list(tracker.ended) == [2, 3]


def test_ending_every_track_at_a_scene_cut():
    tracker = IouTracker()
    tracker.update(boxes([0, 0, 100, 100], [300, 0, 400, 100]), 0.0)
    assert ids(tracker.end_all()) == [1, 2] and tracker.tracks == {} and list(tracker.ended) == [1, 2]
    tracks, _ = tracker.update(boxes([0, 0, 100, 100]), 0.04)  # the same place after the cut: a new face
    assert ids(tracks) == [3]
