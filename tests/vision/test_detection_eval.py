import math

import pytest

from vision.detection_eval import Detection, GroundTruth, average_precision, detection_evaluate


def test_average_precision_all_point():
    # precision envelope: recall 0.5 at p=1, recall 1.0 at p=2/3 -> 0.5*1 + 0.5*2/3
    assert average_precision([0.5, 0.5, 1.0], [1.0, 0.5, 2 / 3]) == pytest.approx(0.5 + 1 / 3)
    assert average_precision([], []) == 0.0


def test_voc_matching_hand_computed():
    gt = [GroundTruth("a", (0, 0, 10, 10), "cat"), GroundTruth("a", (20, 20, 30, 30), "cat"),
          GroundTruth("b", (0, 0, 10, 10), "dog")]
    dets = [
        Detection("a", (0, 0, 10, 10), "cat", 0.9),     # TP (IoU 1)
        Detection("a", (1, 1, 10, 10), "cat", 0.8),     # duplicate of the first box -> FP
        Detection("a", (20, 20, 30, 31), "cat", 0.7),   # TP (IoU 100/110)
        Detection("b", (0, 0, 10, 10), "cat", 0.95),    # wrong image for cat -> FP (ranked first)
        Detection("b", (5, 0, 15, 10), "dog", 0.6),     # IoU 1/3 < 0.5 -> FP
    ]
    ev = detection_evaluate(gt, dets)
    cat, dog = ev.per_class
    assert (cat.label, cat.n_ground_truth, cat.n_detections, cat.n_true_positives) == ("cat", 2, 4, 2)
    # ranks: FP, TP, FP, TP -> (r, p): (0,0) (.5,.5) (.5,1/3) (1,.5); envelope 0.5 everywhere -> AP 0.5
    assert cat.ap == pytest.approx(0.5)
    assert dog.ap == 0.0 and dog.n_true_positives == 0
    assert ev.mean_ap == pytest.approx(0.25)
    # at a lower threshold the dog detection counts
    assert detection_evaluate(gt, dets, iou_threshold=0.3).per_class[1].ap == pytest.approx(1.0)


def test_classes_without_ground_truth_do_not_enter_the_mean():
    ev = detection_evaluate([GroundTruth(1, (0, 0, 4, 4), "a")],
                            [Detection(1, (0, 0, 4, 4), "a", 1.0), Detection(1, (0, 0, 4, 4), "b", 1.0)])
    assert [c.label for c in ev.per_class] == ["a", "b"]
    assert ev.mean_ap == 1.0
    assert math.isnan(detection_evaluate([], []).mean_ap)
    with pytest.raises(ValueError):
        detection_evaluate([], [], iou_threshold=0)
