"""The audit log and retrain triggers: events bucketed by UTC day, newest first."""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from cassandra.util import datetime_from_uuid1, uuid_from_time

from common.db import Database

# Kinds that change the training data and so trigger a retrain.
TRAINING_KINDS = frozenset(
    {
        "label.confirm", "label.reject", "label.undo",
        "persona.create", "persona.rename", "persona.merge", "persona.unmerge", "persona.delete",
        "model.retrain_requested",
    }
)  # fmt: skip


@dataclass(frozen=True)
class Event:
    event_id: uuid.UUID
    kind: str
    actor: str
    subject: str
    payload: dict[str, Any]

    @property
    def at(self) -> datetime:
        return datetime_from_uuid1(self.event_id).replace(tzinfo=UTC)


def record(db: Database, kind: str, actor: str, subject: str = "", payload: dict | None = None,
           event_id: uuid.UUID | None = None) -> Event:  # fmt: skip
    """Append an event; a caller that may run twice passes a deterministic time-based ``event_id``."""
    event_id = event_id or uuid_from_time(datetime.now(UTC))
    day = datetime_from_uuid1(event_id).date()
    body = json.dumps(payload or {}, sort_keys=True, default=str)
    db.execute(
        "INSERT INTO events (day, event_id, kind, actor, subject, payload) VALUES (?, ?, ?, ?, ?, ?)",
        (day, event_id, kind, actor, subject, body),
    )
    return Event(event_id, kind, actor, subject, payload or {})


def _from_row(row) -> Event:
    return Event(row.event_id, row.kind, row.actor or "", row.subject or "", json.loads(row.payload or "{}"))


def recent(
    db: Database, limit: int = 50, days: int = 30, kind_prefix: str = "", before: uuid.UUID | None = None
) -> list[Event]:
    """Newest first, walking back day by day; optional kind prefix filter (applied in Python)."""
    out: list[Event] = []
    today = datetime.now(UTC).date()
    for offset in range(days):
        day = today - timedelta(days=offset)
        if before is not None and day > datetime_from_uuid1(before).date():
            continue
        if before is not None:
            rows = db.execute("SELECT * FROM events WHERE day = ? AND event_id < ? LIMIT ?", (day, before, limit * 4))
        else:
            rows = db.execute("SELECT * FROM events WHERE day = ? LIMIT ?", (day, limit * 4))
        for row in rows:
            if row.kind.startswith(kind_prefix):
                out.append(_from_row(row))
                if len(out) >= limit:
                    return out
    return out


def since(db: Database, after: uuid.UUID | None, days: int = 7) -> list[Event]:
    """Events strictly newer than ``after`` (all of the last ``days`` when None), oldest first."""
    today = datetime.now(UTC).date()
    start = today - timedelta(days=days - 1)
    if after is not None:
        start = max(start, datetime_from_uuid1(after).date())
    out: list[Event] = []
    day: date = start
    while day <= today:
        if after is not None:
            rows = db.execute("SELECT * FROM events WHERE day = ? AND event_id > ?", (day, after))
        else:
            rows = db.execute("SELECT * FROM events WHERE day = ?", (day,))
        out.extend(_from_row(r) for r in rows)
        day += timedelta(days=1)
    out.sort(key=lambda e: (e.at, e.event_id.bytes))
    return out


def training_events_since(db: Database, after: uuid.UUID | None) -> list[Event]:
    return [e for e in since(db, after) if e.kind in TRAINING_KINDS]


def get(db: Database, event_id: uuid.UUID) -> Event | None:
    """One event by id (its day partition is derived from the time-based id)."""
    day = datetime_from_uuid1(event_id).date()
    row = db.one("SELECT * FROM events WHERE day = ? AND event_id = ?", (day, event_id))
    return _from_row(row) if row else None


def mark_undone(db: Database, event_id: uuid.UUID, actor: str) -> bool:
    """Claim the undo of an event (lightweight transaction); False when it was undone already."""
    row = db.one(
        "INSERT INTO undone_events (event_id, actor, undone_at) VALUES (?, ?, ?) IF NOT EXISTS",
        (event_id, actor, datetime.now(UTC)),
    )
    return bool(row.applied)


def unmark_undone(db: Database, event_id: uuid.UUID) -> None:
    """Release the claim when the undo itself failed."""
    db.execute("DELETE FROM undone_events WHERE event_id = ?", (event_id,))


def is_undone(db: Database, event_id: uuid.UUID) -> bool:
    return db.one("SELECT event_id FROM undone_events WHERE event_id = ?", (event_id,)) is not None


ERASED = "erased"
_HEX_TOKEN = re.compile(r"[0-9a-f]{32,64}")


def redact(db: Database, ids: set[str], page_size: int = 1000) -> int:
    """A privacy erase: every event naming one of ``ids`` (face or image ids) keeps its kind, actor and time,
    but those ids are replaced by "erased" in its subject and payload. Reads the whole table (paged): events
    of any day may name the faces. Returns how many events were rewritten."""
    if not ids:
        return 0
    rewritten = 0
    rows = db.execute("SELECT day, event_id, subject, payload FROM events", fetch_size=page_size)
    for row in rows:
        subject, payload = row.subject or "", row.payload or ""
        if subject not in ids and not any(token in ids for token in _HEX_TOKEN.findall(payload)):
            continue
        clean = _HEX_TOKEN.sub(lambda m: ERASED if m.group(0) in ids else m.group(0), payload)
        db.execute("UPDATE events SET subject = ?, payload = ? WHERE day = ? AND event_id = ?",
                   (ERASED if subject in ids else subject, clean, row.day, row.event_id))  # fmt: skip
        rewritten += 1
    return rewritten
