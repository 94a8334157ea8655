"""Flask app factory: security settings and headers, blueprints, the admin user."""

from __future__ import annotations

import functools
from datetime import timedelta

from flask import Flask, request, url_for
from werkzeug.middleware.proxy_fix import ProxyFix

from common.infra.settings import get_settings
from visualization_web import (
    api,
    auth,
    blobs,
    cards_html,
    errors,
    health,
    metrics,
    page_cache,
    pages,
    request_ids,
    request_limits,
)
from visualization_web.secret_key import session_secret_key
from visualization_web.session_cookie import VerifiedCookieSessionInterface

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)


def create_app(config: dict | None = None) -> Flask:
    settings = get_settings()
    dev_mode = settings.web_dev_mode  # PP_WEB_DEV_MODE=1: login without a configured password
    secret = session_secret_key(settings, dev_mode)  # refuses to start without a proper key outside dev mode
    app = Flask(__name__)
    if settings.trusted_proxy_hops:  # the client's address (login throttling) from the ingress's X-Forwarded-For
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.trusted_proxy_hops)  # type: ignore[method-assign]
    app.session_interface = VerifiedCookieSessionInterface()
    app.config.update(
        SECRET_KEY=secret,
        MAX_CONTENT_LENGTH=settings.max_upload_bytes,
        DEV_MODE=dev_mode,
        SESSION_COOKIE_SECURE=not dev_mode,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_NAME="pp_session",
        PERMANENT_SESSION_LIFETIME=timedelta(hours=12),  # from login: not moved on by each request
        SESSION_REFRESH_EACH_REQUEST=False,
        JSON_SORT_KEYS=False,
    )
    if config:
        app.config.update(config)

    errors.register(app)
    request_limits.install(app)  # per-route body limits, before any hook reads the body
    request_ids.register(app)  # the request id in every log line and response, and in the tasks it sends
    metrics.register(app)  # before the login check: its timer also sees requests that the check refuses
    app.before_request(auth.load_user)
    app.before_request(request_ids.bind_user)
    app.after_request(_security_headers)
    app.jinja_env.globals.update(
        csrf_token=page_cache.csrf_token,
        current_user=page_cache.current_user,
        nav_urls=nav_urls,
        face_cards=cards_html.face_cards,
        face_boxes=cards_html.face_boxes,
        face_rows=cards_html.face_rows,
        persona_options=cards_html.persona_options,
    )
    app.jinja_env.filters["pct"] = lambda v: "-" if v is None else f"{100 * float(v):.1f}%"
    app.register_blueprint(health.bp)
    app.register_blueprint(auth.bp)
    app.register_blueprint(blobs.bp)
    app.register_blueprint(pages.bp)
    app.register_blueprint(api.bp, url_prefix="/api/v1")
    app.register_blueprint(api.docs_bp)
    auth.bootstrap_admin()  # only while the users table is empty
    return app


NAV_ENDPOINTS = ("pages.dashboard", "pages.personas_list", "pages.unknown", "pages.images_list", "pages.ingest",
                 "pages.models", "pages.events_list", "api_docs.page", "auth.logout")  # fmt: skip
LAYOUT_ASSETS = ("favicon.svg", "app.css", "app.js")


def nav_urls() -> dict[str, str]:
    """The layout's links and assets (``base.html``): the same on every page, so built once per script root
    rather than a dozen ``url_for`` calls per page. Keys: endpoint names, and ``static/<file>``."""
    return _nav_urls(request.script_root)


@functools.lru_cache(maxsize=8)
def _nav_urls(script_root: str) -> dict[str, str]:
    urls = {endpoint: url_for(endpoint) for endpoint in NAV_ENDPOINTS}
    return urls | {f"static/{name}": url_for("static", filename=name) for name in LAYOUT_ASSETS}


SECURITY_HEADERS = (
    ("Content-Security-Policy", CSP),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "same-origin"),
    ("Cross-Origin-Opener-Policy", "same-origin"),
    ("Permissions-Policy", "camera=(), microphone=(), geolocation=()"),
    ("Cache-Control", "no-store"),
)


def _security_headers(response):
    """The headers above on every response, except where a view set its own (the blobs' Cache-Control).
    One pass over the response's few headers: ``Headers.setdefault`` raises and catches an exception per
    missing header, seven per page."""
    present = {name.lower() for name, _ in response.headers}
    response.headers.extend([(name, value) for name, value in SECURITY_HEADERS if name.lower() not in present])
    return response
