"""Small helpers shared by the page modules."""

from __future__ import annotations

import uuid

from flask import abort, flash, redirect, request, url_for


def parse_uuid(value: str | None) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except (TypeError, ValueError):
        abort(404)


def int_arg(name: str, default: int, low: int = 0, high: int = 10_000) -> int:
    try:
        value = int(request.args.get(name, default))
    except (TypeError, ValueError):
        return default
    return max(low, min(high, value))


def done(message: str, endpoint: str, category: str = "ok", **values):
    flash(message, category)
    return redirect(url_for(endpoint, **values))
