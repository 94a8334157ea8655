"""Dashboard: counts, queue depths, workers, the active model (with its reclassification pass), recent events."""

from __future__ import annotations

from flask import render_template

from common.db import get_database
from common.infra.settings import get_settings
from visualization_web import corpus_counts, dashboard_queries, queries
from visualization_web.pages.blueprint import bp
from visualization_web.pages.models_page import model_summary


@bp.get("/")
def dashboard():
    db = get_database()
    version = queries.active_version(db)
    return render_template(
        "dashboard.html",
        counts=corpus_counts.current(db),
        counts_seconds=get_settings().corpus_reconcile_seconds,
        queues=dashboard_queries.queue_depths(),
        workers=dashboard_queries.workers_online(),
        model=model_summary(db, version) if version is not None else None,
        active_version=version,
        reclassify_pass=dashboard_queries.reclassify_pass(version),
        events=dashboard_queries.recent_events(db, limit=10),
        flower_url=get_settings().flower_url,
    )
