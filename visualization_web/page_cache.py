"""Rendered review pages (persona, image), kept in Redis until the data under them changes.

A page is stored under the viewer's role and the request path with its query, tagged with the read-model
generation (``common.repositories.read_model``) read before it was rendered. Every write to labels, predictions,
personas, faces, images or the active model bumps the generation, so a stored page is served only while
the generation it was rendered under stands; the next request renders afresh and replaces it. One MGET
reads the generation and the stored page together: a hit costs one Redis round trip, a miss two (with
the SET), and the page's own reads use the same generation (``read_generation.pinned``). Entries also
expire after ``page_cache_seconds`` (a bound on staleness should a bump be lost).

Per-viewer parts (the CSRF token, the user name) are rendered as sentinels derived
from the secret key and filled in per request, so one entry serves every viewer of
a role. Requests with flashed messages bypass the cache. Redis trouble is never an
error: the page is rendered as if there were no cache.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import logging
from collections.abc import Callable
from typing import Any

import redis
from flask import after_this_request, current_app, g, session
from markupsafe import escape

from common.infra import redis_client
from common.infra.settings import get_settings
from common.repositories.read_model import PAGE_CACHE_KEY, generation_key
from visualization_web import csrf, read_generation

log = logging.getLogger(__name__)


def _sentinel(name: str) -> str:
    """A marker that survives HTML escaping and that nobody can type into a persona name by chance."""
    return _sentinel_for(str(current_app.secret_key or ""), name)


@functools.lru_cache(maxsize=8)
def _sentinel_for(secret: str, name: str) -> str:
    return "ppcache" + hmac.new(secret.encode(), name.encode(), hashlib.sha256).hexdigest()[:24]


def rendering_for_cache() -> bool:
    return bool(g.get("page_cache_rendering"))


def csrf_token() -> str:
    """``csrf_token()`` in templates: the session's token, or its sentinel while rendering for the cache."""
    return _sentinel("csrf") if rendering_for_cache() else csrf.token()


def current_user() -> Any:
    user = g.get("user")
    if user is not None and rendering_for_cache():
        return type(user)(_sentinel("user"), user.role)
    return user


def _key(page: str) -> str | None:
    user = g.get("user")
    if user is None or session.get("_flashes"):
        return None
    return f"{PAGE_CACHE_KEY.format(keyspace=get_settings().cassandra_keyspace)}{user.role}:{page}"


def _lookup(client: redis.Redis, key: str) -> tuple[int, str | None]:
    """The current generation and the page stored under ``key`` if it was rendered under that generation."""
    keyspace = get_settings().cassandra_keyspace
    current, stored = client.mget([generation_key(keyspace), key])
    current = int(current or 0)
    if stored is None:
        return current, None
    tag, _, html = stored.partition(b"\n")
    return current, html.decode() if tag == str(current).encode() else None


def _personalize(html: str) -> str:
    user = g.get("user")
    return html.replace(_sentinel("csrf"), str(escape(csrf.token()))).replace(
        _sentinel("user"), str(escape(user.username if user else ""))
    )


def serve(page: str, render: Callable[[], Any]) -> Any:
    """``render()``'s page, from the cache when nothing under it changed. ``page`` names the page and the
    arguments it was rendered with (never the raw query string: made-up parameters must not make new
    entries). Only a plain HTML string (a 200 page) is stored; anything else (a 404 tuple) passes through."""
    seconds = get_settings().page_cache_seconds
    if seconds <= 0 or redis_client.unavailable():
        return render()
    key = _key(page)
    if key is None:
        return render()
    try:
        client = redis_client.redis_connection()
        current, hit = _lookup(client, key)
    except redis.RedisError as exc:
        redis_client.note_failure()
        log.warning("page cache unavailable: %s", exc)
        return render()
    if hit is not None:
        _report("hit")
        return _personalize(hit)
    g.page_cache_rendering = True
    try:
        with read_generation.pinned(get_settings().cassandra_keyspace, current):
            page = render()
    finally:
        g.page_cache_rendering = False
    if not isinstance(page, str):
        return page
    try:
        client.set(key, f"{current}\n{page}".encode(), ex=seconds)
    except redis.RedisError as exc:
        redis_client.note_failure()
        log.warning("page not cached: %s", exc)
    _report("miss")
    return _personalize(page)


def _report(outcome: str) -> None:
    """``X-Page-Cache: hit|miss`` on the response, for operators (and tests) to see what happened."""

    @after_this_request
    def _header(response):
        response.headers["X-Page-Cache"] = outcome
        return response
