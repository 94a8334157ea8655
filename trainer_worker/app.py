"""Celery entry point of the trainer worker.

`celery -A trainer_worker.app worker -Q retrain -c 1` (training, one at a time)
and `celery -A trainer_worker.app worker -Q reclassify` (reclassification);
beat and Flower run from here too: `celery -A trainer_worker.app beat`. Loading it installs the
poison-message filter (queue items that are not tasks are dropped and recorded, never a worker crash)
before the worker opens its broker connection.
"""

from common.infra.celery_app import celery_app as app
from common.task_runtime import poison_messages

poison_messages.install()
app.autodiscover_tasks(["trainer_worker"], related_name="tasks", force=True)

__all__ = ["app"]
