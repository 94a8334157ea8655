"""Log lines of the workers and beat: the configured format (``PP_LOG_FORMAT``) and the ids of the running task.

:func:`install` (called by the worker entry points) makes Celery hand its logging to
``common.infra.logging_setup`` when the format is ``json`` (text keeps Celery's own lines), puts the task's ids
in scope while it runs (its id and name, the request id it was sent with, its job and image) and sends the
request id on with the tasks it publishes (``common.infra.log_context``).
"""

from __future__ import annotations

import contextvars
from typing import Any

from celery import signals

from common.infra import log_context, logging_setup
from common.infra.settings import LogFormat, get_settings

_bound: dict[str, list[contextvars.Token]] = {}  # task id -> the tokens to reset after it


def ids_of(request: Any, kwargs: dict[str, Any] | None) -> dict[str, str | None]:
    """The ids a task's log lines carry: the request id from its headers, the job and image from its message."""
    kwargs = kwargs or {}
    image_id = kwargs.get("image_id")
    image_ids = kwargs.get("image_ids")
    if image_id is None and isinstance(image_ids, list | tuple) and len(image_ids) == 1:
        image_id = image_ids[0]
    return {"request_id": getattr(request, log_context.HEADER, None), "job_id": kwargs.get("job_id"),
            "image_id": image_id}  # fmt: skip


def _on_prerun(task_id: str | None = None, task: Any = None, kwargs: dict | None = None, **_kwargs: Any) -> None:
    ids = {k: v if isinstance(v, str) else None for k, v in ids_of(getattr(task, "request", None), kwargs).items()}
    if task_id:
        _bound[task_id] = log_context.bind(**ids)


def _on_postrun(task_id: str | None = None, **_kwargs: Any) -> None:
    tokens = _bound.pop(task_id, None) if task_id else None
    if tokens:
        log_context.unbind(tokens)


def _on_setup_logging(loglevel: int | str | None = None, **_kwargs: Any) -> None:
    logging_setup.configure(loglevel or "INFO", LogFormat.json)


def install() -> None:
    log_context.install()
    signals.task_prerun.connect(_on_prerun, weak=False, dispatch_uid="pp_task_logging.prerun")
    signals.task_postrun.connect(_on_postrun, weak=False, dispatch_uid="pp_task_logging.postrun")
    if get_settings().log_format is LogFormat.json:  # any receiver here makes Celery leave logging alone
        signals.setup_logging.connect(_on_setup_logging, weak=False, dispatch_uid="pp_task_logging.setup")
