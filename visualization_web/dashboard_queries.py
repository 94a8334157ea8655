"""The dashboard's reads (queue depths, workers online) and the audit log's; workers online is cached for a
few seconds per process (it asks every worker). The corpus counts are in ``corpus_counts``."""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

import redis

from common.db import Database
from common.repositories import events
from common.settings import get_settings
from common.task_names import QUEUES

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
