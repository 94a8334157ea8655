"""Celery entry point of the trainer worker.

`celery -A trainer_worker.app worker -Q retrain -c 1` (training, one at a time)
and `celery -A trainer_worker.app worker -Q reclassify` (reclassification);
beat runs from here too: `celery -A trainer_worker.app beat`.
"""

from common.celery_app import celery_app as app

app.autodiscover_tasks(["trainer_worker"], related_name="tasks", force=True)

__all__ = ["app"]
