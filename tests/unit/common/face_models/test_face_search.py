"""The extra detection passes for hard images (issue 31): sideways photos, thumbnails, small faces in large
images, each switched off by its setting; boxes land on the image as displayed, once per face."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from common.face_models import find_faces
from common.face_models.geometry import iou
from common.face_models.tiling import merge, tiles
from common.face_models.types import DetectedBox
from common.images import load_image
from common.infra.settings import Settings
from tests.unit.input_worker.sample_images import astronaut, encode, grace_hopper

ASTRONAUT_FACE = (175, 76, 91, 91)  # dlib-hog on the 512x512 original
NO_EXTRA_PASSES = {"detection_orientation_search": False, "detection_min_side": 0, "detection_tile_min_face": 0}


def decoded(rgb: np.ndarray) -> np.ndarray:
    """``rgb`` through a JPEG without EXIF and the workers' decoder, as a crawled file arrives."""
    return load_image(encode(rgb), "x.jpg", Settings()).rgb


def shrunk(rgb: np.ndarray, long_side: int) -> np.ndarray:
    scale = long_side / max(rgb.shape[:2])
    size = (round(rgb.shape[1] * scale), round(rgb.shape[0] * scale))
    return np.asarray(Image.fromarray(rgb).resize(size, Image.Resampling.LANCZOS))


@pytest.mark.parametrize("turn", [90, 180, 270])
def test_a_sideways_photo_without_exif_is_found_and_its_box_lands_on_the_upright_image(turn):
    sideways = decoded(np.rot90(astronaut(), -turn // 90))  # turned clockwise, no EXIF tag to undo it
    result = find_faces(sideways, "dlib-hog", Settings())
    assert result.rotation == (360 - turn) % 360  # the turn that shows it upright
    assert (result.width, result.height) == (512, 512)
    [face] = result.faces
    assert iou(face.box, ASTRONAUT_FACE) > 0.7  # where the face is in the photo as taken
    assert result.passes == ("orientation",)


def test_a_sideways_portrait_swaps_the_displayed_width_and_height():
    upright = grace_hopper()
    result = find_faces(decoded(np.rot90(upright, 1)), "dlib-hog", Settings())  # turned counter-clockwise
    assert result.rotation == 90
    assert (result.width, result.height) == (upright.shape[1], upright.shape[0])
    [reference] = find_faces(upright, "dlib-hog", Settings()).faces
    assert iou(result.faces[0].box, reference.box) > 0.7


def test_an_upright_photo_runs_no_extra_pass_and_keeps_its_boxes():
    result = find_faces(astronaut(), "dlib-hog", Settings())
    assert (result.rotation, result.passes) == (0, ())
    assert [face.box for face in result.faces] == [ASTRONAUT_FACE]


def test_the_orientation_search_off_leaves_a_sideways_photo_without_faces():
    settings = Settings(detection_orientation_search=False)
    result = find_faces(decoded(np.rot90(astronaut(), -1)), "dlib-hog", settings)
    assert (result.faces, result.rotation, result.passes) == ([], 0, ())


def test_a_thumbnail_finds_its_face_and_only_with_enlargement():
    thumbnail = decoded(shrunk(grace_hopper(), 80))
    [face] = find_faces(thumbnail, "dlib-hog", Settings()).faces
    assert 20 <= face.box[2] <= 45  # a face of about 30 px, in the thumbnail's pixels
    assert find_faces(thumbnail, "dlib-hog", Settings(**NO_EXTRA_PASSES)).faces == []


def _group_canvas() -> tuple[np.ndarray, list[tuple[int, int, int, int]]]:
    """1,600 x 1,000 px with three 64 px astronaut faces, one of them where the two tiles overlap."""
    face = shrunk(astronaut(), 360)  # the face box becomes about 64 px
    scale = 360 / 512
    box = tuple(round(v * scale) for v in ASTRONAUT_FACE)
    canvas = np.full((1000, 1600, 3), 120, np.uint8)
    placed = []
    for x, y in ((40, 40), (620, 500), (1200, 200)):  # the second face: in both tiles (576..1024)
        canvas[y : y + 360, x : x + 360] = face
        placed.append((x + box[0], y + box[1], box[2], box[3]))
    return canvas, placed


def test_small_faces_in_a_large_image_are_found_in_tiles_once_each():
    canvas, placed = _group_canvas()
    settings = Settings(detection_max_side=512)  # the first pass sees faces of 125 px and more only
    result = find_faces(canvas, "dlib-hog", settings)
    assert "tiles" in result.passes
    assert len(result.faces) == 3  # the face both tiles saw is stored once
    for box in placed:
        assert max(iou(box, face.box) for face in result.faces) > 0.6
    off = Settings(detection_max_side=512, detection_tile_min_face=0, detection_orientation_search=False)
    assert find_faces(canvas, "dlib-hog", off).faces == []


def test_tiles_cover_the_image_with_the_overlap():
    found = tiles(2500, 900, 1024, 256)
    assert found == [(0, 0, 1024, 900), (768, 0, 1792, 900), (1476, 0, 2500, 900)]


def test_merge_keeps_the_best_of_overlapping_boxes_and_separate_faces():
    same_a, same_b = DetectedBox((100, 100, 50, 50), 0.9), DetectedBox((104, 102, 48, 50), 1.2)
    inside = DetectedBox((110, 110, 30, 30), 0.5)  # a part of the same face seen at another scale
    other = DetectedBox((300, 100, 50, 50), 0.4)
    assert merge([same_a, same_b, inside, other]) == [same_b, other]
