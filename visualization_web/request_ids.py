"""Each request's id and user in the log lines, and one structured line per request in JSON mode.

The request id comes from the caller's ``X-Request-ID`` (a plain token) or is generated, is returned in the
``X-Request-ID`` response header, and travels with every task the request sends (``common.infra.log_context``),
so ``grep <id>`` follows an upload from this request to its stored predictions. With ``PP_LOG_FORMAT=json``
the app writes one ``request`` line per request (method, route template, status, milliseconds) instead of
gunicorn's access log.
"""

from __future__ import annotations

import logging
import time

from flask import Flask, Response, g, request

from common.infra import log_context
from common.infra.settings import LogFormat, get_settings

HEADER = "X-Request-ID"
log = logging.getLogger("visualization_web.requests")


def _bind_request() -> None:
    g.request_id = log_context.request_id_from(request.headers.get(HEADER))
    ids = {"request_id": g.request_id}
    for name in ("job_id", "image_id"):
        value = (request.view_args or {}).get(name)
        if isinstance(value, str):
            ids[name] = value
    g.log_tokens = log_context.bind(**ids)
    g.request_started = time.perf_counter()


def bind_user() -> None:
    """After the login check: the caller's user name in scope."""
    user = g.get("user")
    if user is not None:
        g.log_tokens = g.get("log_tokens", []) + log_context.bind(user=user.username)


def _answer(response: Response) -> Response:
    rid = g.get("request_id")
    if rid is not None:
        response.headers[HEADER] = rid
        if get_settings().log_format is LogFormat.json and request.endpoint != "metrics":  # scrapes: not logged
            route = request.url_rule.rule if request.url_rule is not None else "unmatched"
            took = (time.perf_counter() - g.get("request_started", time.perf_counter())) * 1000
            log.info("%s %s %s", request.method, route, response.status_code,
                     extra={"method": request.method, "route": route, "status": response.status_code,
                            "duration_ms": round(took, 1)})  # fmt: skip
    return response


def _unbind(_exc: BaseException | None = None) -> None:
    tokens = g.pop("log_tokens", None)
    if tokens:
        log_context.unbind(tokens)


def register(app: Flask) -> None:
    """Bind the ids first (before the login check, so refusals carry them too); tasks sent carry the id."""
    log_context.install()
    app.before_request(_bind_request)
    app.after_request(_answer)
    app.teardown_request(_unbind)
