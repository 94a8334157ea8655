"""Errors that mean "try again later" for input tasks, not "this input is bad"."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from azure.core.exceptions import ServiceRequestError, ServiceResponseError

from common.face_models import DetectorUnavailable
from common.infra.task_retry import INFRASTRUCTURE_ERRORS

TRANSIENT: tuple[type[BaseException], ...] = (
    *INFRASTRUCTURE_ERRORS,
    DetectorUnavailable,
    ServiceRequestError,
    ServiceResponseError,
)

T = TypeVar("T")


def result_or_failure(call: Callable[[], T]) -> T | Exception:
    """``call()``'s result, or the exception it raised to be recorded later; an outage (TRANSIENT) raises,
    so the task retries before anything is written."""
    try:
        return call()
    except TRANSIENT:
        raise
    except Exception as exc:
        return exc
