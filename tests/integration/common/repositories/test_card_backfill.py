"""Faces stored before migration 0006 get their cards from the backfill (before 0012: their embeddings); the image
page then reads them in one round and shows what the face tables say."""

import numpy as np
import pytest

from common.labeling import actions as labeling
from common.repositories import face_cards, faces, images
from common.repositories.card_backfill import backfill_cards
from tests.support import seed
from visualization_web import queries

STRIP_CARD = (  # what migration 0006 leaves of a face stored before it: no card columns
    "UPDATE faces_by_image SET card_since = null, detector = null, det_score = null, crop_key = null, "
    "label_verdicts = null, label_users = null, predicted_persona = null, predicted_score = null, "
    "predicted_distance = null, predicted_version = null WHERE image_id = ? AND face_id = ?"
)


def _cards_of(db, image_id: str) -> list:
    return [row for row in db.execute(face_cards.CARDS_OF_IMAGE_CQL, (image_id,)) if face_cards.is_face(row)]


def _old_image(db):
    """An image of three faces stored before cards existed: one confirmed as Ada, two predicted."""
    ada = labeling.create_persona(db, "Ada", "alice")
    image = seed.seed_image(db, [seed.centers(1)[0]] * 3, "old.jpg")
    for face_id in image.face_ids[1:]:
        seed.predict(db, face_id, image.image_id, ada.persona_id, 0.7)
    labeling.confirm(db, image.face_ids[0], ada.persona_id, "alice")
    for face_id in image.face_ids:
        db.execute(STRIP_CARD, (image.image_id, face_id))
    return image


def test_backfill_writes_the_cards_of_old_faces_once(clean_tables):
    db = clean_tables
    image = _old_image(db)
    before = queries.image_detail(db, image.image_id)
    assert not any(face_cards.has_card(row) for row in _cards_of(db, image.image_id))

    result = backfill_cards(db)

    assert (result.scanned, result.written) == (3, 3)
    assert all(face_cards.has_card(row) for row in _cards_of(db, image.image_id))
    after = queries.image_detail(db, image.image_id)
    assert after == before
    shown = {f["face_id"]: f for f in after["faces"]}
    assert shown[image.face_ids[0]]["labels"][0]["persona"] == "Ada"
    predicted = shown[image.face_ids[1]]
    assert predicted["prediction"]["score"] == pytest.approx(0.7) and predicted["crop_url"]
    assert backfill_cards(db).written == 0


def test_backfill_all_repairs_a_stale_card_and_skips_erased_faces(clean_tables):
    db = clean_tables
    image = _old_image(db)
    backfill_cards(db)
    stale = image.face_ids[1]
    db.execute("UPDATE faces_by_image SET predicted_score = 0.01 WHERE image_id = ? AND face_id = ?",
               (image.image_id, stale))  # fmt: skip
    db.execute("DELETE FROM faces WHERE face_id = ?", (image.face_ids[2],))  # erased; its index row lingers

    result = backfill_cards(db, rewrite_all=True)

    assert result.written == 2
    shown = {f["face_id"]: f for f in queries.image_detail(db, image.image_id)["faces"]}
    assert shown[stale]["prediction"]["score"] == pytest.approx(0.7)


def _face_before_0012(db, image_id: str, index: int, embedding) -> str:
    """A face as stored before migration 0012: the embedding in ``faces``, none on its card."""
    face_id = f"{image_id}-face-{index}"
    db.execute(
        "INSERT INTO faces (face_id, image_id, box_left, box_top, box_width, box_height, embedding) "
        "VALUES (?, ?, ?, 10, 40, 40, ?)",
        (face_id, image_id, 50 * index, faces.encode_embedding(embedding)),
    )
    db.execute("INSERT INTO faces_by_image (image_id, face_id, box_left, box_top, box_width, box_height, card_since) "
               "VALUES (?, ?, ?, 10, 40, 40, toTimestamp(now()))", (image_id, face_id, 50 * index))  # fmt: skip
    return face_id


