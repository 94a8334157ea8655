"""Reading API requests: the JSON body, typed fields, ids and bounded query integers, each failing with a
clear 4xx ``ApiError``; and the JSON shape of an audit event, shared by several resources."""

from __future__ import annotations

import uuid
from typing import Any

from flask import request

from visualization_web.errors import ApiError


def body() -> dict[str, Any]:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ApiError(400, "the request body must be a JSON object")
    return data


def field(data: dict, name: str, kind: type = str, required: bool = True, default: Any = None) -> Any:
    value = data.get(name, default)
    if value is None:
        if required:
            raise ApiError(422, f"'{name}' is required")
        return default
    if kind is bool and not isinstance(value, bool):
        raise ApiError(422, f"'{name}' must be true or false")
    if kind is not bool and (not isinstance(value, kind) or isinstance(value, bool)):
        raise ApiError(422, f"'{name}' must be a {kind.__name__}")
    if isinstance(value, str) and not is_text(value):
        raise ApiError(422, f"'{name}' must be valid Unicode text")
    return value


def is_text(value: str) -> bool:
    """False for strings JSON can carry but UTF-8 cannot (lone surrogates such as "\\udb0e")."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def as_uuid(value: Any, what: str = "id", status: int = 404) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except (TypeError, ValueError, AttributeError):
        raise ApiError(status, f"no such {what}: {str(value)[:64]!r}") from None


def int_query(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, f"query parameter '{name}' must be an integer") from None
    if not low <= value <= high:
        raise ApiError(400, f"query parameter '{name}' must be between {low} and {high}")
    return value


def event_json(event) -> dict:
    return {"event_id": str(event.event_id), "kind": event.kind, "actor": event.actor, "subject": event.subject,
            "at": event.at.isoformat(), "payload": event.payload}  # fmt: skip
