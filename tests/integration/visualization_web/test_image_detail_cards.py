"""The image page reads each face's card from the image's partition; after every kind of write the card
says what the face tables say (the system of record), and faces stored before cards existed still show."""

import pytest

from common.labeling import actions as labeling
from common.repositories import faces, labels, predictions
from tests.support import seed
from visualization_web import queries


def _from_cards(db, image_id: str) -> dict:
    return {f["face_id"]: f for f in queries.image_detail(db, image_id)["faces"]}


def _from_tables(db, face_ids: list[str]) -> dict:
    return {face_id: queries.face_detail(db, face_id) for face_id in face_ids}


@pytest.fixture
def image_with_people(clean_tables):
    db = clean_tables
    ada = labeling.create_persona(db, "Ada", "alice")
    bob = labeling.create_persona(db, "Bob", "alice")
    image = seed.seed_image(db, [seed.centers(1)[0]] * 3, "three.jpg")
    for face_id in image.face_ids:
        seed.predict(db, face_id, image.image_id, ada.persona_id, 0.6)
    return db, ada, bob, image


def test_a_new_face_card_holds_box_crop_and_prediction(image_with_people):
    db, _, _, image = image_with_people
    shown = _from_cards(db, image.image_id)
    assert shown == _from_tables(db, image.face_ids)
    first = shown[image.face_ids[0]]
    assert first["crop_url"].startswith("/blobs/crops/")
    assert first["box"]["width"] > 0
    assert (first["prediction"]["persona"], first["prediction"]["model_version"]) == ("Ada", 1)
    assert first["labels"] == []


def test_labels_undo_merge_and_delete_keep_cards_equal_to_the_face_tables(image_with_people):
    db, ada, bob, image = image_with_people
    one, two, three = image.face_ids

    def same() -> dict:
        shown = _from_cards(db, image.image_id)
        assert shown == _from_tables(db, image.face_ids)
        return shown

    confirm = labeling.confirm(db, one, ada.persona_id, "alice")
    labeling.reject(db, two, ada.persona_id, "bob")
    labeling.confirm(db, two, bob.persona_id, "bob")
    shown = same()
    assert shown[one]["labels"] == [{"persona_id": str(ada.persona_id), "persona": "Ada", "verdict": "confirm",
                                     "labeled_by": "alice"}]  # fmt: skip
    assert shown[one]["prediction"] is None
    assert {lab["verdict"] for lab in shown[two]["labels"]} == {"confirm", "reject"}

    labeling.confirm(db, one, bob.persona_id, "alice")  # moves the confirmation to Bob
    assert [lab["persona"] for lab in same()[one]["labels"]] == ["Bob"]

    labeling.undo(db, labeling.last_undoable(db, "alice").event_id, "alice")
    labeling.undo(db, confirm.event_id, "alice")
    shown = same()
    assert shown[one]["labels"] == [] and shown[one]["prediction"]["persona"] == "Ada"

    merge = labeling.merge_personas(db, bob.persona_id, ada.persona_id, "alice")
    assert [lab["persona"] for lab in same()[two]["labels"]] == ["Ada"]
    labeling.undo(db, merge.event_id, "alice")
    assert {lab["persona"] for lab in same()[two]["labels"]} == {"Ada", "Bob"}

    labeling.delete_persona(db, bob.persona_id, "alice")
    assert [lab["persona"] for lab in same()[two]["labels"]] == ["Ada"]
    assert same()[three]["prediction"]["persona"] == "Ada"


def test_reclassification_replaces_the_card_prediction(image_with_people):
    db, _, bob, image = image_with_people
    predictions.put_many(db, [predictions.Prediction(f, bob.persona_id, 0.9, 0.2, 2, image.image_id)
                              for f in image.face_ids])  # fmt: skip
    predictions.put_many(db, [predictions.Prediction(image.face_ids[0], None, 0.1, 0.8, 3)])  # no image id given
    shown = _from_cards(db, image.image_id)
    assert shown == _from_tables(db, image.face_ids)
    assert (
        shown[image.face_ids[0]]["prediction"]["persona"],
        shown[image.face_ids[0]]["prediction"]["model_version"],
    ) == (None, 3)
    assert shown[image.face_ids[1]]["prediction"]["persona"] == "Bob"


def test_a_late_card_write_for_an_erased_face_shows_no_ghost(image_with_people):
    db, ada, _, image = image_with_people
    gone = image.face_ids[0]
    faces.delete(db, image.image_id, gone)
    predictions.put_many(db, [predictions.Prediction(gone, ada.persona_id, 0.7, 0.3, 2, image.image_id)])
    labels.write(db, labels.Label(gone, ada.persona_id, labels.REJECT, "alice"), image.image_id)
    assert gone not in _from_cards(db, image.image_id)
    assert gone not in faces.ids_for_image(db, image.image_id)
    assert len(_from_cards(db, image.image_id)) == 2


def test_faces_stored_before_cards_existed_are_read_from_the_face_tables(image_with_people):
    db, ada, _, image = image_with_people
    old = image.face_ids[0]
    labeling.confirm(db, old, ada.persona_id, "alice")
    db.execute(  # what migration 0006 leaves of a face stored before it: no card columns
        "UPDATE faces_by_image SET card_since = null, crop_key = null, label_verdicts = null, label_users = null "
        "WHERE image_id = ? AND face_id = ?",
        (image.image_id, old),
    )
    shown = _from_cards(db, image.image_id)
    assert shown == _from_tables(db, image.face_ids)
    assert shown[old]["labels"][0]["persona"] == "Ada" and shown[old]["crop_url"]
