"""Box mapping, overlap and face-id derivation: the arithmetic behind idempotent extraction."""

from __future__ import annotations

import numpy as np

from common.face_models.geometry import downscale, iou, scale_box
from common.repositories.ids import face_id


def test_downscale_keeps_aspect_and_reports_the_factor():
    small, factor = downscale(np.zeros((1000, 3000, 3), np.uint8), 1024)
    assert small.shape == (341, 1024, 3)
    assert abs(factor - 3000 / 1024) < 1e-9


def test_small_images_are_not_upscaled():
    image = np.zeros((300, 200, 3), np.uint8)
    small, factor = downscale(image, 1024)
    assert small is image and factor == 1.0


def test_scale_box_maps_back_and_clamps_to_the_image():
    assert scale_box((10, 20, 30, 40), 2.0, 1000, 1000) == (20, 40, 60, 80)
    assert scale_box((-5, -5, 30, 30), 2.0, 40, 40) == (0, 0, 40, 40)
    assert scale_box((95, 95, 30, 30), 1.0, 100, 100) == (95, 95, 5, 5)


def test_iou():
    assert iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1.0
    assert iou((0, 0, 10, 10), (20, 20, 5, 5)) == 0.0
    assert abs(iou((0, 0, 10, 10), (5, 0, 10, 10)) - 50 / 150) < 1e-9


def test_face_id_depends_only_on_image_and_box():
    image = "ab" * 32
    assert face_id(image, (1, 2, 3, 4)) == face_id(image, (1, 2, 3, 4))
    assert face_id(image, (1, 2, 3, 4)) != face_id(image, (1, 2, 3, 5))
    assert face_id(image, (1, 2, 3, 4)) != face_id("cd" * 32, (1, 2, 3, 4))
    assert len(face_id(image, (1, 2, 3, 4))) == 32
