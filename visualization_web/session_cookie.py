"""Flask's signed-cookie session, with each verified cookie remembered for a while per process.

Every page view sends the same session cookie, and Flask checks it afresh each time: it builds a serializer,
derives the signing key and computes two HMACs before a byte of the page is rendered (8 % of an image
page's interpreter time under load, py-spy --gil). A cookie whose signature was verified once verifies
again, byte for byte, under the same keys, so :class:`VerifiedCookieSessionInterface` keeps the decoded
payload and the signing time of the last cookies it verified (keyed by the cookie string and the app's
keys) and checks only the age on later requests. Nothing else changes: the cookie, its expiry
(``PERMANENT_SESSION_LIFETIME``, from the signing time), what a tampered or expired cookie gets (an empty
session) and how sessions are saved.
"""

from __future__ import annotations

import copy
import threading
import time
from typing import Any

from flask import Flask, Request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from itsdangerous import BadSignature

MAX_REMEMBERED = 4096


class VerifiedCookieSessionInterface(SecureCookieSessionInterface):
    def __init__(self, max_remembered: int = MAX_REMEMBERED) -> None:
        self.max_remembered = max_remembered
        self._verified: dict[tuple[Any, str], tuple[dict, float]] = {}
        self._lock = threading.Lock()

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if not app.secret_key:
            return None
        value = request.cookies.get(self.get_cookie_name(app))
        if not value:
            return self.session_class()
        max_age = app.permanent_session_lifetime.total_seconds()
        key = ((app.secret_key, tuple(app.config["SECRET_KEY_FALLBACKS"] or ())), value)
        remembered = self._verified.get(key)
        if remembered is None:
            serializer = self.get_signing_serializer(app)
            assert serializer is not None  # a secret key is set
            try:
                data, signed_at = serializer.loads(value, max_age=int(max_age), return_timestamp=True)
            except BadSignature:  # tampered, expired or signed with another key
                return self.session_class()
            remembered = (data, signed_at.timestamp())
            with self._lock:
                if len(self._verified) >= self.max_remembered:
                    self._verified.clear()
                self._verified[key] = remembered
        data, signed_at = remembered
        if time.time() - signed_at > max_age:
            self._verified.pop(key, None)
            return self.session_class()
        return self.session_class(copy.deepcopy(data))
