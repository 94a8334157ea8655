"""Small pieces the resources share: a path id read as a UUID (404 when it is none) and an audit event as
its response model."""

from __future__ import annotations

import uuid
from typing import Any

from common.repositories import events
from visualization_web.api.schemas.shared import Event
from visualization_web.errors import ApiError


def as_uuid(value: Any, what: str = "id", status: int = 404) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except (TypeError, ValueError, AttributeError):
        raise ApiError(status, f"no such {what}: {str(value)[:64]!r}") from None


def event_model(event: events.Event) -> Event:
    return Event(event_id=event.event_id, kind=event.kind, actor=event.actor, subject=event.subject,
                 at=event.at.isoformat(), payload=event.payload)  # fmt: skip
