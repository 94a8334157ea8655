"""A real input worker ingests folders and uploads: exact counters, faces with crops, no duplicates."""

from __future__ import annotations

import io
import time

import pytest
from PIL import Image

from common.face_models import EMBEDDER_NAME
from common.infra.celery_app import celery_app
from common.infra.messages import ExtractImage, IngestBatch, IngestItem, send
from common.ingest.requests import start_ingest, start_upload_ingest
from common.repositories import face_cards, faces, images, jobs
from common.storage import get_blob_store
from input_worker.sources import discover
from tests.integration.input_worker.helpers import count_rows, queued_reclassify_face_ids, wait_for_job
from tests.unit.input_worker.sample_images import (
    GOOD_FACES,
    astronaut,
    bad_images,
    encode,
    good_images,
    grace_hopper,
    write_folder,
)

pytestmark = pytest.mark.integration

ODD_NAME = "we\x01ird \u00f1ame.jpg"  # a control character in a real file name


@pytest.fixture
def photo_folder(tmp_path, settings):
    files = {**good_images(), **bad_images(settings.max_image_bytes)}
    files[ODD_NAME] = encode(grace_hopper(), quality=80)
    return write_folder(tmp_path / "photos", files)


@pytest.fixture
def input_worker(start_worker):
    return start_worker("input_worker.app", "ingest,extract")


def test_folder_ingest_stores_good_images_with_faces_and_records_every_rejection(
    clean_tables, redis_client, input_worker, photo_folder
):
    db = clean_tables
    redis_client.delete("reclassify")
    job_id = start_ingest(db, str(photo_folder), actor="test")
    progress = wait_for_job(db, job_id)

    summary = progress.as_dict()
    expected_faces = sum(GOOD_FACES.values()) + 1
    assert (summary["discovered"], summary["stored"], summary["duplicates"], summary["rejected"]) == (10, 6, 0, 4)
    assert summary["faces"] == expected_faces and summary["status"] == "done"

    items = {item.item_key: item for item in jobs.items(db, job_id)}
    assert "empty" in items["empty.jpg"].reason
    assert "truncated" in items["truncated.jpg"].reason
    assert "not an image" in items["notes.jpg"].reason
    assert "too large" in items["huge.jpg"].reason
    assert items["we\ufffdird \u00f1ame.jpg"].outcome == jobs.STORED  # name kept as printable metadata

    store = get_blob_store()
    all_face_ids = set()
    for name, expected in [*GOOD_FACES.items(), ("we\ufffdird \u00f1ame.jpg", 1)]:
        image = images.get(db, items[name].image_id)
        assert image.status == images.PROCESSED and image.face_count == expected, name
        assert store.get(image.blob_key)[:4] in (b"\xff\xd8\xff\xe0", b"\x89PNG")
        image_faces = faces.for_image(db, image.image_id)
        assert len(image_faces) == expected, name
        for face in image_faces:
            assert face.embedder == EMBEDDER_NAME and face.embedding.shape == (128,)
            assert face.crop_key.startswith("crops/")
            assert Image.open(io.BytesIO(store.get(face.crop_key))).size == (150, 150)
            all_face_ids.add(face.face_id)
    assert count_rows(db, "faces") == expected_faces

    # Predictions were requested for exactly the new faces, one message per image with faces.
    batches = queued_reclassify_face_ids(redis_client)
    assert sorted(fid for batch in batches for fid in batch) == sorted(all_face_ids)
    assert len(batches) == sum(1 for n in GOOD_FACES.values() if n) + 1

    # The same folder again: nothing new, every good file reported as a duplicate.
    again = wait_for_job(db, start_ingest(db, str(photo_folder), actor="test")).as_dict()
    assert (again["stored"], again["duplicates"], again["rejected"], again["faces"]) == (0, 6, 4, 0)
    assert count_rows(db, "images") == 6 and count_rows(db, "faces") == expected_faces


def test_the_same_tasks_delivered_twice_leave_one_row_per_image_and_face(
    clean_tables, input_worker, photo_folder, settings
):
    db = clean_tables
    job_id = "twice-" + "0" * 8
    jobs.create(db, job_id, str(photo_folder), "test", {"operator": True})  # as the CLI would
    items = [item.as_dict() for item in discover(str(photo_folder), {"operator": True}, settings)]
    jobs.set_discovered(db, job_id, len(items))
    for _ in range(2):
        send(IngestBatch(job_id=job_id, items=tuple(IngestItem(**item) for item in items)), celery_app.send_task)
    progress = wait_for_job(db, job_id)
    assert (progress.counts["stored"], progress.counts["rejected"], progress.counts["duplicate"]) == (6, 4, 0)

    # Extraction sent again for an already processed image, as a redelivery would.
    astronaut_item = jobs.get_item(db, job_id, "astronaut.jpg")
    for _ in range(2):
        message = ExtractImage(image_id=astronaut_item.image_id, job_id=job_id, item_key="astronaut.jpg")
        send(message, celery_app.send_task)
    wait_for_job(db, job_id)
    time.sleep(3)  # let both redundant extractions run
    assert count_rows(db, "images") == 6
    assert count_rows(db, "faces") == sum(GOOD_FACES.values()) + 1
    face_rows = [row for row in db.execute("SELECT * FROM faces_by_image") if face_cards.is_face(row)]
    assert len(face_rows) == sum(GOOD_FACES.values()) + 1  # not counting the image cards (static rows)
    assert jobs.progress(db, job_id).counts["faces"] == sum(GOOD_FACES.values()) + 1


def test_uploads_are_ingested_and_rejected_files_appear_with_a_reason(clean_tables, input_worker):
    db = clean_tables
    files = [("../../etc/passwd.jpg", encode(astronaut())), ("empty.png", b""), ("notes.jpg", b"hello" * 50)]
    job_id = start_upload_ingest(db, files, actor="alice")
    progress = wait_for_job(db, job_id)

    assert (progress.counts["stored"], progress.counts["rejected"], progress.counts["faces"]) == (1, 2, 1)
    items = {item.item_key: item for item in jobs.items(db, job_id)}
    assert set(items) == {"0001 ../../etc/passwd.jpg", "0002 empty.png", "0003 notes.jpg"}
    assert "empty" in items["0002 empty.png"].reason
    assert "not an image" in items["0003 notes.jpg"].reason
    image = images.get(db, items["0001 ../../etc/passwd.jpg"].image_id)
    assert image.blob_key.startswith("images/") and image.face_count == 1
    assert progress.job.created_by == "alice"


def test_a_missing_folder_fails_the_job_with_the_reason(clean_tables, input_worker, tmp_path):
    db = clean_tables
    job_id = start_ingest(db, str(tmp_path / "does-not-exist"), actor="test")
    progress = wait_for_job(db, job_id, timeout=60)
    assert progress.job.status == "failed" and "no such folder" in progress.job.error