def test_backfill_copies_the_embeddings_of_faces_stored_before_0012_and_an_erase_meanwhile_stands(clean_tables):
    db = clean_tables
    centers = seed.centers(3)
    old = [_face_before_0012(db, "pre-0012", i, centers[i]) for i in range(2)]
    erased = _face_before_0012(db, "erased-meanwhile", 0, centers[2])
    assert [c.embedding for c in face_cards.faces_of_images(db, ["pre-0012"])] == [None, None]
    pending = faces.embeddings_with_write_times(db, [erased])  # the backfill has read this face ...
    faces.delete_for_image(db, "erased-meanwhile")  # ... then it is erased, before the copy lands
    db.execute_many(face_cards.EMBEDDING_AT_CQL,
                    [face_cards.embedding_copy_statement(i, f, e, w)[1] for f, i, e, w in pending])  # fmt: skip
    assert list(db.execute("SELECT * FROM faces_by_image WHERE image_id = ?", ("erased-meanwhile",))) == []

    result = backfill_cards(db)

    assert (result.embeddings, result.written) == (2, 0)
    cards = {c.face_id: faces.decode_embedding(c.embedding) for c in face_cards.faces_of_images(db, ["pre-0012"])}
    assert set(cards) == set(old)
    assert all(np.allclose(cards[f], faces.get(db, f).embedding) for f in old)
    assert backfill_cards(db).embeddings == 0


def test_upgrading_across_migrations_0006_and_0007_gives_existing_faces_and_images_their_cards(settings, tmp_path):
    import shutil
    import uuid
    from datetime import UTC, datetime

    from common.db import Database
    from common.db.migrate import MIGRATIONS_DIR, migrate
    from common.db.session import connect
    from common.operations import cli
    from tests.conftest import RUN_ID

    keyspace = f"pp_upgrade_{RUN_ID}"
    for path in sorted(MIGRATIONS_DIR.glob("000[1-5]_*.cql")):
        shutil.copy(path, tmp_path / path.name)
    cluster, session = connect(settings)  # not the test session: migrate moves its session to the keyspace
    try:
        migrate(session, keyspace, settings.cassandra_replication, directory=tmp_path)
    finally:
        cluster.shutdown()
    old = Database.connect(settings, keyspace)
    try:
        persona, now = uuid.uuid4(), datetime.now(UTC)
        for face, verdict in (("face-a", "confirm"), ("face-b", None)):
            old.execute("INSERT INTO faces (face_id, image_id, box_left, box_top, box_width, box_height, detector, "
                        "det_score, crop_key) VALUES (?, 'image-1', 10, 20, 30, 40, 'dlib-hog', 0.9, ?)",
                        (face, f"crops/{face}.jpg"))  # fmt: skip
            old.execute("INSERT INTO faces_by_image (image_id, face_id, box_left, box_top, box_width, box_height) "
                        "VALUES ('image-1', ?, 10, 20, 30, 40)", (face,))  # fmt: skip
            if verdict:
                old.execute("INSERT INTO labels_by_face (face_id, persona_id, verdict, labeled_by, labeled_at) "
                            "VALUES (?, ?, ?, 'alice', ?)", (face, persona, verdict, now))  # fmt: skip
            else:
                old.execute("INSERT INTO predictions_by_face (face_id, persona_id, score, distance, model_version, "
                            "predicted_at) VALUES (?, ?, 0.5, 0.4, 3, ?)", (face, persona, now))  # fmt: skip

        old.execute("INSERT INTO images (image_id, blob_key, source, source_name, status, face_count, created_at) "
                    "VALUES ('image-1', 'images/1.jpg', 'folder', 'one.jpg', 'processed', 2, ?)", (now,))  # fmt: skip

        assert cli.main(["migrate", "--keyspace", keyspace]) == 0

        card = images.from_card_row(next(iter(old.execute(face_cards.CARDS_OF_IMAGE_CQL, ("image-1",)))))
        assert card == images.get(old, "image-1") and card.source_name == "one.jpg"  # the image's card (0007)

        cards = {row.face_id: face_cards.from_row(row) for row in old.execute(face_cards.CARDS_OF_IMAGE_CQL,
                                                                               ("image-1",))}  # fmt: skip
        assert cards["face-a"].labels == [face_cards.CardLabel(persona, "confirm", "alice")]
        assert cards["face-a"].crop_key == "crops/face-a.jpg" and cards["face-a"].prediction is None
        assert cards["face-b"].prediction == face_cards.CardPrediction(persona, 0.5, pytest.approx(0.4), 3)
        assert all(row.card_since for row in old.execute(face_cards.CARDS_OF_IMAGE_CQL, ("image-1",)))
    finally:
        old.session.execute(f"DROP KEYSPACE IF EXISTS {keyspace}", timeout=120)
        old.close()
