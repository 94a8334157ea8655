"""A sideways photo without EXIF (issue 31) goes through the real extract path: its face is stored with a box
on the image as displayed, the turn is recorded on the image row and its card, and re-extraction keeps it."""

from __future__ import annotations

import numpy as np
import pytest

from common.face_models import extract_faces
from common.face_models.geometry import iou
from common.images import load_image
from common.infra.messages import ExtractImage
from common.repositories import faces, images
from common.storage import get_blob_store
from input_worker.extract import extract_image
from input_worker.reextract import reextract_image
from tests.integration.input_worker.test_reextract import Sent, stored_image
from tests.unit.input_worker.sample_images import astronaut, encode, grace_hopper
from visualization_web import queries

pytestmark = pytest.mark.integration


def test_a_sideways_photo_is_stored_turned_upright_with_its_face(clean_tables, settings):
    db = clean_tables
    upright = grace_hopper()  # a portrait: turned, its width and height swap
    [reference] = extract_faces(upright, "dlib-hog", settings)
    data = encode(np.rot90(upright, -1))  # turned 90 degrees clockwise, no EXIF tag
    image_id = stored_image(db, data, "sideways.jpg")

    sent = Sent()
    assert extract_image(db, ExtractImage(image_id=image_id), settings, send=sent) == 1
    row = images.get(db, image_id)
    assert (row.status, row.face_count, row.rotation) == (images.PROCESSED, 1, 270)
    assert (row.width, row.height) == (upright.shape[1], upright.shape[0])  # the image as displayed
    [face] = faces.for_image(db, image_id)
    assert iou(face.box, reference.box) > 0.7  # where the face is in the upright photo
    crop = load_image(get_blob_store().get(face.crop_key), "crop.jpg", settings).rgb
    assert len(extract_faces(crop, "dlib-hog", settings.model_copy(update={"detection_upsample": 1}))) == 1  # upright
    assert np.linalg.norm(face.embedding - reference.embedding) < 0.25  # the same face as the upright photo's

    page = queries.image_detail(db, image_id, with_rotation=True)
    assert (page["rotation"], page["width"], page["height"]) == (270, row.width, row.height)
    assert "rotation" not in queries.image_detail(db, image_id)  # the API's body is unchanged

    result = reextract_image(db, image_id, settings, send=Sent())
    assert (result.kept, result.added, result.removed) == (1, 0, 0)
    assert images.get(db, image_id).rotation == 270


def test_the_orientation_search_off_stores_no_face_and_no_turn(clean_tables, settings):
    db = clean_tables
    image_id = stored_image(db, encode(np.rot90(astronaut(), -1)), "sideways-off.jpg")
    off = settings.model_copy(update={"detection_orientation_search": False})
    assert extract_image(db, ExtractImage(image_id=image_id), off, send=Sent()) == 0
    row = images.get(db, image_id)
    assert (row.status, row.face_count, row.rotation, row.width, row.height) == (images.PROCESSED, 0, 0, 512, 512)
