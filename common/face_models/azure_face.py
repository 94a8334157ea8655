"""Azure AI Vision Face as a detector: ``detect`` with ``return_face_id=False`` (detection only).

Detection-only calls need no Limited Access approval. Images beyond the
service's limits (6 MB; 1920x1080 for the 36 px minimum face of detection_03)
are downscaled before sending and the boxes mapped back. Every attempt takes a
slot from the Redis rate limiter shared by all workers; 429 and 5xx are retried
with exponential backoff and jitter (``Retry-After`` honoured), and when retries
run out :class:`DetectorUnavailable` tells the task to try again later.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable

import numpy as np
from azure.ai.vision.face import FaceClient
from azure.core.credentials import AzureKeyCredential
from azure.core.exceptions import HttpResponseError, ServiceRequestError, ServiceResponseError
from PIL import Image

from common.face_models.geometry import scale_box
from common.face_models.image_io import encode_jpeg
from common.face_models.types import DetectedBox, DetectorUnavailable
from common.infra import metrics

log = logging.getLogger(__name__)

MAX_BYTES = 6 * 1024 * 1024
MAX_LONG, MAX_SHORT = 1920, 1080
RETRYABLE = {408, 429, 500, 502, 503, 504}


def fit_for_service(rgb: np.ndarray) -> tuple[bytes, float]:
    """JPEG bytes within the service limits and the factor original/sent (>= 1)."""
    height, width = rgb.shape[:2]
    factor = max(1.0, max(width, height) / MAX_LONG, min(width, height) / MAX_SHORT)
    quality = 90
    while True:
        size = (max(1, round(width / factor)), max(1, round(height / factor)))
        small = rgb if factor == 1.0 else np.asarray(Image.fromarray(rgb).resize(size, Image.Resampling.LANCZOS))
        data = encode_jpeg(small, quality)
        if len(data) <= MAX_BYTES:
            return data, width / size[0]
        if quality > 70:
            quality -= 10
        else:
            factor *= 1.25


class AzureFaceDetector:
    name = "azure"

    def __init__(self, endpoint: str, key: str, limiter=None, max_attempts: int = 6, backoff_base: float = 1.0,
                 backoff_max: float = 30.0, sleep: Callable[[float], None] = time.sleep, **client_kwargs):  # fmt: skip
        # azure-core retries POST only on 500/503/504; we retry ourselves so the limiter sees every attempt.
        client_kwargs.setdefault("retry_total", 0)
        self.client = FaceClient(endpoint, AzureKeyCredential(key), **client_kwargs)
        self.limiter = limiter
        self.max_attempts = max_attempts
        self.backoff_base, self.backoff_max = backoff_base, backoff_max
        self._sleep = sleep

    def detect(self, rgb: np.ndarray) -> list[DetectedBox]:
        height, width = rgb.shape[:2]
        data, factor = fit_for_service(rgb)
        results = self._call(data)
        out = []
        for result in results:
            r = result.face_rectangle
            out.append(DetectedBox(scale_box((r.left, r.top, r.width, r.height), factor, width, height), None))
        return out

    def _call(self, data: bytes):
        for attempt in range(1, self.max_attempts + 1):
            if self.limiter is not None:
                self.limiter.acquire()
            statuses: list[int] = []
            try:
                found = self.client.detect(
                    data,
                    detection_model="detection_03",
                    recognition_model="recognition_04",
                    return_face_id=False,
                    raw_response_hook=lambda response, seen=statuses: seen.append(response.http_response.status_code),
                )
                metrics.record_azure_face_call(statuses[-1] if statuses else 200)
                return found
            except HttpResponseError as exc:
                status = exc.status_code or 0
                metrics.record_azure_face_call(status)
                if status not in RETRYABLE:
                    raise
                retry_after, reason = _retry_after(exc.response), f"HTTP {status}"
            except (ServiceRequestError, ServiceResponseError) as exc:
                metrics.record_azure_face_call(0)
                retry_after, reason = None, f"connection: {exc}"
            except ValueError:  # an error body that is not the documented JSON (gateway pages, empty 503s)
                metrics.record_azure_face_call(statuses[-1] if statuses else 0)
                if not statuses or statuses[-1] not in RETRYABLE:
                    raise
                retry_after, reason = None, f"HTTP {statuses[-1]} (unparsed body)"
            if attempt == self.max_attempts:
                raise DetectorUnavailable(f"Azure Face: {reason} after {attempt} attempts")
            delay = self._backoff(attempt, retry_after)
            log.warning("Azure Face %s, retry %d in %.2fs", reason, attempt, delay)
            self._sleep(delay)
        raise AssertionError("unreachable")

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, self.backoff_max) + random.uniform(0, 0.1 * self.backoff_base)
        return random.uniform(0, min(self.backoff_max, self.backoff_base * 2 ** (attempt - 1)))  # full jitter


def _retry_after(response) -> float | None:
    value = response.headers.get("Retry-After") if response is not None else None
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None
