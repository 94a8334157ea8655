"""Celery entry point of the input worker: `celery -A input_worker.app worker -Q ingest,extract`."""

from common.celery_app import celery_app as app

app.autodiscover_tasks(["input_worker"], related_name="tasks", force=True)

__all__ = ["app"]
