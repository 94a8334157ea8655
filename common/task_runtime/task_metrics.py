"""Metrics of every task a worker runs, from Celery's signals: count and duration by task name and outcome,
retries, redeliveries; and the worker's ``/metrics`` port.

:func:`install` (called by the worker entry points) connects the handlers. The port is opened in the worker's
main process when it starts (``worker_init``; beat and Flower load the same app but open none); each pool
process marks itself dead on exit (``worker_process_shutdown``) so its live gauges leave the sum.
"""

from __future__ import annotations

import os
import time
from typing import Any

from celery import signals

from common.infra import metrics, metrics_process, metrics_server
from common.infra.settings import get_settings

_started: dict[str, float] = {}  # task id -> perf_counter at prerun (this process's running tasks)


def _task_name(task: Any, sender: Any = None) -> str:
    return str(getattr(task or sender, "name", None) or "unknown")


def _on_prerun(task_id: str | None = None, task: Any = None, **_kwargs: Any) -> None:
    if task_id:
        _started[task_id] = time.perf_counter()
    info = getattr(getattr(task, "request", None), "delivery_info", None) or {}
    if info.get("redelivered"):
        metrics.record_redelivery(_task_name(task))


def _on_postrun(task_id: str | None = None, task: Any = None, state: str | None = None, **_kwargs: Any) -> None:
    started = _started.pop(task_id, None) if task_id else None
    seconds = time.perf_counter() - started if started is not None else None
    outcome = {"SUCCESS": "success", "RETRY": "retry", "FAILURE": "failure"}.get(str(state), str(state).lower())
    metrics.record_task(_task_name(task), outcome, seconds)


def _on_retry(sender: Any = None, **_kwargs: Any) -> None:
    metrics.record_retry(_task_name(sender))


def _on_worker_init(**_kwargs: Any) -> None:
    metrics_server.serve(get_settings().worker_metrics_port)


def _on_process_shutdown(pid: int | None = None, **_kwargs: Any) -> None:
    metrics_process.mark_process_dead(pid or os.getpid())


def install() -> None:
    for signal, handler in ((signals.task_prerun, _on_prerun), (signals.task_postrun, _on_postrun),
                            (signals.task_retry, _on_retry), (signals.worker_init, _on_worker_init),
                            (signals.worker_process_shutdown, _on_process_shutdown)):  # fmt: skip
        signal.connect(handler, weak=False, dispatch_uid=f"pp_task_metrics.{handler.__name__}")
