"""The dashboard's reads (queue depths, workers online) and the audit log's. Workers online is kept for a
few seconds per process and refreshed in the background (it asks every worker); so are the rejected files of
recent jobs. Corpus counts: ``corpus_counts``."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import redis

from common.db import Database
from common.infra.celery_app import queue_lists
from common.infra.reclassify_passes import latest_pass
from common.infra.settings import get_settings
from common.infra.task_names import QUEUES
from common.operations.health import check_workers
from common.repositories import events

log = logging.getLogger(__name__)

_cache: dict[str, tuple[float, Any]] = {}
_refreshing: set[str] = set()
_cache_lock = threading.Lock()


def cached(key: str, seconds: float, compute: Callable[[], Any]) -> Any:
    """``compute()``'s value, kept per process. Only the first call waits for it; a call that finds it
    older than ``seconds`` gets it as it is and starts one recompute in a background thread (asking every
    worker whether it is online takes the whole ping timeout, 0.5-0.6 s, which no view should wait for)."""
    with _cache_lock:
        hit = _cache.get(key)
        refresh = hit is not None and time.monotonic() - hit[0] >= seconds and key not in _refreshing
        if refresh:
            _refreshing.add(key)
    if hit is None:
        value = compute()
        with _cache_lock:
            _cache[key] = (time.monotonic(), value)
        return value
    if refresh:
        threading.Thread(target=_recompute, args=(key, compute), name=f"refresh-{key}", daemon=True).start()
    return hit[1]


def _recompute(key: str, compute: Callable[[], Any]) -> None:
    try:
        value = compute()
        with _cache_lock:
            _cache[key] = (time.monotonic(), value)
    except Exception as exc:  # the last value stays; the next stale call tries again
        log.warning("%s not refreshed: %s", key, exc)
    finally:
        with _cache_lock:
            _refreshing.discard(key)


def clear_cache() -> None:
    with _cache_lock:
        _cache.clear()


def forget(key: str) -> None:
    """Drop one kept value: the next call computes it again."""
    with _cache_lock:
        _cache.pop(key, None)


def queue_depths() -> dict[str, int | None]:
    """Messages waiting per queue, every priority of it (a full pass's shards wait at the lowest)."""
    client = redis.Redis.from_url(get_settings().redis_url, socket_timeout=1, socket_connect_timeout=1)
    try:
        return {name: sum(int(client.llen(key)) for key in queue_lists(name)) for name in QUEUES}
    except redis.RedisError:
        return dict.fromkeys(QUEUES)
    finally:
        client.close()


def reclassify_pass(version: int | None) -> dict | None:
    """The progress of the newest full reclassification pass (None: no model, none in the last day, or Redis
    is down). It may be of an older version than the active one: a pass goes on through promotions that
    keep the calibration (scoped refreshes cover those)."""
    if version is None:
        return None
    client = redis.Redis.from_url(get_settings().redis_url, socket_timeout=1, socket_connect_timeout=1)
    try:
        progress = latest_pass(client)
        return progress.as_dict() if progress else None
    except redis.RedisError:
        return None
    finally:
        client.close()


def workers_online() -> list[str]:
    def compute() -> list[str]:
        try:
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
