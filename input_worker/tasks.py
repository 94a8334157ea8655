"""Celery tasks of the input worker: thin adapters over ingest.py and extract.py.

Transient failures (Cassandra, Redis, Azure throttling) retry with exponential
backoff and jitter (at most ``PP_TASK_RETRY_BACKOFF_MAX`` between tries), forever:
work is never dropped. Bad input is recorded by the
domain functions and never raises.
"""

from __future__ import annotations

from common import task_names
from common.celery_app import celery_app
from common.db import get_database
from common.settings import get_settings
from common.task_retry import retry_options
from input_worker import extract, ingest, reextract
from input_worker.errors import TRANSIENT

RETRY = retry_options(TRANSIENT)


@celery_app.task(name=task_names.INGEST_JOB, **RETRY)
def ingest_job(job_id: str) -> int:
    return ingest.run_job(get_database(), str(job_id), get_settings())


@celery_app.task(name=task_names.INGEST_BATCH, **RETRY)
def ingest_batch(job_id: str, items: list[dict]) -> None:
    ingest.ingest_batch(get_database(), str(job_id), list(items), get_settings())


@celery_app.task(name=task_names.EXTRACT_IMAGE, **RETRY)
def extract_image(image_id: str, job_id: str | None = None, item_key: str | None = None,
                  detector: str | None = None, labeled_folder: bool | None = None,
                  blob_key: str | None = None) -> int:  # fmt: skip
    return extract.extract_image(get_database(), str(image_id), get_settings(), job_id, item_key, detector,
                                 labeled_folder=None if labeled_folder is None else bool(labeled_folder),
                                 blob_key=str(blob_key) if blob_key else None)  # fmt: skip


@celery_app.task(name=task_names.REEXTRACT_IMAGE, **RETRY)
def reextract_image(image_id: str, detector: str | None = None, actor: str = "system") -> dict:
    result = reextract.reextract_image(get_database(), str(image_id), get_settings(), detector, actor)
    return result.__dict__
