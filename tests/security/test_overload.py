"""Cosmos DB's 429 ("Request rate is large", the driver's OverloadedErrorMessage) is an outage, not bad input.

Once the query's own backoff (``PP_CASSANDRA_OVERLOAD_RETRIES``) gives up, the task must retry later with
backoff: never record the item as rejected, nor the image as failed with 0 faces. The fault is injected into
the real Cassandra session for one statement; the real Celery tasks run (eagerly, so their retry runs at once).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from cassandra.protocol import OverloadedErrorMessage
from cassandra.query import BatchStatement

from common.db import Database
from common.infra.settings import get_settings
from common.infra.task_retry import INFRASTRUCTURE_ERRORS, is_infrastructure_error
from common.ingest.requests import start_upload_ingest
from common.repositories import faces, images, jobs
from common.repositories import models as models_repo
from common.storage import content_key, get_blob_store, sha256_hex
from input_worker import ingest
from input_worker import tasks as input_tasks
from tests.unit.input_worker.sample_images import astronaut, encode
from trainer_worker import tasks as trainer_tasks

pytestmark = pytest.mark.integration

QUEUES = ("ingest", "extract", "reclassify", "retrain", "unacked", "unacked_index")


class Overload:
    """Raise Overloaded (as Cosmos DB does under load) for the next ``times`` statements containing ``fragment``."""

    def __init__(self, db: Database, fragment: str, times: int):
        self.db, self.fragment, self.left, self.hits = db, fragment, times, 0

    def _text(self, statement) -> str:
        if isinstance(statement, str):
            return statement
        if isinstance(statement, BatchStatement):
            by_id = {p.query_id: cql for cql, p in self.db._prepared.items()}
            return " ; ".join(by_id.get(s[1], "") if s[0] else str(s[1])
                              for s in statement._statements_and_parameters)  # fmt: skip
        prepared = getattr(statement, "prepared_statement", None)
        return getattr(prepared or statement, "query_string", "") or ""

    def wrap(self, call):
        def faulty(statement, *args, **kwargs):
            if self.left > 0 and self.fragment in self._text(statement):
                self.left -= 1
                self.hits += 1
                raise OverloadedErrorMessage(0x1001, "Request rate is large: RetryAfterMs=10", None)
            return call(statement, *args, **kwargs)

        return faulty


@contextmanager
def overloaded(monkeypatch, db: Database, fragment: str, times: int) -> Iterator[Overload]:
    fault = Overload(db, fragment, times)
    with monkeypatch.context() as m:
        m.setattr(db, "overload_retries", 1)  # the query's own backoff gives up after 2 tries
        m.setattr(db.session, "execute", fault.wrap(db.session.execute))
        m.setattr(db.session, "execute_async", fault.wrap(db.session.execute_async))
        yield fault


@pytest.fixture
def quiet_queues(redis_client):
    redis_client.delete(*QUEUES)
    yield
    redis_client.delete(*QUEUES)


def test_overloaded_is_an_infrastructure_error_for_every_task():
    error = OverloadedErrorMessage(0x1001, "Request rate is large", None)
    assert is_infrastructure_error(error)
    for task in (input_tasks.ingest_batch, input_tasks.extract_image, input_tasks.ingest_job,
                 trainer_tasks.retrain, trainer_tasks.reclassify_batch_task):  # fmt: skip
        assert isinstance(error, task.autoretry_for), task.name
    assert set(INFRASTRUCTURE_ERRORS) <= set(input_tasks.RETRY["autoretry_for"])


def test_an_item_hit_by_overload_is_retried_not_rejected(clean_tables, quiet_queues, monkeypatch):
    db = clean_tables
    job_id = start_upload_ingest(db, [("face.jpg", encode(astronaut(), quality=85))], actor="test")
    batches: list[dict] = []
    ingest.run_job(db, job_id, get_settings(), send=lambda message: batches.append(message.kwargs()))
    assert len(batches) == 1
    with overloaded(monkeypatch, db, "INSERT INTO images", times=3) as fault:
        result = input_tasks.ingest_batch.apply(kwargs=batches[0])
    # the first run gave up after the query's own backoff (2 hits); the task's retry (eager: at once) stored it
    assert fault.hits == 3 and result.state == "SUCCESS"
    assert [item.outcome for item in jobs.items(db, job_id)] == [jobs.STORED]


def test_an_image_hit_by_overload_is_retried_not_failed_with_zero_faces(clean_tables, quiet_queues, monkeypatch):
    db = clean_tables
    data = encode(astronaut(), quality=85)
    image_id = sha256_hex(data)
    blob_key = content_key("images", image_id, ".jpg")
    get_blob_store().put_if_absent(blob_key, data)
    images.insert_if_absent(db, images.Image(image_id, blob_key, "test", "face.jpg", len(data), 512, 512, "JPEG",
                                             images.STORED, None, None, None, None, None, None))  # fmt: skip
    with overloaded(monkeypatch, db, "INSERT INTO faces", times=3) as fault:
        result = input_tasks.extract_image.apply(kwargs={"image_id": image_id})
    assert fault.hits == 3 and result.state == "SUCCESS"
    image = images.get(db, image_id)
    assert image.status == images.PROCESSED and image.error is None and image.face_count == 1
    assert len(faces.for_image(db, image_id)) == 1


def test_loading_the_active_model_under_overload_retries_instead_of_predicting_nothing(clean_tables, monkeypatch):
    from common.classifier import clear_cache, load_active

    db = clean_tables
    db.execute("INSERT INTO active_model (name, version, updated_at) VALUES (?, ?, toTimestamp(now()))",
               (models_repo.ACTIVE_NAME, 1))  # fmt: skip
    clear_cache()
    with overloaded(monkeypatch, db, "FROM model_versions", times=2), pytest.raises(OverloadedErrorMessage):
        load_active(db, max_age=0)
