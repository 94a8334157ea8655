"""CSRF protection: a per-session token, required on every cookie-authenticated mutation.

Forms carry it in a hidden ``csrf_token`` field, JavaScript in the ``X-CSRF-Token``
header (read from ``<meta name="csrf-token">``). Bearer-token API calls carry no
cookie and so need none.
"""

from __future__ import annotations

import hmac
import secrets

from flask import request, session

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def token() -> str:
    value = session.get("csrf")
    if not value:
        value = secrets.token_urlsafe(32)
        session["csrf"] = value
    return value


def presented() -> str:
    header = request.headers.get("X-CSRF-Token", "")
    if header:
        return header
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        return request.form.get("csrf_token", "")
    return ""


def valid() -> bool:
    expected = session.get("csrf")
    given = presented()
    return bool(expected) and bool(given) and hmac.compare_digest(str(expected), given)
