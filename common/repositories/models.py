"""The model registry's tables: ``sequences``, ``model_versions``, ``active_model``, ``promotion_history``,
``model_persona_metrics``.

Storage only: what a promotion, a rollback, an erase or a pruning means is decided in
:mod:`common.classifier.registry` and :mod:`common.classifier.erasure`, which call these functions.

Partitions stay bounded: ``model_versions`` and ``promotion_history`` are bucketed by version
(``bucket = version // VERSIONS_PER_BUCKET``; a history entry goes to its version's bucket), and a
version's per-persona figures live in ``model_persona_metrics``, keyed by (version, persona bucket), so
its ``model_versions`` row stays small at any number of personas. Rows written before migration 0011
sit in bucket 0 whatever their version: bucket 0 is always read too, and a row is updated where it is.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cassandra.util import datetime_from_uuid1, uuid_from_time

from common.db import Database
from common.db.point_reads import read_many
from common.repositories.ids import bucket_of

VERSIONS_PER_BUCKET = 1000  # model_versions / promotion_history partition: versions [k*1000, (k+1)*1000)
BUCKET = 0  # the first bucket: versions below VERSIONS_PER_BUCKET, and every row written before migration 0011
PERSONA_BUCKETS = 32  # model_persona_metrics partitions per version
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
    pinned: bool = False


@dataclass(frozen=True)
class HistoryEntry:
    at: datetime
    version: int
    previous_version: int | None
    action: str
    actor: str
    reason: str


@dataclass(frozen=True)
class PersonaMetrics:
    """One persona's figures for one version: held-out metrics (JSON object) and label counts."""

    persona_id: str
    metrics: dict
    confirmed: int = 0
    rejected: int = 0


def version_bucket(version: int) -> int:
    return max(0, int(version)) // VERSIONS_PER_BUCKET


def persona_bucket(persona_id: str) -> int:
    return bucket_of(str(persona_id), PERSONA_BUCKETS)


def _version(r: Any) -> ModelVersion:
    return ModelVersion(
        r.version, r.status or "", r.reason or "", json.loads(r.metrics or "{}"), json.loads(r.label_counts or "{}"),
        r.data_digest or "", r.embedder or "", json.loads(r.library_versions or "{}"), r.duration_s or 0.0,
        r.artifact_key or "", r.artifact_sha256 or "", r.created_at, r.promoted_at, r.trigger_event,
        getattr(r, "artifact_hmac", None) or "", bool(getattr(r, "pinned", None)),
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


def last_allocated(db: Database) -> int:
    """The highest version number handed out so far (0: none)."""
    row = db.one("SELECT value FROM sequences WHERE name = ?", (SEQUENCE_NAME,))
    return int(row.value) if row is not None and row.value is not None else 0


def _buckets_newest_first(db: Database) -> list[int]:
    return list(range(version_bucket(last_allocated(db)), -1, -1))


# ------------------------------------------------------------------ model_versions
def insert_version(db: Database, mv: ModelVersion) -> None:
    db.execute(
        "INSERT INTO model_versions (bucket, version, status, reason, metrics, label_counts, data_digest, embedder, "
        "library_versions, duration_s, artifact_key, artifact_sha256, trigger_event, created_at, promoted_at, "
        "artifact_hmac, pinned) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (version_bucket(mv.version), mv.version, mv.status, mv.reason, json.dumps(mv.metrics, default=str),
         json.dumps(mv.label_counts, default=str), mv.data_digest, mv.embedder,
         json.dumps(mv.library_versions), mv.duration_s, mv.artifact_key, mv.artifact_sha256, mv.trigger_event,
         mv.created_at or datetime.now(UTC), mv.promoted_at, mv.artifact_hmac, mv.pinned),
    )  # fmt: skip


def _home(db: Database, version: int) -> int:
    """The bucket holding ``version``'s row: its own, or 0 for a row written before migration 0011."""
    bucket = version_bucket(version)
    if bucket == 0:
        return 0
    if db.one("SELECT version FROM model_versions WHERE bucket = ? AND version = ?", (bucket, int(version))):
        return bucket
    legacy = db.one("SELECT version FROM model_versions WHERE bucket = ? AND version = ?", (0, int(version)))
    return 0 if legacy else bucket


def _update(db: Database, assignments: str, values: tuple, version: int) -> None:
    db.execute(f"UPDATE model_versions SET {assignments} WHERE bucket = ? AND version = ?",
               (*values, _home(db, version), int(version)))  # fmt: skip


