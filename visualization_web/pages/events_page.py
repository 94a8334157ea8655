"""Events: the audit log, filterable by kind and user."""

from __future__ import annotations

from flask import render_template, request

from common.db import get_database
from common.labeling.actions import UNDOABLE
from visualization_web import dashboard_queries
from visualization_web.pages.blueprint import bp
from visualization_web.pages.common import int_arg, parse_uuid


@bp.get("/events")
def events_list():
    kind = request.args.get("kind", "")[:64]
    who = request.args.get("actor", "")[:64]
    before = parse_uuid(request.args["before"]) if request.args.get("before") else None
    if before is not None and before.version != 1:
        before = None  # not an event id: start from the newest
    rows = dashboard_queries.recent_events(get_database(), limit=int_arg("limit", 100, 1, 500), kind=kind, actor=who,
                                 before=before)  # fmt: skip
    return render_template("events.html", events=rows, kind=kind, actor=who, undoable=UNDOABLE)
