"""The corpus counters move with the writes that add or remove counted rows, and agree with an exact count
after each step: store and extract an image, a duplicate, predictions, confirm, undo, merge, unmerge, delete,
re-extract, erase."""

from __future__ import annotations

import uuid

import pytest

from common.infra.messages import ExtractImage, Message
from common.labeling import actions
from common.repositories import corpus_counters, faces, images, predictions
from common.storage import content_key, get_blob_store, sha256_hex
from input_worker.extract import extract_image
from input_worker.reextract import reextract_image
from tests.unit.input_worker.sample_images import astronaut, collage, encode, grace_hopper

pytestmark = pytest.mark.integration


class Sent(list):
    def __call__(self, message: Message) -> None:
        self.append(message)


def store(db, data: bytes, name: str) -> tuple[bool, str]:
    """What ingest does with a file's bytes: (the image is new, its id)."""
    image_id = sha256_hex(data)
    key = content_key("images", image_id, ".jpg")
    get_blob_store().put(key, data)
    image = images.Image(image_id, key, "test", name, len(data), 0, 0, "JPEG", images.STORED, None, None, None,
                         None, None, None)  # fmt: skip
    inserted, _ = images.insert_if_absent(db, image)
    return inserted, image_id


def counted(db) -> dict[str, int]:
    return corpus_counters.read(db)


def exact(db) -> dict[str, int]:
    return {name: corpus_counters.exact(db, name, page_size=7) for name in corpus_counters.NAMES}


def test_a_fresh_keyspace_counts_zero(clean_tables):
    assert counted(clean_tables) == dict.fromkeys(corpus_counters.NAMES, 0)


def test_counts_move_with_every_write_and_equal_an_exact_count(clean_tables, settings, redis_client):
    db = clean_tables
    pair = encode(collage(astronaut(), grace_hopper()))
    assert store(db, pair, "pair.jpg")[0]
    assert store(db, pair, "copy-of-pair.jpg") == (False, sha256_hex(pair))  # a duplicate is not counted
    image_id = sha256_hex(pair)
    assert extract_image(db, ExtractImage(image_id=image_id), settings, send=Sent()) == 2
    assert extract_image(db, ExtractImage(image_id=image_id), settings, send=Sent()) == 2  # redelivered: done
    assert counted(db) == exact(db)
    assert (counted(db)["images"], counted(db)["faces"]) == (1, 2)

    left, right = sorted(faces.for_image(db, image_id), key=lambda f: f.box[0])
    ada = actions.create_persona(db, "Ada", "alice")
    bo = actions.create_persona(db, "Bo", "alice")
    predictions.put(db, predictions.Prediction(left.face_id, ada.persona_id, 0.9, 0.3, 1, image_id))
    predictions.put(db, predictions.Prediction(right.face_id, None, 0.2, 0.9, 1, image_id))
    predictions.put(db, predictions.Prediction(right.face_id, None, 0.3, 0.8, 2, image_id))  # replaced: same kind
    assert counted(db) == exact(db)
    assert {k: counted(db)[k] for k in ("personas", "predicted", "unknown")} == {
        "personas": 2, "predicted": 1, "unknown": 1}  # fmt: skip

    confirm = actions.confirm(db, left.face_id, ada.persona_id, "alice")  # its prediction goes: ground truth
    assert counted(db) == exact(db) and (counted(db)["confirmed"], counted(db)["predicted"]) == (1, 0)
    actions.confirm(db, left.face_id, bo.persona_id, "alice")  # moves the confirmation: still one
    actions.reject(db, right.face_id, ada.persona_id, "alice")  # a rejection is not a confirmation
    assert counted(db) == exact(db) and counted(db)["confirmed"] == 1 and counted(db)["unknown"] == 0

    actions.undo(db, actions.last_undoable(db, "alice").event_id, "alice")  # the rejection: prediction back
    actions.undo(db, actions.last_undoable(db, "alice").event_id, "alice")  # Bo's confirmation: Ada's again
    assert counted(db) == exact(db) and counted(db)["confirmed"] == 1 and counted(db)["unknown"] == 1
    actions.undo(db, confirm.event_id, "alice")  # Ada's: unconfirmed, predicted again
    assert counted(db) == exact(db) and (counted(db)["confirmed"], counted(db)["predicted"]) == (0, 1)

    actions.confirm(db, left.face_id, ada.persona_id, "alice")
    merge = actions.merge_personas(db, ada.persona_id, bo.persona_id, "alice")
    assert counted(db) == exact(db) and (counted(db)["personas"], counted(db)["confirmed"]) == (1, 1)
    actions.undo(db, merge.event_id, "alice")  # unmerge: Ada is back with her confirmation
    assert counted(db) == exact(db) and (counted(db)["personas"], counted(db)["confirmed"]) == (2, 1)

    actions.delete_persona(db, ada.persona_id, "alice")
    assert counted(db) == exact(db) and (counted(db)["personas"], counted(db)["confirmed"]) == (1, 0)

    blind = settings.model_copy(  # finds nothing: both faces go
        update={"detection_max_side": 60, "detection_tile_min_face": 0, "detection_orientation_search": False}
    )
    reextract_image(db, image_id, blind, send=Sent())
    assert counted(db) == exact(db) and counted(db)["faces"] == 0
    reextract_image(db, image_id, settings, send=Sent())  # and come back
    assert counted(db) == exact(db) and counted(db)["faces"] == 2


def test_a_privacy_erase_takes_the_image_its_faces_and_the_persona_out_of_the_counts(clean_tables, settings):
    db = clean_tables
    _, image_id = store(db, encode(collage(astronaut(), grace_hopper())), "pair.jpg")
    extract_image(db, ExtractImage(image_id=image_id), settings, send=Sent())
    left, right = sorted(faces.for_image(db, image_id), key=lambda f: f.box[0])
    ada = actions.create_persona(db, "Ada", "alice")
    actions.confirm(db, left.face_id, ada.persona_id, "alice")
    predictions.put(db, predictions.Prediction(right.face_id, None, 0.2, 0.9, 1, image_id))
    actions.delete_persona(db, ada.persona_id, "alice", erase_faces=True)
    after = counted(db)
    assert {k: after[k] for k in ("images", "faces", "personas", "confirmed")} == dict.fromkeys(
        ("images", "faces", "personas", "confirmed"), 0)  # fmt: skip
    # The erase purges predictions without reading them: that count is left to the reconcile.
    assert exact(db)["unknown"] == 0 and after["unknown"] == 1


def test_prediction_deltas_of_a_batch_with_old_rows(clean_tables):
    db = clean_tables
    batch = [predictions.Prediction(f"face-{i}", None, 0.1, 0.9, 1, f"image-{i}") for i in range(3)]
    predictions.put_many(db, batch)
    assert (counted(db)["predicted"], counted(db)["unknown"]) == (0, 3)
    persona = uuid.uuid4()
    predictions.put_many(db, [predictions.Prediction("face-0", persona, 0.8, 0.3, 2, "image-0")])
    assert (counted(db)["predicted"], counted(db)["unknown"]) == (1, 2) == (exact(db)["predicted"],
                                                                          exact(db)["unknown"])  # fmt: skip
    predictions.delete_for_face(db, "face-1", "image-1")
    assert (counted(db)["predicted"], counted(db)["unknown"]) == (1, 1)
