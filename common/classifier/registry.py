"""The model registry: versions (LWT-allocated numbers), the active version, promotion history.

Tables (docs/data-model.md): ``sequences``, ``model_versions``, ``active_model``,
``promotion_history``. Statuses: candidate, active, rejected, retired, erased (a privacy erase removed
faces it was trained on: its artifact is deleted and it can never be promoted again, see
:mod:`common.classifier.erasure`).

A version is loaded only through :func:`load_model`, which checks the artifact's pinned key, SHA-256 and
HMAC signature (:mod:`common.classifier.artifacts`) before unpickling.
"""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

from cassandra.util import uuid_from_time

from common import read_model
from common.classifier.artifacts import check_bytes, check_key, load_artifact
from common.classifier.model import OpenSetClassifier
from common.db import Database

log = logging.getLogger(__name__)

BUCKET = 0
ACTIVE_NAME = "default"
SEQUENCE_NAME = "model_version"
CANDIDATE, ACTIVE, REJECTED, RETIRED, ERASED = "candidate", "active", "rejected", "retired", "erased"
PROMOTING_ACTIONS = ("promote", "auto-promote", "erase-rewrite")


class RegistryError(ValueError):
    """A registry request that cannot be done (unknown version, nothing to roll back to)."""


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


def _version(r) -> ModelVersion:
    return ModelVersion(
        r.version, r.status or "", r.reason or "", json.loads(r.metrics or "{}"), json.loads(r.label_counts or "{}"),
        r.data_digest or "", r.embedder or "", json.loads(r.library_versions or "{}"), r.duration_s or 0.0,
        r.artifact_key or "", r.artifact_sha256 or "", r.created_at, r.promoted_at, r.trigger_event,
        getattr(r, "artifact_hmac", None) or "",
    )  # fmt: skip


# ------------------------------------------------------------------ versions
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
    if reason is None:
        db.execute("UPDATE model_versions SET status = ? WHERE bucket = ? AND version = ?", (status, BUCKET, version))
    else:
        db.execute("UPDATE model_versions SET status = ?, reason = ? WHERE bucket = ? AND version = ?",
                   (status, reason, BUCKET, version))  # fmt: skip


def list_versions(db: Database, limit: int = 200) -> list[ModelVersion]:
    """Newest first."""
    return [_version(r) for r in db.execute("SELECT * FROM model_versions WHERE bucket = ? LIMIT ?", (BUCKET, limit))]


def latest_version(db: Database) -> ModelVersion | None:
    row = db.one("SELECT * FROM model_versions WHERE bucket = ? LIMIT 1", (BUCKET,))
    return _version(row) if row else None


def get_version(db: Database, version: int) -> ModelVersion | None:
    row = db.one("SELECT * FROM model_versions WHERE bucket = ? AND version = ?", (BUCKET, int(version)))
    return _version(row) if row else None


def active_version(db: Database) -> int | None:
    row = db.one("SELECT version FROM active_model WHERE name = ?", (ACTIVE_NAME,))
    return row.version if row else None


def load_model(db: Database, version: int, store=None) -> OpenSetClassifier:
    """The version's classifier, after its artifact's key, SHA-256 and signature matched the registry row."""
    from common.storage import get_blob_store

    mv = get_version(db, version)
    if mv is None:
        raise RegistryError(f"no model version {version}")
    if mv.status == ERASED:
        raise RegistryError(f"v{version} was erased (it held erased faces): {mv.reason}")
    return load_artifact(store or get_blob_store(), mv.artifact_key, mv.artifact_sha256, mv.artifact_hmac)


def resign(db: Database, version: int, store=None) -> bool:
    """Sign the artifact of a version from before signing (upgrade path; run by an operator who trusts the
    current registry and blob store). Checks key and SHA-256 first; unpickles nothing. False when the
    version is signed already or has no artifact to sign."""
    from common.classifier.artifacts import sign
    from common.storage import get_blob_store

    mv = get_version(db, version)
    if mv is None:
        raise RegistryError(f"no model version {version}")
    if mv.artifact_hmac or mv.status == ERASED or not mv.artifact_key:
        return False
    check_key(mv.artifact_key, mv.artifact_sha256)
    data = (store or get_blob_store()).get(mv.artifact_key)
    signature = sign(data)
    check_bytes(data, mv.artifact_sha256, signature)
    db.execute("UPDATE model_versions SET artifact_hmac = ? WHERE bucket = ? AND version = ?",
               (signature, BUCKET, version))  # fmt: skip
    return True


# ------------------------------------------------------------------ history
def record_history(db: Database, version: int, previous: int | None, action: str, actor: str, reason: str) -> None:
    db.execute(
        "INSERT INTO promotion_history (bucket, at, version, previous_version, action, actor, reason) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        (BUCKET, uuid_from_time(datetime.now(UTC)), version, previous, action, actor, reason),
    )


def history(db: Database, limit: int = 50) -> list[HistoryEntry]:
    """Newest first."""
    from cassandra.util import datetime_from_uuid1

    rows = db.execute("SELECT * FROM promotion_history WHERE bucket = ? LIMIT ?", (BUCKET, limit))
    return [HistoryEntry(datetime_from_uuid1(r.at).replace(tzinfo=UTC), r.version, r.previous_version,
                         r.action or "", r.actor or "", r.reason or "") for r in rows]  # fmt: skip


# ---------------------------------------------------------- promote/rollback
def promote(db: Database, version: int, actor: str, reason: str = "", action: str = "promote",
            reclassify: bool = True) -> ModelVersion:  # fmt: skip
    """Make ``version`` the active model (after checking its artifact loads), record it, and
    (by default) ask the reclassify queue to re-predict every unlabeled face with it."""
    mv = get_version(db, version)
    if mv is None:
        raise RegistryError(f"no model version {version}")
    load_model(db, version)  # refuses a missing or tampered artifact before anything changes
    previous = active_version(db)
    now = datetime.now(UTC)
    if previous is not None and previous != version:
        set_status(db, previous, RETIRED)
    db.execute("UPDATE model_versions SET status = ?, promoted_at = ? WHERE bucket = ? AND version = ?",
               (ACTIVE, now, BUCKET, version))  # fmt: skip
    db.execute("INSERT INTO active_model (name, version, updated_at) VALUES (?, ?, ?)", (ACTIVE_NAME, version, now))
    read_model.changed(db)
    record_history(db, version, previous, action, actor, reason)
    log.info("model v%s active (was v%s): %s by %s", version, previous, action, actor)
    if reclassify:
        request_reclassify_all(version)
    mv.status, mv.promoted_at = ACTIVE, now
    return mv


def previous_active(db: Database, current: int) -> int | None:
    """The version that was active before ``current`` was last promoted (rollbacks unwind promotions)."""
    for entry in history(db, limit=500):
        if entry.version == current and entry.action in PROMOTING_ACTIONS:
            return entry.previous_version
    return None


def rollback(db: Database, actor: str, reclassify: bool = True) -> int:
    """Back to the version active before the current one; returns that version."""
    current = active_version(db)
    if current is None:
        raise RegistryError("no active model to roll back")
    target = previous_active(db, current)
    if target is None:
        raise RegistryError(f"v{current} has no previous version to roll back to")
    promote(db, target, actor, reason=f"rollback from v{current}", action="rollback", reclassify=reclassify)
    set_status(db, current, RETIRED, reason=f"rolled back by {actor}")
    return target


def request_reclassify_all(version: int) -> None:
    from common import task_names
    from common.celery_app import celery_app

    celery_app.send_task(task_names.RECLASSIFY_ALL, kwargs={"version": version})
