"""What the resources' models share: the base classes, the error body, events, boxes and face cards.

``ApiModel`` is a response body: it names every field (an unnamed one is an error, so a new field in a
response is one line in its model). ``StoredFigures`` is a JSON document stored as it was computed
(model metrics, label counts): its known fields are typed, absent ones stay absent, others pass through.
"""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    Strict,
    model_serializer,
)


class ApiModel(BaseModel):
    """A response body (see the module's docstring)."""

    model_config = ConfigDict(extra="forbid")


class RequestModel(BaseModel):
    """A request body or query: fields it does not name are ignored, as they always were."""

    model_config = ConfigDict(extra="ignore")


class StoredFigures(BaseModel):
    """Stored figures (see the module's docstring)."""

    model_config = ConfigDict(extra="allow")

    @model_serializer(mode="wrap")
    def _only_present(self, handler: SerializerFunctionWrapHandler):  # no return type: the schema stays the fields'
        data = handler(self)
        present = self.model_fields_set | set(self.__pydantic_extra__ or {})
        return {key: value for key, value in data.items() if key in present}


def optional(schema: dict[str, Any] | None = None, **kwargs: Any) -> Any:
    """An optional request field that is simply left out (no ``null`` in its schema); ``schema`` adds
    keywords that the server checks itself (e.g. a ``maxItems`` answered with 413)."""

    def adjust(field_schema: dict[str, Any]) -> None:
        field_schema.pop("default", None)
        field_schema.update(schema or {})

    return Field(None, json_schema_extra=adjust, **kwargs)


def _storable(value: str) -> str:
    """Refuses strings JSON can carry but UTF-8 cannot (lone surrogates such as "\\udb0e")."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode text") from None
    return value


Text = Annotated[str, AfterValidator(_storable)]  # every string a request brings
Key = Annotated[Text, Field(min_length=1)]  # an id a request names (Cassandra refuses an empty key)
WholeNumber = Annotated[int, Strict()]  # a JSON number, not "7"
IsoTime = Annotated[str, Field(description="ISO 8601 time (UTC)")]


class Verdict(StrEnum):
    CONFIRM = "confirm"
    REJECT = "reject"


class ErrorDetail(ApiModel):
    status: int = Field(description="the HTTP status")
    message: str = Field(description="what was wrong, naming the field at fault")


class Error(ApiModel):
    """Every 4xx and 5xx response of the API."""

    error: ErrorDetail


class Event(ApiModel):
    """An entry of the audit log; labels, undos, persona changes and retrain requests answer with theirs."""

    event_id: uuid.UUID = Field(description="a time-based (version 1) UUID; undo takes it")
    kind: str = Field(description="e.g. label.confirm, label.undo, persona.merge, model.retrain_requested")
    actor: str
    subject: str
    at: IsoTime
    payload: dict[str, Any]


class EventList(ApiModel):
    events: list[Event]


class Box(ApiModel):
    """A face's box in the image's pixels."""

    left: int
    top: int
    width: int
    height: int


class FaceCard(ApiModel):
    """A face as a review list shows it."""

    face_id: str
    image_id: str
    crop_url: str | None
    box: list[int] = Field(min_length=4, max_length=4, description="[left, top, width, height]")
    score: float | None = Field(description="the prediction's score (predicted faces)")
    verdict: Verdict | None = Field(description="the label (confirmed and rejected faces)")
