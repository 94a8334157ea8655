"""Login, sessions, API tokens and roles; every request but the public ones needs a user.

A session names its user and that user's ``session_epoch`` (``visualization_web.users``); it is accepted
only while the user row still holds that epoch, so logout and a password or role change end it. The
``dev`` flag of a session counts only while the app runs in development mode. Failed logins are
throttled (``visualization_web.login_throttle``); the CSRF token is renewed at login.
"""

from __future__ import annotations

import functools
import logging
import secrets
import time
from collections.abc import Callable
from urllib.parse import urlsplit

from flask import Blueprint, Response, current_app, g, jsonify, redirect, render_template, request, session, url_for

from common.db import get_database
from common.infra.settings import get_settings
from visualization_web import csrf, login_throttle, users
from visualization_web.errors import ApiError, wants_json

log = logging.getLogger(__name__)
bp = Blueprint("auth", __name__)

PUBLIC_ENDPOINTS = frozenset({"health.healthz", "auth.login", "static", "metrics"})


def admin_password() -> str | None:
    secret = get_settings().admin_password
    return secret.get_secret_value() if secret else None


_bootstrapped = False


def bootstrap_admin() -> bool:
    """Create the admin from the settings when the users table is empty (the first start); never touches an
    existing user. False when no password is configured or Cassandra is down."""
    global _bootstrapped
    password = admin_password()
    if not password:
        return False
    try:
        if users.ensure_admin(get_database(), get_settings().admin_username, password):
            log.info("created the admin user %s", get_settings().admin_username)
        _bootstrapped = True
        return True
    except Exception as exc:
        log.warning("could not create the admin user yet: %s", exc)
        return False


def client_address() -> str:
    return request.remote_addr or "unknown"


def too_many(refusal: login_throttle.Refusal) -> Response:
    response = jsonify({"error": {"status": 429, "message": refusal.message}})
    response.status_code = 429
    response.headers["Retry-After"] = str(refusal.retry_after)
    return response


def _bearer_user() -> users.User | None:
    """The token's user. Not throttled: a token has 256 random bits (no guessing), and counting bad tokens
    per address would only let anyone lock an office's scripts out."""
    header = request.headers.get("Authorization", "")
    if not header.lower().startswith("bearer "):
        return None
    user = users.user_for_token(get_database(), header[7:].strip())
    if user is None:
        raise ApiError(401, "invalid or expired API token")
    return user


def _session_user() -> users.User | None:
    username = session.get("user")
    if not username:
        return None
    if session.get("dev"):
        if current_app.config.get("DEV_MODE"):
            return users.User(username, "admin")
        session.clear()  # minted by a development server, or forged: never a user here
        return None
    user = _known_user(username)
    if user is None or not user.session_epoch or session.get("epoch") != user.session_epoch:
        session.clear()  # removed user, or the session was ended (logout, password or role change)
        return None
    return user


_users: dict[str, tuple[float, users.User | None]] = {}


def _cache_key(username: str) -> str:
    return f"{get_settings().cassandra_keyspace}/{username}"


def _known_user(username: str) -> users.User | None:
    """The session's user, role and session epoch, read at most every ``user_cache_seconds`` per process (a
    page view need not cost a database read for who is asking; a removed user, a new role or an ended
    session applies within that; at once in the process that ended it)."""
    now, key = time.monotonic(), _cache_key(username)
    hit = _users.get(key)
    if hit is not None and now - hit[0] < get_settings().user_cache_seconds:
        return hit[1]
    user = users.get(get_database(), username)
    if len(_users) > 10_000:
        _users.clear()
    _users[key] = (now, user)
    return user


def load_user() -> None:
    """before_request: identify the caller, refuse anonymous callers and cross-site mutations."""
    g.user, g.via_token = None, False
    if request.endpoint in PUBLIC_ENDPOINTS and request.endpoint != "auth.login":
        return
    user = _bearer_user()
    if user is not None:
        g.user, g.via_token = user, True
        return None
    if request.method not in csrf.SAFE_METHODS and not csrf.valid():
        raise ApiError(403, "CSRF token missing or invalid")
    g.user = _session_user()
    if g.user is None and request.endpoint not in PUBLIC_ENDPOINTS:
        if wants_json() or request.method not in csrf.SAFE_METHODS:
            raise ApiError(401, "login required")
        return redirect(url_for("auth.login", next=request.full_path))
    return None


def require(role: str) -> Callable:
    def decorator(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            if g.get("user") is None:
                raise ApiError(401, "login required")
            if not g.user.can(role):
                raise ApiError(403, f"this needs the {role} role")
            return view(*args, **kwargs)

        return wrapper

    return decorator


def actor() -> str:
    return g.user.username


def _safe_next(target: str | None) -> str:
    parts = urlsplit(target or "")
    if target and not parts.scheme and not parts.netloc and target.startswith("/") and not target.startswith("//"):
        return target
    return url_for("pages.dashboard")


def _start_session(username: str, **values) -> None:
    """A fresh session (no fixation) with a new CSRF token: a token seen before the login is worth nothing."""
    session.clear()
    session.update(user=username, csrf=secrets.token_urlsafe(32), **values)
    session.permanent = True


@bp.route("/login", methods=["GET", "POST"])
def login():
    dev_mode = current_app.config.get("DEV_MODE", False)
    password_set = admin_password() is not None
    error, status, retry_after = None, 200, None
    if request.method == "POST":
        username = request.form.get("username", "")[:200]
        password = request.form.get("password", "")
        refusal = None if dev_mode and not password_set else login_throttle.check(username, client_address())
        if refusal is not None:
            if wants_json():
                return too_many(refusal)
            error, status, retry_after = refusal.message, 429, refusal.retry_after
        elif dev_mode and not password_set:
            _start_session(username or "dev", dev=True)
            return redirect(_safe_next(request.args.get("next")))
        elif not password_set:
            error, status = "Login is disabled: no admin password is configured (PP_ADMIN_PASSWORD).", 401
        else:
            if not _bootstrapped:
                bootstrap_admin()  # Cassandra was down when the app started
            user = users.authenticate(get_database(), username, password)
            if user is None:
                login_throttle.failed(username, client_address())
                error, status = "Wrong username or password.", 401
            else:
                login_throttle.succeeded(username)
                epoch = user.session_epoch or users.renew_session_epoch(get_database(), user.username)
                _users.pop(_cache_key(user.username), None)
                _start_session(user.username, epoch=epoch)
                return redirect(_safe_next(request.args.get("next")))
    page = render_template("login.html", error=error, dev_mode=dev_mode, password_set=password_set)
    response = current_app.make_response((page, status))
    if retry_after is not None:
        response.headers["Retry-After"] = str(retry_after)
    return response


@bp.post("/logout")
def logout():
    """Ends the session on the server too: the user's epoch changes, so a copy of the cookie is refused."""
    username = session.get("user")
    if username and not session.get("dev"):
        try:
            users.renew_session_epoch(get_database(), username)
        finally:
            _users.pop(_cache_key(username), None)
    session.clear()
    return redirect(url_for("auth.login"))
