"""Staged uploads are deleted once their outcome is recorded, without losing an image or double-counting."""

from __future__ import annotations

import time

import pytest
from kombu.exceptions import OperationalError

from common.infra.celery_app import celery_app
from common.infra.messages import IngestBatch, IngestItem, IngestJob, Message, send
from common.ingest.requests import start_upload_ingest
from common.repositories import images, jobs
from common.repositories.ids import bucket_of
from common.storage import get_blob_store
from input_worker import ingest
from input_worker.sources import SourceItem, release_staged_uploads
from tests.integration.input_worker.helpers import wait_for_job
from tests.unit.input_worker.sample_images import astronaut, encode, grace_hopper

pytestmark = pytest.mark.integration

PHOTO = encode(astronaut())


def _staged(db, job_id: str) -> list[str]:
    return [entry["locator"] for entry in jobs.get(db, job_id).options["uploads"] if entry["locator"]]


def _stored_image(db, item: jobs.Item) -> images.Image:
    image = images.get(db, item.image_id)
    assert image is not None and get_blob_store().get(image.blob_key) == PHOTO
    return image


@pytest.fixture
def input_worker(start_worker):
    return start_worker("input_worker.app", "ingest,extract", concurrency=2)


def test_a_finished_upload_job_leaves_its_images_and_no_staged_copies(clean_tables, input_worker):
    db = clean_tables
    files = [("face.jpg", PHOTO), ("notes.jpg", b"hello" * 50), ("empty.png", b"")]
    job_id = start_upload_ingest(db, files, actor="alice")
    staged = _staged(db, job_id)
    assert len(staged) == 2 and all(get_blob_store().exists(key) for key in staged)

    progress = wait_for_job(db, job_id)

    assert (progress.counts["stored"], progress.counts["rejected"]) == (1, 2)
    assert not any(get_blob_store().exists(key) for key in staged)
    item = jobs.get_item(db, job_id, "0001 face.jpg")
    assert _stored_image(db, item).status == images.PROCESSED

    # The broker redelivers the batch (and the job) after the staged copies are gone: nothing changes.
    items = tuple(IngestItem(**item) for item in _items(db, job_id))
    batch = send(IngestBatch(job_id=job_id, items=items), celery_app.send_task)
    job = send(IngestJob(job_id=job_id), celery_app.send_task)
    for task in (batch, job):
        _wait_for_log(input_worker, f"[{task.id}] succeeded")
    again = wait_for_job(db, job_id)
    assert (again.counts["stored"], again.counts["rejected"], again.counts["duplicate"]) == (1, 2, 0)
    assert jobs.get_item(db, job_id, "0001 face.jpg").outcome == jobs.STORED


def test_an_upload_whose_task_cannot_be_queued_leaves_no_staged_copy(clean_tables, settings, monkeypatch):
    """The broker is down when the job would be sent: no job would ever release the staged copies."""
    db = clean_tables
    uploads = settings.blob_root / "uploads"
    before = set(uploads.iterdir()) if uploads.exists() else set()

    def broker_down(*args, **kwargs):
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(celery_app, "send_task", broker_down)
    with pytest.raises(OperationalError):
        start_upload_ingest(db, [("face.jpg", PHOTO), ("other.jpg", encode(grace_hopper()))], actor="alice")

    assert (set(uploads.iterdir()) if uploads.exists() else set()) == before
    [job] = jobs.recent(db, limit=5)
    assert job.status == "failed" and "upload again" in job.error


def test_two_jobs_uploading_the_same_bytes_at_once_both_succeed(clean_tables, input_worker):
    db = clean_tables
    first = start_upload_ingest(db, [("mine.jpg", PHOTO)], actor="alice")
    second = start_upload_ingest(db, [("yours.jpg", PHOTO)], actor="bob")
    staged = _staged(db, first) + _staged(db, second)

    outcomes = sorted(wait_for_job(db, job_id).counts["rejected"] for job_id in (first, second))

    assert outcomes == [0, 0], "neither job lost its file to the other's clean-up"
    settled = [jobs.items(db, job_id)[0] for job_id in (first, second)]
    assert sorted(item.outcome for item in settled) == [jobs.DUPLICATE, jobs.STORED]
    assert {item.image_id for item in settled} == {_stored_image(db, settled[0]).image_id}
    assert not any(get_blob_store().exists(key) for key in staged)


def test_an_item_redelivered_after_its_staged_copy_is_gone_keeps_its_stored_image(clean_tables, redis_client, settings):
    """The worker stored the image, then died before recording the outcome; the staged copy is gone."""
    db = clean_tables
    job_id = start_upload_ingest(db, [("face.jpg", PHOTO), ("other.jpg", encode(grace_hopper()))], actor="alice")
    redis_client.delete("ingest")  # this test runs the domain functions itself
    items = _items(db, job_id)
    sent: list[tuple[str, dict]] = []

    def collect(message: Message) -> None:
        sent.append((message.task_name, message.kwargs()))

    ingest.ingest_batch(db, job_id, items, settings, send=collect)
    stored = _stored_image(db, jobs.get_item(db, job_id, "0001 face.jpg"))
    db.execute("DELETE FROM ingest_job_items WHERE job_id = ? AND bucket = ? AND item_key = ?",
               (job_id, bucket_of("0001 face.jpg", jobs.BUCKETS), "0001 face.jpg"))  # fmt: skip
    assert release_staged_uploads(job_id, items) == 2

    ingest.ingest_batch(db, job_id, items, settings, send=collect)

    item = jobs.get_item(db, job_id, "0001 face.jpg")
    assert item.outcome == jobs.STORED and item.image_id == stored.image_id, item.reason
    assert images.get(db, stored.image_id).created_at == stored.created_at
    assert [kwargs["item_key"] for _name, kwargs in sent].count("0001 face.jpg") == 2  # extracted as if first seen
    counts = jobs.progress(db, job_id).counts
    assert (counts["stored"], counts["rejected"]) == (2, 0)


def test_a_rejected_upload_read_again_after_release_keeps_its_reason(clean_tables, redis_client, settings):
    """A second, concurrent delivery of the batch read the item after the first one rejected and released it."""
    db = clean_tables
    job_id = start_upload_ingest(db, [("notes.jpg", b"hello" * 50)], actor="alice")
    redis_client.delete("ingest")
    items = _items(db, job_id)
    ingest.ingest_batch(db, job_id, items, settings, send=lambda message: None)
    first = jobs.get_item(db, job_id, "0001 notes.jpg")
    release_staged_uploads(job_id, items)

    outcome = ingest.ingest_item(db, job_id, jobs.get(db, job_id).source, SourceItem(**items[0]), settings,
                                 send=lambda message: None)  # fmt: skip

    assert outcome == jobs.REJECTED and "not an image" in first.reason
    assert jobs.get_item(db, job_id, "0001 notes.jpg").reason == first.reason
    assert jobs.progress(db, job_id).counts["rejected"] == 1


def _items(db, job_id: str) -> list[dict]:
    return list(jobs.get(db, job_id).options["uploads"])


def _wait_for_log(worker, text: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while text not in worker.log_path.read_text():
        if time.monotonic() > deadline:
            raise AssertionError(f"{text!r} not in the worker log after {timeout}s")
        time.sleep(0.3)
