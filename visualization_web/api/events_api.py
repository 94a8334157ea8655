"""Events: the audit log, newest first, filterable by kind prefix and actor."""

from __future__ import annotations

from flask import jsonify, request

from common.db import get_database
from visualization_web import dashboard_queries
from visualization_web.api.blueprint import bp
from visualization_web.api.fields import as_uuid, event_json, int_query
from visualization_web.errors import ApiError


@bp.get("/events")
def events_index():
    before = as_uuid(request.args["before"], "event", status=400) if request.args.get("before") else None
    if before is not None and before.version != 1:
        raise ApiError(400, "before must be an event id (a time-based UUID)")
    rows = dashboard_queries.recent_events(get_database(), limit=int_query("limit", 50, 1, 500),
                                 kind=request.args.get("kind", "")[:64], actor=request.args.get("actor", "")[:64],
                                 before=before)  # fmt: skip
    return jsonify({"events": [event_json(e) for e in rows]})
