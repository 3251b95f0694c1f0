import numpy as np
import pytest

from fer_core.geometry import box_iou, clip_boxes, rotation, square_crop_box


@pytest.mark.parametrize(
    "a, b, expected",
    [
        ([0, 0, 10, 10], [0, 0, 10, 10], 1.0),
        ([0, 0, 10, 10], [10, 0, 20, 10], 0.0),  # touching edges share no area
        ([0, 0, 10, 10], [5, 0, 15, 10], 50 / 150),
        ([0, 0, 10, 10], [2, 2, 4, 4], 4 / 100),
        ([0, 0, 0, 0], [0, 0, 0, 0], 0.0),  # degenerate boxes: no division by zero
    ],
)
def test_box_iou_pairs(a, b, expected):
    assert box_iou(np.array([a]), np.array([b]))[0, 0] == pytest.approx(expected)


def test_box_iou_shape_is_n_by_m():
    iou = box_iou(
        np.array([[0, 0, 10, 10], [20, 20, 30, 30]]), np.array([[0, 0, 10, 10], [5, 5, 10, 10], [0, 0, 1, 1]])
    )
    assert iou.shape == (2, 3)
    assert iou[1].tolist() == [0.0, 0.0, 0.0]


def test_clip_boxes():
    assert clip_boxes(np.array([[-5, -5, 700, 500]]), 640, 480).tolist() == [[0, 0, 640, 480]]


def test_square_crop_box_widens_and_shifts():
    assert square_crop_box(np.array([10, 20, 30, 60]), margin=0.0).tolist() == [0, 20, 40, 60]
    assert square_crop_box(np.array([0, 0, 100, 100]), margin=0.1).tolist() == [-10, -10, 110, 110]
    assert square_crop_box(np.array([0, 0, 100, 100]), margin=0.0, shift_y=-0.1).tolist() == [0, -10, 100, 90]


def test_rotation_turns_clockwise_on_screen():
    # y points down: a quarter turn clockwise takes "right" to "down" and "down" to "left"
    assert np.allclose(rotation(90) @ [1, 0], [0, 1]) and np.allclose(rotation(90) @ [0, 1], [-1, 0])
    assert np.allclose(rotation(-30) @ rotation(30), np.eye(2))
