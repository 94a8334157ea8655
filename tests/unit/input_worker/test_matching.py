"""Re-detected boxes follow the old faces they overlap (IoU > 0.5), one to one, best overlap first."""

from input_worker.matching import match_boxes


def test_overlapping_boxes_keep_their_old_face():
    old = [(100, 100, 50, 50), (300, 100, 50, 50)]
    new = [(305, 102, 50, 50), (98, 104, 52, 48), (600, 600, 40, 40)]
    assert match_boxes(old, new) == {0: 1, 1: 0}


def test_half_overlap_is_not_enough():
    assert match_boxes([(0, 0, 10, 10)], [(5, 0, 10, 10)]) == {}  # IoU 1/3


def test_each_old_face_is_claimed_once_by_the_best_overlap():
    old = [(0, 0, 100, 100)]
    new = [(10, 10, 100, 100), (2, 2, 100, 100)]
    assert match_boxes(old, new) == {1: 0}
