"""Ask for a retrain after a training-data event (label, persona change, manual request).

Called by whoever records such an event (web app, CLI, label import). The
retrain task coalesces bursts and serializes trainings (trainer_worker).
"""

from __future__ import annotations

from common import task_names
from common.settings import get_settings


def request_retrain(reason: str) -> None:
    from common.celery_app import celery_app

    settings = get_settings()
    celery_app.send_task(
        task_names.RETRAIN, kwargs={"reason": reason}, countdown=settings.retrain_quiet_seconds
    )
