"""A generation number for everything the review pages show: bumped after each write to it.

Repositories call :func:`changed` right after writing labels, predictions, personas,
faces, images or the active model pointer. The web app keys its rendered-page cache
(``visualization_web.page_cache``) by the generation, so a page is rendered again as
soon as anything under it may have changed, and served from the cache until then.

Order matters: writers bump *after* their write lands, readers read the generation
*before* the data, so a cached page is never newer-keyed than its data. Bumping is
best-effort: if Redis is unreachable the write still stands (Cassandra is the system of
record) and cached pages expire on their own within ``page_cache_seconds``.
"""

from __future__ import annotations

import logging

import redis

from common.db import Database
from common.infra import redis_client

log = logging.getLogger(__name__)
PAGE_CACHE_KEY = "pp:{keyspace}:page:"  # + role and page: the web app's rendered pages (dropped by a privacy erase)


def generation_key(keyspace: str) -> str:
    return f"pp:{keyspace}:read-model:generation"


def changed(db: Database) -> None:
    """Record that the data behind the pages changed (one Redis INCR)."""
    if redis_client.unavailable():
        return
    try:
        redis_client.redis_connection().incr(generation_key(db.keyspace))
    except redis.RedisError as exc:
        redis_client.note_failure()
        log.warning("read-model generation not bumped (cached pages expire on their own): %s", exc)


def generation(client: redis.Redis, keyspace: str) -> int:
    return int(client.get(generation_key(keyspace)) or 0)
