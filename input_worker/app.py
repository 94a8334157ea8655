"""Celery entry point of the input worker: `celery -A input_worker.app worker -Q ingest,extract`.

Loading it installs the poison-message filter (queue items that are not tasks are dropped and recorded,
never a worker crash) before the worker opens its broker connection.
"""

from common import poison_messages
from common.celery_app import celery_app as app

poison_messages.install()
app.autodiscover_tasks(["input_worker"], related_name="tasks", force=True)

__all__ = ["app"]
