"""Each image's card (a copy of its row in its faces_by_image partition, migration 0007) lets the image page
read one partition; after every kind of write the page shows what the images table says, and images stored
before cards existed, or whose copy went missing, still show right."""

from dataclasses import astuple, fields
from datetime import UTC, datetime

import numpy as np

from common.infra.messages import ExtractImage
from common.repositories import faces, images
from common.repositories.card_backfill import backfill_image_cards
from input_worker.extract import extract_image
from tests.support import seed
from visualization_web import queries

SHOWN = ("source", "source_name", "width", "height", "format", "size_bytes", "status", "face_count", "error")
STRIP_CARD = (  # what migration 0007 leaves of an image stored before it: no card columns
    "DELETE image_blob_key, image_source, image_source_name, image_size_bytes, image_width, image_height, "
    "image_format, image_status, image_face_count, image_error, image_job_id, image_item_key, image_created_at, "
    "image_processed_at, image_card_since FROM faces_by_image WHERE image_id = ?"
)


def _page(db, image_id: str) -> dict | None:
    return queries.image_detail(db, image_id)


def _record(db, image_id: str) -> dict:
    """What the images table (the system of record) says, in the page's terms."""
    image = images.get(db, image_id)
    return {name: getattr(image, name) for name in SHOWN} | {
        "url": f"/blobs/{image.blob_key}",
        "created_at": image.created_at.isoformat(),
    }


def _shown(page: dict) -> dict:
    return {name: page[name] for name in (*SHOWN, "url", "created_at")}


def _card(db, image_id: str):
    rows = list(db.execute("SELECT * FROM faces_by_image WHERE image_id = ?", (image_id,)))
    return images.from_card_row(rows[0]) if rows else None


def _old_image(db, name: str, face_count: int = 0) -> images.Image:
    """An image as stored before migration 0007: its row and its faces, no card."""
    now = datetime.now(UTC)
    image = images.Image("old-" + name, "images/" + name, "upload", name, 99, 64, 48, "JPEG", images.PROCESSED,
                         face_count, None, None, None, now, now)  # fmt: skip
    columns = [f.name for f in fields(images.Image)]
    db.execute(f"INSERT INTO images ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})", astuple(image))
    faces.upsert_many(db, [faces.Face(f"{name}-face-{i}", image.image_id, (20 * i, 0, 16, 16), "seed", 0.9,
                                      np.zeros(128, np.float32), "seed-128", f"crops/{i}.jpg", now)
                           for i in range(face_count)])  # fmt: skip
    return image


def _stored(db, name: str = "new.jpg") -> images.Image:
    image = images.Image("img-" + name, "images/" + name, "upload", name, 1234, 640, 480, "JPEG", images.STORED,
                         None, None, "job-1", name, datetime.now(UTC), None)  # fmt: skip
    inserted, stored = images.insert_if_absent(db, image)
    assert inserted
    return stored


def test_the_page_follows_the_images_table_through_ingest_processing_and_failure(clean_tables):
    db = clean_tables
    image = _stored(db)
    page = _page(db, image.image_id)
    assert _shown(page) == _record(db, image.image_id)
    assert (page["status"], page["faces"]) == (images.STORED, [])

    images.mark_failed(db, image.image_id, "InvalidImage: not a picture")
    page = _page(db, image.image_id)
    assert _shown(page) == _record(db, image.image_id)
    assert (page["status"], page["error"]) == (images.FAILED, "InvalidImage: not a picture")

    images.mark_processed(db, image.image_id, 0)  # re-extraction succeeded: the error goes
    page = _page(db, image.image_id)
    assert _shown(page) == _record(db, image.image_id)
    assert (page["status"], page["face_count"], page["error"]) == (images.PROCESSED, 0, None)
    assert _card(db, image.image_id) == images.get(db, image.image_id)  # every column, job and times too


def test_an_image_with_faces_shows_them_and_its_card(clean_tables):
    db = clean_tables
    seeded = seed.seed_image(db, seed.centers(2), "two.jpg")
    page = _page(db, seeded.image_id)
    assert _shown(page) == _record(db, seeded.image_id)
    assert (page["status"], page["face_count"], len(page["faces"])) == (images.PROCESSED, 2, 2)


def test_an_image_stored_before_cards_existed_is_read_from_the_images_table(clean_tables):
    db = clean_tables
    for image in (_old_image(db, "old.jpg", face_count=2), _old_image(db, "lone.jpg")):
        assert _card(db, image.image_id) is None
        page = _page(db, image.image_id)
        assert page is not None and _shown(page) == _record(db, image.image_id)
        assert len(page["faces"]) == image.face_count


def test_a_partial_card_is_not_trusted(clean_tables):
    """A copy whose whole write was lost (only a later status update landed) is not shown as the image."""
    db = clean_tables
    image = _stored(db)
    db.execute(STRIP_CARD, (image.image_id,))
    images.mark_processed(db, image.image_id, 0)
    assert _card(db, image.image_id) is None
    assert _shown(_page(db, image.image_id)) == _record(db, image.image_id)


def test_a_redelivered_extraction_repairs_a_stale_card(clean_tables, settings):
    db = clean_tables
    seeded = seed.seed_image(db, seed.centers(1), "one.jpg")
    db.execute("UPDATE faces_by_image SET image_status = ?, image_face_count = null WHERE image_id = ?",
               (images.STORED, seeded.image_id))  # fmt: skip  # the processed copy did not land
    assert _page(db, seeded.image_id)["status"] == images.STORED

    assert extract_image(db, ExtractImage(image_id=seeded.image_id), settings, send=lambda *args: None) == 1

    assert _card(db, seeded.image_id) == images.get(db, seeded.image_id)
    assert _page(db, seeded.image_id)["status"] == images.PROCESSED


def test_an_erased_image_has_no_page_even_after_a_late_write(clean_tables):
    db = clean_tables
    seeded = seed.seed_image(db, seed.centers(2), "gone.jpg")
    image = images.get(db, seeded.image_id)
    faces.delete_for_image(db, seeded.image_id)
    images.delete(db, image)
    assert _page(db, seeded.image_id) is None

    images.mark_processed(db, seeded.image_id, 2)  # an extraction that was still running
    assert _page(db, seeded.image_id) is None


def test_the_backfill_copies_images_stored_before_cards_existed(clean_tables):
    db = clean_tables
    old = [_old_image(db, "old.jpg", face_count=2), _old_image(db, "lone.jpg")]

    assert backfill_image_cards(db).written == 2

    for image in old:
        assert _card(db, image.image_id) == images.get(db, image.image_id)
        assert len(_page(db, image.image_id)["faces"]) == image.face_count


def test_a_write_during_the_backfill_stands_over_its_copy(clean_tables):
    """The backfill reads a row, then the system writes it (a failure recorded, an erase), then the backfill's
    copy lands: what the system wrote is what the page shows."""
    db = clean_tables
    failing, erased = _old_image(db, "failing.jpg"), _old_image(db, "erased.jpg", face_count=1)
    read = list(images.scan_with_write_times(db))
    assert {image.image_id for image, _ in read} == {failing.image_id, erased.image_id}

    images.mark_failed(db, failing.image_id, "InvalidImage: truncated")
    faces.delete_for_image(db, erased.image_id)
    images.delete(db, erased)
    for image, written in read:
        db.execute(*images.backfill_card_statement(image, written))

    page = _page(db, failing.image_id)
    assert (page["status"], page["error"]) == (images.FAILED, "InvalidImage: truncated")
    assert _page(db, erased.image_id) is None
