"""`/healthz` for probes and load balancers, `/healthz/details` for admins.

The public answer says only ``ok`` (200) or ``unavailable`` (503): whether this web process reaches
Cassandra and Redis. It names no host, worker or error, sends no Celery broadcast, and is computed at most
once per :data:`PUBLIC_CACHE_SECONDS` per process, so polling it costs the dependencies nothing much.
``?live=1`` answers without touching anything (liveness); ``?workers=0`` is accepted for the probes that
still send it. ``/healthz/details`` (admins, session or API token) runs every check, workers included,
and shows each one's detail and latency.
"""

from __future__ import annotations

import threading
import time

from flask import Blueprint, jsonify, request

from common.infra.settings import get_settings
from common.operations.health import Health, check_all
from visualization_web.auth import require

bp = Blueprint("health", __name__)

PUBLIC_CACHE_SECONDS = 2.0
_last: tuple[float, tuple[str, str], bool] | None = None  # (when, (keyspace, redis url), ok)
_lock = threading.Lock()


def _dependencies_ok() -> bool:
    global _last
    settings, now = get_settings(), time.monotonic()
    where = (settings.cassandra_keyspace, settings.redis_url)
    with _lock:
        last = _last
    if last is not None and last[1] == where and now - last[0] < PUBLIC_CACHE_SECONDS:
        return last[2]
    ok = check_all(settings, include_workers=False).ok
    with _lock:
        _last = (time.monotonic(), where, ok)
    return ok


@bp.get("/healthz")
def healthz():
    if request.args.get("live"):
        return jsonify({"status": "alive"}), 200
    ok = _dependencies_ok()
    return jsonify(Health.public_dict(ok)), (200 if ok else 503)


@bp.get("/healthz/details")
@require("admin")
def healthz_details():
    health = check_all(get_settings(), include_workers=request.args.get("workers", "1") != "0")
    return jsonify(health.as_dict()), (200 if health.ok else 503)
