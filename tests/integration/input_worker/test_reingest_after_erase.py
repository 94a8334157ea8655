"""An image erased while its extraction was still running can be ingested again: the status update that
landed after the erase left a row without an image, and that row does not make the same bytes a duplicate."""

from __future__ import annotations

import pytest

from common.infra import task_names
from common.ingest.requests import start_upload_ingest
from common.repositories import faces, images, jobs
from common.storage import get_blob_store
from input_worker import ingest
from tests.unit.input_worker.sample_images import astronaut, encode
from visualization_web import queries

pytestmark = pytest.mark.integration

PHOTO = encode(astronaut())


def _ingest(db, settings, redis_client, sent: list) -> jobs.Item:
    job_id = start_upload_ingest(db, [("face.jpg", PHOTO)], actor="alice")
    redis_client.delete("ingest")  # no input worker here: the test runs the batch itself
    ingest.ingest_batch(db, job_id, jobs.get(db, job_id).options["uploads"], settings,
                        send=lambda message: sent.append((message.task_name, message.kwargs())))  # fmt: skip
    return jobs.items(db, job_id)[0]


def _erase_during_extraction(db, image_id: str) -> None:
    image = images.get(db, image_id)
    faces.delete_for_image(db, image_id)
    images.delete(db, image)
    get_blob_store().delete(image.blob_key)
    images.mark_processed(db, image_id, 1)  # the extraction that was still running finishes


def test_the_bytes_of_an_image_erased_during_its_extraction_are_stored_again(clean_tables, settings, redis_client):
    db = clean_tables
    first = _ingest(db, settings, redis_client, [])
    _erase_during_extraction(db, first.image_id)
    assert images.get(db, first.image_id) is None

    sent: list = []
    again = _ingest(db, settings, redis_client, sent)

    assert again.outcome == jobs.STORED and again.image_id == first.image_id, again.reason
    stored = images.get(db, again.image_id)
    assert stored.status == images.STORED and (stored.face_count, stored.processed_at) == (None, None)
    assert get_blob_store().get(stored.blob_key) == PHOTO
    assert [name for name, _kwargs in sent] == [task_names.EXTRACT_IMAGE]
    page = queries.image_detail(db, again.image_id)
    assert (page["status"], page["source_name"]) == (images.STORED, stored.source_name)
    assert [entry[1] for entry in images.list_recent(db)] == [again.image_id]


def test_two_ingests_of_the_bytes_after_such_an_erase_store_them_once(clean_tables, settings, redis_client):
    db = clean_tables
    first = _ingest(db, settings, redis_client, [])
    _erase_during_extraction(db, first.image_id)
    ghost_claim = images.Image(first.image_id, "images/x.jpg", "upload", "x.jpg", 10, 1, 1, "JPEG", images.STORED,
                               None, None, "job-a", "x.jpg", None, None)  # fmt: skip

    results = [images.insert_if_absent(db, ghost_claim)[0],
               images.insert_if_absent(db, ghost_claim)[0]]  # fmt: skip

    assert results == [True, False]
    assert images.get(db, first.image_id).job_id == "job-a"
