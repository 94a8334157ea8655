"""The read-model generation (``common.repositories.read_model``) as the web app's reads see it.

While the page cache renders a page it pins the generation it read with its lookup (:func:`pinned`), so
the page's own cached reads (the persona list) use it instead of asking Redis again: a page render writes
nothing, so the generation it started under is the one its data belongs to. Elsewhere it is read afresh.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import redis
from flask import g, has_request_context

from common.infra import redis_client
from common.repositories.read_model import generation

log = logging.getLogger(__name__)


def current(keyspace: str) -> int | None:
    """The generation of ``keyspace``'s read model; None when Redis is unreachable."""
    pin = g.get("read_generation") if has_request_context() else None
    if pin is not None and pin[0] == keyspace:
        return pin[1]
    if redis_client.unavailable():
        return None
    try:
        return generation(redis_client.redis_connection(), keyspace)
    except redis.RedisError as exc:
        redis_client.note_failure()
        log.warning("read-model generation unavailable: %s", exc)
        return None


@contextmanager
def pinned(keyspace: str, value: int) -> Iterator[None]:
    """Within the block (a page render in a request), :func:`current` answers ``value`` for ``keyspace``."""
    g.read_generation = (keyspace, value)
    try:
        yield
    finally:
        g.read_generation = None
