"""trainer_state: which training event the last training covered (for the lost-trigger check)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

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


def mark_started(db: Database) -> None:
    db.execute("UPDATE trainer_state SET last_started_at = ? WHERE name = ?", (datetime.now(UTC), NAME))


def mark_finished(db: Database, covered_event: uuid.UUID | None) -> None:
    now = datetime.now(UTC)
    if covered_event is None:
        db.execute("UPDATE trainer_state SET last_finished_at = ? WHERE name = ?", (now, NAME))
    else:
        db.execute("UPDATE trainer_state SET last_finished_at = ?, last_event_id = ? WHERE name = ?",
                   (now, covered_event, NAME))  # fmt: skip
