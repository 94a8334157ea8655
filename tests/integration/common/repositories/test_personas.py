import pytest

from common.repositories import labels, personas


def test_names_are_unique_case_insensitively(clean_tables):
    db = clean_tables
    first = personas.create(db, "Ada Lovelace", "alice")
    with pytest.raises(personas.NameTaken):
        personas.create(db, "ada  lovelace", "bob")
    _, old = personas.rename(db, first.persona_id, "Countess Lovelace")
    assert old == "Ada Lovelace"
    # the old name is free again, the new one is taken
    personas.create(db, "Ada Lovelace", "bob")
    with pytest.raises(personas.NameTaken):
        personas.create(db, "COUNTESS LOVELACE", "bob")
    assert [p.name for p in personas.list_all(db)] == ["Ada Lovelace", "Countess Lovelace"]


def test_confirming_a_face_for_another_persona_moves_it_and_undo_restores(clean_tables):
    db = clean_tables
    a = personas.create(db, "Alpha", "t")
    b = personas.create(db, "Beta", "t")
    labels.put(db, "f1", a.persona_id, labels.CONFIRM, "t")
    labels.put(db, "f1", b.persona_id, labels.REJECT, "t")
    before = labels.put(db, "f1", b.persona_id, labels.CONFIRM, "t")
    assert labels.confirmed_persona(labels.for_face(db, "f1")) == b.persona_id
    assert labels.for_persona(db, a.persona_id) == []
    labels.restore(db, "f1", before)
    now = {(lab.persona_id, lab.verdict) for lab in labels.for_face(db, "f1")}
    assert now == {(a.persona_id, "confirm"), (b.persona_id, "reject")}
