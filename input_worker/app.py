"""Celery entry point of the input worker: `celery -A input_worker.app worker -Q ingest,extract`.

Loading it installs the poison-message filter (queue items that are not tasks are dropped and recorded,
never a worker crash) before the worker opens its broker connection.
"""

from common.infra.celery_app import celery_app as app
from common.task_runtime import poison_messages

poison_messages.install()
app.autodiscover_tasks(["input_worker"], related_name="tasks", force=True)

__all__ = ["app"]
