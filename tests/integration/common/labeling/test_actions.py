"""The labeling domain: every action is an event with the user, labeled faces leave the queues, undo."""

import pytest

from common.labeling import actions as labeling
from common.repositories import events, labels, personas, predictions
from tests.support import seed


@pytest.fixture
def faces_and_people(clean_tables):
    db = clean_tables
    ada = labeling.create_persona(db, "Ada", "alice")
    bob = labeling.create_persona(db, "Bob", "alice")
    center = seed.centers(1)[0]
    face_ids = seed.seed_faces(db, 3, center)
    image_id = seed.faces.get(db, face_ids[0]).image_id
    for face_id in face_ids:
        seed.predict(db, face_id, image_id, ada.persona_id, 0.6)
    return db, ada, bob, face_ids


def test_confirm_records_the_user_and_takes_the_face_out_of_the_review_queue(faces_and_people):
    db, ada, _, face_ids = faces_and_people
    event = labeling.confirm(db, face_ids[0], ada.persona_id, "alice")
    assert (event.kind, event.actor) == ("label.confirm", "alice")
    assert predictions.for_face(db, face_ids[0]) is None
    assert face_ids[0] not in [p.face_id for p in predictions.queue(db, ada.persona_id, 1)]
    assert events.get(db, event.event_id).payload["previous_prediction"]["persona_id"] == str(ada.persona_id)


def test_undo_restores_labels_and_prediction_once(faces_and_people):
    db, ada, _, face_ids = faces_and_people
    event = labeling.confirm(db, face_ids[0], ada.persona_id, "alice")
    undo = labeling.undo(db, event.event_id, "alice")
    assert undo.kind == "label.undo"
    assert labels.for_face(db, face_ids[0]) == []
    assert predictions.for_face(db, face_ids[0]).persona_id == ada.persona_id
    with pytest.raises(labeling.Conflict):
        labeling.undo(db, event.event_id, "alice")


def test_last_undoable_is_the_users_own_latest_action(faces_and_people):
    db, ada, bob, face_ids = faces_and_people
    labeling.confirm(db, face_ids[0], ada.persona_id, "alice")
    mine = labeling.reject(db, face_ids[1], ada.persona_id, "alice")
    labeling.confirm(db, face_ids[2], bob.persona_id, "bob")
    assert labeling.last_undoable(db, "alice").event_id == mine.event_id


def test_merge_moves_labels_and_unmerge_brings_the_persona_back(faces_and_people):
    db, ada, bob, face_ids = faces_and_people
    labeling.label_many(db, face_ids[:2], bob.persona_id, "confirm", "alice")
    labeling.reject(db, face_ids[2], bob.persona_id, "alice")
    merge = labeling.merge_personas(db, bob.persona_id, ada.persona_id, "alice")
    assert {lab.face_id for lab in labels.for_persona(db, ada.persona_id, "confirm")} == set(face_ids[:2])
    with pytest.raises(personas.PersonaNotFound):
        personas.get(db, bob.persona_id)
    assert labeling.undo(db, merge.event_id, "alice").kind == "persona.unmerge"
    assert personas.get(db, bob.persona_id).name == "Bob"
    assert {lab.face_id for lab in labels.for_persona(db, bob.persona_id)} == set(face_ids)
    assert labels.for_persona(db, ada.persona_id) == []


def test_merge_into_itself_and_unknown_ids_are_refused(faces_and_people):
    db, ada, _, face_ids = faces_and_people
    with pytest.raises(labeling.Conflict):
        labeling.merge_personas(db, ada.persona_id, ada.persona_id, "alice")
    with pytest.raises(labeling.NotFound):
        labeling.confirm(db, "nope", ada.persona_id, "alice")
    with pytest.raises(labeling.NotFound):
        labeling.confirm(db, face_ids[0], personas.uuid.uuid4(), "alice")


def test_privacy_delete_erases_the_images_the_persona_appears_in(faces_and_people):
    db, ada, _, face_ids = faces_and_people
    other = seed.seed_faces(db, 1, seed.centers(2)[1], seed=9)
    labeling.confirm(db, face_ids[0], ada.persona_id, "alice")
    image_id = seed.faces.get(db, face_ids[0]).image_id
    event = labeling.delete_persona(db, ada.persona_id, "admin", erase_faces=True)
    assert event.payload["images_erased"] == 1
    assert seed.images.get(db, image_id) is None
    assert seed.faces.get(db, face_ids[0]) is None
    assert seed.faces.get(db, other[0]) is not None
    assert [p.name for p in personas.list_all(db)] == ["Bob"]


def test_rename_is_undoable_and_every_action_is_in_the_audit_log(faces_and_people):
    db, ada, _, _ = faces_and_people
    labeling.rename_persona(db, ada.persona_id, "Ada Lovelace", "alice")
    rename = events.recent(db, limit=1)[0]
    assert (rename.kind, rename.payload["old_name"]) == ("persona.rename", "Ada")
    labeling.undo(db, rename.event_id, "alice")
    assert personas.get(db, ada.persona_id).name == "Ada"
    kinds = [e.kind for e in events.recent(db, limit=10)]
    assert kinds[:2] == ["persona.rename", "persona.rename"] and "persona.create" in kinds
