"""The model registry's tables: ``sequences``, ``model_versions``, ``active_model``, ``promotion_history``.

Storage only: what a promotion, a rollback or an erase means is decided in :mod:`common.classifier.registry`
and :mod:`common.classifier.erasure`, which call these functions.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cassandra.util import datetime_from_uuid1, uuid_from_time

from common.db import Database

BUCKET = 0  # the registry's tables are one partition each: versions are few
ACTIVE_NAME = "default"
SEQUENCE_NAME = "model_version"


@dataclass
class ModelVersion:
    version: int
    status: str
    reason: str = ""
    metrics: dict = field(default_factory=dict)
    label_counts: dict = field(default_factory=dict)
    data_digest: str = ""
    embedder: str = ""
    library_versions: dict = field(default_factory=dict)
    duration_s: float = 0.0
    artifact_key: str = ""
    artifact_sha256: str = ""
    created_at: datetime | None = None
    promoted_at: datetime | None = None
    trigger_event: uuid.UUID | None = None
    artifact_hmac: str = ""


@dataclass(frozen=True)
class HistoryEntry:
    at: datetime
    version: int
    previous_version: int | None
    action: str
    actor: str
    reason: str


def _version(r: Any) -> ModelVersion:
    return ModelVersion(
        r.version, r.status or "", r.reason or "", json.loads(r.metrics or "{}"), json.loads(r.label_counts or "{}"),
        r.data_digest or "", r.embedder or "", json.loads(r.library_versions or "{}"), r.duration_s or 0.0,
        r.artifact_key or "", r.artifact_sha256 or "", r.created_at, r.promoted_at, r.trigger_event,
        getattr(r, "artifact_hmac", None) or "",
    )  # fmt: skip


# ------------------------------------------------------------------ sequences
def next_version(db: Database, attempts: int = 50) -> int:
    """Allocate the next model version number with a lightweight transaction (unique across workers)."""
    for _ in range(attempts):
        row = db.one("SELECT value FROM sequences WHERE name = ?", (SEQUENCE_NAME,))
        if row is None or row.value is None:
            result = db.one("INSERT INTO sequences (name, value) VALUES (?, ?) IF NOT EXISTS", (SEQUENCE_NAME, 1))
            if result.applied:
                return 1
            continue
        result = db.one("UPDATE sequences SET value = ? WHERE name = ? IF value = ?",
                        (row.value + 1, SEQUENCE_NAME, row.value))  # fmt: skip
        if result.applied:
            return row.value + 1
    raise RuntimeError("could not allocate a model version number (contention)")


# ------------------------------------------------------------------ model_versions
def insert_version(db: Database, mv: ModelVersion) -> None:
    db.execute(
        "INSERT INTO model_versions (bucket, version, status, reason, metrics, label_counts, data_digest, embedder, "
        "library_versions, duration_s, artifact_key, artifact_sha256, trigger_event, created_at, promoted_at, "
        "artifact_hmac) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (BUCKET, mv.version, mv.status, mv.reason, json.dumps(mv.metrics, default=str),
         json.dumps(mv.label_counts, default=str), mv.data_digest, mv.embedder,
         json.dumps(mv.library_versions), mv.duration_s, mv.artifact_key, mv.artifact_sha256, mv.trigger_event,
         mv.created_at or datetime.now(UTC), mv.promoted_at, mv.artifact_hmac),
    )  # fmt: skip


def set_status(db: Database, version: int, status: str, reason: str | None = None) -> None:
    """The version's status (and, when given, the reason for it)."""
    if reason is None:
        db.execute("UPDATE model_versions SET status = ? WHERE bucket = ? AND version = ?", (status, BUCKET, version))
    else:
        db.execute("UPDATE model_versions SET status = ?, reason = ? WHERE bucket = ? AND version = ?",
                   (status, reason, BUCKET, version))  # fmt: skip


def set_promoted(db: Database, version: int, status: str, promoted_at: datetime) -> None:
    db.execute("UPDATE model_versions SET status = ?, promoted_at = ? WHERE bucket = ? AND version = ?",
               (status, promoted_at, BUCKET, version))  # fmt: skip


def set_artifact_hmac(db: Database, version: int, signature: str) -> None:
    db.execute("UPDATE model_versions SET artifact_hmac = ? WHERE bucket = ? AND version = ?",
               (signature, BUCKET, version))  # fmt: skip


def drop_artifact(db: Database, version: int, status: str, reason: str) -> None:
    """The version no longer has an artifact (no key, no signature): ``status`` with ``reason``."""
    db.execute(
        "UPDATE model_versions SET status = ?, reason = ?, artifact_key = ?, artifact_hmac = ? "
        "WHERE bucket = ? AND version = ?",
        (status, reason, "", "", BUCKET, version),
    )


def list_versions(db: Database, limit: int = 200) -> list[ModelVersion]:
    """Newest first."""
    return [_version(r) for r in db.execute("SELECT * FROM model_versions WHERE bucket = ? LIMIT ?", (BUCKET, limit))]


def latest_version(db: Database) -> ModelVersion | None:
    row = db.one("SELECT * FROM model_versions WHERE bucket = ? LIMIT 1", (BUCKET,))
    return _version(row) if row else None


def get_version(db: Database, version: int) -> ModelVersion | None:
    row = db.one("SELECT * FROM model_versions WHERE bucket = ? AND version = ?", (BUCKET, int(version)))
    return _version(row) if row else None


# ------------------------------------------------------------------ active_model
def active_version(db: Database) -> int | None:
    row = db.one("SELECT version FROM active_model WHERE name = ?", (ACTIVE_NAME,))
    return row.version if row else None


def set_active(db: Database, version: int, at: datetime) -> None:
    db.execute("INSERT INTO active_model (name, version, updated_at) VALUES (?, ?, ?)", (ACTIVE_NAME, version, at))


def clear_active(db: Database) -> None:
    """No active version: every face is predicted unknown until one is promoted."""
    db.execute("DELETE FROM active_model WHERE name = ?", (ACTIVE_NAME,))


# ------------------------------------------------------------------ promotion_history
def record_history(db: Database, version: int, previous: int | None, action: str, actor: str, reason: str) -> None:
    db.execute(
        "INSERT INTO promotion_history (bucket, at, version, previous_version, action, actor, reason) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        (BUCKET, uuid_from_time(datetime.now(UTC)), version, previous, action, actor, reason),
    )


def history(db: Database, limit: int = 50) -> list[HistoryEntry]:
    """Newest first."""
    rows = db.execute("SELECT * FROM promotion_history WHERE bucket = ? LIMIT ?", (BUCKET, limit))
    return [HistoryEntry(datetime_from_uuid1(r.at).replace(tzinfo=UTC), r.version, r.previous_version,
                         r.action or "", r.actor or "", r.reason or "") for r in rows]  # fmt: skip
