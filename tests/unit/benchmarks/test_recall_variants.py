"""The recall benchmark's yardstick: a collage knows where every pasted face is, and a stored box counts
for one expected face only."""

from __future__ import annotations

import numpy as np

from benchmarks.recall import COLLAGE_SIZE, collage, found_share
from common.face_models.geometry import iou
from tests.unit.input_worker.sample_images import astronaut

ASTRONAUT_FACE = (175, 76, 91, 91)


def test_a_collage_pastes_faces_of_40_to_120_px_where_it_says():
    canvas, boxes = collage([(astronaut(), ASTRONAUT_FACE)], np.random.default_rng(0))
    assert canvas.shape == (COLLAGE_SIZE[1], COLLAGE_SIZE[0], 3)
    assert len(boxes) == 130
    for left, top, width, height in boxes:
        assert 38 <= max(width, height) <= 122
        assert 0 <= left <= COLLAGE_SIZE[0] - width and 0 <= top <= COLLAGE_SIZE[1] - height
    assert max(iou(a, b) for i, a in enumerate(boxes) for b in boxes[i + 1 :]) == 0.0  # one face per place


def test_each_stored_box_counts_for_one_expected_face():
    expected = [(0, 0, 50, 50), (2, 2, 50, 50), (300, 300, 40, 40)]
    assert found_share(expected, [(1, 1, 50, 50)]) == 1
    assert found_share(expected, [(1, 1, 50, 50), (0, 0, 52, 52), (302, 300, 40, 40)]) == 3
    assert found_share(expected, [(100, 100, 50, 50)]) == 0
