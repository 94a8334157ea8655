"""Events: the audit log, newest first, filterable by kind prefix and actor."""

from __future__ import annotations

from common.db import get_database
from visualization_web import dashboard_queries
from visualization_web.api.blueprint import bp
from visualization_web.api.contract import operation
from visualization_web.api.fields import event_model
from visualization_web.api.schemas.events import EventsQuery
from visualization_web.api.schemas.shared import EventList


@bp.get("/events")
@operation(EventList, operation_id="list_events", tag="events", query=EventsQuery)
def events_index(query: EventsQuery):
    """The audit log, newest first."""
    rows = dashboard_queries.recent_events(get_database(), limit=query.limit, kind=query.kind[:64],
                                           actor=query.actor[:64], before=query.before)  # fmt: skip
    return EventList(events=[event_model(e) for e in rows])
