"""The active classifier, cached per process and hot-reloaded: ``active_model`` is re-read every few seconds.

An artifact that fails verification is not served (None); an outage while loading raises, so the
calling task retries instead of treating the faces as having no model."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from common.classifier.artifacts import ArtifactIntegrityError
from common.classifier.model import OpenSetClassifier, PredictionResult
from common.classifier.registry import load_model
from common.db import Database
from common.infra.task_retry import is_infrastructure_error
from common.repositories.models import active_version

log = logging.getLogger(__name__)

RELOAD_SECONDS = 3.0


@dataclass(frozen=True)
class ActiveClassifier:
    version: int
    model: OpenSetClassifier

    def predict(self, embeddings: np.ndarray, groups: list[str] | None = None,
                exclude: Sequence[set] | None = None) -> list[PredictionResult]:  # fmt: skip
        """One result per row (persona None = unknown). ``groups``: image id per row; ``exclude``: per row,
        personas the face was rejected for."""
        return self.model.predict(embeddings, groups, exclude)


class _Cache:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.pid = os.getpid()
        self.checked_at = -1e18
        self.version: int | None = None
        self.classifier: ActiveClassifier | None = None


_cache = _Cache()


def load_active(db: Database, max_age: float = RELOAD_SECONDS) -> ActiveClassifier | None:
    """The active classifier, or None when no model is active (or its artifact fails verification)."""
    global _cache
    now = time.monotonic()
    if _cache.pid != os.getpid():
        _cache = _Cache()  # forked: start fresh
    cache = _cache
    # "no model" is never served from the cache: a promotion a moment ago must be seen by the next task (a full
    # pass's first shard, the batch of a face stored just after it), and reading the pointer is one small query.
    if now - cache.checked_at < max_age and cache.classifier is not None:
        return cache.classifier
    with cache.lock:
        if time.monotonic() - cache.checked_at < max_age and cache.classifier is not None:
            return cache.classifier
        version = active_version(db)
        if version != cache.version or (version is not None and cache.classifier is None):
            cache.classifier = _load(db, version)
            cache.version = version
        cache.checked_at = time.monotonic()
        return cache.classifier


def _load(db: Database, version: int | None) -> ActiveClassifier | None:
    if version is None:
        return None
    try:
        model = load_model(db, version)
    except ArtifactIntegrityError:
        log.error("active model v%s failed its verification: not serving it", version, exc_info=True)
        return None
    except Exception as exc:
        if is_infrastructure_error(exc):
            raise  # Cassandra overloaded or down: the task retries; "no model" would drop its faces' predictions
        log.exception("active model v%s could not be loaded", version)
        return None
    log.info("serving model v%s", version)
    return ActiveClassifier(version, model)


def clear_cache() -> None:
    global _cache
    _cache = _Cache()
