"""Celery tasks of the input worker: thin adapters from a typed message (``common.infra.messages``) to ingest.py,
extract.py and reextract.py.

Transient failures (Cassandra, Redis, Azure throttling) retry with exponential backoff and jitter (at most
``PP_TASK_RETRY_BACKOFF_MAX`` between tries), forever: work is never dropped. Bad input is recorded by the
domain functions and never raises; kwargs that are not the task's message are recorded as a bad message
(``common.task_runtime.task_intake``).
"""

from __future__ import annotations

from common.db import get_database
from common.infra import task_names
from common.infra.celery_app import celery_app
from common.infra.messages import ExtractImage, IngestBatch, IngestJob, ReextractImage
from common.infra.settings import get_settings
from common.infra.task_retry import retry_options
from common.task_runtime.task_intake import receives
from input_worker import extract, ingest, reextract
from input_worker.errors import TRANSIENT

RETRY = retry_options(TRANSIENT)


@celery_app.task(name=task_names.INGEST_JOB, **RETRY)
@receives(IngestJob)
def ingest_job(message: IngestJob) -> int:
    return ingest.run_job(get_database(), message.job_id, get_settings())


@celery_app.task(name=task_names.INGEST_BATCH, **RETRY)
@receives(IngestBatch)
def ingest_batch(message: IngestBatch) -> None:
    items = [item.model_dump() for item in message.items]
    ingest.ingest_batch(get_database(), message.job_id, items, get_settings())


@celery_app.task(name=task_names.EXTRACT_IMAGE, **RETRY)
@receives(ExtractImage)
def extract_image(message: ExtractImage) -> int:
    return extract.extract_image(get_database(), message, get_settings())


@celery_app.task(name=task_names.REEXTRACT_IMAGE, **RETRY)
@receives(ReextractImage)
def reextract_image(message: ReextractImage) -> dict:
    result = reextract.reextract_image(get_database(), message.image_id, get_settings(), message.detector,
                                       message.actor)  # fmt: skip
    return result.__dict__
