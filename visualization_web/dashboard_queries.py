"""The dashboard's reads (corpus counts, queue depths, workers online) and the audit log's, each cached
for a few seconds per process: they scan or ask the whole system, and a dashboard is reloaded often."""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

import redis

from common.db import Database
from common.repositories import events, jobs, labels, personas
from common.settings import get_settings
from common.task_names import QUEUES
from visualization_web import queries

_cache: dict[str, tuple[float, Any]] = {}
_cache_lock = threading.Lock()


def cached(key: str, seconds: float, compute):
    now = time.monotonic()
    with _cache_lock:
        hit = _cache.get(key)
        if hit and now - hit[0] < seconds:
            return hit[1]
    value = compute()
    with _cache_lock:
        _cache[key] = (now, value)
    return value


def clear_cache() -> None:
    with _cache_lock:
        _cache.clear()


def counts(db: Database) -> dict[str, int]:
    def compute() -> dict[str, int]:
        people = personas.list_all(db)
        confirmed = sum(1 for p in people for lab in queries.labels_of_persona(db, p.persona_id)
                        if lab.verdict == labels.CONFIRM)  # fmt: skip
        predicted = unknown = 0
        for row in db.execute("SELECT persona_id FROM predictions_by_face", fetch_size=5000):
            if row.persona_id is None:
                unknown += 1
            else:
                predicted += 1
        rejected_files = 0
        for job in jobs.recent(db, limit=10):
            progress = jobs.progress(db, job.job_id)
            rejected_files += progress.counts["rejected"] if progress else 0
        return {
            "images": db.one("SELECT COUNT(*) AS n FROM images").n,
            "faces": db.one("SELECT COUNT(*) AS n FROM faces").n,
            "personas": len(people),
            "confirmed": confirmed,
            "predicted": predicted,
            "unknown": unknown,
            "rejected_files": rejected_files,
        }

    return cached(f"counts:{db.keyspace}", 15.0, compute)


def queue_depths() -> dict[str, int | None]:
    client = redis.Redis.from_url(get_settings().redis_url, socket_timeout=1, socket_connect_timeout=1)
    try:
        return {name: int(client.llen(name)) for name in QUEUES}
    except redis.RedisError:
        return dict.fromkeys(QUEUES)
    finally:
        client.close()


def workers_online() -> list[str]:
    def compute() -> list[str]:
        try:
            from common.health import check_workers

            return check_workers(timeout=0.5).split(", ")
        except Exception:
            return []

    return cached("workers", 10.0, compute)


def recent_events(db: Database, limit: int = 50, kind: str = "", actor: str = "",
                  before: uuid.UUID | None = None) -> list[events.Event]:  # fmt: skip
    if not actor:
        return events.recent(db, limit=limit, kind_prefix=kind, before=before)
    found: list[events.Event] = []
    cursor = before
    for _ in range(10):
        batch = events.recent(db, limit=200, kind_prefix=kind, before=cursor)
        found.extend(e for e in batch if e.actor == actor)
        if len(found) >= limit or len(batch) < 200:
            break
        cursor = batch[-1].event_id
    return found[:limit]
