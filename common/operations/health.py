"""Health of the dependencies every service needs: Cassandra, Redis, Celery workers.

The details (worker host names, exception text) are for admins and the CLI; the public `/healthz` shows
only :meth:`Health.public_dict`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import redis

from common.db import get_database
from common.infra.celery_app import celery_app
from common.infra.settings import Settings


@dataclass
class Check:
    name: str
    ok: bool
    detail: str = ""
    latency_ms: float = 0.0


@dataclass
class Health:
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    @staticmethod
    def public_dict(ok: bool) -> dict:
        """What anyone may see: up or not, nothing about hosts, workers or errors."""
        return {"status": "ok" if ok else "unavailable"}

    def as_dict(self) -> dict:
        """Every check with its detail (worker names, error text): for admins and the CLI only."""
        return {
            "status": "ok" if self.ok else "degraded",
            "checks": {
                c.name: {"ok": c.ok, "detail": c.detail, "latency_ms": round(c.latency_ms, 1)} for c in self.checks
            },
            "down": [c.name for c in self.checks if not c.ok],
        }


def _timed(name: str, fn) -> Check:
    start = time.perf_counter()
    try:
        detail = fn() or ""
        return Check(name, True, str(detail), (time.perf_counter() - start) * 1000)
    except Exception as exc:
        return Check(name, False, f"{type(exc).__name__}: {exc}"[:300], (time.perf_counter() - start) * 1000)


def check_cassandra() -> str:

    get_database().ping()
    return "reachable"


def check_redis(settings: Settings) -> str:
    client = redis.Redis.from_url(settings.redis_url, socket_timeout=2, socket_connect_timeout=2)
    try:
        client.ping()
    finally:
        client.close()
    return "reachable"


def check_workers(timeout: float = 1.0) -> str:

    replies = celery_app.control.ping(timeout=timeout) or []
    names = sorted(name for reply in replies for name in reply)
    if not names:
        raise RuntimeError("no Celery worker answered ping")
    return ", ".join(names)


def check_all(settings: Settings, include_workers: bool = True) -> Health:
    health = Health([_timed("cassandra", check_cassandra), _timed("redis", lambda: check_redis(settings))])
    if include_workers:
        redis_ok = health.checks[1].ok
        health.checks.append(_timed("workers", check_workers) if redis_ok else Check("workers", False, "redis is down"))
    return health
