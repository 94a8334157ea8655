"""How every service writes its log lines: plain text (the default, for ``make run``) or one JSON object a line.

``PP_LOG_FORMAT=json`` (the chart sets it): each line has ``time`` (ISO 8601, UTC), ``level``, ``logger``,
``message`` and the ids in scope (``request_id``, ``user``, ``task_id``, ``task_name``, ``job_id``,
``image_id``; ``common.infra.log_context``), plus ``exc_info`` for an exception. python-json-logger writes it.
The web app (gunicorn's config), the workers and beat (``common.task_runtime.task_logging``) call this.
"""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime
from typing import Any

from pythonjsonlogger.json import JsonFormatter

from common.infra.log_context import ContextFilter
from common.infra.settings import LogFormat, get_settings

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
RENAMED = {"levelname": "level", "name": "logger"}


class UtcJsonFormatter(JsonFormatter):
    """python-json-logger's formatter with the time in UTC and millisecond precision."""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")


def json_formatter() -> logging.Formatter:
    return UtcJsonFormatter("%(asctime)s %(levelname)s %(name)s %(message)s",
                            rename_fields={"asctime": "time", **RENAMED})  # fmt: skip


def formatter(log_format: LogFormat | None = None) -> logging.Formatter:
    chosen = log_format or get_settings().log_format
    return json_formatter() if chosen is LogFormat.json else logging.Formatter(TEXT_FORMAT)


def handler(log_format: LogFormat | None = None, stream: Any = None) -> logging.Handler:
    """A stderr handler with the configured format and the ids-in-scope filter."""
    out = logging.StreamHandler(stream or sys.stderr)
    out.setFormatter(formatter(log_format))
    out.addFilter(ContextFilter())
    return out


def configure(level: int | str = logging.INFO, log_format: LogFormat | None = None) -> None:
    """The root logger writes to stderr in the configured format (replaces its handlers)."""
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler(log_format))
    root.setLevel(level)
    logging.captureWarnings(True)  # Python warnings become log lines too (in the format above)


def gunicorn_config(log_format: LogFormat | None = None) -> dict:
    """gunicorn's ``logconfig_dict``: its own loggers and the app's, one format, to stderr."""
    chosen = log_format or get_settings().log_format
    fmt = {"()": f"{__name__}.json_formatter"} if chosen is LogFormat.json else {"format": TEXT_FORMAT}
    handler_config = {"class": "logging.StreamHandler", "formatter": "pp", "filters": ["ids"],
                      "stream": "ext://sys.stderr"}  # fmt: skip
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"ids": {"()": ContextFilter}},
        "formatters": {"pp": fmt},
        "handlers": {"stderr": handler_config},
        "root": {"level": "INFO", "handlers": ["stderr"]},
        "loggers": {
            "gunicorn.error": {"level": "INFO", "handlers": ["stderr"], "propagate": False},
            "gunicorn.access": {"level": "INFO", "handlers": ["stderr"], "propagate": False},
        },
    }
