"""Storing an image's faces: every face and its card, in batches Cassandra takes without complaint."""

from __future__ import annotations

import logging

import numpy as np

from common.repositories import face_cards, faces, ids
from common.storage.base import content_key, sha256_hex


def _faces(name: str, count: int, dimensions: int = 128) -> list[faces.Face]:
    """Faces as extraction stores them: ids and crop keys are content hashes."""
    rng = np.random.default_rng(7)
    image_id = sha256_hex(name.encode())
    boxes = [(40 * i, 10, 32, 32) for i in range(count)]
    return [
        faces.Face(ids.face_id(image_id, box), image_id, box, "dlib-hog", 0.9, rng.normal(size=dimensions),
                   "dlib-resnet-v1", content_key("crops", sha256_hex(f"{name}{i}".encode()), ".jpg"))
        for i, box in enumerate(boxes)
    ]  # fmt: skip


def _batch_warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if "Batch for" in r.getMessage()]


def test_a_crowded_image_is_stored_whole_without_batch_size_warnings(clean_tables, caplog):
    db = clean_tables
    found = _faces("crowd", 11)
    with caplog.at_level(logging.WARNING, logger="cassandra"):
        faces.upsert_many(db, found)
    assert _batch_warnings(caplog) == []
    image_id = found[0].image_id
    assert sorted(faces.ids_for_image(db, image_id)) == sorted(f.face_id for f in found)
    rows = db.execute(face_cards.CARDS_OF_IMAGE_CQL, (image_id,))  # what the image page reads
    cards = [face_cards.from_row(row) for row in rows if face_cards.has_card(row)]
    assert {card.box for card in cards} == {f.box for f in found}
    stored = faces.get(db, found[-1].face_id)
    assert np.allclose(stored.embedding, found[-1].embedding, atol=1e-6)


def test_longer_embeddings_make_smaller_batches_not_warnings(clean_tables, caplog):
    db = clean_tables
    found = _faces("wide", 5, dimensions=512)
    with caplog.at_level(logging.WARNING, logger="cassandra"):
        faces.upsert_many(db, found)
    assert _batch_warnings(caplog) == []
    assert len(faces.ids_for_image(db, found[0].image_id)) == 5