def set_status(db: Database, version: int, status: str, reason: str | None = None) -> None:
    """The version's status (and, when given, the reason for it)."""
    if reason is None:
        _update(db, "status = ?", (status,), version)
    else:
        _update(db, "status = ?, reason = ?", (status, reason), version)


def set_promoted(db: Database, version: int, status: str, promoted_at: datetime) -> None:
    _update(db, "status = ?, promoted_at = ?", (status, promoted_at), version)


def set_artifact_hmac(db: Database, version: int, signature: str) -> None:
    _update(db, "artifact_hmac = ?", (signature,), version)


def set_pinned(db: Database, version: int, pinned: bool) -> None:
    """A pinned version is never pruned (see ``PP_MODEL_RETENTION_VERSIONS``)."""
    _update(db, "pinned = ?", (bool(pinned),), version)


def drop_artifact(db: Database, version: int, status: str, reason: str) -> None:
    """The version no longer has an artifact (no key, no signature): ``status`` with ``reason``."""
    _update(db, "status = ?, reason = ?, artifact_key = ?, artifact_hmac = ?", (status, reason, "", ""), version)


def delete_version(db: Database, version: int) -> None:
    """The version's row (its per-persona rows: :func:`delete_persona_metrics`)."""
    db.execute("DELETE FROM model_versions WHERE bucket = ? AND version = ?", (_home(db, version), int(version)))


def list_versions(db: Database, limit: int = 200) -> list[ModelVersion]:
    """Newest first (at most ``limit``): the buckets from the newest down, plus bucket 0 (older rows)."""
    found: dict[int, ModelVersion] = {}
    for bucket in _buckets_newest_first(db):
        if bucket > 0 and len(found) >= limit:
            continue
        rows = db.execute("SELECT * FROM model_versions WHERE bucket = ? LIMIT ?", (bucket, limit))
        for r in rows:
            found.setdefault(r.version, _version(r))
    return [found[v] for v in sorted(found, reverse=True)[:limit]]


def latest_version(db: Database) -> ModelVersion | None:
    for bucket in _buckets_newest_first(db):
        row = db.one("SELECT * FROM model_versions WHERE bucket = ? LIMIT 1", (bucket,))
        if row is not None:  # versions only grow: the newest non-empty bucket holds the latest
            return _version(row)
    return None


def get_version(db: Database, version: int) -> ModelVersion | None:
    version = int(version)
    row = db.one("SELECT * FROM model_versions WHERE bucket = ? AND version = ?", (version_bucket(version), version))
    if row is None and version_bucket(version) > 0:
        row = db.one("SELECT * FROM model_versions WHERE bucket = ? AND version = ?", (0, version))
    return _version(row) if row else None


def row_sizes(db: Database, version: int) -> dict[str, int]:
    """Bytes of the version's stored text columns (metrics, label_counts, library_versions, reason): about
    the size of its ``model_versions`` row, which must stay small (benchmarks and tests read this)."""
    mv = get_version(db, version)
    if mv is None:
        return {}
    parts = {"metrics": json.dumps(mv.metrics, default=str), "label_counts": json.dumps(mv.label_counts, default=str),
             "library_versions": json.dumps(mv.library_versions), "reason": mv.reason}  # fmt: skip
    sizes = {k: len(v.encode()) for k, v in parts.items()}
    sizes["total"] = sum(sizes.values()) + 512  # the other columns: ids, hashes, key, timestamps
    return sizes


# ------------------------------------------------------------------ model_persona_metrics
def insert_persona_metrics(db: Database, version: int, rows: Iterable[PersonaMetrics]) -> None:
    """One row per persona, in single-partition batches (a partition is a (version, bucket)) written
    concurrently: 10k personas in about 0.1 s."""
    db.execute_batches(
        "INSERT INTO model_persona_metrics (version, bucket, persona_id, metrics, confirmed, rejected) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        [(int(version), persona_bucket(r.persona_id), str(r.persona_id), json.dumps(r.metrics, default=str),
          int(r.confirmed), int(r.rejected)) for r in rows],
        partition_of=lambda row: row[:2],
    )  # fmt: skip


def persona_metrics(db: Database, version: int) -> list[PersonaMetrics]:
    """Every persona's row of ``version`` (its partitions read concurrently), by persona id."""
    keys = [(int(version), b) for b in range(PERSONA_BUCKETS)]
    cql = "SELECT persona_id, metrics, confirmed, rejected FROM model_persona_metrics WHERE version = ? AND bucket = ?"
    out = [PersonaMetrics(r.persona_id, json.loads(r.metrics or "{}"), r.confirmed or 0, r.rejected or 0)
           for rows in read_many(db, cql, keys) for r in rows]  # fmt: skip
    return sorted(out, key=lambda m: m.persona_id)


