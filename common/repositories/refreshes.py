"""How each promotion's predictions were refreshed (``prediction_refreshes``, migration 0014).

A row per promoted version: ``scoped`` (the personas whose prototypes or rejections changed, the faces
re-predicted) or ``full`` (a full pass), when it started and finished, and for a full pass how many
decisions it changed. The web reads the newest rows to say, per persona, whether its predictions are
current. Bucketed like ``model_versions`` (bucket = version // 1000).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from common.db import Database
from common.repositories.models import version_bucket

MAX_PERSONAS = 1000  # a refresh touching more personas stores "all" (None): the row stays small


@dataclass(frozen=True)
class Refresh:
    version: int
    previous_version: int | None
    kind: str  # scoped | full
    personas: frozenset[uuid.UUID] | None  # the personas whose predictions it refreshes (None: all)
    faces: int
    decisions_changed: int | None
    started_at: datetime | None
    finished_at: datetime | None

    @property
    def finished(self) -> bool:
        return self.finished_at is not None

    def touches(self, persona_id: uuid.UUID) -> bool:
        return self.personas is None or persona_id in self.personas


def _personas(text: str | None) -> frozenset[uuid.UUID] | None:
    if not text:
        return None
    return frozenset(uuid.UUID(p) for p in json.loads(text))


def _refresh(r: Any) -> Refresh:
    return Refresh(r.version, r.previous_version, r.kind, _personas(r.personas), r.faces or 0, r.decisions_changed,
                   r.started_at, r.finished_at)  # fmt: skip


def started(db: Database, version: int, previous: int | None, kind: str,
            personas: set[uuid.UUID] | None) -> None:  # fmt: skip
    """A refresh of ``version`` begins (a second start of the same version replaces the first)."""
    stored = None if personas is None or len(personas) > MAX_PERSONAS else json.dumps(sorted(map(str, personas)))
    db.execute("INSERT INTO prediction_refreshes (bucket, version, previous_version, kind, personas, faces, "
               "decisions_changed, started_at, finished_at) VALUES (?, ?, ?, ?, ?, 0, null, ?, null)",
               (version_bucket(version), version, previous, kind, stored, datetime.now(UTC)))  # fmt: skip


def finished(db: Database, version: int, faces: int, decisions_changed: int | None = None) -> None:
    db.execute("UPDATE prediction_refreshes SET faces = ?, decisions_changed = ?, finished_at = ? "
               "WHERE bucket = ? AND version = ?",
               (faces, decisions_changed, datetime.now(UTC), version_bucket(version), version))  # fmt: skip


def get(db: Database, version: int) -> Refresh | None:
    r = db.one(
        "SELECT * FROM prediction_refreshes WHERE bucket = ? AND version = ?", (version_bucket(version), version)
    )
    return _refresh(r) if r is not None else None


def newest(db: Database, up_to: int, limit: int = 20) -> list[Refresh]:
    """The refreshes of versions up to ``up_to``, newest first (this bucket and the one before)."""
    out: list[Refresh] = []
    bucket = version_bucket(up_to)
    for b in (bucket, bucket - 1):
        if b < 0 or len(out) >= limit:
            break
        rows = db.execute("SELECT * FROM prediction_refreshes WHERE bucket = ? AND version <= ? LIMIT ?",
                          (b, up_to, limit - len(out)))  # fmt: skip
        out.extend(_refresh(r) for r in rows)
    return out


def pending_personas(db: Database, active: int | None) -> frozenset[uuid.UUID] | None:
    """The personas whose predictions are not current yet: touched by an unfinished refresh newer than the
    last finished full or audit pass. None: all of them (a full pass runs). Empty: every persona is current
    (an audit pass leaves them current while it runs)."""
    if active is None:
        return frozenset()
    pending: set[uuid.UUID] = set()
    for r in newest(db, active):
        if r.finished and r.kind in ("full", "audit"):
            break
        if not r.finished and r.kind != "audit":
            if r.personas is None:
                return None
            pending |= r.personas
    return frozenset(pending)
