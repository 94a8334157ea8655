"""The reconcile counts exactly and corrects drifted counters: a redelivered extraction that counted twice,
a write whose increment was lost, a counter moved by hand; it records when it ran; two never run at once."""

from __future__ import annotations

import pytest

from common.infra.messages import ExtractImage, Message
from common.repositories import corpus_counters, faces, images
from common.storage import content_key, get_blob_store, sha256_hex
from input_worker.extract import extract_image
from tests.support import seed
from tests.unit.input_worker.sample_images import astronaut, collage, encode, grace_hopper
from trainer_worker import corpus_reconcile

pytestmark = pytest.mark.integration


def _ignore(_message: Message) -> None:
    pass


def _stored_pair(db) -> str:
    data = encode(collage(astronaut(), grace_hopper()))
    image_id = sha256_hex(data)
    key = content_key("images", image_id, ".jpg")
    get_blob_store().put(key, data)
    images.insert_if_absent(db, images.Image(image_id, key, "test", "pair.jpg", len(data), 0, 0, "JPEG",
                                             images.STORED, None, None, None, None, None, None))  # fmt: skip
    return image_id


def test_an_extraction_delivered_again_counts_twice_until_the_reconcile(clean_tables, settings):
    db = clean_tables
    image_id = _stored_pair(db)
    assert extract_image(db, ExtractImage(image_id=image_id), settings, send=_ignore) == 2
    # A worker that stored the faces died before it marked the image processed (here: the image is marked
    # failed, which a redelivery does not skip either): the same faces are stored and counted again.
    images.mark_failed(db, image_id, "worker lost")
    assert extract_image(db, ExtractImage(image_id=image_id), settings, send=_ignore) == 2
    assert corpus_counters.read(db)["faces"] == 4 and corpus_counters.exact(db, "faces") == 2

    result = corpus_reconcile.reconcile(db, page_size=3)
    assert corpus_counters.read(db)["faces"] == 2
    assert result.corrections["faces"] == -2 and result.counts["faces"] == 2
    again = corpus_reconcile.reconcile(db)
    assert set(again.corrections.values()) == {0}  # nothing left to correct


def test_a_lost_increment_and_a_counter_moved_by_hand_are_corrected(clean_tables):
    db = clean_tables
    face_ids = seed.seed_faces(db, 6, seed.centers(1)[0], per_image=2)  # 3 images, 6 faces, counted
    face = faces.get(db, face_ids[0])
    lost = faces.Face(f"{face.face_id}-copy", face.image_id, (1, 2, 3, 4), "seed", 0.9, face.embedding, "seed-128", "")
    faces.upsert(db, lost)  # a face stored by a task that died before it counted it
    corpus_counters.add(db, "images", 5)
    corpus_counters.add(db, "personas", -2)
    assert corpus_counters.read(db) != {name: corpus_counters.exact(db, name) for name in corpus_counters.NAMES}

    result = corpus_reconcile.reconcile(db)
    assert result.corrections == {"images": -5, "faces": 1, "personas": 2, "confirmed": 0, "predicted": 0,
                                  "unknown": 0}  # fmt: skip
    assert corpus_counters.read(db) == {"images": 3, "faces": 7, "personas": 0, "confirmed": 0, "predicted": 0,
                                        "unknown": 0}  # fmt: skip
    last = corpus_counters.reconciled(db)
    assert last is not None and last.corrections == result.corrections


def test_writes_during_a_scan_leave_at_most_half_of_them_uncorrected(clean_tables, monkeypatch):
    db = clean_tables
    seed.seed_faces(db, 2, seed.centers(1)[0], per_image=1)
    real_exact = corpus_counters.exact_counts

    def exact_while_two_images_arrive(db_, names, page_size=5000):
        found = real_exact(db_, names, page_size)
        if "images" in names:  # two images stored after the scan passed them
            seed.seed_faces(db_, 2, seed.centers(2)[1], seed=9, per_image=1, name_prefix="late")
        return found

    monkeypatch.setattr(corpus_counters, "exact_counts", exact_while_two_images_arrive)
    result = corpus_reconcile.reconcile(db, names=["images"])
    assert result.moved["images"] == 2 and result.corrections["images"] == -1
    assert corpus_counters.read(db)["images"] == 3  # 4 stored: off by half of what changed during the scan
    assert corpus_counters.reconciled(db) is None  # a partial reconcile is not recorded as one
    monkeypatch.setattr(corpus_counters, "exact_counts", real_exact)
    corpus_reconcile.reconcile(db)
    assert corpus_counters.read(db)["images"] == 4  # the next one, with nothing written meanwhile, is exact


def test_a_second_reconcile_waits_for_none_while_one_runs(clean_tables, redis_client):
    db = clean_tables
    lock = corpus_reconcile.LOCK_KEY.format(keyspace=db.keyspace)
    redis_client.set(lock, "another worker", ex=60)
    try:
        assert corpus_reconcile.run(db, redis_client).skipped
    finally:
        redis_client.delete(lock)
    done = corpus_reconcile.run(db, redis_client)
    assert not done.skipped and not redis_client.exists(lock)
