"""Re-extraction keeps human work: matched faces keep ids and labels; vanished labeled faces are flagged."""

from __future__ import annotations

import uuid

import numpy as np
import pytest

from common.infra import task_names
from common.infra.messages import ExtractImage, Message
from common.infra.settings import Settings
from common.repositories import faces, images, labels
from common.storage import content_key, get_blob_store, sha256_hex
from input_worker.extract import extract_image
from input_worker.reextract import reextract_image
from tests.unit.input_worker.sample_images import astronaut, collage, encode, grace_hopper

pytestmark = pytest.mark.integration


class Sent(list):
    def __call__(self, message: Message) -> None:
        self.append((message.task_name, message.kwargs()))


def stored_image(db, data: bytes, name: str) -> str:
    image_id = sha256_hex(data)
    key = content_key("images", image_id, ".jpg")
    get_blob_store().put(key, data)
    images.insert_if_absent(db, images.Image(image_id, key, "test", name, len(data), 0, 0, "JPEG", images.STORED,
                                             None, None, None, None, None, None))  # fmt: skip
    return image_id


def test_vanished_labeled_face_is_flagged_unlabeled_removed_and_both_come_back(clean_tables, settings):
    db = clean_tables
    image_id = stored_image(db, encode(collage(astronaut(), grace_hopper())), "pair.jpg")
    assert extract_image(db, ExtractImage(image_id=image_id), settings, send=Sent()) == 2
    labeled, unlabeled = sorted(faces.for_image(db, image_id), key=lambda f: f.box[0])
    persona = uuid.uuid4()
    labels.put(db, labeled.face_id, persona, labels.CONFIRM, "alice")

    # A detection copy too small to find anything: both faces "vanish".
    blind = Settings(**{**settings.model_dump(), "detection_max_side": 60, "detection_tile_min_face": 0,
                        "detection_orientation_search": False})  # fmt: skip
    result = reextract_image(db, image_id, blind, send=Sent())
    assert (result.kept, result.added, result.removed, result.flagged) == (0, 0, 1, 1)
    [left] = faces.for_image(db, image_id)
    assert left.face_id == labeled.face_id and left.vanished_at is not None
    assert faces.get(db, unlabeled.face_id) is None
    assert not get_blob_store().exists(unlabeled.crop_key)
    assert images.get(db, image_id).face_count == 0

    # Normal settings again: the labeled face is found again (same id, unflagged, label intact).
    sent = Sent()
    result = reextract_image(db, image_id, settings, send=sent)
    assert (result.kept, result.added, result.removed, result.flagged) == (1, 1, 0, 0)
    again = {f.face_id: f for f in faces.for_image(db, image_id)}
    assert set(again) == {labeled.face_id, unlabeled.face_id}
    assert again[labeled.face_id].vanished_at is None
    assert labels.confirmed_persona(labels.for_face(db, labeled.face_id)) == persona
    [(name, kwargs)] = sent
    assert name == task_names.RECLASSIFY_BATCH and set(kwargs["face_ids"]) == set(again)


def test_another_detector_keeps_the_face_id_and_its_labels(clean_tables, settings):
    db = clean_tables
    image_id = stored_image(db, encode(astronaut()), "astronaut.jpg")
    extract_image(db, ExtractImage(image_id=image_id), settings, send=Sent())
    [before] = faces.for_image(db, image_id)
    labels.put(db, before.face_id, uuid.uuid4(), labels.CONFIRM, "alice")

    cnn = Settings(**{**settings.model_dump(), "detection_upsample": 0})
    result = reextract_image(db, image_id, cnn, detector="dlib-cnn", send=Sent())

    assert (result.kept, result.added, result.removed, result.flagged) == (1, 0, 0, 0)
    [after] = faces.for_image(db, image_id)
    assert after.face_id == before.face_id and after.detector == "dlib-cnn"
    assert after.box != before.box  # the CNN's own box, stored under the old id
    assert labels.for_face(db, after.face_id)


def test_an_extraction_redelivered_after_a_re_extraction_writes_nothing(clean_tables, settings):
    # Ingest sends the blob key, so detection runs before the image row is read; the row still decides.
    db = clean_tables
    data = encode(collage(astronaut(), grace_hopper()))
    image_id = stored_image(db, data, "pair.jpg")
    key = content_key("images", image_id, ".jpg")
    assert extract_image(db, ExtractImage(image_id=image_id, blob_key=key), settings, send=Sent()) == 2
    blind = Settings(**{**settings.model_dump(), "detection_max_side": 60, "detection_tile_min_face": 0,
                        "detection_orientation_search": False})  # fmt: skip
    assert reextract_image(db, image_id, blind, send=Sent()).removed == 2  # nothing labeled: both removed

    sent = Sent()
    old_message = ExtractImage(image_id=image_id, blob_key=key)
    assert extract_image(db, old_message, settings, send=sent) == 0  # the old message again
    assert faces.for_image(db, image_id) == [] and sent == []


def test_an_image_erased_before_its_extraction_gets_no_rows(clean_tables, settings):
    db = clean_tables
    data = encode(astronaut())
    key = content_key("images", sha256_hex(data), ".jpg")
    get_blob_store().put(key, data)  # the blob is there, its row was erased
    sent = Sent()
    assert extract_image(db, ExtractImage(image_id=sha256_hex(data), blob_key=key), settings, send=sent) == 0
    assert images.get(db, sha256_hex(data)) is None and faces.ids_for_image(db, sha256_hex(data)) == []
    assert sent == []


def test_a_stored_image_that_does_not_decode_is_marked_failed_with_the_reason(clean_tables, settings):
    db = clean_tables
    image_id = stored_image(db, encode(astronaut())[:5000], "cut.jpg")  # truncated after it was stored
    key = content_key("images", image_id, ".jpg")
    assert extract_image(db, ExtractImage(image_id=image_id, blob_key=key), settings, send=Sent()) == 0
    image = images.get(db, image_id)
    assert image.status == images.FAILED and "cannot read stored image" in image.error


def test_reextract_no_faces_finds_the_faces_of_images_stored_with_none(clean_tables, settings, monkeypatch):
    """`persona-pipeline reextract --no-faces`: a sideways photo extracted before the orientation search (no face)
    is extracted again and its face found; an image that has faces is left alone."""
    import argparse

    from input_worker import cli

    db = clean_tables
    sideways = stored_image(db, encode(np.ascontiguousarray(np.rot90(astronaut()))), "sideways.jpg")
    upright = stored_image(db, encode(grace_hopper()), "upright.jpg")
    before = settings.model_copy(update={"detection_orientation_search": False})
    for image_id in (sideways, upright):
        extract_image(db, ExtractImage(image_id=image_id), before, send=Sent())
    assert images.get(db, sideways).face_count == 0 and images.get(db, upright).face_count == 1
    upright_faces = faces.ids_for_image(db, upright)

    monkeypatch.setattr(cli, "reextract_image", lambda *a, **k: done.append(a[1]) or reextract_image(*a, **k))
    done: list[str] = []
    args = argparse.Namespace(image_ids=[], all=False, no_faces=True, detector=None, here=True)
    assert cli.cmd_reextract(args) == 0
    assert done == [sideways]
    assert images.get(db, sideways).face_count == 1 and faces.ids_for_image(db, upright) == upright_faces
