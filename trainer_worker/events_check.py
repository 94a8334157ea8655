"""The beat task's check: training events newer than the last training, and no retrain on its way -> request one."""

from __future__ import annotations

from dataclasses import dataclass

import redis

from common.db import Database
from common.infra.settings import get_settings
from common.labeling.retrain_trigger import last_request_age, request_retrain
from common.repositories import events
from trainer_worker import state
from trainer_worker.retrain_job import training_running

GRACE_SECONDS = 60.0


@dataclass(frozen=True)
class CheckResult:
    pending_events: int
    requested: bool
    reason: str


def check_events(db: Database, client: redis.Redis) -> CheckResult:
    pending = events.training_events_since(db, state.get(db).last_event_id)
    if not pending:
        return CheckResult(0, False, "every training event is covered by a training")
    if training_running(client):
        return CheckResult(len(pending), False, "a training is running")
    age = last_request_age(client)
    if age is not None and age < get_settings().retrain_quiet_seconds + GRACE_SECONDS:
        return CheckResult(len(pending), False, f"a retrain was requested {age:.0f}s ago")
    request_retrain(f"lost trigger: {len(pending)} training event(s) since the last training")
    return CheckResult(len(pending), True, "retrain requested")
