"""The ``trainer_state`` table: which training event the last training covered, and when trainings ran.

The beat task that finds lost retrain triggers compares it with the events (``trainer_worker.events_check``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from common.db import Database

NAME = "default"


@dataclass(frozen=True)
class TrainerState:
    last_event_id: uuid.UUID | None
    last_started_at: datetime | None
    last_finished_at: datetime | None


def get(db: Database) -> TrainerState:
    r = db.one("SELECT * FROM trainer_state WHERE name = ?", (NAME,))
    if r is None:
        return TrainerState(None, None, None)
    return TrainerState(r.last_event_id, r.last_started_at, r.last_finished_at)


def set_started(db: Database, at: datetime) -> None:
    db.execute("UPDATE trainer_state SET last_started_at = ? WHERE name = ?", (at, NAME))


def set_finished(db: Database, at: datetime, covered_event: uuid.UUID | None) -> None:
    """A training finished at ``at``; ``covered_event`` (when not None) is the last event it covered."""
    if covered_event is None:
        db.execute("UPDATE trainer_state SET last_finished_at = ? WHERE name = ?", (at, NAME))
    else:
        db.execute("UPDATE trainer_state SET last_finished_at = ?, last_event_id = ? WHERE name = ?",
                   (at, covered_event, NAME))  # fmt: skip
