"""Login, sessions, API tokens and roles; every request but the public ones needs a user."""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from urllib.parse import urlsplit

from flask import Blueprint, current_app, g, redirect, render_template, request, session, url_for

from common.db import get_database
from common.settings import get_settings
from visualization_web import csrf, users
from visualization_web.errors import ApiError, wants_json

log = logging.getLogger(__name__)
bp = Blueprint("auth", __name__)

PUBLIC_ENDPOINTS = frozenset({"health.healthz", "auth.login", "static", "metrics"})


def admin_password() -> str | None:
    secret = get_settings().admin_password
    return secret.get_secret_value() if secret else None


def bootstrap_admin() -> bool:
    """Create the admin from the settings; False when no password is configured or Cassandra is down."""
    password = admin_password()
    if not password:
        return False
    try:
        users.ensure_admin(get_database(), get_settings().admin_username, password)
        return True
    except Exception as exc:
        log.warning("could not create the admin user yet: %s", exc)
        return False


def _bearer_user() -> users.User | None:
    header = request.headers.get("Authorization", "")
    if not header.lower().startswith("bearer "):
        return None
    user = users.user_for_token(get_database(), header[7:].strip())
    if user is None:
        raise ApiError(401, "invalid API token")
    return user


def _session_user() -> users.User | None:
    username = session.get("user")
    if not username:
        return None
    if session.get("dev"):
        return users.User(username, "admin")
    user = _known_user(username)
    if user is None:
        session.clear()
    return user


_users: dict[str, tuple[float, users.User | None]] = {}


def _known_user(username: str) -> users.User | None:
    """The session's user and role, read at most every ``user_cache_seconds`` per process (a page view
    need not cost a database read for who is asking; a removed user or a new role applies within that)."""
    now, key = time.monotonic(), f"{get_settings().cassandra_keyspace}/{username}"
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
        return
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


@bp.route("/login", methods=["GET", "POST"])
def login():
    dev_mode = current_app.config.get("DEV_MODE", False)
    password_set = admin_password() is not None
    error = None
    if request.method == "POST":
        username = request.form.get("username", "")
        password = request.form.get("password", "")
        if dev_mode and not password_set:
            session.clear()
            session.update(user=username or "dev", dev=True)
            return redirect(_safe_next(request.args.get("next")))
        if not password_set:
            error = "Login is disabled: no admin password is configured (PP_ADMIN_PASSWORD)."
        else:
            if username == get_settings().admin_username:
                bootstrap_admin()
            user = users.authenticate(get_database(), username, password)
            if user is None:
                error = "Wrong username or password."
            else:
                token = session.get("csrf")
                session.clear()  # no session fixation: a fresh session after login
                session["user"] = user.username
                session["csrf"] = token
                session.permanent = True
                return redirect(_safe_next(request.args.get("next")))
    status = 401 if error else 200
    return render_template("login.html", error=error, dev_mode=dev_mode, password_set=password_set), status


@bp.post("/logout")
def logout():
    session.clear()
    return redirect(url_for("auth.login"))
