"""The scheduled audit pass: every ``PP_AUDIT_PASS_HOURS`` a full pass of the active version re-predicts
every face and rewrites only what changed. The number of decisions it changes is the measure of what
scoped refreshes missed since the last full pass (``/api/v1/models``, the dashboard, the refresh row).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import redis

from common.db import Database
from common.infra.messages import Send
from common.infra.reclassify_passes import latest_pass
from common.infra.settings import get_settings
from common.repositories import refreshes
from common.repositories.models import active_version
from trainer_worker.reclassify import AUDIT, reclassify_all

log = logging.getLogger(__name__)


def audit_if_due(db: Database, client: redis.Redis, send: Send, pass_id: str | None = None) -> str:
    """Start an audit pass when the last full or audit pass is older than ``PP_AUDIT_PASS_HOURS``; returns
    what it did."""
    hours = get_settings().audit_pass_hours
    active = active_version(db)
    if hours <= 0 or active is None:
        return "off" if hours <= 0 else "no active version"
    running = latest_pass(client)
    if running is not None and running.finished_at is None:
        return f"a pass of v{running.version} is running"
    last = next((r for r in refreshes.newest(db, active, limit=200) if r.kind in ("full", "audit")), None)
    started = last.started_at.replace(tzinfo=UTC) if last and last.started_at else None
    if started is not None and datetime.now(UTC) - started < timedelta(hours=hours):
        return f"not due (last pass {started.isoformat()})"
    reclassify_all(db, client, active, send, pass_id=pass_id, kind=AUDIT)
    log.info("audit pass of v%s started", active)
    return f"audit pass of v{active} started"
