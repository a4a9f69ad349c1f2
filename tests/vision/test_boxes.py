import math

import numpy as np
import pytest

from vision.boxes import (box_check, box_iou, boxes_clip, boxes_iou, boxes_normalized_to_xyxy, boxes_xywh_to_xyxy,
                          boxes_xyxy_to_normalized, boxes_xyxy_to_xywh, coordinate_text)


def test_iou_hand_computed():
    # overlap 5x10 = 50, union 100 + 100 - 50 = 150
    assert box_iou((0, 0, 10, 10), (5, 0, 15, 10)) == pytest.approx(50 / 150)
    assert box_iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1.0
    assert box_iou((0, 0, 10, 10), (10, 0, 20, 10)) == 0.0  # touching edges
    assert box_iou((0, 0, 10, 10), (2, 2, 4, 4)) == pytest.approx(4 / 100)


def test_iou_matrix_shape_and_empty():
    m = boxes_iou([(0, 0, 10, 10), (0, 0, 0, 0)], [(0, 0, 10, 10), (5, 5, 15, 15), (100, 100, 101, 101)])
    assert m.shape == (2, 3) and m.dtype == np.float64
    assert m[0, 1] == pytest.approx(25 / 175)
    assert np.all(m[1] == 0)  # an empty box has no overlap and no NaN
    assert boxes_iou(np.zeros((0, 4)), [(0, 0, 1, 1)]).shape == (0, 1)
    with pytest.raises(ValueError):
        boxes_iou([(0, 0, 1)], [(0, 0, 1, 1)])


def test_clip_and_conversions():
    c = boxes_clip([(-5, -5, 50, 20), (200, 0, 300, 10)], width=100, height=40)
    assert c.tolist() == [[0, 0, 50, 20], [100, 0, 100, 10]]
    n = boxes_xyxy_to_normalized([(10, 20, 50, 40)], width=100, height=40)
    assert n.tolist() == [[0.1, 0.5, 0.5, 1.0]]
    assert boxes_normalized_to_xyxy(n, width=100, height=40).tolist() == [[10, 20, 50, 40]]
    assert boxes_xyxy_to_xywh([(10, 20, 50, 40)]).tolist() == [[10, 20, 40, 20]]
    assert boxes_xywh_to_xyxy([(10, 20, 40, 20)]).tolist() == [[10, 20, 50, 40]]
    with pytest.raises(ValueError):
        boxes_xyxy_to_normalized([(0, 0, 1, 1)], width=0, height=10)


def test_box_check():
    ok = box_check(["1", " 2", "30.5", "40"], width=100, height=100)
    assert ok.box == (1.0, 2.0, 30.5, 40.0) and not ok.clipped
    part = box_check((-10, 50, 120, 150), width=100, height=80)
    assert part.box == (0, 50, 100, 80) and part.clipped
    for bad, words in [((5, 5, 5, 10), "empty"), ((10, 5, 5, 10), "empty"), ((200, 0, 300, 10), "outside"),
                       ((-20, -20, -1, -1), "outside"), (("a", 0, 1, 1), "not a number"),
                       ((0, 0, "nan", 1), "finite"), ((0, 0, 1), "four")]:
        with pytest.raises(ValueError, match=words):
            box_check(bad, width=100, height=100)


def test_coordinate_text():
    assert coordinate_text(12.0) == "12"
    assert coordinate_text(12.346) == "12.35"
    assert coordinate_text(0.5) == "0.5"
    assert math.isclose(float(coordinate_text(1234.56)), 1234.56)