def persona_metrics_sizes(db: Database, version: int) -> list[int]:
    """Bytes of each persona row's JSON of ``version`` (the largest must stay far below the row limit)."""
    keys = [(int(version), b) for b in range(PERSONA_BUCKETS)]
    cql = "SELECT persona_id, metrics FROM model_persona_metrics WHERE version = ? AND bucket = ?"
    return [len((r.metrics or "").encode()) + len(r.persona_id) + 16 for rows in read_many(db, cql, keys) for r in rows]


def delete_persona_metrics(db: Database, version: int) -> None:
    db.execute_many("DELETE FROM model_persona_metrics WHERE version = ? AND bucket = ?",
                    [(int(version), b) for b in range(PERSONA_BUCKETS)])  # fmt: skip


# ------------------------------------------------------------------ active_model
def active_version(db: Database) -> int | None:
    row = db.one("SELECT version FROM active_model WHERE name = ?", (ACTIVE_NAME,))
    return row.version if row else None


def set_active(db: Database, version: int, at: datetime) -> None:
    db.execute("INSERT INTO active_model (name, version, updated_at) VALUES (?, ?, ?)", (ACTIVE_NAME, version, at))


QUEUE_NAME = "review_queue"  # the row naming the review-queue generation the web reads
_GENERATION = "queue:"  # one row per generation whose review-queue partitions may still hold rows


def queue_version(db: Database) -> int | None:
    """The review-queue generation: the version of the full pass that last rewrote the review queues; every
    prediction since (a scoped pass's too) puts its review-queue row in that version's partitions. Before the
    first full pass under migration 0014: the active version (each version had its own queues)."""
    row = db.one("SELECT version FROM active_model WHERE name = ?", (QUEUE_NAME,))
    return row.version if row else active_version(db)


def start_queue_generation(db: Database, version: int) -> None:
    """A full pass of ``version`` begins: its review queues become the ones the web reads and writers use."""
    now = datetime.now(UTC)
    db.execute("INSERT INTO active_model (name, version, updated_at) VALUES (?, ?, ?)",
               (f"{_GENERATION}{version}", version, now))  # fmt: skip
    db.execute("INSERT INTO active_model (name, version, updated_at) VALUES (?, ?, ?)", (QUEUE_NAME, version, now))


def queue_generations(db: Database) -> list[int]:
    """Generations whose review-queue partitions may still hold rows (a handful: a full table read of a table
    of a few rows)."""
    rows = db.execute("SELECT name, version FROM active_model")
    return sorted(r.version for r in rows if r.name.startswith(_GENERATION) and r.version is not None)


def forget_queue_generation(db: Database, version: int) -> None:
    """Its partitions were dropped."""
    db.execute("DELETE FROM active_model WHERE name = ?", (f"{_GENERATION}{version}",))


def clear_active(db: Database) -> None:
    """No active version: every face is predicted unknown until one is promoted."""
    db.execute("DELETE FROM active_model WHERE name = ?", (ACTIVE_NAME,))


# ------------------------------------------------------------------ promotion_history
def record_history(db: Database, version: int, previous: int | None, action: str, actor: str, reason: str) -> None:
    db.execute(
        "INSERT INTO promotion_history (bucket, at, version, previous_version, action, actor, reason) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        (version_bucket(version), uuid_from_time(datetime.now(UTC)), version, previous, action, actor, reason),
    )


def history(db: Database, limit: int = 50) -> list[HistoryEntry]:
    """Newest first: the newest ``limit`` entries of every bucket, merged."""
    found = []
    for bucket in _buckets_newest_first(db):
        found.extend(db.execute("SELECT * FROM promotion_history WHERE bucket = ? LIMIT ?", (bucket, limit)))
    found.sort(key=lambda r: (r.at.time, r.at.bytes), reverse=True)
    return [HistoryEntry(datetime_from_uuid1(r.at).replace(tzinfo=UTC), r.version, r.previous_version,
                         r.action or "", r.actor or "", r.reason or "") for r in found[:limit]]  # fmt: skip


def delete_history_of(db: Database, versions: set[int]) -> int:
    """Remove the history entries about ``versions`` (pruned versions); returns how many."""
    if not versions:
        return 0
    doomed = []
    for bucket in sorted({version_bucket(v) for v in versions} | {0}):
        for r in db.execute("SELECT bucket, at, version FROM promotion_history WHERE bucket = ?", (bucket,)):
            if r.version in versions:
                doomed.append((r.bucket, r.at))
    db.execute_many("DELETE FROM promotion_history WHERE bucket = ? AND at = ?", doomed)
    return len(doomed)
