"""Errors that mean "try again later" for input tasks, not "this input is bad"."""

from __future__ import annotations

from azure.core.exceptions import ServiceRequestError, ServiceResponseError

from common.face_models import DetectorUnavailable
from common.task_retry import INFRASTRUCTURE_ERRORS

TRANSIENT: tuple[type[BaseException], ...] = (
    *INFRASTRUCTURE_ERRORS,
    DetectorUnavailable,
    ServiceRequestError,
    ServiceResponseError,
)
