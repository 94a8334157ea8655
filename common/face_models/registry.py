"""Models are loaded once per process (lazy singletons), chosen by ``settings.face_detector``."""

from __future__ import annotations

import os
import threading

import redis

from common.face_models.dlib_detectors import DlibCnnDetector, DlibHogDetector
from common.face_models.embedder import DlibEmbedder
from common.face_models.rate_limit import RedisRateLimiter
from common.face_models.types import FaceDetector
from common.infra.settings import DetectorName, Settings

_lock = threading.Lock()
_detectors: dict[tuple[int, str, int], FaceDetector] = {}
_embedders: dict[int, DlibEmbedder] = {}


def build_detector(name: str, settings: Settings, upsample: int | None = None) -> FaceDetector:
    detector = DetectorName(name)
    upsample = settings.detection_upsample if upsample is None else upsample
    if detector is DetectorName.dlib_hog:
        return DlibHogDetector(upsample)
    if detector is DetectorName.dlib_cnn:
        return DlibCnnDetector(upsample)
    return _build_azure(settings)


def _build_azure(settings: Settings) -> FaceDetector:
    from common.face_models.azure_face import AzureFaceDetector  # the Azure SDK: only for this detector

    if not settings.azure_face_endpoint or settings.azure_face_key is None:
        raise ValueError("the azure detector needs PP_AZURE_FACE_ENDPOINT and PP_AZURE_FACE_KEY")
    limiter = RedisRateLimiter(
        redis.Redis.from_url(settings.redis_url), "pp:ratelimit:azure-face", settings.azure_face_calls_per_second
    )
    return AzureFaceDetector(settings.azure_face_endpoint, settings.azure_face_key.get_secret_value(), limiter)


def get_detector(name: str, settings: Settings, upsample: int | None = None) -> FaceDetector:
    """The process's detector ``name`` with ``upsample`` dlib upsampling passes (default: the setting's)."""
    upsample = settings.detection_upsample if upsample is None else upsample
    key = (os.getpid(), str(DetectorName(name).value), upsample)
    detector = _detectors.get(key)
    if detector is None:
        with _lock:
            detector = _detectors.get(key)
            if detector is None:
                detector = _detectors[key] = build_detector(name, settings, upsample)
    return detector


def get_embedder() -> DlibEmbedder:
    pid = os.getpid()
    embedder = _embedders.get(pid)
    if embedder is None:
        with _lock:
            embedder = _embedders.get(pid)
            if embedder is None:
                embedder = _embedders[pid] = DlibEmbedder()
    return embedder
