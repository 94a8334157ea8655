"""How every task receives its message: the JSON kwargs parsed into the task's typed message, or recorded.

``@receives(ExtractImage)`` (under the Celery task decorator) turns a function of the message into the
task's body. Kwargs that are not the message (a field missing, unknown or of the wrong type) are treated
like the other messages a worker cannot run (``common.task_runtime.poison_messages``): logged at WARNING, recorded as a
``queue.bad_message`` event with the reason, and acknowledged. The worker goes on; the task returns None.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from celery import current_task

from common.infra.messages import InvalidMessage, Message
from common.task_runtime import poison_messages

log = logging.getLogger(__name__)

M = TypeVar("M", bound=Message)
R = TypeVar("R")


def receives(message_type: type[M]) -> Callable[[Callable[..., R]], Callable[..., R | None]]:
    """Decorate a task function ``f([self,] message)``: the task takes the message's fields as kwargs."""

    def decorate(handle: Callable[..., R]) -> Callable[..., R | None]:
        def task(*args: Any, **kwargs: Any) -> R | None:  # *args: ``self`` of a bound task
            try:
                message = message_type.parse(kwargs)
            except InvalidMessage as exc:
                record_invalid(message_type.task_name, kwargs, str(exc))
                return None
            return handle(*args, message)

        # Celery checks calls against the signature of the function it wraps: keep ``**kwargs`` visible.
        for attribute in ("__module__", "__name__", "__qualname__", "__doc__"):
            setattr(task, attribute, getattr(handle, attribute))
        return task

    return decorate


def record_invalid(task_name: str, kwargs: dict[str, Any], reason: str) -> None:
    """Drop an invalid message of the running task and record it (its queue: where it was delivered from)."""
    request = current_task.request if current_task else None
    info = getattr(request, "delivery_info", None) or {}
    queue = str(info.get("routing_key") or "?")
    raw = json.dumps({"task": task_name, "kwargs": kwargs}, default=repr)
    poison_messages.drop(queue, raw, f"invalid message: {reason}")
