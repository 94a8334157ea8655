"""Detectors and embedder on images a dependency ships: faces found, boxes in original pixels."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from common.face_models import EMBEDDER_NAME, detect_and_embed, detect_boxes, extract_faces, get_detector
from common.face_models.geometry import iou
from common.infra.settings import Settings
from tests.unit.input_worker.sample_images import astronaut, collage, encode, grace_hopper, noise

ASTRONAUT_FACE = (175, 76, 91, 91)  # dlib-hog on the 512x512 original


def hog(settings: Settings | None = None):
    return get_detector("dlib-hog", settings or Settings())


def test_astronaut_has_one_face_found_by_dlib_hog():
    faces = extract_faces(astronaut(), "dlib-hog", Settings())
    assert len(faces) == 1
    assert faces[0].box == ASTRONAUT_FACE
    assert faces[0].score is not None and faces[0].score > 0.5


def test_boxes_are_in_original_pixels_after_downscaling_for_detection():
    big = np.asarray(Image.fromarray(astronaut()).resize((2048, 2048), Image.Resampling.LANCZOS))
    settings = Settings(detection_max_side=512)
    boxes = detect_boxes(big, hog(settings), settings.detection_max_side)
    assert len(boxes) == 1
    expected = tuple(v * 4 for v in ASTRONAUT_FACE)
    assert iou(boxes[0].box, expected) > 0.9


def test_a_face_too_small_after_downscaling_is_found_at_full_size():
    small_face = np.asarray(Image.fromarray(astronaut()).resize((256, 256)))
    canvas = np.full((1600, 1600, 3), 90, np.uint8)
    canvas[700:956, 700:956] = small_face
    assert detect_boxes(canvas, hog(), max_side=1600)
    assert not detect_boxes(canvas, hog(), max_side=200)


def test_noise_has_no_faces():
    assert extract_faces(noise(640, 480), "dlib-hog", Settings()) == []


def test_flipped_image_finds_the_mirrored_box():
    [face] = extract_faces(astronaut()[:, ::-1].copy(), "dlib-hog", Settings())
    left, top, width, height = ASTRONAUT_FACE
    assert iou(face.box, (512 - left - width, top, width, height)) > 0.8


def test_collage_of_two_people_has_two_faces_with_distinct_embeddings():
    faces = extract_faces(collage(astronaut(), grace_hopper()), "dlib-hog", Settings())
    assert len(faces) == 2
    assert np.linalg.norm(faces[0].embedding - faces[1].embedding) > 0.6  # different people


def test_embedding_is_stable_across_scale_for_the_same_person():
    [original] = extract_faces(astronaut(), "dlib-hog", Settings())
    bigger = np.asarray(Image.fromarray(astronaut()).resize((900, 900), Image.Resampling.LANCZOS))
    [resized] = extract_faces(bigger, "dlib-hog", Settings())
    assert np.linalg.norm(original.embedding - resized.embedding) < 0.3  # same person well under 0.6


def test_every_face_has_a_150px_aligned_jpeg_crop_and_128d_embedding():
    faces = detect_and_embed(encode(grace_hopper()))
    assert len(faces) == 1
    crop = Image.open(__import__("io").BytesIO(faces[0].crop_jpeg))
    assert crop.format == "JPEG" and crop.size == (150, 150)
    assert faces[0].embedding.shape == (128,)
    assert "dlib" in EMBEDDER_NAME and "0.3.0" in EMBEDDER_NAME


def test_models_are_loaded_once_per_process():
    assert get_detector("dlib-hog", Settings()) is get_detector("dlib-hog", Settings())
    from common.face_models import get_embedder

    assert get_embedder() is get_embedder()


def test_detect_and_embed_refuses_bytes_that_are_not_an_image():
    with pytest.raises(ValueError):
        detect_and_embed(b"not an image")


def test_dlib_cnn_finds_the_astronaut():
    settings = Settings(detection_upsample=0, detection_max_side=512)
    faces = extract_faces(astronaut(), "dlib-cnn", settings)
    assert len(faces) == 1
    assert iou(faces[0].box, ASTRONAUT_FACE) > 0.5
