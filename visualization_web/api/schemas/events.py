"""The audit log's query."""

from __future__ import annotations

import uuid

from pydantic import Field, field_validator

from visualization_web.api.schemas.shared import RequestModel, optional

TIME_UUID = "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-1[0-9a-fA-F]{3}-[89abAB][0-9a-fA-F]{3}-[0-9a-fA-F]{12}$"


class EventsQuery(RequestModel):
    limit: int = Field(50, ge=1, le=500)
    kind: str = Field("", description="a prefix of the kind, e.g. 'label.'")
    actor: str = Field("", description="only this user's events")
    before: uuid.UUID = optional({"pattern": TIME_UUID}, description="an event id: only older events (paging)")

    @field_validator("before")
    @classmethod
    def _time_based(cls, value: uuid.UUID | None) -> uuid.UUID | None:
        if value is not None and value.version != 1:
            raise ValueError("must be an event id (a time-based UUID)")
        return value
