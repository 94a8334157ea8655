"""When trainings start and finish, and which training event the last one covered (for the lost-trigger
check); stored in ``trainer_state`` by :mod:`common.repositories.trainer_state`."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from common.db import Database
from common.repositories import trainer_state
from common.repositories.trainer_state import TrainerState


def get(db: Database) -> TrainerState:
    return trainer_state.get(db)


def mark_started(db: Database) -> None:
    trainer_state.set_started(db, datetime.now(UTC))


def mark_finished(db: Database, covered_event: uuid.UUID | None) -> None:
    trainer_state.set_finished(db, datetime.now(UTC), covered_event)
