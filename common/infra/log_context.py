"""The ids in scope of a log line (request, user, Celery task, job, image), and how a request id travels.

The web app binds the request id (from ``X-Request-ID`` or generated) and the user for each request; a task
binds the request id it was sent with, its job and image. :class:`ContextFilter` copies the ids in scope onto
every log record, so the JSON formatter (``common.infra.logging_setup``) writes them as fields.

The request id travels in the Celery task headers (``pp_request_id``): :func:`install` adds it to every task
message this process publishes while one is bound, so the tasks an upload causes (ingest, extract,
reclassify) log the id of the web request that started them, and so do the tasks they send.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import re
import uuid
from typing import Any

from celery import current_task, signals

HEADER = "pp_request_id"
FIELDS = ("request_id", "user", "job_id", "image_id")
_VALID_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")

_ids: dict[str, contextvars.ContextVar[str | None]] = {
    name: contextvars.ContextVar(f"pp_log_{name}", default=None) for name in FIELDS
}


def request_id_from(header: str | None) -> str:
    """The caller's X-Request-ID when it is a plain token (letters, digits, ``._:-``, at most 128), else a new one."""
    if header and _VALID_REQUEST_ID.fullmatch(header):
        return header
    return uuid.uuid4().hex


def bind(**ids: str | None) -> list[contextvars.Token]:
    """Put ids in scope (``request_id``, ``user``, ``job_id``, ``image_id``); :func:`unbind` the tokens after."""
    return [_ids[name].set(str(value) if value is not None else None) for name, value in ids.items()]


def unbind(tokens: list[contextvars.Token]) -> None:
    for token in reversed(tokens):
        with contextlib.suppress(ValueError):  # bound in another context (a thread's copy), which ends with it
            token.var.reset(token)


def clear() -> None:
    for var in _ids.values():
        var.set(None)


def current() -> dict[str, str]:
    """The ids in scope, with the running Celery task's id and name."""
    out = {name: value for name, var in _ids.items() if (value := var.get()) is not None}
    if current_task and current_task.request.id:  # the proxy is falsy outside a task
        out["task_id"] = current_task.request.id
        out["task_name"] = current_task.name
    return out


def request_id() -> str | None:
    return _ids["request_id"].get()


class ContextFilter(logging.Filter):
    """Adds the ids in scope to each record as attributes (the JSON formatter writes them as fields)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, value in current().items():
            if not hasattr(record, name):
                setattr(record, name, value)
        return True


def _add_request_id(headers: dict[str, Any] | None = None, **_kwargs: Any) -> None:
    rid = request_id()
    if rid is not None and isinstance(headers, dict):
        headers.setdefault(HEADER, rid)


def install() -> None:
    """Send the bound request id with every task message this process publishes (web, workers, beat)."""
    signals.before_task_publish.connect(_add_request_id, weak=False, dispatch_uid="pp_request_id_header")
