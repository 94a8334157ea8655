"""Login throttling: failed logins counted per user name and per client address in Redis, with an expiry.

After ``PP_LOGIN_MAX_FAILURES_PER_USER`` failures for one name, or ``PP_LOGIN_MAX_FAILURES_PER_CLIENT``
failures from one address, within ``PP_LOGIN_WINDOW_SECONDS``,
further attempts get 429 with ``Retry-After`` (the counter's remaining life) until the window ends, right
passwords included: otherwise a guesser would still learn when it found the password. A successful login
clears its name's counter. The counters are shared by every web process and pod (the broker's Redis);
when Redis cannot be reached, logins are not throttled (and a warning is logged) rather than refused.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass

import redis

from common.infra import redis_client
from common.infra.settings import get_settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Refusal:
    """Too many failures: retry after this many seconds."""

    retry_after: int
    message: str = "Too many failed logins; try again later."


def _key(kind: str, value: str) -> str:
    digest = hashlib.sha256(value.lower().encode()).hexdigest()[:32]  # names and addresses never stored as such
    return f"pp:{get_settings().cassandra_keyspace}:login-failures:{kind}:{digest}"


def _keys(username: str | None, client: str | None) -> list[tuple[str, int]]:
    settings = get_settings()
    keys = []
    if username:
        keys.append((_key("user", username), settings.login_max_failures_per_user))
    if client:
        keys.append((_key("client", client), settings.login_max_failures_per_client))
    return keys


def check(username: str | None, client: str | None) -> Refusal | None:
    """A refusal when the name or the address has used up its failures; None to go ahead."""
    keys = _keys(username, client)
    if not keys or redis_client.unavailable():
        return None
    try:
        connection = redis_client.redis_connection()
        pipe = connection.pipeline(transaction=False)
        for key, _ in keys:
            pipe.get(key)
            pipe.ttl(key)
        replies = pipe.execute()
    except redis.RedisError as exc:
        redis_client.note_failure()
        log.warning("login throttle: Redis unavailable, not throttling: %s", exc)
        return None
    waits = [int(replies[2 * i + 1]) for i, (_, limit) in enumerate(keys)
             if int(replies[2 * i] or 0) >= limit]  # fmt: skip
    if not waits:
        return None
    return Refusal(max(1, max(waits)))


def failed(username: str | None, client: str | None) -> None:
    """Count one failure for the name and the address (the window starts at the first failure)."""
    keys = _keys(username, client)
    if not keys or redis_client.unavailable():
        return
    window = get_settings().login_window_seconds
    try:
        pipe = redis_client.redis_connection().pipeline(transaction=False)
        for key, _ in keys:
            pipe.incr(key)
            pipe.expire(key, window, nx=True)
        pipe.execute()
    except redis.RedisError as exc:
        redis_client.note_failure()
        log.warning("login throttle: Redis unavailable, failure not counted: %s", exc)


def succeeded(username: str) -> None:
    """A right password: the name's failures are forgotten (the address's are not)."""
    if redis_client.unavailable():
        return
    try:
        redis_client.redis_connection().delete(_key("user", username))
    except redis.RedisError as exc:
        redis_client.note_failure()
        log.warning("login throttle: Redis unavailable: %s", exc)


def forget(username: str | None = None, client: str | None = None) -> None:
    """Clear the counters of a name and/or an address (an admin unlocking a user; tests)."""
    keys = [key for key, _ in _keys(username, client)]
    if keys:
        redis_client.redis_connection().delete(*keys)


def forget_all() -> None:
    """Clear every counter of this keyspace (tests start from a clean slate)."""
    connection = redis_client.redis_connection()
    pattern = f"pp:{get_settings().cassandra_keyspace}:login-failures:*"
    keys = list(connection.scan_iter(match=pattern, count=1000))
    if keys:
        connection.delete(*keys)
